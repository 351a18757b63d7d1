"""The rig's tunnel manager against scripted devices: requests, refusals, errors, timeouts, the mailbox."""

from __future__ import annotations

import pytest

from rig.transport import TransportTimeout, deadline_in
from rig.transport.testing import EchoMeter
from rig.transport.zigbee import EmulatedRadio, SleepyNode, TunnelRefused, ZigbeeBridgeTransport, node_for
from rig.transport.zigbee.backend import ApsFrame, RadioBackend
from rig.transport.zigbee.gbcs_tunnel import Get, GetResponse, Put, decode_tunnel_payload, encode_tunnel_payload
from rig.transport.zigbee.zcl import (
    CloseTunnel,
    RequestTunnel,
    RequestTunnelResponse,
    TransferData,
    TransferDataError,
    TransferDataStatus,
    TunnelClosureNotification,
    TunnelStatus,
    ZclDirection,
    ZclFrame,
    decode_zcl,
    encode_zcl,
)

from .peers import peer_for

pytestmark = pytest.mark.timeout(60)
C2S, S2C = ZclDirection.CLIENT_TO_SERVER, ZclDirection.SERVER_TO_CLIENT
HUB = bytes.fromhex("7E570D00000000A2")
ESME = peer_for("ESME")
GSME = peer_for("GSME")


class ScriptedRadio(RadioBackend):
    """Records what the bridge sends; ``script`` answers like a device would (or not at all)."""

    def __init__(self, script=None):
        self.local_eui64 = HUB
        self.sent: list[ApsFrame] = []
        self.script = script
        self._pending: list[ApsFrame] = []
        self.receive = None

    def start(self, receive):
        self.receive = receive

    def stop(self):
        self.receive = None

    def send(self, frame):
        self.sent.append(frame)
        if self.script is not None:
            self._pending.extend(self.script(frame, decode_zcl(frame.payload)))

    def service(self):
        pending, self._pending = self._pending, []
        for frame in pending:
            self.receive(frame)

    def inject(self, source: bytes, command, direction) -> None:
        self.receive(ApsFrame(source, HUB, encode_zcl(ZclFrame(command, direction, 1))))

    def commands(self, kind=None):
        found = [(f.destination, decode_zcl(f.payload)) for f in self.sent]
        return [(d, z) for d, z in found if kind is None or isinstance(z.command, kind)]


def esme_script(status=TunnelStatus.SUCCESS, answer=True):
    """An ESME that grants (or refuses) a tunnel and answers with tunnel id 0x0042."""

    def script(frame, zcl):
        if isinstance(zcl.command, RequestTunnel) and answer:
            return [ApsFrame(frame.destination, HUB,
                             encode_zcl(ZclFrame(RequestTunnelResponse(0x0042, status, 1500), S2C, 1)))]
        return []

    return script


def test_request_tunnel_carries_gb_hrgp_values_and_data_follows():
    radio = ScriptedRadio(esme_script())
    with ZigbeeBridgeTransport(radio) as link:
        link.send(ESME.command(1))
        (destination, request), = radio.commands(RequestTunnel)
        assert destination == ESME.device_id and request.direction is C2S
        assert request.command == RequestTunnel(protocol_id=6, manufacturer_code=0xFFFF, flow_control_support=False,
                                                max_incoming_transfer_size=1500)
        (_, transfer), = radio.commands(TransferData)
        assert transfer.command.tunnel_id == 0x0042 and transfer.command.data == ESME.command(1)  # bare GBCS
        link.send(ESME.command(2))  # the tunnel is reused
        assert len(radio.commands(RequestTunnel)) == 1 and len(radio.commands(TransferData)) == 2


@pytest.mark.parametrize("status", [TunnelStatus.PROTOCOL_NOT_SUPPORTED, TunnelStatus.NO_MORE_TUNNEL_IDS])
def test_refused_tunnel_raises(status):
    with ZigbeeBridgeTransport(ScriptedRadio(esme_script(status))) as link:
        with pytest.raises(TunnelRefused) as caught:
            link.send(ESME.command(1))
    assert caught.value.status == status


