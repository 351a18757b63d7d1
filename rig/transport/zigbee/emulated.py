"""The emulated bridge backend: an in-process radio and the ZigBee side of emulated meters.

``EmulatedRadio`` stands in for the NCP and the air. Every APS frame crosses it encoded as an
*air frame* (addresses, profile, cluster, endpoints, the ZCL bytes, and a CRC-16 frame check)
and is decoded again on arrival, so the ZCL and tunnel codecs run for real on every frame,
and a bit flipped in the air (``wire`` taps, used by the fault injector) is caught by the
frame check and dropped, as a real 802.15.4 MAC drops a frame with a bad FCS. The air frame
layout is this emulator's own, not 802.15.4's.

In front of each emulated device (any ``Endpoint``) sits a node speaking the device side of
GBCS tunnelling over the same ZCL frames:

* ``AwakeNode`` (ESME and other always-on devices): tunneling server. Answers RequestTunnel,
  takes TransferData, hands whole GBCS messages to the endpoint, sends the replies and any
  polled alerts back in TransferData, closes idle tunnels with TunnelClosureNotification.
* ``SleepyNode`` (GSME): tunneling client. Requests its tunnel to the hub, wakes every
  ``poll_interval`` seconds to GET its mail, works through GET-RESPONSEs until none remain,
  and PUTs every response and alert.

Nothing here blocks or starts a thread: the bridge calls ``service()`` while it waits, and the
radio runs the nodes and moves frames until the air is quiet.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable

from construct import (
    Bytes,
    Checksum,
    ChecksumError,
    ConstructError,
    GreedyBytes,
    Int8ul,
    Int16ul,
    Prefixed,
    RawCopy,
    Struct,
    Terminated,
    this,
)

from firmware_emu.endpoint import Endpoint

from ..framing.crc import crc16_x25
from ..link import WireTaps
from .backend import ApsFrame, RadioBackend, Receiver
from .gbcs_tunnel import Get, GetResponse, Put, TunnelHeaderError, decode_tunnel_payload, encode_tunnel_payload
from .gbt import Reassembler, split_message
from .zcl import (
    GBCS_MAX_TRANSFER_SIZE,
    CloseTunnel,
    RequestTunnel,
    RequestTunnelResponse,
    TransferData,
    TransferDataError,
    TransferDataStatus,
    TunnelClosureNotification,
    TunnelStatus,
    ZclDecodeError,
    ZclDirection,
    ZclFrame,
    decode_zcl,
    encode_zcl,
)

#: the test PKI's comms hub (CHF) entity id, used as the rig's EUI-64 on the emulated radio
DEFAULT_HUB_EUI64 = bytes.fromhex("7E570D00000000A2")
#: device types that sleep and collect their mail (GBCS: the GSME)
SLEEPY_DEVICE_TYPES = frozenset({"GSME"})
#: upper bound on frames moved in one ``service`` call (a livelock guard, never reached in use)
_MAX_STEPS_PER_SERVICE = 10_000

AIR_FRAME = Struct(
    "body" / RawCopy(Struct(
        "destination" / Bytes(8),
        "source" / Bytes(8),
        "profile" / Int16ul,
        "cluster" / Int16ul,
        "destination_endpoint" / Int8ul,
        "source_endpoint" / Int8ul,
        "payload" / Prefixed(Int16ul, GreedyBytes),
    )),
    "fcs" / Checksum(Int16ul, crc16_x25, this.body.data),
    Terminated,
)

_C2S, _S2C = ZclDirection.CLIENT_TO_SERVER, ZclDirection.SERVER_TO_CLIENT


def encode_air(frame: ApsFrame) -> bytes:
    return AIR_FRAME.build(dict(body=dict(value=dict(
        destination=frame.destination, source=frame.source, profile=frame.profile, cluster=frame.cluster,
        destination_endpoint=frame.destination_endpoint, source_endpoint=frame.source_endpoint,
        payload=frame.payload))))


def decode_air(data: bytes) -> ApsFrame:
    """Raises ``ChecksumError`` on a bad frame check, ``ConstructError`` on other damage."""
    body = AIR_FRAME.parse(bytes(data)).body.value
    return ApsFrame(body.source, body.destination, body.payload, body.cluster, body.profile,
                    body.source_endpoint, body.destination_endpoint)


class EmulatedNode:
    """The ZigBee side of one emulated device; subclasses implement the tunnel role."""

    def __init__(self, eui64: bytes, endpoint: Endpoint, *, max_transfer: int = GBCS_MAX_TRANSFER_SIZE):
        self.eui64 = bytes(eui64)
        self.endpoint = endpoint
        self.max_transfer = max_transfer
        self.counts: Counter[str] = Counter()
        self.reassembler = Reassembler()
        self._radio: EmulatedRadio | None = None
        self._seq = 0

    def attach(self, radio: EmulatedRadio) -> None:
        self._radio = radio

    @property
    def hub(self) -> bytes:
        assert self._radio is not None
        return self._radio.local_eui64

    def now(self) -> float:
        assert self._radio is not None
        return self._radio.clock()

    def send(self, command, direction: ZclDirection) -> None:
        assert self._radio is not None
        self._seq = (self._seq + 1) & 0xFF
        self._radio.node_send(ApsFrame(self.eui64, self.hub, encode_zcl(ZclFrame(command, direction, self._seq))))

    def handle(self, frame: ApsFrame) -> None:
        try:
            zcl = decode_zcl(frame.payload)
        except ZclDecodeError:
            self.counts["zcl_malformed"] += 1
            return
        self.counts[f"rx_{zcl.name}"] += 1
        self.on_zcl(frame.source, zcl)

    def on_zcl(self, source: bytes, zcl: ZclFrame) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        """Time-driven work (polls, alerts, timeouts)."""

    def _gbcs_in(self, message: bytes) -> list[bytes]:
        """A tunnelled message (or GBT block) in; the device's replies out."""
        joined = self.reassembler.feed(message)
        if joined is None:
            return []
        self.counts["messages_in"] += 1
        return list(self.endpoint.receive(joined))


