"""DER primitives and the frame layers on hand-made bytes: forms, strictness, typed errors."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from rig.gbcs import (
    CraFlag,
    GbcsDecodeError,
    GbcsEncodeError,
    KeyUsage,
    MacHeader,
    Message,
    TrustAnchorCellId,
    decode,
    encode,
)
from rig.gbcs.der import DerGeneralizedTime, DerInteger, DerNamedBits, DerSequenceOf, encode_integer
from rig.gbcs.payloads.cs02 import cell_id
from rig.gbcs.streams import BuildState, BuildStream, CodecError, ParseStream, encode_length


def parse(construct, data: bytes, interpreted: bool = True):
    stream = ParseStream(data)
    if interpreted:
        value = construct._parse(stream, None, "x")
    else:
        value = construct.compile().parsefunc(stream, None)
    assert stream.pos == len(data)
    return value, stream


def build(construct, value, plan=None) -> bytes:
    stream = BuildStream(BuildState(plan))
    construct._build(value, stream, None, "x")
    return stream.getvalue()


@pytest.mark.parametrize("value,encoded", [(0, "00"), (127, "7F"), (128, "0080"), (6001, "1771"),
                                           (0x8F66, "008F66"), (-1, "FF"), (-128, "80"), (-129, "FF7F")])
def test_integer_minimal_twos_complement(value, encoded):
    assert encode_integer(value).hex().upper() == encoded
    data = bytes((0x02, len(encoded) // 2)) + bytes.fromhex(encoded)
    for interpreted in (True, False):
        assert parse(DerInteger(), data, interpreted)[0] == value
    assert build(DerInteger(), value) == data


@pytest.mark.parametrize("data", ["02020001", "0202FFFF", "0200"])
def test_non_der_integers_are_rejected(data):
    with pytest.raises(CodecError):
        parse(DerInteger(), bytes.fromhex(data))


@pytest.mark.parametrize("flags,encoded", [(KeyUsage.DIGITAL_SIGNATURE, "030207 80".replace(" ", "")),
                                           (KeyUsage.KEY_AGREEMENT, "03020308"),
                                           (KeyUsage.KEY_CERT_SIGN, "03020204"),
                                           (KeyUsage.KEY_CERT_SIGN | KeyUsage.CRL_SIGN, "03020106")])
def test_key_usage_named_bits(flags, encoded):
    data = bytes.fromhex(encoded)
    assert parse(DerNamedBits(KeyUsage), data)[0] == flags
    assert build(DerNamedBits(KeyUsage), flags) == data


def test_key_usage_with_trailing_zero_bits_is_not_der():
    with pytest.raises(CodecError, match="named-bit"):
        parse(DerNamedBits(KeyUsage), bytes.fromhex("03020080"))


def test_non_minimal_lengths_are_kept_and_reproduced():
    # SEQUENCE OF INTEGER with a non-minimal 82 00 06 length, as RTDS devices emit
    data = bytes.fromhex("30820006020101020102")
    schema = DerSequenceOf(DerInteger())
    value, stream = parse(schema, data)
    assert value == (1, 2) and stream.nonminimal and stream.lenlog == [2, 0, 0]
    assert build(schema, value) == bytes.fromhex("3006020101020102")
    assert build(schema, value, plan=tuple(stream.lenlog)) == data


@pytest.mark.parametrize("length,form", [(5, "05"), (127, "7F"), (128, "8180"), (300, "82012C")])
def test_minimal_length_forms(length, form):
    assert encode_length(length).hex().upper() == form
    assert encode_length(5, 2).hex().upper() == "820005"


def test_default_cell_usage_is_omitted_and_explicit_default_rejected():
    schema = cell_id()
    cell = TrustAnchorCellId(2, KeyUsage.DIGITAL_SIGNATURE)
    assert build(schema, cell).hex().upper() == "3007020102030207" + "80"
    with pytest.raises(CodecError, match="DEFAULT"):
        parse(schema, bytes.fromhex("300A020102030207800201" + "00"))


def test_generalized_time():
    value, _ = parse(DerGeneralizedTime(), b"\x18\x0f20300102000000Z")
    assert value == dt.datetime(2030, 1, 2, tzinfo=dt.UTC)
    with pytest.raises(CodecError, match="YYYYMMDD"):
        parse(DerGeneralizedTime(), b"\x18\x0f2030010200000AZ")


def _minimal_message(**changes) -> Message:
    message = Message(CraFlag.COMMAND, 5, bytes(range(8)), bytes(range(8, 16)), 0x0042, b"\x01\x02\x03")
    return replace(message, **changes)


def test_opaque_payload_frames_round_trip():
    for message in (_minimal_message(), _minimal_message(mac_header=MacHeader(), mac=bytes(12)),
                    _minimal_message(signature=bytes(range(64))), _minimal_message(precommand=True)):
        data = encode(message)
        assert decode(data) == message
        assert decode(data, interpreted=True) == message


def test_payload_type_must_fit_the_message_code():
    with pytest.raises(GbcsEncodeError, match="does not fit"):
        encode(_minimal_message(message_code=0x0107, payload=TrustAnchorCellId(2, KeyUsage.DIGITAL_SIGNATURE)))


@pytest.mark.parametrize("mutate,reason,path,offset", [
    (lambda d: d[:-3], "truncated", "", None),
    (lambda d: b"\xDE" + d[1:], "general-signing tag", "grouping header", 0),
    (lambda d: d + b"\x00", "trailing", "frame", None),
])
def test_errors_name_the_field_and_the_offset(mutate, reason, path, offset):
    data = encode(_minimal_message(signature=bytes(range(64))))
    with pytest.raises(GbcsDecodeError) as info:
        decode(mutate(data))
    error = info.value
    assert reason in str(error)
    assert path in error.path
    assert error.offset is not None and (offset is None or error.offset == offset)
    assert " at byte " in str(error)


def test_payload_errors_carry_the_asn1_path():
    from rig.gbcs.build import cs02b_command

    command = cs02b_command(mode=7, originator_id=bytes(8), recipient_id=bytes(8), counter=9,
                            replacements=(), certification_path=())
    data = bytearray(encode(command))
    index = data.index(bytes.fromhex("A207"))
    data[index + 2] = 0x09  # role INTEGER tag corrupted inside [2] authorising cell
    with pytest.raises(GbcsDecodeError) as info:
        decode(bytes(data))
    assert "control -> authorising_cell -> role" in info.value.path
    assert info.value.offset == index + 2


def test_decode_rejects_non_bytes():
    with pytest.raises(GbcsDecodeError):
        decode("DF09")  # type: ignore[arg-type]
