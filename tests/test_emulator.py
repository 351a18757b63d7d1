"""Emulated devices on the generated PKI: migration, change of supplier, and every failure."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from firmware_emu import CELLS, DeviceType, Reason
from firmware_emu.alerts import alert_code_of
from firmware_emu.device_types import ROOT
from rig.gbcs import (
    Cs02aResponse,
    Cs02bResponse,
    Cs02eResponse,
    KeyUsage,
    KeyUsageRequest,
    RemotePartyRole,
    StatusCode,
    decode,
    encode,
)
from rig.gbcs import build as b
from rig.gbcs.message import MacHeader, Message
from rig.gbcs.tables import CraFlag

from .emu_helpers import der, new_device

TCOS_CELL = b.ds_cell(RemotePartyRole.TRANSITIONAL_COS)
SUPPLIER_CELLS = [b.ds_cell(RemotePartyRole.SUPPLIER), b.ka_cell(RemotePartyRole.SUPPLIER),
                  b.ka_cell(RemotePartyRole.SUPPLIER, prepayment=True)]


def _migrate(head):
    frame = head.seal(head.migration(), "tcos")
    response, alerts = head.send(frame)
    return frame, response, alerts


@pytest.mark.parametrize("device_type", ["ESME", "GSME", "GPF"])
def test_migration_then_change_of_supplier(fixture_pki, device_type):
    device, head, _ = new_device(fixture_pki, device_type)
    _, response, alerts = _migrate(head)
    assert alerts == [] and response is not None
    outcome = response.payload.execution_outcome
    assert [int(o.status) for o in outcome.outcomes] == [0]
    assert outcome.outcomes[0].existing_subject_id == fixture_pki.entity("tcos")
    assert outcome.outcomes[0].replacing_subject_id == fixture_pki.entity("ecos")
    assert response.date_time is not None and response.recipient_id == fixture_pki.entity("tcos")
    assert device.cell_certificate(TCOS_CELL).subject_id == fixture_pki.entity("ecos")

    cos = head.seal(head.change_of_supplier(), "ecos")
    response, _ = head.send(cos)
    assert response.payload.execution_outcome.all_succeeded
    assert [device.cell_certificate(c).subject_id for c in SUPPLIER_CELLS] == [fixture_pki.entity("supplier_b")] * 3
    assert device.state.counters[int(RemotePartyRole.SUPPLIER)] == 0  # the new supplier's floor
    assert device.state.specialist_counters[(int(RemotePartyRole.SUPPLIER), 0)] == 0
    # the new supplier can now command the device: its counters start above the floor
    read = b.cs02a_command(originator_id=fixture_pki.entity("supplier_b"), recipient_id=device.entity_id, counter=1,
                           authorising_cell=b.ds_cell(RemotePartyRole.SUPPLIER), roles=[2], macd=False)
    response, _ = head.send(head.seal(read, "supplier_b"))
    assert response.payload.details[0].cells[0].subject_id == fixture_pki.entity("supplier_b")


def test_response_is_signed_by_the_device_and_echoes_the_command(fixture_pki):
    device, head, _ = new_device(fixture_pki)
    command = head.migration(counter=42_000)
    frames = device.receive(head.seal(command, "tcos"))
    response = decode(frames[0])
    assert head.device_signed(response, frames[0])
    assert (response.originator_counter, response.message_code) == (42_000, 0x0106)
    assert response.payload.execution_outcome.seq_number == 42_000


def test_chf_holds_no_transitional_cos_cell_and_discards_migration(fixture_pki):
    device, head, _ = new_device(fixture_pki, "CHF")
    assert TCOS_CELL not in device.state.cells
    _, response, alerts = _migrate(head)
    assert response is None
    assert [alert_code_of(a.payload) for a in alerts] == [0x8F30]
    assert device.events[-1].code == 0x8F30


def test_change_of_supplier_signed_by_ecos_before_migration_is_rejected(fixture_pki):
    _device, head, _ = new_device(fixture_pki)
    before = head.cells()
    response, alerts = head.send(head.seal(head.change_of_supplier(), "ecos"))
    assert response is None
    assert [alert_code_of(a.payload) for a in alerts] == [0x8F30]  # originator is not the TCoS cell's subject
    assert alerts[0].recipient_id == fixture_pki.entity("supplier_a")  # the responsible supplier is told
    assert head.cells() == before


def test_ecos_key_impersonating_tcos_fails_the_signature_check(fixture_pki):
    device, head, _ = new_device(fixture_pki)
    before = (head.cells(), dict(device.state.counters))
    command = head.change_of_supplier(signer_label="tcos")  # originator TCoS, signed with the ECoS key
    response, alerts = head.send(head.seal(command, head.key("ecos")))
    assert response is None and [alert_code_of(a.payload) for a in alerts] == [0x8F3D]
    assert (head.cells(), dict(device.state.counters)) == before  # counter not consumed


def test_expired_tcos_trust_anchor_still_authorises_migration(fixture_pki):
    """DCC POC 3: a real meter accepted CS02b after the TCoS certificate expired."""
    expired = der(fixture_pki.variants["tcos_expired"].certificate)
    device, head, _ = new_device(fixture_pki)
    device.state.cells[TCOS_CELL] = expired
    _, response, _ = _migrate(head)
    assert response.payload.execution_outcome.all_succeeded
    strict, strict_head, _ = new_device(fixture_pki, profile="expiry-strict")
    strict.state.cells[TCOS_CELL] = expired
    _, response, alerts = _migrate(strict_head)
    assert response is None and [alert_code_of(a.payload) for a in alerts] == [0x8F3D]
    assert strict.cell_certificate(TCOS_CELL).der == expired


def _replace_first(head, certificate, **kwargs):
    replacements = head.supplier_replacements()
    replacements[0] = b.replacement(certificate, RemotePartyRole.SUPPLIER, KeyUsage.DIGITAL_SIGNATURE)
    return head.change_of_supplier(signer_label="tcos", replacements=replacements, **kwargs)


@pytest.mark.parametrize("variant,status", [
    ("wrong_key_usage_supplier_b_ds", StatusCode.BAD_CERTIFICATE),
    ("wrong_role_supplier_b_ds", StatusCode.BAD_CERTIFICATE),
    ("missing_ou_supplier_b_ds", StatusCode.BAD_CERTIFICATE),
    ("unknown_ca_supplier_b_ds", StatusCode.NO_TRUST_ANCHOR),
    ("expired_supplier_b_ds", StatusCode.BAD_CERTIFICATE),
])
def test_bad_replacement_certificates_fail_their_cell_only(fixture_pki, variant, status):
    device, head, _ = new_device(fixture_pki)
    old_ds = device.state.cells[SUPPLIER_CELLS[0]]
    command = _replace_first(head, der(fixture_pki.variants[variant].certificate))
    response, _ = head.send(head.seal(command, "tcos"))
    outcomes = response.payload.execution_outcome.outcomes
    assert [o.status for o in outcomes] == [status, StatusCode.SUCCESS, StatusCode.SUCCESS]
    assert outcomes[0].replacing_key_id == outcomes[0].existing_key_id  # replacing = existing on failure
    assert device.state.cells[SUPPLIER_CELLS[0]] == old_ds


def test_expired_replacement_passes_when_time_checks_are_disapplied(fixture_pki):
    _device, head, _ = new_device(fixture_pki)
    command = _replace_first(head, der(fixture_pki.variants["expired_supplier_b_ds"].certificate),
                             disapply_time_checks=True)
    response, _ = head.send(head.seal(command, "tcos"))
    assert response.payload.execution_outcome.all_succeeded


def test_missing_issuing_ca_certificate_fails_path_validation(fixture_pki):
    _device, head, _ = new_device(fixture_pki)
    response, _ = head.send(head.seal(head.change_of_supplier(signer_label="tcos", path=[]), "tcos"))
    assert {o.status for o in response.payload.execution_outcome.outcomes} == {StatusCode.NO_TRUST_ANCHOR}


def test_targets_outside_the_device_or_the_mode(fixture_pki):
    _gsme, head, _ = new_device(fixture_pki, "GSME")
    no_cell = b.replacement(der(head.cert("network_operator")), RemotePartyRole.NETWORK_OPERATOR,
                            KeyUsage.DIGITAL_SIGNATURE)
    response, _ = head.send(head.seal(head.change_of_supplier(signer_label="tcos", replacements=[no_cell]), "tcos"))
    assert response.payload.execution_outcome.outcomes[0].status == StatusCode.TRUST_ANCHOR_NOT_FOUND
    _esme, head, _ = new_device(fixture_pki)
    response, _ = head.send(head.seal(head.change_of_supplier(signer_label="tcos", replacements=[no_cell]), "tcos"))
    assert response.payload.execution_outcome.outcomes[0].status == StatusCode.NOT_AUTHORIZED


@pytest.mark.parametrize("tamper,reason_code", [
    ("signature", 0x8F3D), ("mac", 0x8F3E), ("replay", 0x8F53), ("recipient", None), ("truncated", 0x8F1E),
    ("oversized-length", 0x8F1E), ("mode-vs-code", 0x8F1E), ("seq-number", 0x8F1E), ("no-mac-header", 0x8F1E),
])
def test_commands_failing_integrity_or_authentication_are_discarded(fixture_pki, tamper, reason_code):
    device, head, _ = new_device(fixture_pki)
    # a change of supplier authorised by the TCoS cell, which it leaves in place (so a replay
    # reaches the counter check)
    command = head.change_of_supplier(signer_label="tcos")
    frame = head.seal(command, "tcos")
    if tamper == "signature":
        frame = frame[:-20] + bytes([frame[-20] ^ 1]) + frame[-19:]  # inside r||s; the MAC is recomputed below
        message = decode(frame)
        frame = head.seal(replace(message, layout=None), None)
    elif tamper == "mac":
        frame = frame[:-1] + bytes([frame[-1] ^ 1])
    elif tamper == "replay":
        device.receive(frame)
    elif tamper == "recipient":
        frame = head.seal(replace(command, recipient_id=bytes(8)), "tcos")
    elif tamper == "truncated":
        frame = frame[:-30]
    elif tamper == "oversized-length":
        frame = frame[:7] + b"\x82\xff\xff" + frame[10:]
    elif tamper == "mode-vs-code":
        frame = head.seal(replace(command, message_code=0x0106), "tcos")
    elif tamper == "seq-number":
        payload = replace(command.payload, control=replace(command.payload.control, seq_number=1))
        frame = head.seal(replace(command, payload=payload), "tcos")
    elif tamper == "no-mac-header":
        frame = head.seal(replace(command, mac_header=None), "tcos")
    before = (head.cells(), dict(device.state.counters))
    events_before = len(device.events)
    response, alerts = head.send(frame)
    assert response is None
    assert (head.cells(), dict(device.state.counters)) == before
    assert len(device.events) == events_before + 1
    if reason_code is None:
        assert alerts == [] and "wrong recipient" in device.events[-1].detail
    else:
        assert device.events[-1].code == reason_code
        assert [alert_code_of(a.payload) for a in alerts] == [reason_code]


def test_future_dated_execution_alerts_and_cancellation(fixture_pki):
    device, head, clock = new_device(fixture_pki)
    _migrate(head)
    when = clock.now() + dt.timedelta(days=2)
    response, _ = head.send(head.seal(head.change_of_supplier(when=when), "ecos"))
    assert response.payload.execution_outcome is None  # commandAccepted only
    assert device.poll() == [] and len(device.state.pending) == 1
    clock.set(when)
    alert = decode(device.poll()[0])
    assert alert.message_code == 0x00CB and alert.payload.alert_code == 0x8F66
    assert alert.recipient_id == fixture_pki.entity("ecos") and alert.originator_counter == 2001
    assert alert.payload.execution_outcome.all_succeeded and alert.payload.execution_date_time == when
    # failing future-dated: unknown CA on the DS cell -> 8F67
    replacements = head.supplier_replacements("supplier_a", ds=fixture_pki.variants["unknown_ca_supplier_b_ds"].certificate)
    when = clock.now() + dt.timedelta(days=1)
    head.send(head.seal(head.change_of_supplier(when=when, replacements=replacements), "ecos"))
    clock.set(when)
    alert = decode(device.poll()[0])
    assert alert.payload.alert_code == 0x8F67 and alert.originator_counter == 2002
    assert [int(o.status) for o in alert.payload.execution_outcome.outcomes] == [10, 0, 0]
    # cancellation: the pending command never runs
    when = clock.now() + dt.timedelta(days=1)
    head.send(head.seal(head.change_of_supplier(when=when), "ecos"))
    response, _ = head.send(head.seal(head.change_of_supplier(when=b.CANCELLATION_TIME, other_changes=None), "ecos"))
    assert response.payload.execution_outcome is None and device.state.pending == []
    clock.set(when + dt.timedelta(days=1))
    assert device.poll() == []


def test_cs02a_reads_back_cells_after_each_change(fixture_pki):
    device, head, _ = new_device(fixture_pki)
    read = head.read_back([RemotePartyRole.TRANSITIONAL_COS, RemotePartyRole.WAN_PROVIDER])
    assert isinstance(read.payload, Cs02aResponse) and head.device_signed(read, encode(read))
    tcos, wan = read.payload.details
    assert tcos.cells[0].subject_id == fixture_pki.entity("tcos") and wan.status == StatusCode.TRUST_ANCHOR_NOT_FOUND
    _migrate(head)
    read = b.cs02a_command(originator_id=fixture_pki.entity("acb"), recipient_id=device.entity_id, counter=head.next(),
                           authorising_cell=b.ka_cell(RemotePartyRole.ACCESS_CONTROL_BROKER),
                           roles=[RemotePartyRole.TRANSITIONAL_COS])
    response, _ = head.send(head.seal(read, None))  # MAC only, from the ACB
    assert response.mac_header is not None and response.signature is None
    assert response.payload.details[0].cells[0].subject_id == fixture_pki.entity("ecos")
    assert response.payload.details[0].current_seq_number == head.counter - 1


def test_cs02e_returns_the_device_certificates(fixture_pki):
    device, head, _ = new_device(fixture_pki)
    for usage, expected in ((KeyUsage.DIGITAL_SIGNATURE, device.identity.ds_certificate),
                            (KeyUsage.KEY_AGREEMENT, device.identity.ka_certificate),
                            (KeyUsage.KEY_CERT_SIGN, None)):
        command = Message(CraFlag.COMMAND, head.next(), fixture_pki.entity("supplier_a"), device.entity_id, 0x000C,
                          KeyUsageRequest(usage), mac_header=MacHeader())
        response, _ = head.send(head.seal(command, "supplier_a"))
        assert isinstance(response.payload, Cs02eResponse)
        assert response.payload.certificate == expected
        if expected is None:
            assert response.payload.error == 1


def test_cell_tables_are_data_per_device_type():
    # ESME: 9 + the load controller DS and KA cells [RTDS 6.24.1 CS02fMAC lists them on 00DB1234567890A0]
    assert {t: len(c) for t, c in CELLS.items()} == {DeviceType.ESME: 11, DeviceType.GSME: 7, DeviceType.CHF: 5,
                                                     DeviceType.GPF: 9}
    assert all(ROOT in cells for cells in CELLS.values())


def test_every_cell_of_every_device_type_has_its_source():
    from firmware_emu.device_types import CELL_SOURCES

    for device_type, cells in CELLS.items():
        for c in cells:
            source = CELL_SOURCES.get(c, {}).get(device_type)
            assert source and source.split()[0] in ("RTDS", "GBCS", "reading"), (device_type, c)
    # and no source names a cell the table does not hold
    for c, by_type in CELL_SOURCES.items():
        assert all(c in CELLS[t] for t in by_type), c


def test_profiles_quirks(fixture_pki):
    stubborn, head, _ = new_device(fixture_pki, profile="non-migratable")
    _, response, alerts = _migrate(head)
    assert response is None and alerts == [] and stubborn.events[-1].code == 0x8F1E
    assert Reason.MODE_REFUSED.value in stubborn.events[-1].detail
    failing, head, _ = new_device(fixture_pki, profile="fails-cells")
    _, response, _ = _migrate(head)
    assert [o.status for o in response.payload.execution_outcome.outcomes] == [StatusCode.OTHER]
    assert failing.cell_certificate(TCOS_CELL).subject_id == fixture_pki.entity("tcos")
    mute, head, _ = new_device(fixture_pki, profile="mute")
    _, response, alerts = _migrate(head)
    assert response is None and mute.cell_certificate(TCOS_CELL).subject_id == fixture_pki.entity("ecos")
    wrong, head, clock = new_device(fixture_pki, profile="wrong-alert")
    _migrate(head)
    when = clock.now() + dt.timedelta(hours=1)
    head.send(head.seal(head.change_of_supplier(when=when), "ecos"))
    clock.set(when)
    assert decode(wrong.poll()[0]).payload.alert_code == 0x8F67


def test_slow_model_holds_its_response_until_polled_later(fixture_pki, monkeypatch):
    import firmware_emu.device as device_module

    now = [1000.0]
    monkeypatch.setattr(device_module.time, "monotonic", lambda: now[0])
    slow, head, _ = new_device(fixture_pki, profile="slow")
    assert slow.receive(head.seal(head.migration(), "tcos")) == []
    assert slow.poll() == []
    now[0] += 1.6
    frames = slow.poll()
    assert len(frames) == 1 and decode(frames[0]).cra_flag == CraFlag.RESPONSE


def test_unsupported_and_non_command_frames(fixture_pki):
    device, head, _ = new_device(fixture_pki)
    other = Message(CraFlag.COMMAND, head.next(), fixture_pki.entity("supplier_a"), device.entity_id, 0x0019, b"\x01")
    assert device.receive(head.seal(other, "supplier_a")) == []
    assert device.events[-1].code == 0
    response = Message(CraFlag.RESPONSE, 1, fixture_pki.entity("supplier_a"), device.entity_id, 0x0107,
                       Cs02bResponse())
    assert alert_code_of(decode(device.receive(encode(response))[0]).payload) == 0x8F1E


def test_gas_devices_alert_in_gbz_form(fixture_pki):
    _gsme, head, _ = new_device(fixture_pki, "GSME")
    frame = head.seal(head.migration(), "tcos")
    _, alerts = head.send(frame[:-5])
    assert alerts[0].payload[:3] == b"\x01\x09\x00" and alert_code_of(alerts[0].payload) == 0x8F1E


def test_ecdh_and_certificates_are_shared_across_devices(fixture_pki):
    first, _, _ = new_device(fixture_pki)
    second, _, _ = new_device(fixture_pki, entity_id=bytes.fromhex("7E570D00000000B0"))
    acb_cell = b.ka_cell(RemotePartyRole.ACCESS_CONTROL_BROKER)
    assert first.cell_certificate(acb_cell).public_key is second.cell_certificate(acb_cell).public_key
    assert first.identity.ds_key is not second.identity.ds_key
    assert isinstance(second.identity.ds_key, ec.EllipticCurvePrivateKey)
    assert second.entity_id == bytes.fromhex("7E570D00000000B0")


def test_hub_routes_by_recipient_and_logs_joins(fixture_pki):
    from rig.provision import create_hub

    esme, head, clock = new_device(fixture_pki)
    hub = create_hub([esme], pki=fixture_pki, clock=clock)
    assert esme.entity_id in hub.device_log
    response = [decode(f) for f in hub.receive(head.seal(head.migration(), "tcos"))]
    assert response[0].originator_id == esme.entity_id
    stranger = replace(head.migration(), recipient_id=bytes.fromhex("7E570D00000000FF"))
    assert hub.receive(head.seal(stranger, "tcos")) == [] and hub.undeliverable == 1
    assert hub.chf.events[-1].code == 0x8F84
    assert TCOS_CELL not in hub.chf.state.cells and TCOS_CELL in hub.gpf.state.cells


def test_post_switchover_devices_carry_the_ecos_certificate(fixture_pki):
    device, head, _ = new_device(fixture_pki, cos_party="ecos")
    assert device.cell_certificate(TCOS_CELL).subject_id == fixture_pki.entity("ecos")
    response, _ = head.send(head.seal(head.change_of_supplier(), "ecos"))
    assert response.payload.execution_outcome.all_succeeded
    # the TCoS key no longer authorises anything on it
    response, alerts = head.send(head.seal(head.change_of_supplier(signer_label="tcos"), "tcos"))
    assert response is None and [alert_code_of(a.payload) for a in alerts] == [0x8F30]
