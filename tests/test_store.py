"""Trust anchor store persistence: power cut at every write point, restart from the folder."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from firmware_emu import ManualClock, PowerCut
from firmware_emu.store import STATE_FILE, WRITE_POINTS
from rig.gbcs import RemotePartyRole
from rig.gbcs import build as b
from rig.provision import create_device

from .emu_helpers import START, Head, new_device

TCOS_CELL = b.ds_cell(RemotePartyRole.TRANSITIONAL_COS)


def _cut_at(point: str):
    def hook(reached: str) -> None:
        if reached == point:
            raise PowerCut(point)

    return hook


@pytest.mark.parametrize("point", WRITE_POINTS)
def test_power_cut_leaves_old_or_new_state_never_a_mix(fixture_pki, tmp_path, point):
    device, head, clock = new_device(fixture_pki, state_dir=tmp_path)
    counter_before = device.state.counters.get(5, 0)
    command = head.migration()
    frame = head.seal(command, "tcos")
    device.store.fault_hook = _cut_at(point)
    with pytest.raises(PowerCut):
        device.receive(frame)
    json.loads((tmp_path / STATE_FILE).read_text())  # never a torn document
    restarted = create_device("ESME", pki=fixture_pki, clock=clock, state_dir=tmp_path)
    holder = restarted.cell_certificate(TCOS_CELL).subject_id
    counter = restarted.state.counters.get(5, 0)
    if point == "dir-fsync":  # the rename happened: the new state, complete
        assert (holder, counter) == (fixture_pki.entity("ecos"), command.originator_counter)
        assert restarted.events[-1].code == 0x8F70
    else:  # the old state, complete
        assert (holder, counter) == (fixture_pki.entity("tcos"), counter_before)
        # and the device carries on from it: the same command now succeeds
        response, _ = Head(fixture_pki, restarted).send(frame)
        assert response.payload.execution_outcome.all_succeeded


def test_restart_keeps_pending_future_dated_commands_and_counters(fixture_pki, tmp_path):
    device, head, clock = new_device(fixture_pki, state_dir=tmp_path)
    head.send(head.seal(head.migration(), "tcos"))
    when = START + dt.timedelta(days=3)
    head.send(head.seal(head.change_of_supplier(when=when), "ecos"))
    restarted = create_device("ESME", pki=fixture_pki, clock=clock, state_dir=tmp_path)
    assert len(restarted.state.pending) == 1 and restarted.state.counters == device.state.counters
    clock.set(when)
    assert len(restarted.poll()) == 1
    again = create_device("ESME", pki=fixture_pki, clock=clock, state_dir=tmp_path)
    assert again.state.pending == [] and again.state.alert_counter == 2001


def test_in_memory_store_saves_nothing_to_disk(fixture_pki, tmp_path):
    device, head, _ = new_device(fixture_pki)
    head.send(head.seal(head.migration(), "tcos"))
    assert device.store.path is None and device.store.saves >= 2
    assert list(tmp_path.iterdir()) == []


# ---- a power cut at every write point of every persisting step --------------------------------

WHEN = START + dt.timedelta(days=2)


@pytest.fixture(scope="module")
def step_frames(fixture_pki) -> dict[str, bytes]:
    """The frames of every persisting step, sealed once (a pending command stores its frame)."""
    from dataclasses import replace

    from .attack_helpers import poisoned

    _device, head, _ = new_device(fixture_pki)
    poisoned_replacements = head.supplier_replacements()
    poisoned_replacements[0] = replace(poisoned_replacements[0],
                                       certificate=poisoned(poisoned_replacements[0].certificate, "curve"))
    read_back = b.cs02a_command(originator_id=fixture_pki.entity("ecos"), recipient_id=head.device.entity_id,
                                counter=20_004, authorising_cell=TCOS_CELL, roles=[RemotePartyRole.SUPPLIER],
                                macd=False)
    return {
        "migration": head.seal(head.migration(counter=20_001), "tcos"),
        "future": head.seal(head.change_of_supplier(when=WHEN, counter=20_002), "ecos"),
        "cancel": head.seal(head.change_of_supplier(when=b.CANCELLATION_TIME, counter=20_003, other_changes=None),
                            "ecos"),
        "read-back": head.seal(read_back, "ecos"),
        "poisoned-future": head.seal(head.change_of_supplier(when=WHEN, counter=20_005,
                                                             replacements=poisoned_replacements), "ecos"),
    }


#: step -> (frames delivered first, what the step does); "poll" runs poll() at the execution time
STEPS = {
    "immediate": ((), "migration"),
    "schedule": (("migration",), "future"),
    "execute": (("migration", "future"), "poll"),
    "cancel": (("migration", "future"), "cancel"),
    "reject": (("migration",), "migration"),  # a replay: the rejection's event is saved
    "read-back": (("migration",), "read-back"),
    "failed-pending": (("migration", "poisoned-future"), "poll"),
}


def _device_at(pki, folder, frames, setup):
    clock = ManualClock(START)
    device = create_device("ESME", pki=pki, clock=clock, state_dir=folder)
    for name in setup:
        assert device.receive(frames[name])
    return device, clock


def _do(device, clock, frames, action):
    if action == "poll":
        clock.set(WHEN)
        return device.poll()
    return device.receive(frames[action])


def _document(folder):
    return json.loads((folder / STATE_FILE).read_text())


@pytest.mark.parametrize("point", WRITE_POINTS)
@pytest.mark.parametrize("step", sorted(STEPS))
def test_power_cut_at_every_persisting_step(fixture_pki, tmp_path, step_frames, step, point):
    setup, action = STEPS[step]
    reference, clock = _device_at(fixture_pki, tmp_path / "reference", step_frames, setup)
    before = _document(tmp_path / "reference")
    assert _do(reference, clock, step_frames, action)  # every step answers (response or alert)
    after = _document(tmp_path / "reference")
    assert after != before
    folder = tmp_path / "cut"
    device, clock = _device_at(fixture_pki, folder, step_frames, setup)
    device.store.fault_hook = _cut_at(point)
    with pytest.raises(PowerCut):
        _do(device, clock, step_frames, action)
    restarted = create_device("ESME", pki=fixture_pki, clock=clock, state_dir=folder)
    document = restarted.state.to_json()
    assert document in (before, after), "a torn or mixed state after the power cut"
    assert (document == after) == (point == "dir-fsync")  # the rename is the commit point
    if document == before:  # the device carries on from the old state: the step now completes
        _do(restarted, clock, step_frames, action)
        assert restarted.state.to_json() == after == _document(folder)


# ---- the durability policy: fsync only for a store that must outlive the host -----------------


def _saves_seen(monkeypatch, store, state):
    """(hook points reached, fsync calls made) by one ``save``."""
    import os

    from firmware_emu import store as store_module

    synced, reached = [], []
    monkeypatch.setattr(store_module.os, "fsync", lambda fd: synced.append(os.fstat(fd).st_mode))
    store.fault_hook = reached.append
    store.save(state)
    return reached, synced


@pytest.mark.parametrize("durable", [False, True])
def test_a_save_reaches_every_write_point_in_order_whatever_the_policy(fixture_pki, tmp_path, monkeypatch, durable):
    import stat

    from firmware_emu import TrustAnchorStore

    device, _head, _ = new_device(fixture_pki)
    store = TrustAnchorStore(tmp_path, durable=durable)
    reached, synced = _saves_seen(monkeypatch, store, device.state)
    assert tuple(reached) == WRITE_POINTS  # crash tests cut at the same points under both policies
    assert store.load().to_json() == device.state.to_json()  # written and renamed into place
    if durable:  # the document, then its folder (the rename)
        assert [stat.S_ISREG(m) for m in synced] == [True, False] and stat.S_ISDIR(synced[1])
    else:  # a killed process keeps written pages and the rename: no disk flush
        assert synced == []


def test_devices_made_with_a_state_folder_do_not_flush_the_disk_per_save(fixture_pki, tmp_path, monkeypatch):
    device, _head, _ = new_device(fixture_pki, state_dir=tmp_path)
    assert device.store.durable is False
    _reached, synced = _saves_seen(monkeypatch, device.store, device.state)
    assert synced == []


@pytest.mark.parametrize("capacity", [5, None])
def test_the_event_log_rolls_back_and_falls_off_as_a_copied_log_would(capacity, monkeypatch):
    """Snapshots share the event log and keep its length (issue 14: no copy per command).
    Commands with nested steps, each rolled back or kept, and cuts of the log in the middle of a
    command (past twice ``CAPACITY``) must leave exactly what a log copied at every snapshot
    leaves. A log of 5 is cut every few commands, so commands rolled back across a cut are many."""
    import random

    from firmware_emu import store
    from firmware_emu.events import Event

    if capacity:
        monkeypatch.setattr(store, "CAPACITY", capacity)
    CAPACITY = store.CAPACITY  # the constant the store reads
    rng = random.Random(14)
    state, model = store.DeviceState(cells={}), []
    when = dt.datetime(2026, 1, 1)
    cuts = rolled_back = 0

    def log(count: int) -> None:
        nonlocal model, cuts
        for _ in range(count):
            cuts += len(state.events) == 2 * CAPACITY  # this one cuts the log, under a snapshot
            event = Event(when, rng.randrange(1 << 16))
            state.log(event)
            model = [*model, event][-CAPACITY:]

    for _ in range(1500):  # a command: snapshot, events, maybe a nested step, kept or rolled back
        outer, outer_model = state.snapshot(), list(model)
        log(rng.randrange(1, 4))
        if rng.random() < 0.3:
            inner, inner_model = state.snapshot(), list(model)
            log(rng.randrange(1, 4))
            if rng.random() < 0.5:
                state.restore(inner)
                model = inner_model
                assert state.recent_events == model
                log(rng.randrange(2))
        if rng.random() < 0.25:
            rolled_back += state.events is not outer.events  # the log was cut in this command
            state.restore(outer)
            model = outer_model
        assert state.recent_events == model
    assert len(state.to_json()["events"]) == len(model) <= CAPACITY
    assert cuts >= 3 and (rolled_back >= 10 or not capacity)  # cut under snapshots, rolled back across cuts
