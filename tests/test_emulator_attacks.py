"""The findings of the issue-10 attack on the emulated meter, one regression test each.

Replay (floors reopening the anti-replay window), crashes (certificates ``cryptography``
cannot load, poisoned future-dated commands), leniency (the MAC header's key-information
octet, an organisation certificate signed by the root alone). Each test failed before the
fix it guards.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

import firmware_emu.cs02b as cs02b_module
from firmware_emu.alerts import alert_code_of
from firmware_emu.device_types import CELLS, DeviceType
from rig.gbcs import KeyUsage, MacHeader, RemotePartyRole, SeqNumberChange, SpecialistSeqNumber, StatusCode, decode
from rig.gbcs import build as b
from rig.provision import create_device

from .attack_helpers import POISONS, SUPPLIER, TCOS, der, disk_trust_state, poisoned, signed_by_root, trust_state
from .emu_helpers import Head, new_device

REPLAY_ALERT, MALFORMED_ALERT = 0x8F53, 0x8F1E


def _tcos_read_back(head: Head) -> bytes:
    """A frame TCoS sends and a test house captures: a CS02a read-back signed by TCoS."""
    command = b.cs02a_command(originator_id=head.pki.entity("tcos"), recipient_id=head.device.entity_id,
                              counter=head.next(), authorising_cell=b.ds_cell(TCOS), roles=[TCOS], macd=False)
    return head.seal(command, "tcos")


def _supplier_by_supplier(head: Head, **changes):
    return b.cs02b_command(mode=2, originator_id=head.pki.entity("supplier_a"), recipient_id=head.device.entity_id,
                           counter=head.next(), replacements=head.supplier_replacements("supplier_b"),
                           certification_path=[der(head.pki.issuing_ca.certificate)], disapply_time_checks=True,
                           **changes)


def _self_recertification(head: Head, **changes):
    """TransCoSByTransCoS putting TCoS's own certificate back into its cell."""
    return head.migration(ecos_cert=head.cert("tcos"), **changes)


def _alert_codes(alerts) -> list[int | None]:
    return [alert_code_of(a.payload) for a in alerts]


# ---- replay ---------------------------------------------------------------------------------

def test_a_supplier_cannot_reset_the_tcos_counter_and_reopen_its_frames(fixture_pki):
    device, head, _ = new_device(fixture_pki)
    captured = _tcos_read_back(head)
    response, _ = head.send(captured)
    assert response is not None
    tcos_counter = device.state.counters[int(TCOS)]
    command = _supplier_by_supplier(head, other_changes=(SeqNumberChange(TCOS, 0),))
    response, _ = head.send(head.seal(command, "supplier_a"))
    assert response.payload.execution_outcome.all_succeeded
    assert device.state.counters[int(TCOS)] == tcos_counter  # no TCoS cell was replaced: no floor for TCoS
    assert all(c.role != TCOS for c in response.payload.execution_outcome.seq_number_changes)
    response, alerts = head.send(captured)
    assert response is None and _alert_codes(alerts) == [REPLAY_ALERT]


def test_own_floor_never_goes_below_the_frame_that_set_it(fixture_pki):
    device, head, _ = new_device(fixture_pki)
    command = _self_recertification(head, new_floor=0)
    frame = head.seal(command, "tcos")
    response, _ = head.send(frame)
    assert response.payload.execution_outcome.all_succeeded
    assert device.state.counters[int(TCOS)] == command.originator_counter
    for _ in range(3):
        response, alerts = head.send(frame)
        assert response is None and _alert_codes(alerts) == [REPLAY_ALERT]


def test_no_floor_when_every_replacement_failed(fixture_pki):
    device, head, _ = new_device(fixture_pki)
    device.state.counters[int(SUPPLIER)] = 500
    bad = b.replacement(der(fixture_pki.variants["unknown_ca_supplier_b_ds"].certificate), SUPPLIER,
                        KeyUsage.DIGITAL_SIGNATURE)
    command = head.change_of_supplier(signer_label="tcos", replacements=[bad])
    response, _ = head.send(head.seal(command, "tcos"))
    outcome = response.payload.execution_outcome
    assert [o.status for o in outcome.outcomes] == [StatusCode.NO_TRUST_ANCHOR]
    assert device.state.counters[int(SUPPLIER)] == 500 and outcome.seq_number_changes == ()
    # and the authorising role's own floor: counter stays at the frame's
    failing = head.migration(ecos_cert=fixture_pki.variants["unknown_ca_supplier_b_ds"].certificate, new_floor=0)
    frame = head.seal(failing, "tcos")
    head.send(frame)
    assert device.state.counters[int(TCOS)] == failing.originator_counter
    response, alerts = head.send(frame)
    assert response is None and _alert_codes(alerts) == [REPLAY_ALERT]


