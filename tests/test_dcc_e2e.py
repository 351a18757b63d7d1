"""The DCC / ECoS side against the real emulated devices (issue 4's end-to-end tests).

``tests/dcc`` checks the DCC flows against a scripted test double; here the far end is
``firmware_emu`` behind an emulated comms hub, so the DCC's reading of device behaviour is
checked against the emulators' reading of GBCS.
"""

from __future__ import annotations

import datetime as dt

import pytest

from firmware_emu import ManualClock
from firmware_emu.alerts import alert_code_of
from rig.crypto import Usage
from rig.dcc import Dcc, DccConfig, DeviceRecord, Inventory, RetryPolicy, ServiceStatus, probes
from rig.dcc.examples import EXAMPLE_MPXN, example_adt, example_request
from rig.dcc.request import RequestId
from rig.dcc.tables import CredentialStatus
from rig.gbcs import CraFlag, RemotePartyRole, StatusCode, decode
from rig.provision import create_device, create_hub, fleet_ids
from rig.transport import Direction
from rig.transport.emulated import EmulatedTransport

START = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


class Field:
    """A comms hub with an ESME, a GSME and its GPF, the DCC in front of it."""

    def __init__(self, pki, tmp_path, *, devices=("esme", "gsme")):
        self.pki = pki
        self.clock = ManualClock(START)
        self.meters = {label: create_device(pki.devices[label][0], pki=pki, clock=self.clock) for label in devices}
        self.hub = create_hub(self.meters.values(), pki=pki, clock=self.clock)
        self.link = EmulatedTransport(self.hub)
        self.link.open()
        self.inventory = Inventory.open(tmp_path / "inventory.sqlite")
        self.dcc = Dcc.from_pki(pki, self.inventory, config=DccConfig(
            response_timeout_s=0.2, retry=RetryPolicy(attempts=2, interval_s=0.0, response_timeout_s=0.2)))
        self.dcc.submit_adt(example_adt(pki))
        for device in [*self.meters.values(), self.hub.gpf]:
            self.register(device)

    def register(self, device, status=CredentialStatus.TCOS):
        self.inventory.add_device(DeviceRecord(
            device_id=device.entity_id, device_type=device.device_type.value, model=device.profile.model,
            mpxn=EXAMPLE_MPXN, supplier_id=self.pki.entity("supplier_a"), supplier_mpid="SUPB",
            comms_hub_id=self.hub.chf.entity_id, credential_status=status), replace=True)

    def join(self, device, status=CredentialStatus.TCOS):
        """A device joins the hub: on its device log, in the inventory, its certificates known."""
        self.hub.join(device)
        self.register(device, status)
        for usage in (Usage.DS, Usage.KA):  # devices made after the PKI are not in its key store
            self.dcc.keystore.add(device.entity_id, usage, self.pki.credentials[(device.entity_id, usage)].certificate)

    def request(self, device, **changes):
        counter = self.inventory.next_sequence("test-6.23")
        return example_request(self.pki, request_id=RequestId.of(self.pki.entity("supplier_b"), device.entity_id,
                                                                    counter), **changes)

    def sent(self, mark: int) -> int:
        return sum(1 for frame in self.link.log.since(mark) if frame.direction is Direction.TX)


@pytest.fixture
def field(fixture_pki, tmp_path):
    setup = Field(fixture_pki, tmp_path)
    yield setup
    setup.inventory.close()


def test_migrating_a_comms_hubs_devices(field):
    tcos_cell = (RemotePartyRole.TRANSITIONAL_COS,)
    gpf = field.dcc.read_trust_anchors(field.hub.gpf.entity_id, field.link)
    assert gpf.credential_status is CredentialStatus.TCOS
    for device in [*field.meters.values(), field.hub.gpf]:
        outcome = field.dcc.migrate(device.entity_id, field.link)
        assert outcome.success, outcome.detail
        assert outcome.attempts[-1].statuses == ("transitional_cos/digital_signature=SUCCESS",)
        reading = field.dcc.read_trust_anchors(device.entity_id, field.link, tcos_cell)
        assert reading.details[0].cells[0].subject_id == field.pki.entity("ecos")
        assert field.inventory.require(device.entity_id).credential_status is CredentialStatus.ECOS
    # the CHF itself holds no transitionalCoS trust anchor: nothing to migrate
    field.inventory.add_device(DeviceRecord(device_id=field.hub.chf.entity_id, device_type="CHF"), replace=True)
    reading = field.dcc.read_trust_anchors(field.hub.chf.entity_id, field.link, tcos_cell)
    assert reading.details[0].status == StatusCode.TRUST_ANCHOR_NOT_FOUND


