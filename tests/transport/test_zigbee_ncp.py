"""The emulated EZSP NCP: its ASH and EZSP codecs (checked against bellows' own), and the rig's EZSP
backend driving it through bellows: the transport contract, APS fragmentation both ways, delivery
reports, and link faults (NCP reset, dropped serial line, stalled callbacks) that are survived or
reported as a ``TransportError``, never as something the meter did.

Everything that needs bellows skips without it (a user's install without the ``zigbee`` extra);
CI installs it.
"""

from __future__ import annotations

import importlib.util
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.transport import LinkLost, TransportError, deadline_in
from rig.transport.testing import EchoMeter
from rig.transport.zigbee import ZigbeeBridgeTransport
from rig.transport.zigbee.backend import ApsFrame
from rig.transport.zigbee.ncp import NcpThread, ash, emulated_ncp
from rig.transport.zigbee.ncp import ezsp_frames as ez
from rig.transport.zigbee.supervisor import NcpError
from rig.transport.zigbee.zcl import GBCS_MAX_TRANSFER_SIZE

from .contract import WAIT, TransportContract, next_counter
from .peers import peer_for

HAVE_BELLOWS = importlib.util.find_spec("bellows") is not None
needs_bellows = pytest.mark.skipif(not HAVE_BELLOWS, reason="bellows is an optional extra: pip install '.[zigbee]'")
pytestmark = pytest.mark.timeout(60)


# -- ASH ------------------------------------------------------------------------------------------
def test_ash_pseudo_random_sequence_and_crc():
    assert ash.RANDOM_SEQUENCE[:6] == bytes.fromhex("4221a8542a15")
    assert ash.crc_ccitt(b"123456789") == 0x29B1  # CRC-CCITT (0xFFFF) check value
    assert ash.encode(ash.AshFrame(ash.Kind.RST)) == bytes.fromhex("c038bc7e")  # UG101's RST example


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(list(ash.Kind)), st.integers(0, 7), st.integers(0, 7), st.booleans(),
       st.binary(max_size=ash.MAX_DATA), st.lists(st.integers(1, 40), max_size=6))
def test_ash_frames_survive_stuffing_and_any_split(kind, frm, ack, re_tx, data, cuts):
    frame = ash.AshFrame(kind, frm_num=frm if kind is ash.Kind.DATA else 0, ack_num=ack if kind in (
        ash.Kind.DATA, ash.Kind.ACK, ash.Kind.NAK) else 0, re_tx=re_tx and kind is ash.Kind.DATA,
        data=data if kind is ash.Kind.DATA else (bytes([2, 0x0B]) if kind in (ash.Kind.RSTACK, ash.Kind.ERROR)
                                                  else b""), code=0x0B if kind in (ash.Kind.RSTACK, ash.Kind.ERROR) else 0)
    wire = ash.encode(frame)
    assert not set(wire[:-1]) & ash.RESERVED - {ash.ESCAPE}  # only the final Flag is unescaped
    reader, got, start = ash.AshReader(), [], 0
    for cut in [*cuts, len(wire)]:
        frames, rejected = reader.feed(wire[start:start + cut])
        got += frames
        assert rejected == 0
        start += cut
    got += reader.feed(wire[start:])[0]
    assert got == [frame]


def test_ash_reader_rejects_damage_and_honours_cancel_and_substitute():
    data = ash.encode(ash.AshFrame(ash.Kind.DATA, frm_num=1, ack_num=2, data=b"\x01\x00\x01\x00\x00"))
    damaged = bytearray(data)
    damaged[2] ^= 0x01
    reader = ash.AshReader()
    assert reader.feed(bytes(damaged)) == ([], 1)  # a damaged DATA frame: the NCP answers it with a NAK
    assert reader.feed(data[:4] + bytes([ash.CANCEL]) + data) == ([ash.decode(ash.unstuff(data[:-1]))], 0)
    assert reader.feed(data[:4] + bytes([ash.SUBSTITUTE]) + data[4:]) == ([], 0)  # marked bad to the Flag


