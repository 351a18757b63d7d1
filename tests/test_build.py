"""CS02b messages built from typed values equal the real RTDS commands outside signature and MAC."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from rig.crypto import Usage, seal, verify_mac, verify_signature
from rig.crypto.certs import load_certificate
from rig.gbcs import Cs02bCommand, KeyUsage, RemotePartyRole, decode
from rig.gbcs import build as b

from .vectors import RTDS_CA, needs_rtds, read_hex, rtds_files

TCOS = bytes.fromhex("90B3D51F30000004")
ESME = bytes.fromhex("00DB1234567890A0")
SUPPLIER2 = bytes.fromhex("90B3D51F30030000")
ACB = bytes.fromhex("90B3D51F30000002")
UTC = dt.UTC


def _compare(built: bytes, reference: bytes, keystore, signer: bytes) -> None:
    message = decode(built)
    assert len(built) == len(reference)
    end = message.layout.payload_end
    assert built[:end] == reference[:end]  # everything but signature and MAC
    assert built[end] == reference[end] == 0x40
    assert verify_signature(built, message, keystore.public_key(signer, Usage.DS))
    if message.mac is not None:
        assert verify_mac(built, message, keystore.private_key(ACB, Usage.KA), keystore.public_key(ESME, Usage.KA))


def _seal(message, keystore, signer):
    return seal(message, signer=keystore.private_key(signer, Usage.DS),
                mac_private_key=keystore.private_key(ACB, Usage.KA) if message.mac_header else None,
                mac_peer=keystore.public_key(ESME, Usage.KA))


@needs_rtds
@pytest.mark.parametrize("variant,counter,when", [
    ("IMMEDIATE", 6001, None),
    ("FUTURE_DATED", 6002, dt.datetime(2030, 1, 2, tzinfo=UTC)),
    ("CANCELLATION", 6003, b.CANCELLATION_TIME),
])
def test_623_commands_built_from_keystore_certificates(rtds_keystore, variant, counter, when):
    """Every certificate comes from the key store and the issuing CA file; every field is typed."""
    z1 = load_certificate((RTDS_CA / "Z1.pem").read_bytes()).public_bytes(Encoding.DER)

    def der(usage):
        return rtds_keystore.certificate(SUPPLIER2, usage).public_bytes(Encoding.DER)

    message = b.cs02b_command(
        mode=7, originator_id=TCOS, recipient_id=ESME, counter=counter,
        replacements=[b.replacement(der(Usage.DS), RemotePartyRole.SUPPLIER, KeyUsage.DIGITAL_SIGNATURE),
                      b.replacement(der(Usage.KA), RemotePartyRole.SUPPLIER, KeyUsage.KEY_AGREEMENT),
                      b.replacement(der(Usage.PP_KA), RemotePartyRole.SUPPLIER, KeyUsage.KEY_AGREEMENT, 1)],
        certification_path=[z1], execution_time=when,
        other_changes=None if variant == "CANCELLATION" else (b.supplier_floor(0, 0),),
    )
    reference = read_hex(next(iter(rtds_files(f"6.23_*/*_{variant}_SUCCESS_COMMAND_GBCS.HEX"))))
    _compare(_seal(message, rtds_keystore, TCOS), reference, rtds_keystore, TCOS)


@pytest.mark.parametrize("path", [p for p in rtds_files("*CS02b*/*_COMMAND_GBCS.HEX")] or
                         [pytest.param(None, marks=needs_rtds)])
def test_every_rtds_cs02b_command_rebuilt_from_its_typed_fields(path, rtds_keystore):
    """Rebuild through the builder API from the decoded values (certificates as values)."""
    original = decode(read_hex(path))
    payload: Cs02bCommand = original.payload
    control = payload.control
    message = b.cs02b_command(
        mode=control.mode, originator_id=original.originator_id, recipient_id=original.recipient_id,
        counter=original.originator_counter, replacements=payload.replacements,
        certification_path=payload.certification_path, execution_time=payload.execution_date_time,
        disapply_time_checks=control.disapplies_time_checks, authorising_cell=control.authorising_cell,
        new_floor=control.new_floor_seq_number, new_specialist_floors=control.new_specialist_floor_seq_numbers,
        other_changes=control.other_seq_number_changes,
    )
    _compare(_seal(message, rtds_keystore, original.originator_id), read_hex(path), rtds_keystore,
             original.originator_id)


def test_builder_variants_follow_the_mode_table():
    common = dict(originator_id=bytes(8), recipient_id=bytes(8), counter=1, replacements=(), certification_path=())
    recovery = b.cs02b_command(mode=8, **common)
    assert recovery.mac_header is None and recovery.payload.control.authorising_cell.role == RemotePartyRole.RECOVERY
    acb = b.cs02b_command(mode=4, **common)
    assert acb.mac_header is not None and acb.payload.control.authorising_cell is None
    acb_chf = b.cs02b_command(mode=4, recipient_is_chf=True, **common)
    assert acb_chf.payload.control.authorising_cell.role == RemotePartyRole.ACCESS_CONTROL_BROKER
    assert b.cs02b_command(mode=6, **common).message_code == 0x0106
    assert b.cs02b_command(mode=11, **common).message_code == 0x0126


def test_response_and_alert_builders(samples):
    command = decode(samples["CS02bSupplierByTransCoS_FUTURE_DATED_SUCCESS_COMMAND"])
    alert = decode(samples["CS02bSupplierByTransCoS_8F66_FUTURE_DATED_SUCCESS_ALERT"])
    outcome = alert.payload.execution_outcome
    rebuilt = b.cs02b_alert(device_id=command.recipient_id, recipient_id=command.originator_id,
                            alert_counter=alert.originator_counter,
                            execution_time=command.payload.execution_date_time, outcome=outcome)
    assert rebuilt == alert.__class__(**{**alert.__dict__, "signature": None})
    failing = b.cs02b_alert(device_id=bytes(8), recipient_id=bytes(8), alert_counter=1,
                            execution_time=command.payload.execution_date_time,
                            outcome=decode(samples["CS02bSupplierByTransCoS_8F67_FUTURE_DATED_ERROR_ALERT"])
                            .payload.execution_outcome)
    assert failing.payload.alert_code == 0x8F67
    response = b.cs02b_response(command, None)
    assert (response.recipient_id, response.originator_counter) == (command.originator_id, command.originator_counter)