def test_busy_device_is_not_asked_again_at_once():
    radio = ScriptedRadio(esme_script(TunnelStatus.BUSY))
    with ZigbeeBridgeTransport(radio, tunnel_setup_timeout=0.3, request_retry=0.01, busy_retry=180) as link:
        with pytest.raises(TransportTimeout, match="busy"):
            link.send(ESME.command(1))
    assert len(radio.commands(RequestTunnel)) == 1


def test_silent_device_times_out_with_retries():
    radio = ScriptedRadio(esme_script(answer=False))
    with ZigbeeBridgeTransport(radio, tunnel_setup_timeout=0.3, request_retry=0.1) as link:
        with pytest.raises(TransportTimeout, match="no RequestTunnelResponse"):
            link.send(ESME.command(1))
    assert len(radio.commands(RequestTunnel)) >= 2


def test_transfer_data_errors_for_unknown_tunnel_wrong_device_and_overflow():
    radio = ScriptedRadio(esme_script())
    with ZigbeeBridgeTransport(radio) as link:
        link.send(ESME.command(1))
        radio.inject(ESME.device_id, TransferData(0x0999, b"\xdf"), S2C)
        radio.inject(GSME.device_id, TransferData(0x0042, b"\xdf"), S2C)
        radio.inject(ESME.device_id, TransferData(0x0042, bytes(1501)), S2C)
        errors = [(d, z.command) for d, z in radio.commands(TransferDataError)]
        assert errors == [(ESME.device_id, TransferDataError(0x0999, TransferDataStatus.NO_SUCH_TUNNEL)),
                          (GSME.device_id, TransferDataError(0x0042, TransferDataStatus.WRONG_DEVICE)),
                          (ESME.device_id, TransferDataError(0x0042, TransferDataStatus.DATA_OVERFLOW))]
        assert all(z.direction is C2S for _, z in radio.commands(TransferDataError))
        with pytest.raises(TransportTimeout):
            link.recv(None, deadline_in(0.1))  # none of them was delivered


def test_closure_notification_makes_the_next_send_request_a_new_tunnel():
    radio = ScriptedRadio(esme_script())
    with ZigbeeBridgeTransport(radio) as link:
        link.send(ESME.command(1))
        radio.inject(ESME.device_id, TunnelClosureNotification(0x0042), S2C)
        assert link.stats["tunnels_active"] == 0
        link.send(ESME.command(2))
        assert len(radio.commands(RequestTunnel)) == 2


def test_a_no_such_tunnel_error_from_the_device_also_closes_it():
    radio = ScriptedRadio(esme_script())
    with ZigbeeBridgeTransport(radio) as link:
        link.send(ESME.command(1))
        radio.inject(ESME.device_id, TransferDataError(0x0042, TransferDataStatus.NO_SUCH_TUNNEL), S2C)
        link.send(ESME.command(2))
        assert len(radio.commands(RequestTunnel)) == 2
        assert link.stats["transfer_errors_received_no_such_tunnel"] == 1


def test_gsme_tunnel_requests_are_validated():
    radio = ScriptedRadio()
    with ZigbeeBridgeTransport(radio):
        radio.inject(GSME.device_id, RequestTunnel(flow_control_support=True), C2S)
        radio.inject(GSME.device_id, RequestTunnel(protocol_id=0), C2S)
        radio.inject(GSME.device_id, RequestTunnel(), C2S)
        responses = [z.command for _, z in radio.commands(RequestTunnelResponse)]
    assert [r.status for r in responses] == [TunnelStatus.FLOW_CONTROL_NOT_SUPPORTED,
                                             TunnelStatus.PROTOCOL_NOT_SUPPORTED, TunnelStatus.SUCCESS]
    assert responses[0].tunnel_id == 0xFFFF and responses[2].max_incoming_transfer_size == 1500