@needs_bellows
def test_ash_matches_bellows_byte_for_byte():
    from bellows import ash as bellows_ash

    for frm, ack, re_tx, payload in ((0, 0, False, b"\x00\x00\x00\x04"), (5, 3, True, bytes(range(200)))):
        ours = ash.encode(ash.AshFrame(ash.Kind.DATA, frm_num=frm, ack_num=ack, re_tx=re_tx, data=payload))
        theirs = bellows_ash.DataFrame(frm_num=frm, re_tx=re_tx, ack_num=ack, ezsp_frame=payload).to_bytes()
        assert ours == bellows_ash.AshProtocol._stuff_bytes(theirs) + b"\x7e"
    theirs = bellows_ash.RStackFrame(version=2, reset_code=bellows_ash.t.NcpResetCode.RESET_SOFTWARE).to_bytes()
    assert ash.encode(ash.AshFrame(ash.Kind.RSTACK, code=0x0B)) == bellows_ash.AshProtocol._stuff_bytes(theirs) + b"\x7e"


# -- EZSP -----------------------------------------------------------------------------------------
@needs_bellows
def test_the_command_table_is_bellows_ezsp_v13():
    """Same frame ids and, built by us and parsed by bellows, the same values with nothing left over."""
    import bellows.types as t
    from bellows.ezsp.v13 import EZSPv13

    samples = {
        "messageSentHandler": {"type": 0, "indexOrDestination": 0x1001, "messageTag": 7, "status": 0x66,
                               "apsFrame": dict(profileId=0x0109, clusterId=0x0704, sourceEndpoint=1,
                                                destinationEndpoint=1, options=0x8000, groupId=0x1302, sequence=9),
                               "messageContents": b"abc"},
        "incomingMessageHandler": {"type": 0, "lastHopLqi": 255, "lastHopRssi": -40, "sender": 0x1001,
                                   "bindingIndex": 255, "addressIndex": 255, "messageContents": b"\x11\x22",
                                   "apsFrame": dict(profileId=0x0109, clusterId=0x0704, sourceEndpoint=1,
                                                    destinationEndpoint=1, options=0, groupId=0, sequence=1)},
        "getNetworkParameters": {"status": 0, "nodeType": 1, "parameters": dict(
            extendedPanId=bytes(range(8)), panId=0x1A62, radioTxPower=8, radioChannel=11, joinMethod=0,
            nwkManagerId=0, nwkUpdateId=0, channels=1 << 11)},
        "version": {"protocolVersion": 13, "stackType": 2, "stackVersion": 0x7440},
    }
    for command in ez.COMMANDS_V13:
        frame_id, _tx_schema, rx_schema = EZSPv13.COMMANDS[command.name]
        assert frame_id == command.frame_id, command.name
        if command.name in samples:
            _values, rest = t.deserialize_dict(command.response.build(samples[command.name]), rx_schema)
            assert rest == b"", command.name
    # and what bellows sends for sendUnicast is what the NCP parses
    aps = t.EmberApsFrame(profileId=0x0109, clusterId=0x0704, sourceEndpoint=1, destinationEndpoint=1,
                          options=t.EmberApsOption.APS_OPTION_FRAGMENT, groupId=0x1300, sequence=0)
    sent = t.serialize_dict([], dict(type=t.EmberOutgoingMessageType.OUTGOING_DIRECT, indexOrDestination=0x1001,
                                     apsFrame=aps, messageTag=5, messageContents=b"xyz"),
                            EZSPv13.COMMANDS["sendUnicast"][1])
    parsed = ez.BY_NAME["sendUnicast"].request.parse(sent)
    assert (parsed.indexOrDestination, parsed.apsFrame.groupId, parsed.messageTag, parsed.messageContents) == (
        0x1001, 0x1300, 5, b"xyz")


def test_legacy_and_extended_host_frames():
    assert ez.parse_host_frame(bytes([7, 0x00, 0x00, 4])) == ez.HostFrame(7, 0x00, True, b"\x04")
    assert ez.parse_host_frame(bytes([8, 0x00, 0x01, 0x34, 0x00, 9])) == ez.HostFrame(8, 0x0034, False, b"\x09")
    with pytest.raises(ez.EzspFrameError):
        ez.parse_host_frame(b"\x01\x00")
    assert ez.build_frame(3, "nop", {}, callback=True) == bytes([3, 0x90, 0x01, 0x05, 0x00])