class AwakeNode(EmulatedNode):
    """An always-on device (ESME): the tunneling server; see the module docstring."""

    def __init__(self, eui64: bytes, endpoint: Endpoint, *, close_tunnel_timeout: float = 3600.0, **kwargs):
        super().__init__(eui64, endpoint, **kwargs)
        self.close_tunnel_timeout = close_tunnel_timeout
        self.tunnel_id: int | None = None
        self.peer_max_transfer = GBCS_MAX_TRANSFER_SIZE
        self.last_active = 0.0
        self._next_id = 0x10

    def on_zcl(self, source: bytes, zcl: ZclFrame) -> None:
        command = zcl.command
        if isinstance(command, RequestTunnel) and zcl.direction is _C2S:
            from .bridge import request_tunnel_status

            status = request_tunnel_status(command)
            if status is TunnelStatus.SUCCESS:
                self.tunnel_id, self._next_id = self._next_id, self._next_id + 1
                self.peer_max_transfer = command.max_incoming_transfer_size
                self.last_active = self.now()
            self.send(RequestTunnelResponse(self.tunnel_id if status is TunnelStatus.SUCCESS else 0xFFFF, status,
                                            self.max_transfer), _S2C)
        elif isinstance(command, TransferData) and zcl.direction is _C2S:
            if command.tunnel_id != self.tunnel_id:
                self.send(TransferDataError(command.tunnel_id, TransferDataStatus.NO_SUCH_TUNNEL), _S2C)
                return
            if len(command.data) > self.max_transfer:
                self.send(TransferDataError(command.tunnel_id, TransferDataStatus.DATA_OVERFLOW), _S2C)
                return
            self.last_active = self.now()
            for reply in self._gbcs_in(command.data):
                self._send_message(reply)
        elif isinstance(command, CloseTunnel) and command.tunnel_id == self.tunnel_id:
            self.tunnel_id = None

    def _send_message(self, message: bytes) -> None:
        if self.tunnel_id is None:
            self.counts["messages_without_tunnel"] += 1
            return
        for block in split_message(message, self.peer_max_transfer):
            self.send(TransferData(self.tunnel_id, block), _S2C)
        self.counts["messages_out"] += 1

    def tick(self) -> None:
        for alert in self.endpoint.poll():
            self._send_message(alert)
        if self.tunnel_id is not None and self.now() - self.last_active >= self.close_tunnel_timeout:
            closed, self.tunnel_id = self.tunnel_id, None
            self.send(TunnelClosureNotification(closed), _S2C)
            self.counts["tunnels_timed_out"] += 1


