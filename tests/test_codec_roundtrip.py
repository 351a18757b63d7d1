"""Codec findings of issue 10: date-times round-trip for every representable value, and
``encode`` refuses (with ``GbcsEncodeError``) whatever ``decode`` would reject."""

from __future__ import annotations

import datetime as dt

import pytest

from rig.gbcs import (
    AuthorisingControl,
    CraFlag,
    Cs02bCommand,
    GbcsDecodeError,
    GbcsEncodeError,
    KeyUsage,
    MacHeader,
    Message,
    RemotePartyRole,
    Replacement,
    TrustAnchorCellId,
    decode,
    encode,
)
from rig.gbcs.message import CosemDateTime

CELL = TrustAnchorCellId(RemotePartyRole.SUPPLIER, KeyUsage.DIGITAL_SIGNATURE)
CERT = b"\x30\x03\x02\x01\x00"


def _command(*, when=None, certificate=CERT, path=(CERT,), mac_header=None) -> Message:
    payload = Cs02bCommand(AuthorisingControl(2, 7), (Replacement(certificate, CELL),), tuple(path), when)
    return Message(CraFlag.COMMAND, 7, bytes(8), bytes(8), 0x0102, payload, mac_header=mac_header,
                   signature=bytes(64), mac=bytes(12) if mac_header else None)


@pytest.mark.parametrize("year", [1, 9, 10, 99, 100, 999, 1000, 2030, 9999])
def test_generalized_time_round_trips_every_year(year):
    when = dt.datetime(year, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    data = encode(_command(when=when))
    assert f"{year:04d}0203040506Z".encode() in data
    assert decode(data).payload.execution_date_time == when
    assert encode(decode(data)) == data


@pytest.mark.parametrize("year", [0, 1, 999, 65535])
def test_cosem_date_time_round_trips(year):
    message = Message(CraFlag.RESPONSE, 1, bytes(8), bytes(8), 0x0019, b"\x01",
                      date_time=CosemDateTime(year, 1, 2, 3, 4, 5, 6, 7, -120, 0x80))
    assert decode(encode(message)) == message


@pytest.mark.parametrize("blob", [
    b"\x30\x82\x01\x00" + bytes(10),  # declared longer than the blob: truncated
    CERT + b"\x00",  # a trailing byte after the element
    b"\x31\x03\x02\x01\x00",  # not a SEQUENCE
    b"\x30",  # no length
    b"\x30\x80\x00\x00",  # indefinite length
    b"",
], ids=["truncated", "trailing", "wrong-tag", "no-length", "indefinite", "empty"])
@pytest.mark.parametrize("where", ["replacement", "path"])
def test_encode_refuses_a_certificate_blob_decode_would_reject(blob, where):
    message = _command(certificate=blob) if where == "replacement" else _command(path=(blob,))
    with pytest.raises(GbcsEncodeError):
        encode(message)
    with pytest.raises(GbcsEncodeError):
        encode(message, interpreted=True)


@pytest.mark.parametrize("fields", [b"\x00" * 5 + b"\x01", b"\x08" + b"\x00" * 5, b"\x00" * 5, b"\x00" * 7])
def test_general_ciphering_fields_must_be_six_empty_octets(fields):
    message = _command(mac_header=MacHeader(fields=fields))
    with pytest.raises(GbcsEncodeError):
        encode(message)
    good = bytearray(encode(_command(mac_header=MacHeader())))
    if len(fields) == 6:
        good[1:7] = fields
        with pytest.raises(GbcsDecodeError, match="general-ciphering"):
            decode(bytes(good))
