"""Smart metering inventory and anti-replay counters: durable, monotonic, never reused after a crash."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from rig.dcc import CredentialStatus, DeviceRecord, Inventory, InventoryError, eui_text
from rig.dcc.examples import example_request
from rig.dcc.inventory import MAX_COUNTER

from ..vectors import PROJECT
from .conftest import TEST_CONFIG, esme_record
from .fake_meter import FakeMeter, link

PARTY = bytes.fromhex("7E57000000000005")
DEVICE = bytes.fromhex("7E570D00000000A0")


class SimulatedCrash(Exception):
    """Raised by the test hook between 'counter committed' and 'command sent'."""


def test_device_round_trip_and_updates(inventory, fixture_pki):
    record = esme_record(fixture_pki, generation="SMETS1")
    inventory.add_device(record)
    assert inventory.device(record.device_id) == record
    assert inventory.device(eui_text(record.device_id)) == record  # DUIS form works too
    with pytest.raises(InventoryError):
        inventory.add_device(record)
    inventory.set_credential_status(record.device_id, CredentialStatus.ECOS)
    inventory.set_supplier(record.device_id, fixture_pki.entity("supplier_b"))
    inventory.set_registration(record.device_id, mpxn="1300000000099")
    changed = inventory.device(record.device_id)
    assert changed.credential_status is CredentialStatus.ECOS
    assert changed.supplier_id == fixture_pki.entity("supplier_b")
    assert changed.supplier_mpid == record.supplier_mpid and changed.mpxn == "1300000000099"
    assert inventory.device("7E-57-0D-FF-FF-FF-FF-FF") is None
    with pytest.raises(InventoryError):
        inventory.set_credential_status("7E-57-0D-FF-FF-FF-FF-FF", CredentialStatus.TCOS)


def test_database_is_in_wal_mode(inventory):
    assert inventory.db.query("PRAGMA journal_mode")[0][0] == "wal"
    assert inventory.db.query("PRAGMA synchronous")[0][0] == 2  # FULL


def test_counters_are_monotonic_per_pair_and_respect_the_floor(inventory):
    assert [inventory.next_counter(PARTY, DEVICE) for _ in range(3)] == [1, 2, 3]
    assert inventory.next_counter(PARTY, bytes.fromhex("7E570D00000000A1")) == 1  # another device
    inventory.raise_floor(PARTY, DEVICE, 6000)  # e.g. learned from the device by CS02a
    assert inventory.next_counter(PARTY, DEVICE) == 6001
    inventory.raise_floor(PARTY, DEVICE, 10)  # a lower floor never lowers anything
    assert inventory.next_counter(PARTY, DEVICE) == 6002
    assert inventory.counter_state(PARTY, DEVICE) == (6002, 6000)
    with pytest.raises(ValueError):
        inventory.raise_floor(PARTY, DEVICE, MAX_COUNTER + 1)


def test_counter_survives_reopening_the_file(db_path):
    first = Inventory.open(db_path)
    values = [first.next_counter(PARTY, DEVICE) for _ in range(5)]
    first.close()
    second = Inventory.open(db_path)
    try:
        assert second.next_counter(PARTY, DEVICE) == values[-1] + 1
    finally:
        second.close()


def test_two_connections_never_hand_out_the_same_counter(db_path):
    """Two Inventory objects on one file (two sqlite connections), four threads."""
    inventories = [Inventory.open(db_path), Inventory.open(db_path)]
    got: list[int] = []
    lock = threading.Lock()

    def draw(inv):
        for _ in range(40):
            value = inv.next_counter(PARTY, DEVICE)
            with lock:
                got.append(value)

    threads = [threading.Thread(target=draw, args=(inventories[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for inv in inventories:
        inv.close()
    assert sorted(got) == list(range(1, 161))


def test_process_killed_after_commit_never_reuses_its_counter(db_path):
    """A real crash: the child commits a counter, then dies without closing anything."""
    code = ("import os, sys; from rig.dcc import Inventory; inv = Inventory.open(sys.argv[1]);"
            f" print(inv.next_counter({PARTY!r}, {DEVICE!r}), flush=True); os._exit(9)")
    child = subprocess.run([sys.executable, "-c", code, str(db_path)], cwd=PROJECT, capture_output=True, text=True,
                           check=False)
    assert child.returncode == 9, child.stderr
    crashed_counter = int(child.stdout.strip())
    survivor = Inventory.open(db_path)
    try:
        assert survivor.next_counter(PARTY, DEVICE) == crashed_counter + 1
    finally:
        survivor.close()


def test_crash_between_commit_and_send_then_restart(fixture_pki, db_path, sleeps):
    """Inject the crash inside submit_623; after reopening the file the next command uses a fresh counter."""
    from rig.dcc import Dcc
    from rig.dcc.examples import example_adt

    inventory = Inventory.open(db_path)
    inventory.add_device(esme_record(fixture_pki))
    dcc = Dcc.from_pki(fixture_pki, inventory, config=TEST_CONFIG, sleep=sleeps)
    dcc.submit_adt(example_adt(fixture_pki))
    crashed: list[int] = []

    def crash(party, device, counter):
        crashed.append(counter)
        raise SimulatedCrash

    inventory.after_counter_commit = crash
    meter = FakeMeter(fixture_pki)
    with link(meter) as transport:
        with pytest.raises(SimulatedCrash):
            dcc.submit_623(example_request(fixture_pki), transport)
        assert meter.received == []  # the crash came before the send
        inventory.close()

        restarted = Dcc.from_pki(fixture_pki, Inventory.open(db_path), config=TEST_CONFIG, sleep=sleeps)
        outcome = restarted.submit_623(example_request(fixture_pki, counter=1002), transport)
        restarted.inventory.close()
    assert outcome.counter == crashed[0] + 1
    assert outcome.status == "COMPLETED"
    assert [m.originator_counter for m in meter.accepted] == [crashed[0] + 1]


def test_device_log_records_hub_membership(inventory, fixture_pki):
    record = inventory.add_device(esme_record(fixture_pki, comms_hub_id=None))
    hub = fixture_pki.entity("chf")
    inventory.add_to_device_log(hub, record.device_id)
    assert inventory.device_log(hub) == [record.device_id]
    assert inventory.device(record.device_id).comms_hub_id == hub


def test_next_sequence_is_durable_and_increasing(db_path):
    first = Inventory.open(db_path)
    assert [first.next_sequence("alert/N63") for _ in range(2)] == [1, 2]
    first.close()
    second = Inventory.open(db_path)
    assert second.next_sequence("alert/N63") == 3
    assert second.next_sequence("other") == 1
    second.close()


def test_device_record_defaults_are_tcos_smets2(fixture_pki):
    record = DeviceRecord(fixture_pki.entity("gsme"), "GSME")
    assert record.credential_status is CredentialStatus.TCOS and record.generation == "SMETS2"
