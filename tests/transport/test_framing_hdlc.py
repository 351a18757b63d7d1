"""HDLC as DLMS meters use it (IEC 62056-46): layout, addressing, segmentation, resync."""

from __future__ import annotations

import pytest

from rig.transport.framing import HdlcFramer
from rig.transport.framing.crc import crc16_x25, crc32, fcs_bytes
from rig.transport.framing.hdlc import (
    FLAG,
    LLC_TO_CLIENT,
    LLC_TO_SERVER,
    SEGMENTATION_BIT,
    HdlcAddress,
    HdlcFrame,
    i_control,
)


def _frames(wire: bytes) -> list[bytes]:
    """Split concatenated link frames (each with its own flags) by their length fields."""
    out, pos = [], 0
    while pos < len(wire):
        assert wire[pos] == FLAG
        length = int.from_bytes(wire[pos + 1:pos + 3], "big") & 0x07FF
        out.append(wire[pos:pos + length + 2])
        pos += length + 2
    return out


def test_crc_catalogue_check_values():
    assert crc16_x25(b"123456789") == 0x906E
    assert fcs_bytes(b"123456789") == b"\x6e\x90"  # low octet first on the wire
    assert crc32(b"123456789") == 0xCBF43926


@pytest.mark.parametrize("address,octets", [
    (HdlcAddress.client(0x10), "21"),
    (HdlcAddress.client(0x78), "f1"),
    (HdlcAddress.server(0x01, 0x11), "0223"),
    (HdlcAddress.server(0x01, 0x11, size=4), "00020023"),
    (HdlcAddress.server(0x01), "03"),
])
def test_address_extension_encoding(address, octets):
    assert address.encode().hex() == octets
    assert HdlcAddress.decode(bytes.fromhex(octets)) == address


@pytest.mark.parametrize("bad", [dict(value=0, size=3), dict(value=0x80, size=1)])
def test_invalid_addresses_rejected(bad):
    with pytest.raises(ValueError):
        HdlcAddress(**bad)


def test_single_frame_layout():
    client = HdlcFramer("client")
    wire = client.encode(b"\xdf\x01\x02")
    assert wire[0] == wire[-1] == FLAG
    fmt = int.from_bytes(wire[1:3], "big")
    assert fmt >> 12 == 0xA and not fmt & SEGMENTATION_BIT
    assert fmt & 0x07FF == len(wire) - 2
    assert wire[3:4] == HdlcAddress.server(1).encode() == b"\x03"  # destination: the meter
    assert wire[4:5] == HdlcAddress.client(0x10).encode() == b"\x21"  # source: the rig
    assert wire[5] == i_control(0, 0, poll_final=True)
    assert wire[6:8] == fcs_bytes(wire[1:6])  # HCS over format .. control
    assert wire[8:11] == LLC_TO_SERVER
    assert wire[11:14] == b"\xdf\x01\x02"
    assert wire[-3:-1] == fcs_bytes(wire[1:-3])


def test_frame_without_information_has_no_hcs():
    frame = HdlcFrame(HdlcAddress.client(0x10), HdlcAddress.server(1, 0x11), 0x73)  # UA
    wire = frame.encode()
    assert len(wire) == 1 + 2 + 1 + 2 + 1 + 2 + 1
    assert wire[-3:-1] == fcs_bytes(wire[1:-3])
    client = HdlcFramer("client")
    assert client.feed(wire) == []
    assert client.stats["control_frames"] == 1 and client.errors == 0


def test_segmentation_bits_and_sequence_numbers():
    server = HdlcFramer("server", max_info_length=128)
    payload = bytes(range(256)) + bytes(44)  # 300 octets + 3 LLC = 3 segments
    frames = _frames(server.encode(payload))
    assert len(frames) == 3
    flags = [bool(int.from_bytes(f[1:3], "big") & SEGMENTATION_BIT) for f in frames]
    assert flags == [True, True, False]
    controls = [f[5] for f in frames]  # after the one-octet client and server addresses
    assert [(c >> 1) & 7 for c in controls] == [0, 1, 2]
    assert [(c >> 4) & 1 for c in controls] == [0, 0, 1]  # P/F on the last segment only
    assert frames[0][8:11] == LLC_TO_CLIENT
    client = HdlcFramer("client")
    assert client.feed(b"".join(frames)) == [payload]
    assert client.stats["segments"] == 3 and client.stats["frames"] == 1