def test_mailbox_get_response_counts_down_and_put_is_delivered():
    radio = ScriptedRadio()
    with ZigbeeBridgeTransport(radio, sleepy=[GSME.device_id]) as link:
        for counter in (1, 2):
            link.send(GSME.command(counter))  # queued: the GSME is asleep
        assert link.stats["mailbox_pending"] == 2 and radio.sent == []
        radio.inject(GSME.device_id, RequestTunnel(), C2S)
        tunnel_id = radio.commands(RequestTunnelResponse)[0][1].command.tunnel_id
        replies = []
        for _ in range(3):
            radio.inject(GSME.device_id, TransferData(tunnel_id, encode_tunnel_payload(Get())), C2S)
            _, zcl = radio.commands(TransferData)[-1]
            assert zcl.direction is S2C
            replies.append(decode_tunnel_payload(zcl.command.data))
        assert replies == [GetResponse(1, GSME.command(1)), GetResponse(0, GSME.command(2)), GetResponse(0, b"")]
        response = EchoMeter.from_pki("GSME").receive(GSME.command(1))[0]
        radio.inject(GSME.device_id, TransferData(tunnel_id, encode_tunnel_payload(Put(response))), C2S)
        frame = link.recv(None, deadline_in(5))
        GSME.check(frame, 1)
        assert frame.source == GSME.device_id.hex().upper()
        radio.inject(GSME.device_id, CloseTunnel(tunnel_id), C2S)
        assert link.stats["tunnels_active"] == 0


def test_tunnel_ids_map_to_their_devices():
    radio = ScriptedRadio()
    other = bytes.fromhex("7E570D0002000001")
    with ZigbeeBridgeTransport(radio):
        radio.inject(GSME.device_id, RequestTunnel(), C2S)
        radio.inject(other, RequestTunnel(), C2S)
        ids = {d: z.command.tunnel_id for d, z in radio.commands(RequestTunnelResponse)}
    assert len(set(ids.values())) == 2 and set(ids) == {GSME.device_id, other}


def test_idle_gsme_tunnel_is_closed_and_the_meter_comes_back():
    now = [0.0]
    gsme = EchoMeter.from_pki("GSME")
    node = SleepyNode(gsme.device_id, gsme, poll_interval=100.0)  # wakes at 0, 100, 200, ...
    radio = EmulatedRadio([node], clock=lambda: now[0])
    with ZigbeeBridgeTransport(radio, tunnel_idle_timeout=60.0, clock=lambda: now[0]) as link:
        radio.service()
        radio.service()
        assert node.tunnel_id is not None and link.stats["tunnels_active"] == 1
        now[0] = 61.0
        with pytest.raises(TransportTimeout):
            link.recv(None, deadline_in(0.05))  # services the radio: the idle tunnel is closed
        assert link.stats["tunnels_timed_out"] == 1
        assert node.counts["rx_TunnelClosureNotification"] == 1
        assert link.stats["tunnels_accepted"] == 2  # the meter asked for a new one straight away
        link.send(GSME.command(7))
        now[0] = 200.0  # its next wake-up
        GSME.check(link.recv(GSME.answers(7), deadline_in(5)), 7)


def test_awake_node_closes_an_idle_tunnel_and_the_bridge_reopens_it():
    now = [0.0]
    esme = EchoMeter.from_pki("ESME")
    radio = EmulatedRadio([node_for("ESME", esme.device_id, esme, close_tunnel_timeout=30.0)], clock=lambda: now[0])
    with ZigbeeBridgeTransport(radio, clock=lambda: now[0]) as link:
        link.send(ESME.command(1))
        ESME.check(link.recv(ESME.answers(1), deadline_in(5)), 1)
        now[0] += 31.0
        radio.service()
        assert link.stats["rx_TunnelClosureNotification"] == 1 and link.stats["tunnels_active"] == 0
        link.send(ESME.command(2))
        ESME.check(link.recv(ESME.answers(2), deadline_in(5)), 2)
        assert link.stats["tunnel_requests"] == 2


def test_frames_that_are_not_gbcs_cannot_be_routed():
    from rig.transport import FramingError

    with ZigbeeBridgeTransport(ScriptedRadio()) as link:
        with pytest.raises(FramingError):
            link.send(b"\x00\x01\x02")