def test_change_of_supplier_after_migration_raises_n26_to_the_losing_supplier(field):
    esme = field.meters["esme"]
    assert field.dcc.migrate(esme.entity_id, field.link).success
    outcome = field.dcc.submit_623(field.request(esme), field.link)
    assert outcome.status is ServiceStatus.COMPLETED and outcome.signer == field.pki.entity("ecos")
    assert outcome.statuses == ("supplier/digital_signature=SUCCESS", "supplier/key_agreement=SUCCESS",
                                "supplier/key_agreement/prepayment_top_up=SUCCESS")
    assert [(a.code, a.trigger) for a in outcome.alerts] == [("N26", "cos_completed")]
    assert outcome.alerts[0].recipient.replace("-", "") == field.pki.entity("supplier_a").hex().upper()
    assert outcome.timing.within_target
    assert field.inventory.require(esme.entity_id).supplier_id == field.pki.entity("supplier_b")


def test_cos_signed_by_ecos_to_a_device_not_migrated(field):
    esme = field.meters["esme"]
    field.inventory.set_credential_status(esme.entity_id, CredentialStatus.ECOS)  # the inventory is wrong
    mark = field.link.log.mark()
    outcome = field.dcc.submit_623(field.request(esme), field.link)
    assert outcome.signer == field.pki.entity("ecos") and outcome.status is ServiceStatus.NO_RESPONSE
    assert [(a.code, a.trigger) for a in outcome.alerts] == [("N26", "cos_not_completed")]
    device_alerts = [decode(f.data) for f in field.link.log.since(mark) if f.direction is Direction.RX]
    assert [alert_code_of(m.payload) for m in device_alerts if m.cra_flag == CraFlag.ALERT] == [0x8F30]
    assert esme.events[-1].code == 0x8F30


def test_n65_when_a_tcos_device_joins_after_the_switch_over(fixture_pki, field):
    late = create_device("ESME", pki=fixture_pki, entity_id=bytes.fromhex("7E570D00000000B1"), clock=field.clock)
    field.join(late)
    reading = field.dcc.read_trust_anchors(late.entity_id, field.link)
    holder = reading.details[0].cells[0].subject_id
    alert = field.dcc.on_device_added_to_device_log(field.hub.chf.entity_id, late.entity_id, holder)
    assert alert is not None and alert.code == "N65" and alert.device_id == late.entity_id
    fresh = create_device("ESME", pki=fixture_pki, entity_id=bytes.fromhex("7E570D00000000B2"), clock=field.clock,
                          cos_party="ecos")
    field.join(fresh, CredentialStatus.UNKNOWN)
    holder = field.dcc.read_trust_anchors(fresh.entity_id, field.link).details[0].cells[0].subject_id
    assert field.dcc.on_device_added_to_device_log(field.hub.chf.entity_id, fresh.entity_id, holder) is None


@pytest.mark.parametrize("check", list(probes.CASES))
def test_every_dsp_check_failure_sends_nothing_to_the_device(field, check):
    esme = field.meters["esme"]
    break_request, break_device = probes.CASES[check]
    request = field.request(esme)
    if break_request:
        request = break_request(field.pki, request)
    if break_device:
        field.inventory.set_registration(esme.entity_id, mpid=break_device["supplier_mpid"])
    mark = field.link.log.mark()
    outcome = field.dcc.submit_623(request, field.link)
    assert outcome.status is ServiceStatus.REJECTED
    assert outcome.response_code == probes.EXPECTED_CODES[check]
    assert field.sent(mark) == 0 and not outcome.sent


def test_adt_breach_stops_with_n63_and_sends_nothing(field):
    esme = field.meters["esme"]
    field.dcc.submit_adt(example_adt(field.pki, sequence=2, daily_623=0))
    mark = field.link.log.mark()
    outcome = field.dcc.submit_623(field.request(esme), field.link)
    assert outcome.status is ServiceStatus.STOPPED and [a.code for a in outcome.alerts] == ["N63"]
    assert field.sent(mark) == 0


class Crash(Exception):
    pass


def test_crash_between_counter_commit_and_send_never_reuses_the_counter(fixture_pki, tmp_path):
    first = Field(fixture_pki, tmp_path)
    esme = first.meters["esme"]

    def crash(party, device, value):
        raise Crash(value)

    first.inventory.after_counter_commit = crash
    with pytest.raises(Crash) as info:
        first.dcc.migrate(esme.entity_id, first.link)
    lost = info.value.args[0]
    assert first.link.log.since(0) == []  # the crash came before anything was sent
    first.inventory.close()
    restarted = Inventory.open(tmp_path / "inventory.sqlite")  # the rig restarts
    dcc = Dcc.from_pki(fixture_pki, restarted, config=first.dcc.config)
    outcome = dcc.migrate(esme.entity_id, first.link)
    assert outcome.success and outcome.attempts[0].counter > lost
    restarted.close()


def test_a_fleet_behind_one_hub_migrates(fixture_pki, tmp_path):
    setup = Field(fixture_pki, tmp_path, devices=())
    for entity in fleet_ids(24):
        setup.join(create_device("ESME", pki=fixture_pki, entity_id=entity, clock=setup.clock))
    results = [setup.dcc.migrate(entity, setup.link) for entity in fleet_ids(24)]
    assert all(r.success for r in results)
    assert {setup.inventory.require(e).credential_status for e in fleet_ids(24)} == {CredentialStatus.ECOS}
    setup.inventory.close()
