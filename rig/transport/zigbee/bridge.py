"""GBCS over a ZigBee bridge adapter: the rig plays the comms hub's tunnel manager.

``ZigbeeBridgeTransport`` presents the same ``Transport`` interface as the serial and emulated
links. ``send(frame)`` routes by the GBCS grouping header's recipient id (a device's entity
id is its EUI-64):

* to a device that is always awake (ESME, ...) the rig is the tunneling **client**: it sends
  RequestTunnel (protocol 6 GB-HRGP, manufacturer 0xFFFF, no flow control, 1500 octets),
  waits for RequestTunnelResponse, then sends the bare GBCS message in TransferData;
* to a sleepy device (GSME) the message goes into that device's **mailbox**; the device,
  which requested its own tunnel to the hub (the rig is the tunneling **server**), collects
  it with GET and gets GET-RESPONSE (remaining count + message); its responses and alerts
  come back as PUT.

Messages longer than the peer's MaximumIncomingTransferSize travel as GBCS GBT blocks
(``gbt.py``), each block one TransferData (or one mailbox entry). Every received frame is
delivered to the shared queue with the sender's EUI-64 as ``Frame.source``.

Routing: a frame goes to its GBCS recipient when that is a device this bridge knows (the
rig's ``meter``, a sleepy device, a device with a tunnel); any other frame, a probe with a
wrong recipient or one too damaged to decode, goes to the rig's ``meter``, so a negative probe
reaches the device under test as it would on a serial link (``counts["rerouted_to_meter"]``).

Delivery reports: every GBCS frame sent gets a ``FrameDelivery`` in ``deliveries`` (and
``delivery_of(frame)``): ``acked`` when every APS frame that carried it was acknowledged by the
remote node (EZSP: ``messageSentHandler`` SUCCESS for every fragment), ``unconfirmed`` when the
radio gives no reports (the emulated radio), ``failed`` with the link error, ``queued`` when it
went into a sleepy device's mailbox and ``collected`` once that device fetched its last block.
A scenario reads them to tell "delivered and the meter stayed silent" from "never delivered".

Tunnel housekeeping: TransferData on an unknown tunnel is answered with TransferDataError
NO_SUCH_TUNNEL, on someone else's tunnel with WRONG_DEVICE, above 1500 octets with
DATA_OVERFLOW; TunnelClosureNotification or NO_SUCH_TUNNEL from a device closes the client
tunnel, and the next send requests a new one; server tunnels idle for ``tunnel_idle_timeout``
are closed with a TunnelClosureNotification. No backend call is made while the bridge's lock
is held, so a radio that delivers from its own thread (EZSP) cannot deadlock against a send.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rig.gbcs import GbcsDecodeError, decode

from ..base import FramingError, TransportError, TransportTimeout
from ..link import LinkTransport
from .backend import ApsFrame, Delivery, RadioBackend
from .gbcs_tunnel import Bare, Get, GetResponse, Put, TunnelHeaderError, decode_tunnel_payload, encode_tunnel_payload
from .gbt import Reassembler, split_message
from .tunnels import Tunnel, TunnelRole, TunnelState, TunnelTable
from .zcl import (
    CLUSTER_TUNNELING,
    GB_HRGP_PROTOCOL_ID,
    GBCS_MAX_TRANSFER_SIZE,
    CloseTunnel,
    DefaultResponse,
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

#: the ZCL tunneling cluster's "no tunnel" id, sent with a refused RequestTunnelResponse
INVALID_TUNNEL_ID = 0xFFFF
#: octets a GET-RESPONSE header takes from a mailbox message's transfer budget
GET_RESPONSE_HEADER = 2
_C2S, _S2C = ZclDirection.CLIENT_TO_SERVER, ZclDirection.SERVER_TO_CLIENT


@dataclass(frozen=True)
class FrameDelivery:
    """The link layer's report on one GBCS frame the bridge sent; see the module docstring."""

    frame: bytes
    recipient: bytes
    status: str
    aps: tuple[Delivery, ...] = ()
    rerouted: bool = False
    detail: str = ""
    timestamp: float = field(default_factory=time.time)

    @property
    def delivered(self) -> bool:
        """True only on positive evidence: the remote acknowledged it, or a sleepy device fetched it."""
        return self.status in ("acked", "collected")


#: FrameDeliveries kept per bridge (the newest)
DELIVERY_LOG_SIZE = 1000


class TunnelRefused(TransportError):
    """A device answered RequestTunnel with a failure status."""

    def __init__(self, message: str, status: TunnelStatus | int):
        super().__init__(message)
        self.status = status