@pytest.mark.parametrize("changes", [
    {"new_floor": 2**64}, {"new_floor": -1},
    {"new_specialist_floors": (SpecialistSeqNumber(0, -5),)},
    {"new_specialist_floors": (SpecialistSeqNumber(7, 1),)},
    {"other_changes": (SeqNumberChange(RemotePartyRole(-1), 0),)},
    {"other_changes": (SeqNumberChange(RemotePartyRole(42), 0),)},
    {"other_changes": (SeqNumberChange(SUPPLIER, 2**64),)},
    {"other_changes": (SeqNumberChange(SUPPLIER, 0, (SpecialistSeqNumber(0, 2**64 + 3),)),)},
], ids=["own-2^64", "own-negative", "specialist-negative", "specialist-unknown-usage", "role-minus-1",
        "role-42", "other-2^64", "other-specialist-2^64"])
def test_floors_outside_the_counter_range_or_for_unknown_roles_are_rejected(fixture_pki, tmp_path, changes):
    device, head, _ = new_device(fixture_pki, state_dir=tmp_path)
    before, on_disk = trust_state(device), disk_trust_state(tmp_path)
    response, alerts = head.send(head.seal(head.migration(**changes), "tcos"))
    assert response is None and _alert_codes(alerts) == [MALFORMED_ALERT]
    assert trust_state(device) == before and disk_trust_state(tmp_path) == on_disk


def test_future_dated_floors_are_applied_at_execution(fixture_pki):
    device, head, clock = new_device(fixture_pki)
    head.send(head.seal(head.migration(), "tcos"))
    device.state.counters[int(SUPPLIER)] = 900
    when = clock.now() + dt.timedelta(days=1)
    head.send(head.seal(head.change_of_supplier(when=when, other_changes=(b.supplier_floor(7, 3),)), "ecos"))
    assert device.state.counters[int(SUPPLIER)] == 900  # not at receipt
    clock.set(when)
    (alert,) = [decode(f) for f in device.poll()]
    assert alert.payload.alert_code == 0x8F66
    assert device.state.counters[int(SUPPLIER)] == 7  # the new supplier took control: its floor
    assert device.state.specialist_counters[(int(SUPPLIER), 0)] == 3


def test_the_literal_floor_model_is_a_profile_switch(fixture_pki):
    device, head, _ = new_device(fixture_pki, profile="floors-as-requested")
    head.send(_tcos_read_back(head))
    head.send(head.seal(_supplier_by_supplier(head, other_changes=(SeqNumberChange(TCOS, 0),)), "supplier_a"))
    assert device.state.counters[int(TCOS)] == 0  # what a meter reading GBCS literally does


# ---- crashes --------------------------------------------------------------------------------

@pytest.mark.parametrize("poison", sorted(POISONS))
@pytest.mark.parametrize("where", ["replacement", "path"])
def test_unloadable_certificates_are_bad_certificates(fixture_pki, tmp_path, poison, where):
    device, head, _ = new_device(fixture_pki, state_dir=tmp_path)
    replacements = head.supplier_replacements()
    path = [der(fixture_pki.issuing_ca.certificate)]
    if where == "replacement":
        replacements[0] = replace(replacements[0], certificate=poisoned(replacements[0].certificate, poison))
    else:
        path = [poisoned(path[0], poison)]
    command = head.change_of_supplier(signer_label="tcos", replacements=replacements, path=path)
    response, _ = head.send(head.seal(command, "tcos"))
    statuses = [o.status for o in response.payload.execution_outcome.outcomes]
    if where == "replacement":
        assert statuses == [StatusCode.BAD_CERTIFICATE, StatusCode.SUCCESS, StatusCode.SUCCESS]
    else:
        assert set(statuses) == {StatusCode.BAD_CERTIFICATE}
    assert disk_trust_state(tmp_path) == trust_state(device)  # committed and saved together
    assert device.state.counters[int(TCOS)] == command.originator_counter