# -- bellows against the emulated NCP ----------------------------------------------------------------
def _meters(*device_types):
    return [EchoMeter.from_pki(kind) for kind in device_types]


def _ncp(meters, **options):
    return emulated_ncp([(m.device_type, m.device_id, m) for m in meters], **options)


def _bridge(url: str, meters, **backend_options) -> ZigbeeBridgeTransport:
    from rig.transport.zigbee.ezsp import EzspBackend
    from rig.transport.zigbee.supervisor import Backoff

    backend_options.setdefault("give_up_after", 10.0)
    backend = EzspBackend(url, flow_control="software", backoff=Backoff(0.05, 2.0, 0.5, 0.0), **backend_options)
    sleepy = [m.device_id for m in meters if m.device_type == "GSME"]
    return ZigbeeBridgeTransport(backend, sleepy=sleepy, meter=meters[0].device_id)


@pytest.fixture
def served(request):
    """(ncp, NcpThread, meters): an ESME behind the NCP on a pty, or on TCP with ``indirect`` param "tcp"."""
    tcp = getattr(request, "param", "pty") == "tcp"
    meters = _meters("ESME")
    ncp = _ncp(meters)
    server = NcpThread(ncp, tcp=tcp)
    server.start()
    yield ncp, server, meters
    server.stop()


@needs_bellows
class TestEzspEsmeContract(TransportContract):
    """The transport contract over bellows, the emulated NCP on a pty and an ESME behind it."""

    device_type = "ESME"
    short = 0.3

    @pytest.fixture
    def peer(self):
        return peer_for(self.device_type)

    @pytest.fixture
    def link(self):
        meters = _meters(self.device_type, "ESME" if self.device_type == "GSME" else "GSME")
        with NcpThread(_ncp(meters)) as url:
            transport = _bridge(url, meters)
            transport.open()
            yield transport
            transport.close()


@needs_bellows
class TestEzspGsmeContract(TestEzspEsmeContract):
    device_type = "GSME"
    short = 0.4


def _exchange(transport, peer, payload: bytes):
    counter = next_counter()
    command = peer.command(counter, payload)
    transport.send(command)
    frame = transport.recv(peer.answers(counter), deadline_in(WAIT))
    peer.check(frame, counter, payload)
    return command