def test_unroutable_probes_go_to_the_rigs_meter():
    """A wrong recipient, or a frame too damaged to decode, is carried to the meter under test."""
    other = peer_for("GSME")  # a device this bridge does not know (no tunnel, not sleepy here)
    radio = ScriptedRadio(esme_script())
    with ZigbeeBridgeTransport(radio, meter=ESME.device_id) as link:
        link.send(other.command(3))
        link.send(ESME.command(3)[:-40])  # truncated: the codec rejects it
        assert [d for d, _ in radio.commands(TransferData)] == [ESME.device_id, ESME.device_id]
        assert link.counts["rerouted_to_meter"] == 2
        assert [r.rerouted for r in link.deliveries] == [True, True]
        link.send(ESME.command(9))
        assert link.deliveries[-1].rerouted is False


def test_every_sent_frame_gets_a_delivery_report():
    from rig.transport.zigbee.backend import Delivery

    class AckingRadio(ScriptedRadio):
        def send(self, frame):
            super().send(frame)
            return Delivery(frame.destination, len(frame.payload), "acked")

    with ZigbeeBridgeTransport(ScriptedRadio(esme_script())) as link:  # a radio that gives no reports
        link.send(ESME.command(4))
        assert link.delivery_of(ESME.command(4)).status == "unconfirmed"
        assert not link.delivery_of(ESME.command(4)).delivered
    with ZigbeeBridgeTransport(AckingRadio(esme_script())) as link:
        link.send(ESME.command(5))
        report = link.delivery_of(ESME.command(5))
        assert report.status == "acked" and report.delivered and report.recipient == ESME.device_id
        assert link.delivery_of(ESME.command(6)) is None
    with ZigbeeBridgeTransport(ScriptedRadio(esme_script(answer=False)), tunnel_setup_timeout=0.2) as link:
        with pytest.raises(TransportTimeout):
            link.send(ESME.command(7))
        assert link.delivery_of(ESME.command(7)).status == "failed"


def test_a_mailbox_frame_is_queued_then_collected():
    radio = ScriptedRadio()
    with ZigbeeBridgeTransport(radio, sleepy=[GSME.device_id]) as link:
        radio.inject(GSME.device_id, RequestTunnel(max_incoming_transfer_size=1500), C2S)
        (_, response), = radio.commands(RequestTunnelResponse)
        command = GSME.command(8)
        link.send(command)
        assert link.delivery_of(command).status == "queued" and not link.delivery_of(command).delivered
        radio.inject(GSME.device_id, TransferData(response.command.tunnel_id, encode_tunnel_payload(Get())), C2S)
        assert link.delivery_of(command).status == "collected" and link.delivery_of(command).delivered


def test_only_the_in_process_radio_shortens_the_bridges_service_interval(tmp_path):
    """A real radio's backend (here a scripted one, like EZSP, declaring nothing) keeps the
    bridge's own interval between services; the in-process radio asks for a shorter one, and a
    rig session's emulated GSME polls its mailbox more often than the radio's default."""
    from rig.config import parse_config
    from rig.harness.session import RigSession
    from rig.transport.base import QueueTransport
    from rig.transport.zigbee.emulated import IN_PROCESS_POLL_INTERVAL

    from ..vectors import FIXTURE_PKI

    assert ZigbeeBridgeTransport(ScriptedRadio()).service_interval == QueueTransport.service_interval
    assert ZigbeeBridgeTransport(EmulatedRadio()).service_interval == EmulatedRadio.service_interval
    assert EmulatedRadio.service_interval < QueueTransport.service_interval
    config = parse_config(f"""
[rigs.gsme]
device = "GSME"
device_id = "7E570D00000000A1"
credentials = {{ pki = "{FIXTURE_PKI.as_posix()}" }}
transport = {{ kind = "zigbee", backend = "emulated", eui64 = "7E570D00000000A1" }}
""")
    session = RigSession(config.rigs["gsme"], run_dir=tmp_path).open()
    try:
        (node,) = session.transport.backend.nodes.values()
        assert isinstance(node, SleepyNode) and node.poll_interval == IN_PROCESS_POLL_INTERVAL
        assert SleepyNode(GSME.device_id, GSME).poll_interval > IN_PROCESS_POLL_INTERVAL  # the radio's default
    finally:
        session.close()