def request_tunnel_status(request: RequestTunnel) -> TunnelStatus:
    """How a GBCS tunnel end answers a RequestTunnel (GBCS 10.2.2: only GB-HRGP, no flow control)."""
    if request.protocol_id != GB_HRGP_PROTOCOL_ID:
        return TunnelStatus.PROTOCOL_NOT_SUPPORTED
    if request.flow_control_support:
        return TunnelStatus.FLOW_CONTROL_NOT_SUPPORTED
    return TunnelStatus.SUCCESS


class ZigbeeBridgeTransport(LinkTransport):
    """The comms hub's side of GBCS tunnels, over any ``RadioBackend``; see the module docstring."""

    name = "zigbee"

    def __init__(self, backend: RadioBackend, *, sleepy: Iterable[bytes] = (), tunnel_setup_timeout: float = 5.0,
                 request_retry: float = 1.0, busy_retry: float = 180.0, tunnel_idle_timeout: float = 3600.0,
                 max_transfer: int = GBCS_MAX_TRANSFER_SIZE, clock: Callable[[], float] = time.monotonic,
                 name: str | None = None, meter: bytes | None = None):
        super().__init__()
        self.backend = backend
        # a backend may ask to be serviced more often (the in-process radio); a real radio's does not
        self.service_interval = getattr(backend, "service_interval", self.service_interval)
        self.wire = backend.wire  # byte-level fault taps live on the radio, when it has them
        self.name = name or f"zigbee:{backend.local_eui64.hex().upper()}"
        self.sleepy = {bytes(eui) for eui in sleepy}
        self.meter = bytes(meter) if meter is not None else None
        self.deliveries: deque[FrameDelivery] = deque(maxlen=DELIVERY_LOG_SIZE)
        self.tunnel_setup_timeout = tunnel_setup_timeout
        self.request_retry = request_retry
        self.busy_retry = busy_retry
        self.tunnel_idle_timeout = tunnel_idle_timeout
        self.max_transfer = max_transfer
        self._clock = clock
        self.tunnels = TunnelTable(clock)
        self.mailbox: dict[bytes, deque[tuple[bytes, bytes | None]]] = {}  # (block, frame when it is the last)
        self.counts: Counter[str] = Counter()
        self._reassembly: dict[bytes, Reassembler] = {}
        self._refused: dict[bytes, int] = {}
        self._busy_until: dict[bytes, float] = {}
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._seq = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        if self.is_open:
            return
        self.backend.start(self._on_aps)
        super().open()

    def close(self) -> None:
        super().close()
        self.backend.stop()

    @property
    def stats(self) -> dict[str, int]:
        with self._lock:
            counts = dict(self.counts)
            counts["tunnels_active"] = sum(1 for t in self.tunnels if t.state is TunnelState.ACTIVE)
            counts["mailbox_pending"] = sum(len(q) for q in self.mailbox.values())
            for reassembler in self._reassembly.values():
                for key, value in reassembler.counts.items():
                    counts[key] = counts.get(key, 0) + value
        counts.update({f"radio_{k}": v for k, v in self.backend.stats.items()})
        return counts

    # -- sending -----------------------------------------------------------------------------
    def _send(self, frame: bytes) -> None:
        recipient, rerouted = self._route(frame)
        if recipient in self.sleepy:
            blocks = split_message(frame, self.max_transfer - GET_RESPONSE_HEADER)
            with self._lock:
                self.mailbox.setdefault(recipient, deque()).extend(
                    (block, frame if i == len(blocks) - 1 else None) for i, block in enumerate(blocks))
                self.counts["mailbox_queued"] += 1
            self._record(FrameDelivery(frame, recipient, "queued", rerouted=rerouted))
            return
        reports: list[Delivery] = []
        try:
            tunnel = self._ensure_tunnel(recipient)
            for block in split_message(frame, tunnel.peer_max_transfer):
                report = self._transmit(recipient, TransferData(tunnel.tunnel_id, block), _C2S)
                if report is not None:
                    reports.append(report)
        except TransportError as exc:
            self._record(FrameDelivery(frame, recipient, "failed", tuple(reports), rerouted, str(exc)))
            raise
        with self._lock:
            self.tunnels.touch(tunnel)
            self.counts["transfers_sent"] += 1
        confirmed = bool(reports) and all(report.acked for report in reports)
        self._record(FrameDelivery(frame, recipient, "acked" if confirmed else "unconfirmed", tuple(reports), rerouted))

    def _record(self, delivery: FrameDelivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def delivery_of(self, frame: bytes) -> FrameDelivery | None:
        """The newest delivery report for exactly these GBCS frame octets."""
        with self._lock:
            return next((d for d in reversed(self.deliveries) if d.frame == frame), None)

    def _route(self, frame: bytes) -> tuple[bytes, bool]:
        """(EUI-64 to send to, whether the frame was sent to the meter instead of its recipient)."""
        try:
            recipient = decode(frame).recipient_id
        except GbcsDecodeError as exc:
            if self.meter is None:
                raise FramingError(f"cannot route a frame that is not GBCS: {exc}") from None
            recipient = None
        if self.meter is None or recipient == self.meter:
            return recipient, False
        with self._lock:
            known = recipient in self.sleepy or (recipient is not None and self.tunnels.by_eui(recipient) is not None)
        if known:
            return recipient, False
        self.counts["rerouted_to_meter"] += 1
        return self.meter, True

    def _ensure_tunnel(self, eui64: bytes) -> Tunnel:
        """An active client tunnel to ``eui64``, requesting one if needed (bounded by the setup timeout)."""
        deadline = time.monotonic() + self.tunnel_setup_timeout
        while True:
            request = None
            with self._lock:
                tunnel = self.tunnels.by_eui(eui64)
                if tunnel is not None and tunnel.state is TunnelState.ACTIVE and tunnel.role is TunnelRole.CLIENT:
                    return tunnel
                status = self._refused.pop(eui64, None)
                if status == TunnelStatus.BUSY:  # GBCS: ask again later (3 minutes by default)
                    self._busy_until[eui64] = self._clock() + self.busy_retry
                elif status is not None:
                    raise TunnelRefused(f"{eui64.hex().upper()} refused the tunnel: "
                                        f"{_status_name(TunnelStatus, status).upper()}", status)
                busy = self._clock() < self._busy_until.get(eui64, float("-inf"))
                stale = tunnel is None or tunnel.role is not TunnelRole.CLIENT or (
                    self._clock() - tunnel.requested_at >= self.request_retry)
                if stale and not busy:
                    self.tunnels.request(eui64)
                    self.counts["tunnel_requests"] += 1
                    request = RequestTunnel(max_incoming_transfer_size=self.max_transfer)
            if request is not None:
                self._transmit(eui64, request, _C2S)
            self._check_failure()
            self.backend.service()
            with self._lock:
                tunnel = self.tunnels.by_eui(eui64)
                if tunnel is not None and tunnel.state is TunnelState.ACTIVE:
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.counts["tunnel_timeouts"] += 1
                    why = "the device is busy" if busy else "no RequestTunnelResponse"
                    raise TransportTimeout(f"{self.name}: {why} from {eui64.hex().upper()} "
                                           f"within {self.tunnel_setup_timeout}s")
                self._changed.wait(min(remaining, self.service_interval))

    def _transmit(self, eui64: bytes, command, direction: ZclDirection) -> Delivery | None:
        """Send one ZCL command to ``eui64`` (never called with the lock held); the radio's delivery report."""
        with self._lock:
            self._seq = (self._seq + 1) & 0xFF
            seq = self._seq
        payload = encode_zcl(ZclFrame(command, direction, seq))
        return self.backend.send(ApsFrame(self.backend.local_eui64, eui64, payload))

    # -- receiving ---------------------------------------------------------------------------
    def _service(self) -> None:
        self.backend.service()
        self._close_idle_tunnels()

    def _close_idle_tunnels(self) -> None:
        with self._lock:
            idle = self.tunnels.idle(self.tunnel_idle_timeout, TunnelRole.SERVER)
            for tunnel in idle:
                self.tunnels.close(tunnel)
                self.counts["tunnels_timed_out"] += 1
        for tunnel in idle:
            self._transmit(tunnel.eui64, TunnelClosureNotification(tunnel.tunnel_id), _S2C)

    def _on_aps(self, aps: ApsFrame) -> None:
        """Inbound APS frame from the radio (any thread)."""
        if aps.cluster != CLUSTER_TUNNELING:
            self.counts["other_clusters"] += 1
            return
        try:
            zcl = decode_zcl(aps.payload)
        except ZclDecodeError:
            self.counts["zcl_malformed"] += 1
            return
        with self._lock:
            replies, deliveries = self._handle(aps.source, zcl)
            self._changed.notify_all()
        for command, direction, *collected in replies:
            try:
                report = self._transmit(aps.source, command, direction)
            except TransportError as exc:
                if collected:
                    self._record(FrameDelivery(collected[0], aps.source, "failed", detail=str(exc)))
                raise
            if collected:  # the sleepy device fetched the last block of this frame
                status = "collected" if report is None or report.acked else "failed"
                self._record(FrameDelivery(collected[0], aps.source, status, (report,) if report else ()))
        source = aps.source.hex().upper()
        for message in deliveries:
            self._deliver(message, source)

    def _handle(self, eui64: bytes, zcl: ZclFrame):
        """Update tunnel state for one ZCL frame; returns (replies to send, GBCS messages to deliver)."""
        command = zcl.command
        kind = type(command).__name__
        self.counts[f"rx_{kind}"] += 1
        replies: list = []
        deliveries: list[bytes] = []
        if isinstance(command, RequestTunnel) and zcl.direction is _C2S:
            replies.append((self._accept_tunnel(eui64, command), _S2C))
        elif isinstance(command, RequestTunnelResponse) and zcl.direction is _S2C:
            if command.status == TunnelStatus.SUCCESS:
                if self.tunnels.established(eui64, command.tunnel_id, command.max_incoming_transfer_size) is None:
                    self.counts["unexpected_responses"] += 1
            else:
                pending = self.tunnels.by_eui(eui64)
                if pending is not None and pending.state is TunnelState.REQUEST_PENDING:
                    self.tunnels.close(pending)
                self._refused[eui64] = command.status
        elif isinstance(command, TransferData):
            role = TunnelRole.SERVER if zcl.direction is _C2S else TunnelRole.CLIENT
            error_direction = _S2C if role is TunnelRole.SERVER else _C2S
            tunnel, status = self._tunnel_for(eui64, command, role)
            if status is not None:
                self.counts[f"transfer_errors_sent_{status.name.lower()}"] += 1
                replies.append((TransferDataError(command.tunnel_id, status), error_direction))
            else:
                self.tunnels.touch(tunnel)
                replies_out, deliveries = self._on_transfer(eui64, tunnel, command.data)
                replies.extend(replies_out)
        elif isinstance(command, TransferDataError):
            self.counts[f"transfer_errors_received_{_status_name(TransferDataStatus, command.status)}"] += 1
            role = TunnelRole.CLIENT if zcl.direction is _S2C else TunnelRole.SERVER
            tunnel = self.tunnels.by_id(command.tunnel_id, role)
            if tunnel is not None and command.status == TransferDataStatus.NO_SUCH_TUNNEL:
                self.tunnels.close(tunnel)
        elif isinstance(command, CloseTunnel) and zcl.direction is _C2S:
            tunnel = self.tunnels.by_id(command.tunnel_id, TunnelRole.SERVER)
            if tunnel is not None and tunnel.eui64 == eui64:
                self.tunnels.close(tunnel)
        elif isinstance(command, TunnelClosureNotification) and zcl.direction is _S2C:
            tunnel = self.tunnels.by_id(command.tunnel_id, TunnelRole.CLIENT)
            if tunnel is not None and tunnel.eui64 == eui64:
                self.tunnels.close(tunnel)
        elif not isinstance(command, DefaultResponse):
            self.counts["unhandled_commands"] += 1
        return replies, deliveries

    def _accept_tunnel(self, eui64: bytes, request: RequestTunnel) -> RequestTunnelResponse:
        status = request_tunnel_status(request)
        if status is not TunnelStatus.SUCCESS:
            return RequestTunnelResponse(INVALID_TUNNEL_ID, status, self.max_transfer)
        tunnel = self.tunnels.accept(eui64, request.max_incoming_transfer_size)
        if tunnel is None:
            return RequestTunnelResponse(INVALID_TUNNEL_ID, TunnelStatus.NO_MORE_TUNNEL_IDS, self.max_transfer)
        self.sleepy.add(bytes(eui64))  # a device that opens its own tunnel to the hub collects its mail
        self.counts["tunnels_accepted"] += 1
        return RequestTunnelResponse(tunnel.tunnel_id, TunnelStatus.SUCCESS, self.max_transfer)

    def _tunnel_for(self, eui64: bytes, command: TransferData, role: TunnelRole):
        tunnel = self.tunnels.by_id(command.tunnel_id, role)
        if tunnel is None:
            return None, TransferDataStatus.NO_SUCH_TUNNEL
        if tunnel.eui64 != eui64:
            return None, TransferDataStatus.WRONG_DEVICE
        if len(command.data) > self.max_transfer:
            return None, TransferDataStatus.DATA_OVERFLOW
        return tunnel, None

    def _on_transfer(self, eui64: bytes, tunnel: Tunnel, data: bytes):
        try:
            payload = decode_tunnel_payload(data)
        except TunnelHeaderError:
            self.counts["tunnel_header_errors"] += 1
            return [], []
        if isinstance(payload, Get):
            queue = self.mailbox.get(eui64)
            message, last = queue.popleft() if queue else (b"", None)
            remaining = len(queue) if queue else 0
            self.counts["mailbox_delivered" if message else "mailbox_empty_gets"] += 1
            reply = TransferData(tunnel.tunnel_id, encode_tunnel_payload(GetResponse(remaining, message)))
            return [(reply, _S2C, last) if last is not None else (reply, _S2C)], []
        if isinstance(payload, GetResponse):  # only a hub sends these
            self.counts["unexpected_get_responses"] += 1
            return [], []
        message = payload.message if isinstance(payload, (Put, Bare)) else b""
        joined = self._reassembly.setdefault(eui64, Reassembler()).feed(message)
        return [], [joined] if joined else []


def _status_name(enum_type, value: int) -> str:
    try:
        return enum_type(value).name.lower()
    except ValueError:
        return f"status_{value:#04x}"
