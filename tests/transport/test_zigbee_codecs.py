"""ZCL tunneling frames, the GBCS tunnel header, GBT blocks and air frames: bytes and round trips."""

from __future__ import annotations

import pytest
from construct import ChecksumError
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.transport.zigbee.backend import ApsFrame
from rig.transport.zigbee.emulated import decode_air, encode_air
from rig.transport.zigbee.gbcs_tunnel import (
    Bare,
    Get,
    GetResponse,
    Put,
    TunnelHeaderError,
    decode_tunnel_payload,
    encode_tunnel_payload,
)
from rig.transport.zigbee.gbt import GbtError, Reassembler, decode_block, is_gbt, split_message
from rig.transport.zigbee.zcl import (
    COMMANDS,
    CloseTunnel,
    DefaultResponse,
    RequestTunnel,
    RequestTunnelResponse,
    TransferData,
    TransferDataError,
    TunnelClosureNotification,
    UnknownCommand,
    ZclDecodeError,
    ZclDirection,
    ZclFrame,
    decode_zcl,
    encode_zcl,
)

from .peers import peer_for

C2S, S2C = ZclDirection.CLIENT_TO_SERVER, ZclDirection.SERVER_TO_CLIENT


def test_request_tunnel_bytes_carry_the_gbcs_values():
    wire = encode_zcl(ZclFrame(RequestTunnel(), C2S, sequence=0x42))
    # frame control: cluster-specific, client to server, no default response; seq; command 0x00;
    # protocol 6 (GB-HRGP); manufacturer 0xFFFF; flow control false; 1500 (0x05DC) little-endian
    assert wire.hex() == "1142" "00" "06" "ffff" "00" "dc05"


@pytest.mark.parametrize("frame,hex_bytes", [
    (ZclFrame(RequestTunnelResponse(0x0102, 0, 1500), S2C, 1), "190100" "0201" "00" "dc05"),
    (ZclFrame(TransferData(0x0010, b"\xdf\x01"), C2S, 2), "110202" "1000" "df01"),
    (ZclFrame(TransferData(0x0010, b"\xdf"), S2C, 3), "190301" "1000" "df"),
    (ZclFrame(TransferDataError(0x0010, 2), C2S, 4), "110403" "1000" "02"),
    (ZclFrame(TransferDataError(0x0010, 0), S2C, 5), "190502" "1000" "00"),
    (ZclFrame(CloseTunnel(0x0010), C2S, 6), "110601" "1000"),
    (ZclFrame(TunnelClosureNotification(0x0010), S2C, 7), "190706" "1000"),
    (ZclFrame(DefaultResponse(0x02, 0x00), S2C, 8), "18080b" "0200"),
])
def test_command_table_bytes(frame, hex_bytes):
    assert encode_zcl(frame).hex() == hex_bytes
    assert decode_zcl(bytes.fromhex(hex_bytes)) == frame


def test_every_table_row_round_trips():
    samples = {RequestTunnel: RequestTunnel(), RequestTunnelResponse: RequestTunnelResponse(7),
               CloseTunnel: CloseTunnel(7), TransferData: TransferData(7, b"abc"),
               TransferDataError: TransferDataError(7, 1), TunnelClosureNotification: TunnelClosureNotification(7),
               DefaultResponse: DefaultResponse(0, 0)}
    for spec in COMMANDS:
        for direction in ([spec.direction] if spec.direction is not None else [C2S, S2C]):
            frame = ZclFrame(samples[spec.kind], direction, 9)
            assert decode_zcl(encode_zcl(frame)) == frame


def test_command_sent_the_wrong_way_is_refused():
    with pytest.raises(ValueError):
        encode_zcl(ZclFrame(RequestTunnel(), S2C))


def test_manufacturer_specific_header_and_unknown_commands_survive():
    frame = ZclFrame(UnknownCommand(0x04, b"\x01\x02"), C2S, 3, manufacturer_code=0x1234)
    wire = encode_zcl(frame)
    assert wire[:3] == b"\x15\x34\x12"
    assert decode_zcl(wire) == frame