def test_flag_octets_inside_the_payload_need_no_stuffing():
    payload = b"\x7e" * 50 + b"\x7e\xa0\x7e"
    client, server = HdlcFramer("client"), HdlcFramer("server")
    assert client.feed(server.encode(payload)) == [payload]


@pytest.mark.parametrize("bit", [0, 3, 7])
def test_every_single_octet_corruption_of_a_segmented_message_is_caught(bit):
    payload = bytes((i * 7 + 3) % 251 for i in range(300))
    reference = HdlcFramer("server", max_info_length=64).encode(payload)
    for position in range(len(reference)):
        client = HdlcFramer("client")
        wire = bytearray(reference)
        wire[position] ^= 1 << bit
        assert client.feed(bytes(wire)) + client.idle() == [], position
        assert client.errors > 0, position


def test_noise_between_segments_does_not_break_the_message():
    server, client = HdlcFramer("server", max_info_length=32), HdlcFramer("client")
    payload = bytes(range(100))
    frames = _frames(server.encode(payload))
    assert client.feed(b"\x00\x11garbage".join(frames)) == [payload]
    assert client.stats["discarded_bytes"] > 0 and client.stats["reassembly_errors"] == 0


def test_lost_segment_drops_the_message_and_the_next_one_arrives():
    server, client = HdlcFramer("server", max_info_length=32), HdlcFramer("client")
    frames = _frames(server.encode(bytes(range(100))))
    del frames[1]  # vanished without leaving damaged bytes behind
    assert client.feed(b"".join(frames)) == []
    assert client.stats["reassembly_errors"] == 1
    assert client.feed(server.encode(b"next")) == [b"next"]


def test_corrupted_length_does_not_stall_the_link():
    server, client = HdlcFramer("server"), HdlcFramer("client")
    bad = bytearray(server.encode(b"first"))
    bad[2] ^= 0x40  # length field: the HCS catches it as soon as the header is in
    good = server.encode(b"second")
    assert client.feed(bytes(bad) + good) == [b"second"]  # no idle() needed
    assert client.stats["crc_errors"] >= 1


def test_idle_abandons_a_truncated_frame_and_rescans():
    server, client = HdlcFramer("server"), HdlcFramer("client")
    truncated = server.encode(b"lost")[:-4]
    assert client.feed(truncated) == []
    assert client.has_partial
    assert client.idle() == []
    assert not client.has_partial and client.stats["resyncs"] >= 1


def test_addresses_from_hw_config_numbers():
    client = HdlcFramer.for_addresses("client", client=0x10, server=0x01, physical=0x11)
    server = HdlcFramer.for_addresses("server", client=0x10, server=0x01, physical=0x11)
    assert client.peer == server.local == HdlcAddress.server(1, 0x11, size=2)
    assert HdlcFramer.for_addresses("client", server=1, physical=0x100).peer.size == 4
    assert server.feed(client.encode(b"\xdfx")) == [b"\xdfx"]
    assert HdlcFramer("server").feed(client.encode(b"\xdfx")) == []  # a meter at another address


def test_frames_for_another_station_are_ignored():
    other = HdlcFramer("server", peer=HdlcAddress.client(0x01))
    client = HdlcFramer("client")
    assert client.feed(other.encode(b"not for us")) == []
    assert client.stats["foreign_frames"] == 1


def test_a_client_does_not_accept_what_a_client_sends():
    assert HdlcFramer("client").feed(HdlcFramer("client", local=HdlcAddress.server(1, 0x11),
                                                peer=HdlcAddress.client(0x10)).encode(b"x")) == []


def test_oversize_frame_refused_on_encode():
    with pytest.raises(ValueError):
        HdlcFrame(HdlcAddress.client(1), HdlcAddress.client(2), 0x10, bytes(2100)).encode()
    with pytest.raises(ValueError):
        HdlcFramer("client", max_info_length=5000)