@pytest.mark.parametrize("restart", [False, True], ids=["running", "restarted"])
def test_poisoned_future_dated_command_fails_once_with_8f67(fixture_pki, tmp_path, restart):
    device, head, clock = new_device(fixture_pki, state_dir=tmp_path)
    head.send(head.seal(head.migration(), "tcos"))
    replacements = head.supplier_replacements()
    replacements[0] = replace(replacements[0], certificate=poisoned(replacements[0].certificate, "curve"))
    when = clock.now() + dt.timedelta(days=1)
    response, _ = head.send(head.seal(head.change_of_supplier(when=when, replacements=replacements), "ecos"))
    assert response.payload.execution_outcome is None and len(device.state.pending) == 1
    clock.set(when)
    if restart:
        device = create_device("ESME", pki=fixture_pki, clock=clock, state_dir=tmp_path)
    (alert,) = [decode(f) for f in device.poll()]
    assert alert.payload.alert_code == 0x8F67
    assert alert.payload.execution_outcome.outcomes[0].status == StatusCode.BAD_CERTIFICATE
    assert device.poll() == [] and device.state.pending == []
    again = create_device("ESME", pki=fixture_pki, clock=clock, state_dir=tmp_path)
    assert again.poll() == [] and again.state.pending == []


def test_pending_frame_that_no_longer_decodes_is_dropped_with_8f67(fixture_pki, tmp_path):
    device, head, clock = new_device(fixture_pki, state_dir=tmp_path)
    head.send(head.seal(head.migration(), "tcos"))
    when = clock.now() + dt.timedelta(days=1)
    head.send(head.seal(head.change_of_supplier(when=when), "ecos"))
    device.state.pending[0] = replace(device.state.pending[0], frame=device.state.pending[0].frame[:40])
    device.save()
    clock.set(when)
    restarted = create_device("ESME", pki=fixture_pki, clock=clock, state_dir=tmp_path)
    cells = dict(restarted.state.cells)
    assert restarted.poll() == []  # no recipient can be named: logged, not sent
    assert restarted.events[-1].code == 0x8F67 and restarted.state.pending == []
    assert restarted.poll() == [] and restarted.state.cells == cells


