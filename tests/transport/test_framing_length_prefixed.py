"""The project's length-prefixed framing: exact layout, header check, resync."""

from __future__ import annotations

import pytest

from rig.transport.framing import LengthPrefixedFramer, make_framer
from rig.transport.framing.crc import crc32
from rig.transport.framing.length_prefixed import SYNC


def test_layout_is_sync_length_check_payload_crc32():
    wire = LengthPrefixedFramer().encode(b"hello")
    assert wire[:2] == SYNC == b"\xa5\xc3"
    assert wire[2:4] == b"\x00\x05" and wire[4:6] == b"\xff\xfa"
    assert wire[6:11] == b"hello"
    assert wire[11:] == crc32(wire[:11]).to_bytes(4, "big")


def test_damaged_length_is_rejected_at_once():
    framer = LengthPrefixedFramer()
    bad = bytearray(framer.encode(b"first"))
    bad[3] ^= 0x01
    assert framer.feed(bytes(bad) + framer.encode(b"second")) == [b"second"]
    assert framer.stats["header_errors"] == 1


def test_crc_failure_resyncs_onto_the_next_frame():
    framer = LengthPrefixedFramer()
    bad = bytearray(framer.encode(b"payload with " + SYNC + b" inside"))
    bad[10] ^= 0x80
    assert framer.feed(bytes(bad) + framer.encode(b"ok")) == [b"ok"]
    assert framer.stats["crc_errors"] == 1 and framer.stats["resyncs"] >= 1


def test_sync_word_inside_payload_is_harmless():
    framer = LengthPrefixedFramer()
    payload = SYNC * 20
    assert framer.feed(framer.encode(payload)) == [payload]


def test_payload_size_limits():
    framer = LengthPrefixedFramer(max_payload=10)
    with pytest.raises(ValueError):
        framer.encode(bytes(11))
    big = LengthPrefixedFramer().encode(bytes(11))
    assert framer.feed(big) + framer.idle() == []
    assert framer.stats["header_errors"] >= 1


def test_make_framer_knows_both_framings():
    assert isinstance(make_framer("length-prefixed"), LengthPrefixedFramer)
    assert make_framer("hdlc", "server").role == "server"
    with pytest.raises(ValueError, match="unknown framing"):
        make_framer("slip")