@needs_bellows
@pytest.mark.parametrize("kind", ["ESME", "GSME"])
def test_tunnel_maximum_transfers_are_fragmented_both_ways(kind):
    """A 1500-octet TransferData (1505 with its ZCL header) goes out as fragments, and the answer comes
    back as fragments bellows reassembles; the delivery report says every fragment was acknowledged."""
    meters = _meters(kind)
    ncp = _ncp(meters, fragment_window=3)
    with NcpThread(ncp) as url:
        transport = _bridge(url, meters)
        transport.open()
        try:
            payload = bytes(range(256)) * 5  # ~1.3 KB of GBCS, one full tunnel transfer with its header
            command = _exchange(transport, peer_for(kind), payload)
            report = transport.delivery_of(command)
            assert report is not None and report.delivered
            assert report.status == ("collected" if kind == "GSME" else "acked")
            big = [d for d in transport.backend.deliveries if d.length > 1000]
            assert big and all(d.acked and d.fragments == -(-d.length // (82 - 2)) for d in big)
            assert max(d.length for d in transport.backend.deliveries) <= GBCS_MAX_TRANSFER_SIZE + 5
            deadline = time.monotonic() + 5  # bellows acknowledges the last fragment after handing the message on
            while ncp.counts["fragmented_transfers_out"] < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert ncp.counts["fragmented_transfers_in"] >= 1 and ncp.counts["fragmented_transfers_out"] >= 1
        finally:
            transport.close()


@needs_bellows
def test_session_start_reads_the_network_and_rejects_a_wrong_channel(served):
    from rig.transport.zigbee.backend import RadioError
    from rig.transport.zigbee.ezsp import BellowsSession

    ncp, server, _ = served
    config = {"path": server.url, "baudrate": 115200, "flow_control": "software"}
    session = BellowsSession(config, lambda frame: None, channel=11, pan_id=0x1A62)
    try:
        assert session.network == {"channel": 11, "pan_id": 0x1A62}
        assert session.window == 4 and session.max_payload == 82
        assert session.local_eui64 == ncp.eui64
        assert ncp.counts["cmd_networkInit"] == 1 and ncp.counts["cmd_getConfigurationValue"] == 1
    finally:
        session.close()
    with pytest.raises(RadioError, match="channel"):
        BellowsSession(config, lambda frame: None, channel=15)


@needs_bellows
def test_a_frame_to_a_node_not_on_the_network_is_a_link_error(served):
    _, server, meters = served
    transport = _bridge(server.url, meters)
    transport.open()
    try:
        with pytest.raises(TransportError, match="address table"):
            transport.backend.send(ApsFrame(transport.backend.local_eui64, bytes(8), b"\x11\x00\x00"))
        assert transport.backend.deliveries[-1].status == "failed"
    finally:
        transport.close()


@needs_bellows
def test_an_ncp_reset_is_survived(served):
    """The NCP reboots by itself (unsolicited RSTACK): the next send resets, renegotiates and goes through."""
    ncp, server, meters = served
    transport = _bridge(server.url, meters)
    transport.open()
    try:
        peer = peer_for("ESME")
        _exchange(transport, peer, b"before")
        ncp.request(ncp.inject_reset)
        time.sleep(0.2)
        _exchange(transport, peer, b"after" * 100)
        assert transport.backend.supervisor.counts["resets"] == 1
        assert ncp.counts["injected_resets"] == 1 and ncp.counts["cmd_networkInit"] == 2
    finally:
        transport.close()


@needs_bellows
@pytest.mark.parametrize("served", ["tcp"], indirect=True)
def test_a_dropped_serial_line_is_survived_by_reconnecting(served, monkeypatch):
    # over socket:// bellows first waits up to 2 s for the unsolicited RSTACK zigbeed sends on
    # connect (the emulated NCP, like an NCP behind a serial server, sends none), then resets the
    # NCP itself: shortened here, as this test is about the reconnect (two connects: ~3.6 s less)
    import bellows.ezsp

    monkeypatch.setattr(bellows.ezsp, "NETWORK_COORDINATOR_STARTUP_RESET_WAIT", 0.2)
    _, server, meters = served
    transport = _bridge(server.url, meters)
    transport.open()
    try:
        peer = peer_for("ESME")
        _exchange(transport, peer, b"before")
        server.server.drop()
        time.sleep(0.3)
        _exchange(transport, peer, b"after")
        counts = transport.backend.supervisor.counts
        assert counts["connects"] == 2 and counts["reset_failures"] == 1
        assert server.server.counts["drops"] == 1 and server.server.counts["connections"] == 2
    finally:
        transport.close()


@needs_bellows
def test_a_stalled_callback_is_survived_by_a_reset(served):
    ncp, server, meters = served
    transport = _bridge(server.url, meters, callback_timeout=0.5)
    transport.open()
    try:
        ncp.request(lambda: ncp.stall_callbacks(30.0))  # cleared by the NCP reset the supervisor sends
        _exchange(transport, peer_for("ESME"), b"stalled")
        assert transport.backend.supervisor.counts["resets"] == 1
        assert "stalled" in transport.backend.supervisor.last_error
    finally:
        transport.close()


@needs_bellows
def test_a_callback_stall_that_outlasts_the_reset_is_a_link_fault(served):
    """Reported as a ``TransportError`` (the link: the reset and the reconnects fail too, each waiting for a
    callback), with a failed delivery record; the meter never answered anything."""
    ncp, server, meters = served
    transport = _bridge(server.url, meters, callback_timeout=0.3, command_timeout=0.5, give_up_after=1.0)
    transport.open()
    try:
        ncp.request(lambda: ncp.stall_callbacks(60.0, sticky=True))
        time.sleep(0.05)
        counter = next_counter()
        command = peer_for("ESME").command(counter, b"never")
        with pytest.raises(TransportError) as failure:
            transport.send(command)
        assert isinstance(failure.value, (NcpError, LinkLost)), failure.value
        report = transport.delivery_of(command)
        assert report is not None and report.status == "failed" and not report.delivered
        assert "stalled" in transport.backend.deliveries[-1].detail or "timed out" in transport.backend.deliveries[-1].detail
        assert meters[0].counts["answered"] == 0
    finally:
        transport.close()


def test_entity_id_order_is_a_per_rig_setting():
    from rig.config import load_config
    from rig.transport.zigbee.ezsp import from_wire, to_wire

    entity = bytes.fromhex("7E570D00000000A0")
    assert to_wire(entity, "msb-first") == bytes.fromhex("A000000000 0D577E".replace(" ", ""))
    assert to_wire(entity, "lsb-first") == entity
    assert from_wire(to_wire(entity, "lsb-first"), "lsb-first") == entity == from_wire(to_wire(entity, "msb-first"),
                                                                                       "msb-first")
    from .test_zigbee_bellows_e2e import CONFIG

    rigs = load_config(CONFIG).rigs
    assert {str(rig.transport.entity_id_order) for rig in rigs.values()} == {"msb-first"}
    assert all(rig.transport.spawn is not None and rig.transport.emulated for rig in rigs.values())


@needs_bellows
def test_the_wrong_entity_id_order_finds_no_node(served):
    """The emulated NCP's nodes are the entity ids read most significant octet first: reading them the
    other way names EUI-64s that are not on the network, a link error before anything is sent."""
    _, server, meters = served
    transport = _bridge(server.url, meters, entity_id_order="lsb-first")
    transport.open()
    try:
        with pytest.raises(TransportError, match="address table"):
            transport.send(peer_for("ESME").command(next_counter()))
    finally:
        transport.close()


def test_ncp_command_rejects_bad_options(capsys):
    from rig.cli.main import main

    assert main(["ncp", "--device-type", "ESME", "--pty", "--fragment-window", "9"]) == 2
    assert "1..8" in capsys.readouterr().err


def test_the_ncp_ash_link_acks_naks_and_retransmits():
    """RST -> RSTACK; a damaged DATA frame -> NAK; a good one -> ACK and the response; a NAK from the host
    -> the unacknowledged response again with reTx set; an out-of-sequence DATA frame -> NAK."""
    ncp = _ncp(_meters("ESME"))
    reader = ash.AshReader()

    def frames(data: bytes) -> list[ash.AshFrame]:
        return reader.feed(data)[0]

    (rstack,) = frames(ncp.on_bytes(bytes([ash.CANCEL]) + ash.encode(ash.AshFrame(ash.Kind.RST))))
    assert rstack.kind is ash.Kind.RSTACK and rstack.code == ash.ResetCode.SOFTWARE
    version = ash.encode(ash.AshFrame(ash.Kind.DATA, frm_num=0, ack_num=0, data=bytes([0, 0, 0, 4])))
    damaged = version[:2] + bytes([version[2] ^ 0x01]) + version[3:]
    assert [f.kind for f in frames(ncp.on_bytes(damaged))] == [ash.Kind.NAK]
    ack, response = frames(ncp.on_bytes(version))
    assert ack.kind is ash.Kind.ACK and ack.ack_num == 1
    assert response.kind is ash.Kind.DATA and response.frm_num == 0 and not response.re_tx
    assert response.data[:3] == bytes([0, 0x80, 0x00]) and response.data[3] == ez.PROTOCOL_VERSION  # legacy format
    (again,) = frames(ncp.on_bytes(ash.encode(ash.AshFrame(ash.Kind.NAK, ack_num=0))))
    assert again.kind is ash.Kind.DATA and again.re_tx and again.data == response.data
    skipped = ash.encode(ash.AshFrame(ash.Kind.DATA, frm_num=3, ack_num=1, data=bytes([1, 0, 1, 0, 0])))
    assert [f.kind for f in frames(ncp.on_bytes(skipped))] == [ash.Kind.NAK]
    assert ncp.counts["cmd_version"] == 1