@pytest.mark.parametrize("bad", ["", "11", "1101", "110100", "190100020100dc0500", "13010000"])
def test_malformed_zcl_is_a_typed_error(bad):
    with pytest.raises(ZclDecodeError):
        decode_zcl(bytes.fromhex(bad))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_zcl_decoder_never_crashes(data):
    try:
        frame = decode_zcl(data)
    except ZclDecodeError:
        return
    # whatever decodes re-encodes to a frame that decodes the same (reserved bits are dropped)
    assert decode_zcl(encode_zcl(frame)) == frame


@settings(max_examples=200, deadline=None)
@given(tunnel_id=st.integers(0, 0xFFFF), data=st.binary(max_size=1500), seq=st.integers(0, 255),
       direction=st.sampled_from([C2S, S2C]))
def test_transfer_data_round_trip(tunnel_id, data, seq, direction):
    frame = ZclFrame(TransferData(tunnel_id, data), direction, seq)
    assert decode_zcl(encode_zcl(frame)) == frame


@pytest.mark.parametrize("payload,hex_bytes", [
    (Get(), "01"),
    (GetResponse(2, b"\xdf\xaa"), "0202dfaa"),
    (GetResponse(0), "0200"),
    (Put(b"\xdf\xbb"), "03dfbb"),
    (Bare(b"\xdf\xcc"), "dfcc"),
])
def test_gbcs_tunnel_header_bytes(payload, hex_bytes):
    assert encode_tunnel_payload(payload).hex() == hex_bytes
    assert decode_tunnel_payload(bytes.fromhex(hex_bytes)) == payload


def test_gbcs_tunnel_header_limits():
    assert encode_tunnel_payload(GetResponse(1000, b"x"))[:2] == b"\x02\xff"
    for bad in (b"", b"\x02"):
        with pytest.raises(TunnelHeaderError):
            decode_tunnel_payload(bad)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.builds(GetResponse, st.integers(0, 255), st.binary()), st.builds(Put, st.binary()),
                 st.just(Get())))
def test_gbcs_tunnel_round_trip(payload):
    assert decode_tunnel_payload(encode_tunnel_payload(payload)) == payload


def _big_command(size=3000, counter=5):
    return peer_for("ESME").command(counter, bytes(i % 251 for i in range(size)))


def test_gbt_splits_only_what_does_not_fit_and_joins_it_back():
    small = _big_command(100)
    assert split_message(small, 1500) == [small]
    big = _big_command(3000)
    blocks = split_message(big, 1498)
    assert len(blocks) == 3 and all(len(b) <= 1498 for b in blocks)
    assert all(is_gbt(b) for b in blocks)
    decoded = [decode_block(b) for b in blocks]
    assert [d.block_number for d in decoded] == [1, 2, 3]
    assert [d.last for d in decoded] == [False, False, True]
    assert {d.originator_counter for d in decoded} == {5}
    assert blocks[0][:2] == b"\xdd\x09"  # routing header: general-ciphering, 9-octet transaction id
    joiner = Reassembler()
    assert [joiner.feed(b) for b in blocks] == [None, None, big]


def test_gbt_missing_block_drops_the_message():
    blocks = split_message(_big_command(3000), 1000)
    joiner = Reassembler()
    assert [joiner.feed(b) for b in (blocks[0], *blocks[2:])] == [None] * (len(blocks) - 1)
    assert joiner.counts["gbt_dropped_messages"] == 1 and joiner.counts["gbt_messages"] == 0
    assert [joiner.feed(b) for b in blocks][-1] == _big_command(3000)  # a clean resend joins


def test_gbt_refuses_what_it_cannot_split():
    with pytest.raises(ValueError):
        split_message(b"\x00" * 2000, 1500)  # not GBCS
    with pytest.raises(ValueError):
        split_message(_big_command(100), 40)
    with pytest.raises(GbtError):
        decode_block(b"\xdd\x09\x01")


def test_air_frame_check_catches_a_flipped_bit():
    frame = ApsFrame(bytes(range(8)), bytes(range(8, 16)), b"\x11\x01\x00")
    air = encode_air(frame)
    assert decode_air(air) == frame
    damaged = bytearray(air)
    damaged[20] ^= 0x04
    with pytest.raises(ChecksumError):
        decode_air(bytes(damaged))