def test_an_unexpected_failure_inside_a_handler_changes_nothing(fixture_pki, tmp_path, monkeypatch):
    device, head, _ = new_device(fixture_pki, state_dir=tmp_path)
    before, on_disk = trust_state(device), disk_trust_state(tmp_path)

    def explode(*_args, **_kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr(cs02b_module.cpv, "validate", explode)
    response, alerts = head.send(head.seal(head.migration(), "tcos"))
    assert response is None and _alert_codes(alerts) == [MALFORMED_ALERT]
    assert trust_state(device) == before and disk_trust_state(tmp_path) == on_disk
    assert "injected" in device.events[-1].detail


def test_an_unexpected_failure_of_a_pending_command_alerts_8f67_and_rolls_back(fixture_pki, tmp_path, monkeypatch):
    device, head, clock = new_device(fixture_pki, state_dir=tmp_path)
    head.send(head.seal(head.migration(), "tcos"))
    when = clock.now() + dt.timedelta(days=1)
    head.send(head.seal(head.change_of_supplier(when=when), "ecos"))
    cells, counters = dict(device.state.cells), dict(device.state.counters)
    clock.set(when)
    calls = []

    def explode(*_args, **_kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first cell is replaced, then the second check fails
            raise RuntimeError("injected")
        return None

    monkeypatch.setattr(cs02b_module.cpv, "validate", explode)
    (alert,) = [decode(f) for f in device.poll()]
    assert alert.payload.alert_code == 0x8F67
    assert {o.status for o in alert.payload.execution_outcome.outcomes} == {StatusCode.OTHER}
    assert device.state.cells == cells and device.state.counters == counters and device.state.pending == []
    assert device.poll() == []


# ---- leniency -------------------------------------------------------------------------------

@pytest.mark.parametrize("offset", [1, 2, 3, 4, 5, 6])
def test_every_general_ciphering_field_octet_must_be_empty(fixture_pki, offset):
    device, head, _ = new_device(fixture_pki)
    frame = bytearray(head.seal(head.migration(), "tcos"))
    frame[offset] = 0x01
    before = trust_state(device)
    response, alerts = head.send(bytes(frame))
    assert response is None and _alert_codes(alerts) == [MALFORMED_ALERT]
    assert trust_state(device) == before


@pytest.mark.parametrize("header", [MacHeader(security_control=0x10), MacHeader(security_control=0x31),
                                    MacHeader(invocation_counter=1)], ids=["sc-0x10", "sc-0x31", "ic-1"])
def test_security_header_values_outside_gbcs_are_rejected_even_when_maced(fixture_pki, header):
    device, head, _ = new_device(fixture_pki)
    frame = head.seal(replace(head.migration(), mac_header=header), "tcos")  # MAC computed over the odd header
    before = trust_state(device)
    response, alerts = head.send(frame)
    assert response is None and _alert_codes(alerts) == [MALFORMED_ALERT]
    assert trust_state(device) == before


def test_organisation_certificate_signed_by_the_root_alone_is_a_bad_certificate(fixture_pki):
    device, head, _ = new_device(fixture_pki)
    old = device.state.cells[b.ds_cell(SUPPLIER)]
    replacements = head.supplier_replacements()
    replacements[0] = replace(replacements[0], certificate=signed_by_root(fixture_pki))
    for path in ([der(fixture_pki.issuing_ca.certificate)], []):
        command = head.change_of_supplier(signer_label="tcos", replacements=replacements, path=path)
        response, _ = head.send(head.seal(command, "tcos"))
        assert response.payload.execution_outcome.outcomes[0].status == StatusCode.BAD_CERTIFICATE
        assert device.state.cells[b.ds_cell(SUPPLIER)] == old


def test_cs02b_other_information_carries_the_message_code_only(fixture_pki):
    from rig.gbcs import Supplementary

    device, head, _ = new_device(fixture_pki)
    command = replace(head.migration(), supplementary=Supplementary(fixture_pki.entity("supplier_a"), 5))
    before = trust_state(device)
    response, alerts = head.send(head.seal(command, "tcos"))
    assert response is None and _alert_codes(alerts) == [MALFORMED_ALERT]
    assert trust_state(device) == before


def _recovery_puts_supplier(head: Head, label: str):
    """Recovery (mode 8, signed only) installing ``label`` in the supplier cells with floor 0."""
    return b.cs02b_command(mode=8, originator_id=head.pki.entity("recovery"), recipient_id=head.device.entity_id,
                           counter=head.next(), replacements=head.supplier_replacements(label),
                           certification_path=[der(head.pki.issuing_ca.certificate)], disapply_time_checks=True,
                           other_changes=(b.supplier_floor(0, 0),))


def test_a_key_installed_again_resumes_above_its_old_frames(fixture_pki):
    """Found by the campaign (seed 11): supplier A, then B with floor 0, then A again with floor
    0 answered A's captured frames once more."""
    device, head, _ = new_device(fixture_pki)
    read = b.cs02a_command(originator_id=fixture_pki.entity("supplier_a"), recipient_id=device.entity_id,
                           counter=head.next(), authorising_cell=b.ds_cell(SUPPLIER), roles=[SUPPLIER], macd=False)
    captured = head.seal(read, "supplier_a")
    assert head.send(captured)[0] is not None
    for label in ("supplier_b", "supplier_a"):
        response, _ = head.send(head.seal(_recovery_puts_supplier(head, label), "recovery"))
        assert response.payload.execution_outcome.all_succeeded
        if label == "supplier_b":
            assert device.state.counters[int(SUPPLIER)] == 0  # a new party: its floor
    assert device.state.counters[int(SUPPLIER)] == read.originator_counter  # A resumes where it was
    response, alerts = head.send(captured)
    assert response is None and _alert_codes(alerts) == [REPLAY_ALERT]


@pytest.mark.parametrize("device_type", list(DeviceType))
def test_the_roles_held_answer_as_the_set_of_every_cell_role_would(device_type):
    """[6] may name only a role the device holds a cell for; ``_RolesHeld`` answers from the
    role's DS and KA cells first and must agree with the plain set for every role, a role held
    through another cell only (the root's keyCertSign cell) and roles no device has."""
    cells = {c: None for c in CELLS[device_type]}
    expected = {int(c.role) for c in cells}
    held = cs02b_module._RolesHeld(cells)
    roles = [*RemotePartyRole, RemotePartyRole(-1), RemotePartyRole(42), 99]
    assert [r in held for r in roles] == [int(r) in expected for r in roles]
    assert RemotePartyRole.ROOT in held  # held through its keyCertSign cell alone
    without_root = {c: None for c in cells if c.role != RemotePartyRole.ROOT}
    assert RemotePartyRole.ROOT not in cs02b_module._RolesHeld(without_root)
