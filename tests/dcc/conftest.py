"""Fixtures for the DCC side: an inventory on a temporary sqlite file, a Dcc over the fixture PKI,
and a fake meter (test double) behind the rig's in-process transport."""

from __future__ import annotations

import pytest

from rig.dcc import Dcc, DccConfig, DeviceRecord, Inventory, RetryPolicy
from rig.dcc.examples import EXAMPLE_MPXN, example_adt

from .fake_meter import FakeMeter, link

#: short waits: a silent fake meter costs this much per attempt, nothing is asserted about speed
TEST_CONFIG = DccConfig(response_timeout_s=0.05,
                        retry=RetryPolicy(attempts=3, interval_s=60.0, response_timeout_s=0.05))
MODEL = "TESTMODEL-E1"


class Sleeps(list):
    """Records the waits a migration asks for instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def esme_record(pki, **changes) -> DeviceRecord:
    fields = dict(device_id=pki.entity("esme"), device_type="ESME", model=MODEL, firmware="1.0.0",
                  mpxn=EXAMPLE_MPXN, supplier_id=pki.entity("supplier_a"), supplier_mpid="SUPB",
                  comms_hub_id=pki.entity("chf"))
    fields.update(changes)
    return DeviceRecord(**fields)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "dcc.sqlite"


@pytest.fixture
def inventory(db_path):
    inv = Inventory.open(db_path)
    yield inv
    inv.close()


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def dcc(fixture_pki, inventory, sleeps):
    """The DCC with the test ESME registered (TCoS, supplier A, registration MPID SUPB) and an
    ADT file from supplier B allowing 100 6.23s a day."""
    inventory.add_device(esme_record(fixture_pki))
    instance = Dcc.from_pki(fixture_pki, inventory, config=TEST_CONFIG, sleep=sleeps)
    instance.submit_adt(example_adt(fixture_pki))
    return instance


@pytest.fixture
def meter(fixture_pki):
    return FakeMeter(fixture_pki)


@pytest.fixture
def transport(meter):
    with link(meter) as opened:
        yield opened