class SleepyNode(EmulatedNode):
    """A sleepy device (GSME): tunneling client polling its mailbox; see the module docstring."""

    def __init__(self, eui64: bytes, endpoint: Endpoint, *, poll_interval: float = 0.05,
                 request_retry: float = 1.0, **kwargs):
        super().__init__(eui64, endpoint, **kwargs)
        self.poll_interval = poll_interval
        self.request_retry = request_retry
        self.tunnel_id: int | None = None
        self.peer_max_transfer = GBCS_MAX_TRANSFER_SIZE
        self._requested_at: float | None = None
        self._next_poll = 0.0
        self._outbox: deque[bytes] = deque()

    def tick(self) -> None:
        now = self.now()
        self._outbox.extend(self.endpoint.poll())
        if self.tunnel_id is None:
            if self._requested_at is None or now - self._requested_at >= self.request_retry:
                self._requested_at = now
                self.send(RequestTunnel(max_incoming_transfer_size=self.max_transfer), _C2S)
            return
        self._flush_outbox()
        if now >= self._next_poll:  # also retries a GET whose answer was lost in the air
            self._get()

    def _get(self) -> None:
        self._next_poll = self.now() + self.poll_interval
        self.send(TransferData(self.tunnel_id, encode_tunnel_payload(Get())), _C2S)
        self.counts["gets"] += 1

    def _flush_outbox(self) -> None:
        while self._outbox and self.tunnel_id is not None:
            message = self._outbox.popleft()
            for block in split_message(message, self.peer_max_transfer - 1):
                self.send(TransferData(self.tunnel_id, encode_tunnel_payload(Put(block))), _C2S)
            self.counts["puts"] += 1

    def on_zcl(self, source: bytes, zcl: ZclFrame) -> None:
        command = zcl.command
        if isinstance(command, RequestTunnelResponse) and zcl.direction is _S2C:
            if command.status == TunnelStatus.SUCCESS:
                self.tunnel_id = command.tunnel_id
                self.peer_max_transfer = command.max_incoming_transfer_size
                self._next_poll = self.now()
            self._requested_at = self.now() if command.status != TunnelStatus.SUCCESS else None
        elif isinstance(command, TransferData) and zcl.direction is _S2C and command.tunnel_id == self.tunnel_id:
            try:
                payload = decode_tunnel_payload(command.data)
            except TunnelHeaderError:
                self.counts["tunnel_header_errors"] += 1
                return
            if not isinstance(payload, GetResponse):
                self.counts["unexpected_payloads"] += 1
                return
            if payload.message:
                self._outbox.extend(self._gbcs_in(payload.message))
                self._flush_outbox()
            if payload.remaining:
                self._get()
        elif isinstance(command, (TunnelClosureNotification, TransferDataError)) and zcl.direction is _S2C:
            if command.tunnel_id == self.tunnel_id:
                self.tunnel_id = None
                self._requested_at = None


#: how often a sleepy node behind the rig's in-process radio polls its mailbox (``node_for`` for
#: a rig session): the mailbox latency of every exchange with an emulated GSME
IN_PROCESS_POLL_INTERVAL = 0.005


class EmulatedRadio(RadioBackend):
    """In-process radio joining the rig (the hub side) to emulated nodes; see the module docstring."""

    #: the longest a bridge waits between two ``service`` calls over this radio: the air is this
    #: process, so a short wait costs only a little CPU, and every tunnel step and mailbox poll
    #: waits for the next call (a real radio's backend keeps the bridge's own interval)
    service_interval = 0.002

    def __init__(self, nodes: Iterable[EmulatedNode] = (), *, local_eui64: bytes = DEFAULT_HUB_EUI64,
                 clock: Callable[[], float] = time.monotonic):
        self.local_eui64 = bytes(local_eui64)
        self.clock = clock
        self.wire = WireTaps()
        self.nodes: dict[bytes, EmulatedNode] = {}
        self.counts: Counter[str] = Counter()
        self._air: deque[tuple[bool, bytes]] = deque()  # (towards the hub, air frame)
        self._receive: Receiver | None = None
        self._lock = threading.RLock()
        for node in nodes:
            self.add(node)

    def add(self, node: EmulatedNode) -> EmulatedNode:
        node.attach(self)
        self.nodes[node.eui64] = node
        return node

    def start(self, receive: Receiver) -> None:
        self._receive = receive

    def stop(self) -> None:
        with self._lock:
            self._receive = None
            self._air.clear()

    def send(self, frame: ApsFrame) -> None:
        """The rig transmits: the air frame passes the TX wire taps on its way out."""
        air = b"".join(self.wire.outgoing(encode_air(frame)))
        with self._lock:
            self._air.append((False, air))
            self.counts["frames_to_nodes"] += 1

    def node_send(self, frame: ApsFrame) -> None:
        with self._lock:
            self._air.append((True, encode_air(frame)))
            self.counts["frames_to_hub"] += 1

    def service(self) -> None:
        with self._lock:
            if self._receive is None:
                return
            for node in list(self.nodes.values()):
                node.tick()
            for _ in range(_MAX_STEPS_PER_SERVICE):
                if not self._air:
                    break
                to_hub, air = self._air.popleft()
                if to_hub:
                    air = b"".join(self.wire.incoming(air))  # RX taps: what the rig's radio hears
                try:
                    frame = decode_air(air)
                except ChecksumError:
                    self.counts["crc_errors"] += 1
                    continue
                except ConstructError:
                    self.counts["malformed_frames"] += 1
                    continue
                if to_hub:
                    if frame.destination != self.local_eui64:
                        self.counts["not_for_hub"] += 1
                    elif self._receive is not None:
                        self._receive(frame)
                else:
                    node = self.nodes.get(frame.destination)
                    if node is None:
                        self.counts["no_such_node"] += 1
                    else:
                        node.handle(frame)

    @property
    def stats(self) -> dict[str, int]:
        counts = dict(self.counts)
        for node in self.nodes.values():
            for key, value in node.counts.items():
                counts[f"node_{key}"] = counts.get(f"node_{key}", 0) + value
        return counts


def node_for(device_type: str, eui64: bytes, endpoint: Endpoint, **options) -> EmulatedNode:
    """A sleepy node for a GSME, an awake one for everything else."""
    cls = SleepyNode if device_type.upper() in SLEEPY_DEVICE_TYPES else AwakeNode
    return cls(eui64, endpoint, **options)
