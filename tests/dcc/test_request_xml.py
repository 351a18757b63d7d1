"""DUIS 6.23 request files: the shipped examples load, the writer round-trips, DCC-template-shaped
files load, and the request maps onto CS02b as the RTDS vectors show."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from rig.crypto import Usage, seal
from rig.crypto.certs import load_certificate
from rig.dcc import (
    DUIS_CANCELLATION,
    DuisFormatError,
    RequestError,
    RequestId,
    UpdateSecurityCredentialsCoS,
    load_request,
    parse_request,
    request_xml,
    to_cs02b,
)
from rig.dcc.examples import FUTURE, REQUEST_FILE, example_request, generate_examples
from rig.gbcs import Cs02bCommand, TimeBasedChecks, decode
from rig.gbcs import build as b

from ..vectors import FIXTURES, RTDS_CA, RTDS_VECTORS, needs_rtds, read_hex

EXAMPLES = FIXTURES / "dcc"
VARIANTS = {"IMMEDIATE": (1001, None), "FUTURE_DATED": (1002, FUTURE), "CANCELLATION": (1003, DUIS_CANCELLATION)}


def test_committed_examples_match_the_generator(fixture_pki):
    generated = generate_examples(fixture_pki)
    committed = {path.name: path.read_bytes() for path in EXAMPLES.iterdir() if path.suffix in (".XML", ".csv")}
    assert committed == generated


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_example_files_load_to_the_request_they_were_written_from(variant, fixture_pki):
    counter, when = VARIANTS[variant]
    loaded = load_request(EXAMPLES / REQUEST_FILE.format(variant=variant))
    assert loaded == example_request(fixture_pki, counter=counter, execution=when)
    assert str(loaded.request_id) == f"7E-57-00-00-00-03-00-00:7E-57-0D-00-00-00-00-A0:{counter}"
    assert loaded.signing_certificate == fixture_pki.xml_signing["supplier_b"].certificate.public_bytes(Encoding.DER)


def test_writer_round_trips_every_optional_field(fixture_pki):
    request = replace(example_request(fixture_pki), ka_certificate=None, ka_top_up_certificate=None,
                      prepayment_floor=None, apply_time_based_checks=False, supplier_floor=2**63 - 1,
                      execution_datetime=dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC))
    assert parse_request(request_xml(request)) == request


def _template_shaped(xml: bytes) -> bytes:
    """What the DCC templates look like: fractional seconds and only an X509IssuerSerial reference."""
    return xml.replace(b"2030-01-02T00:00:00Z", b"2030-01-02T00:00:00.00Z")


def test_issuer_serial_reference_resolves_against_given_certificates(fixture_pki):
    request = example_request(fixture_pki, execution=FUTURE)
    xml = _template_shaped(request_xml(request, embed_certificate=False))
    assert b"X509Certificate" not in xml and b".00Z" in xml
    signing = fixture_pki.xml_signing["supplier_b"].certificate
    others = [fixture_pki.xml_signing["supplier_a"].certificate]
    resolved = parse_request(xml, signing_certificates=[*others, signing])
    assert resolved == request
    unresolved = parse_request(xml, signing_certificates=others)
    assert unresolved.signing_certificate is None
    assert unresolved.signer.serial == signing.serial_number


@pytest.mark.parametrize("damage,message", [
    (lambda x: x.replace(b"<sr:ServiceReference>6.23<", b"<sr:ServiceReference>6.15<"), "not 6.23"),
    (lambda x: x.replace(b"<sr:ImportMPxN>1300000000017</sr:ImportMPxN>", b""), "ImportMPxN"),
    (lambda x: x.replace(b"<sr:DigitalSigningCertificate>MII", b"<sr:DigitalSigningCertificate>!!!"), "base64"),
    (lambda x: x.replace(b"<sr:ApplyTimeBasedCPVChecks>true", b"<sr:ApplyTimeBasedCPVChecks>yes"), "boolean"),
    (lambda x: x.replace(b"<sr:CommandVariant>1", b"<sr:CommandVariant>2"), "Command Variant"),
    (lambda x: x.replace(b"</sr:Request>", b""), "not XML"),
    (lambda x: x.replace(b":1001</sr:RequestID>", b"</sr:RequestID>"), "RequestID"),
])
def test_malformed_files_raise_a_typed_error(damage, message, fixture_pki):
    xml = damage(request_xml(example_request(fixture_pki)))
    with pytest.raises(DuisFormatError, match=message):
        parse_request(xml)


def test_schema_limits_are_enforced_on_construction(fixture_pki):
    request = example_request(fixture_pki)
    with pytest.raises(RequestError):
        replace(request, certification_path=())
    with pytest.raises(RequestError):
        replace(request, certification_path=request.certification_path * 4)
    with pytest.raises(RequestError):
        replace(request, supplier_floor=2**63)
    with pytest.raises(RequestError):
        replace(request, import_mpxn="1" * 14)
    with pytest.raises(RequestError):
        RequestId.parse("not-a-request-id")


def test_request_id_text_round_trip():
    text = "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1006"
    assert str(RequestId.parse(text)) == text


# -- mapping onto CS02b -----------------------------------------------------------------------


def _cs02b(request: UpdateSecurityCredentialsCoS, party: bytes, counter: int = 7) -> Cs02bCommand:
    return to_cs02b(request, cos_party_id=party, counter=counter).payload


def test_immediate_request_maps_to_mode_7_with_supplier_floors(fixture_pki):
    ecos = fixture_pki.entity("ecos")
    request = replace(example_request(fixture_pki), supplier_floor=5, prepayment_floor=9)
    message = to_cs02b(request, cos_party_id=ecos, counter=7)
    assert message.message_code == 0x0107 and message.originator_id == ecos
    command = message.payload
    assert command.control.mode == 7 and command.control.seq_number == 7
    assert command.control.other_seq_number_changes == (b.supplier_floor(5, 9),)
    assert command.control.time_based_checks is None  # apply: the DEFAULT, omitted
    assert [r.certificate for r in command.replacements] == list(request.elements().values())
    assert command.execution_date_time is None


def test_cancellation_maps_to_9999_without_floor_changes(fixture_pki):
    command = _cs02b(example_request(fixture_pki, execution=DUIS_CANCELLATION), fixture_pki.entity("ecos"))
    assert command.execution_date_time == b.CANCELLATION_TIME and command.is_cancellation
    assert command.control.other_seq_number_changes is None


def test_future_dated_and_disapply(fixture_pki):
    request = replace(example_request(fixture_pki, execution=FUTURE), apply_time_based_checks=False)
    command = _cs02b(request, fixture_pki.entity("ecos"))
    assert command.execution_date_time == FUTURE and command.is_future_dated
    assert command.control.time_based_checks == TimeBasedChecks.DISAPPLY


@needs_rtds
def test_rtds_623_command_rebuilt_from_a_request(rtds_keystore):
    """The DCC template's request content, mapped by to_cs02b and signed by the RTDS TCoS key,
    reproduces the RTDS 6.23 command byte for byte up to its signature."""
    tcos, esme, supplier2 = (bytes.fromhex(h) for h in ("90B3D51F30000004", "00DB1234567890A0", "90B3D51F30030000"))
    acb = bytes.fromhex("90B3D51F30000002")

    def der(usage):
        return rtds_keystore.certificate(supplier2, usage).public_bytes(Encoding.DER)

    z1 = load_certificate((RTDS_CA / "Z1.pem").read_bytes()).public_bytes(Encoding.DER)
    request = UpdateSecurityCredentialsCoS(
        request_id=RequestId.of("90-B3-D5-1F-30-01-00-00", esme, 1006), supplier_floor=0, prepayment_floor=0,
        ds_certificate=der(Usage.DS), ka_certificate=der(Usage.KA), ka_top_up_certificate=der(Usage.PP_KA),
        certification_path=(z1,), apply_time_based_checks=True, import_mpxn="1312345678333")
    message = to_cs02b(request, cos_party_id=tcos, counter=6001)
    built = seal(message, signer=rtds_keystore.private_key(tcos, Usage.DS),
                 mac_private_key=rtds_keystore.private_key(acb, Usage.KA),
                 mac_peer=rtds_keystore.public_key(esme, Usage.KA))
    reference = read_hex(RTDS_VECTORS / "6.23_CS02bSupplierByTransCoS"
                         / "CS02bSupplierByTransCoS_6.23_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")
    end = decode(built).layout.payload_end
    assert len(built) == len(reference) and built[:end] == reference[:end]
