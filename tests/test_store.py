"""Trust anchor store persistence: power cut at every write point, restart from the folder."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from firmware_emu import PowerCut
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
