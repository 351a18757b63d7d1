"""An emulated EZSP network co-processor: ASH link, EZSP v13 commands, and the emulated HAN behind it.

``EmulatedNcp`` is what a Silicon Labs stick running EmberZNet looks like from the host's
serial port, so bellows (and through it the rig's ``EzspBackend``) runs unchanged against it:

* **ASH link** (``ash.py``): RST -> RSTACK, DATA frames numbered modulo 8 and acknowledged
  (ACK, or piggybacked ackNum), NAK for damaged or out-of-sequence DATA, retransmission with
  the reTx flag after a NAK or when no ACK arrives within ``T_RX_ACK`` seconds.
* **EZSP** (``ezsp_frames.py``): version negotiation (the legacy-format ``version`` first, then
  the extended format of v13), the configuration values, network state and parameters,
  EUI-64 and address lookups, ``sendUnicast`` answered by ``messageSentHandler`` once the
  remote node's APS ACK is in, ``incomingMessageHandler`` for what the meters send.
* **The HAN**: an ``EmulatedRadio`` with the meters' nodes (``AwakeNode`` for an ESME,
  ``SleepyNode`` for a GSME polling its mailbox), exactly the emulated bridge's device side,
  GBCS in the tunneling cluster 0x0704. The NCP is that radio's hub side.
* **APS fragmentation** (``aps_fragment.py``), EmberZNet style: a fragment is one
  ``sendUnicast`` with ``APS_OPTION_FRAGMENT`` and ``groupId = count << 8 | index``; the
  remote node's APS layer (a ``Reassembler``) acknowledges each window, and the NCP turns the
  ACK bitfield into one ``messageSentHandler`` per fragment. A meter's long message reaches
  the host as fragments in ``incomingMessageHandler`` callbacks, sent window by window
  (``OutgoingTransfer``) as the host acknowledges each with ``sendReply`` (groupId 0xFF00 |
  index), which is what bellows does.

Faults for tests: ``inject_reset`` (the NCP reboots: unsolicited RSTACK, network down until
``networkInit``), ``stall_callbacks`` (callbacks withheld; a reset clears it unless sticky).
The object is single-threaded: the server loop calls ``on_bytes`` and ``tick``; other threads
use ``request`` to run something on that loop.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from construct import ConstructError

from ..aps_fragment import (
    EXTENDED_HEADER,
    Ack,
    Block,
    FragmentTransferFailed,
    OutgoingTransfer,
    Reassembler,
    ReassemblyTimeout,
)
from ..backend import ApsFrame
from ..emulated import EmulatedRadio
from . import ezsp_frames as ez
from .ash import AshFrame, AshReader, Kind, ResetCode, encode

#: seconds the NCP waits for the host's ACK of a DATA frame before sending it again (UG101 t_rx_ack)
T_RX_ACK = 1.6
#: DATA frames the NCP sends before it needs an ACK (UG101 TX_K; 1..7)
TX_WINDOW = 3
#: seconds the remote's APS ACK may take before a fragment counts as not delivered
APS_ACK_WAIT = 1.5
#: how long the remote node remembers a finished transfer (to answer retransmissions); well below
#: the time the 8-bit APS counter takes to come round
TRANSFER_MEMORY = 5.0
FIRST_NODE_ID = 0x1001


@dataclass
class _Inbound:
    """A host -> node fragmented transfer, as the remote node's APS layer sees it."""

    reassembler: Reassembler
    destination: bytes
    waiting: dict[int, tuple[int, dict, float]] = field(default_factory=dict)  # index -> (tag, aps, sent at)
    finished_at: float | None = None


@dataclass
class _Outbound:
    """A node -> host fragmented transfer, sent window by window as the host acknowledges."""

    transfer: OutgoingTransfer
    aps: dict
    sender: int
    last_sent: float = 0.0


class EmulatedNcp:
    """See the module docstring."""

    def __init__(self, radio: EmulatedRadio, *, pan_id: int = 0x1A62, channel: int = 11,
                 extended_pan_id: bytes = bytes.fromhex("7E570D000000ABCD"), max_payload: int = 82,
                 fragment_window: int = 4, clock: Callable[[], float] = time.monotonic):
        self.radio = radio
        self.eui64 = radio.local_eui64
        self.pan_id = pan_id
        self.channel = channel
        self.extended_pan_id = extended_pan_id
        self.max_payload = max_payload
        self.clock = clock
        self.config: dict[int, int] = {ez.CONFIG_FRAGMENT_WINDOW_SIZE: fragment_window, ez.CONFIG_FRAGMENT_DELAY_MS: 0}
        self.node_ids: dict[bytes, int] = {eui: FIRST_NODE_ID + i for i, eui in enumerate(radio.nodes)}
        self.counts: Counter[str] = Counter()
        self._reader = AshReader()
        self._out = bytearray()
        self._requests: deque[Callable[[], None]] = deque()
        self._lock = threading.Lock()
        self.stall_until = 0.0
        self.stall_sticky = False
        self.network_up = False
        self._cold_start()
        radio.start(self._from_air)

    # -- state -------------------------------------------------------------------------------
    def _cold_start(self) -> None:
        """Power-on or reset: ASH numbering from 0, legacy EZSP, the network down until networkInit."""
        self._rx_expected = 0
        self._tx_next = 0
        self._unacked: deque[tuple[int, bytes, float]] = deque()  # (frmNum, EZSP frame, sent at)
        self._tx_queue: deque[bytes] = deque()
        self._callbacks: deque[tuple[str, dict]] = deque()
        self._rejecting = False
        self._last_sequence = 0
        self._aps_sequence = 0
        self._inbound: dict[tuple[int, int], _Inbound] = {}
        self._outbound: dict[tuple[int, int], _Outbound] = {}
        self._air_queue: dict[int, deque[ApsFrame]] = {}  # per node: frames behind its fragmented transfer
        self.network_up = False
        if not self.stall_sticky:
            self.stall_until = 0.0

    def request(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the NCP's own loop (thread-safe; for tests and fault injection)."""
        with self._lock:
            self._requests.append(action)

    def inject_reset(self, code: ResetCode = ResetCode.ASSERT) -> None:
        """The NCP reboots on its own: state lost, unsolicited RSTACK (call through ``request``)."""
        self.counts["injected_resets"] += 1
        self._cold_start()
        self._write(AshFrame(Kind.RSTACK, code=code))

    def stall_callbacks(self, seconds: float, *, sticky: bool = False) -> None:
        """Withhold every callback for ``seconds`` (``sticky``: a reset does not clear it)."""
        self.stall_until = self.clock() + seconds
        self.stall_sticky = sticky

    def take_output(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    # -- ASH ---------------------------------------------------------------------------------
    def _write(self, frame: AshFrame) -> None:
        self._out += encode(frame)

    def on_bytes(self, data: bytes) -> bytes:
        frames, rejected = self._reader.feed(data)
        if rejected:
            self.counts["damaged_data_frames"] += rejected
            self._nak()
        for frame in frames:
            self._on_frame(frame)
        self._pump()
        return self.take_output()

    def _nak(self) -> None:
        if not self._rejecting:
            self._rejecting = True
            self._write(AshFrame(Kind.NAK, ack_num=self._rx_expected))

    def _on_frame(self, frame: AshFrame) -> None:
        self.counts[f"rx_{frame.kind.value}"] += 1
        if frame.kind is Kind.RST:
            self._cold_start()
            self._write(AshFrame(Kind.RSTACK, code=ResetCode.SOFTWARE))
            return
        if frame.kind in (Kind.DATA, Kind.ACK, Kind.NAK):
            self._acknowledged(frame.ack_num)
        if frame.kind is Kind.NAK:
            self._retransmit()
        elif frame.kind is Kind.DATA:
            if frame.frm_num == self._rx_expected:
                self._rx_expected = (self._rx_expected + 1) % 8
                self._rejecting = False
                self._write(AshFrame(Kind.ACK, ack_num=self._rx_expected))
                self._on_ezsp(frame.data)
            elif frame.re_tx:
                self._write(AshFrame(Kind.ACK, ack_num=self._rx_expected))
            else:
                self._nak()

    def _acknowledged(self, ack_num: int) -> None:
        """ackNum names the next frame the host expects: everything before it is acknowledged."""
        if any(frm == ack_num for frm, _, _ in self._unacked):
            while self._unacked and self._unacked[0][0] != ack_num:
                self._unacked.popleft()
        elif ack_num == self._tx_next:
            self._unacked.clear()

    def _retransmit(self) -> None:
        now = self.clock()
        resent = deque()
        for frm, data, _sent in self._unacked:
            self._write(AshFrame(Kind.DATA, frm_num=frm, ack_num=self._rx_expected, re_tx=True, data=data))
            resent.append((frm, data, now))
            self.counts["retransmissions"] += 1
        self._unacked = resent

    def _pump(self) -> None:
        while self._tx_queue and len(self._unacked) < TX_WINDOW:
            data = self._tx_queue.popleft()
            frm = self._tx_next
            self._tx_next = (self._tx_next + 1) % 8
            self._write(AshFrame(Kind.DATA, frm_num=frm, ack_num=self._rx_expected, data=data))
            self._unacked.append((frm, data, self.clock()))

    # -- EZSP --------------------------------------------------------------------------------
    def _on_ezsp(self, data: bytes) -> None:
        try:
            frame = ez.parse_host_frame(data)
        except ez.EzspFrameError:
            self.counts["ezsp_malformed"] += 1
            return
        command = ez.BY_ID.get(frame.frame_id)
        if command is None or (frame.legacy and command.name != "version"):
            self.counts["ezsp_unknown_commands"] += 1
            self._respond(frame, "invalidCommand", {"status": ez.ERROR_INVALID_FRAME_ID})
            return
        try:
            parameters = command.request.parse(frame.parameters)
        except ConstructError:
            self.counts["ezsp_bad_parameters"] += 1
            self._respond(frame, "invalidCommand", {"status": ez.ERROR_INVALID_VALUE})
            return
        self.counts[f"cmd_{command.name}"] += 1
        handler = getattr(self, f"_cmd_{command.name}", None)
        if handler is None:
            self._respond(frame, "invalidCommand", {"status": ez.ERROR_INVALID_FRAME_ID})
            return
        self._respond(frame, command.name, handler(parameters))

    def _respond(self, frame: ez.HostFrame, name: str, values: dict[str, Any]) -> None:
        self._last_sequence = frame.sequence
        self._tx_queue.append(ez.build_frame(frame.sequence, name, values, legacy=frame.legacy))

    def _callback(self, name: str, values: dict[str, Any]) -> None:
        self._callbacks.append((name, values))

    def _flush_callbacks(self) -> None:
        if self.clock() < self.stall_until:
            return
        while self._callbacks:
            name, values = self._callbacks.popleft()
            self.counts[f"cb_{name}"] += 1
            self._tx_queue.append(ez.build_frame(self._last_sequence, name, values, callback=True))

    # commands (each returns the response's values)
    def _cmd_version(self, p) -> dict:
        return {"protocolVersion": ez.PROTOCOL_VERSION, "stackType": ez.STACK_TYPE, "stackVersion": ez.STACK_VERSION}

    def _cmd_nop(self, p) -> dict:
        return {}

    def _cmd_networkInit(self, p) -> dict:
        if self.network_up:
            return {"status": ez.INVALID_CALL}
        self.network_up = True
        self._callback("stackStatusHandler", {"status": ez.NETWORK_UP})
        return {"status": ez.SUCCESS}

    def _cmd_networkState(self, p) -> dict:
        return {"status": ez.JOINED_NETWORK if self.network_up else ez.NO_NETWORK}

    def _cmd_getEui64(self, p) -> dict:
        return {"eui64": self.eui64[::-1]}

    def _cmd_getNodeId(self, p) -> dict:
        return {"nodeId": 0x0000}

    def _cmd_getNetworkParameters(self, p) -> dict:
        parameters = {"extendedPanId": self.extended_pan_id[::-1], "panId": self.pan_id, "radioTxPower": 8,
                      "radioChannel": self.channel, "joinMethod": 0, "nwkManagerId": 0, "nwkUpdateId": 0,
                      "channels": 1 << self.channel}
        return {"status": ez.SUCCESS if self.network_up else ez.NOT_JOINED, "nodeType": ez.COORDINATOR,
                "parameters": parameters}

    def _cmd_maximumPayloadLength(self, p) -> dict:
        return {"apsLength": self.max_payload}

    def _cmd_customFrame(self, p) -> dict:
        return {"status": ez.INVALID_CALL, "reply": b""}  # no XNCP extensions on this firmware

    def _cmd_getConfigurationValue(self, p) -> dict:
        if p.configId not in self.config:
            return {"status": ez.ERROR_INVALID_VALUE, "value": 0}
        return {"status": ez.SUCCESS, "value": self.config[p.configId]}

    def _cmd_setConfigurationValue(self, p) -> dict:
        if p.configId not in self.config or (p.configId == ez.CONFIG_FRAGMENT_WINDOW_SIZE and not 1 <= p.value <= 8):
            return {"status": ez.ERROR_INVALID_VALUE}
        self.config[p.configId] = p.value
        return {"status": ez.SUCCESS}

    def _cmd_setPolicy(self, p) -> dict:
        return {"status": ez.SUCCESS}

    def _cmd_lookupNodeIdByEui64(self, p) -> dict:
        return {"nodeId": self.node_ids.get(bytes(p.eui64)[::-1], 0xFFFF)}

    def _cmd_lookupEui64ByNodeId(self, p) -> dict:
        for eui, node_id in self.node_ids.items():
            if node_id == p.nodeId:
                return {"status": ez.SUCCESS, "eui64": eui[::-1]}
        return {"status": 0x01, "eui64": bytes(8)}

    def _next_aps_sequence(self) -> int:
        """1..255: the host sends 0 with a first fragment, so 0 never names an ongoing transfer."""
        self._aps_sequence = self._aps_sequence % 255 + 1
        return self._aps_sequence

    def _cmd_sendUnicast(self, p) -> dict:
        if not self.network_up:
            return {"status": ez.NOT_JOINED, "sequence": 0}
        aps = dict(p.apsFrame)
        aps.pop("_io", None)
        contents = bytes(p.messageContents)
        fragment = bool(aps["options"] & ez.APS_OPTION_FRAGMENT)
        if p.type != ez.OUTGOING_DIRECT:
            return {"status": ez.INVALID_CALL, "sequence": 0}
        if len(contents) > self.max_payload - (EXTENDED_HEADER if fragment else 0):
            return {"status": ez.MESSAGE_TOO_LONG, "sequence": 0}
        destination = next((eui for eui, nwk in self.node_ids.items() if nwk == p.indexOrDestination), None)
        index, total = aps["groupId"] & 0xFF, aps["groupId"] >> 8
        ongoing = self._inbound.get((p.indexOrDestination, aps["sequence"]))
        retry_first = index == 0 and ongoing is not None and ongoing.finished_at is None  # block 0 sent again
        sequence = aps["sequence"] if fragment and (index > 0 or retry_first) else self._next_aps_sequence()
        aps["sequence"] = sequence
        if destination is None:  # no route: the APS layer gives up
            self._message_sent(p.indexOrDestination, aps, p.messageTag, ez.DELIVERY_FAILED, contents)
            return {"status": ez.SUCCESS, "sequence": sequence}
        if not fragment:
            self.radio.send(self._air_frame(destination, aps, contents))
            self._message_sent(p.indexOrDestination, aps, p.messageTag, ez.SUCCESS, contents)
            return {"status": ez.SUCCESS, "sequence": sequence}
        key = (p.indexOrDestination, sequence)
        transfer = self._inbound.get(key)
        if transfer is not None and transfer.finished_at is not None and index == 0:
            transfer = None  # the APS counter came round again: a new transfer, not a retransmission
        if transfer is None:
            window = self.config[ez.CONFIG_FRAGMENT_WINDOW_SIZE]
            transfer = self._inbound[key] = _Inbound(Reassembler(window=window, clock=self.clock), destination)
        transfer.waiting[index] = (p.messageTag, aps, self.clock())
        try:
            ack, whole = transfer.reassembler.feed(Block(index, total, contents))
        except ReassemblyTimeout:  # the remote dropped the stalled transfer: this fragment is not delivered
            self.counts["remote_reassembly_timeouts"] += 1
            del self._inbound[key]
            transfer.waiting.pop(index, None)
            self._message_sent(p.indexOrDestination, aps, p.messageTag, ez.DELIVERY_FAILED, contents)
            return {"status": ez.SUCCESS, "sequence": sequence}
        if ack is not None:
            self._fragment_ack(p.indexOrDestination, transfer, ack)
        if whole is not None:
            transfer.finished_at = self.clock()
            self.radio.send(self._air_frame(destination, aps, whole))
            self.counts["fragmented_transfers_in"] += 1
        return {"status": ez.SUCCESS, "sequence": sequence}

    def _fragment_ack(self, node_id: int, transfer: _Inbound, ack: Ack) -> None:
        for index in ack.blocks():
            waiting = transfer.waiting.pop(index, None)
            if waiting is not None:
                tag, aps, _sent = waiting
                self._message_sent(node_id, aps, tag, ez.SUCCESS, b"")

    def _message_sent(self, node_id: int, aps: dict, tag: int, status: int, contents: bytes) -> None:
        self._callback("messageSentHandler", {"type": ez.OUTGOING_DIRECT, "indexOrDestination": node_id,
                                              "apsFrame": aps, "messageTag": tag, "status": status,
                                              "messageContents": contents})

    def _cmd_sendReply(self, p) -> dict:
        aps = dict(p.apsFrame)
        aps.pop("_io", None)
        if aps["options"] & ez.APS_OPTION_FRAGMENT and aps["groupId"] >> 8 == 0xFF:
            outbound = self._outbound.get((p.sender, aps["sequence"]))
            if outbound is None:
                self.counts["stray_fragment_acks"] += 1
            else:
                start = outbound.transfer.window_start
                outbound.transfer.on_ack(Ack(aps["groupId"] & 0xFF, 1))
                if outbound.transfer.complete:
                    del self._outbound[(p.sender, aps["sequence"])]
                    self.counts["fragmented_transfers_out"] += 1
                    self._finished(p.sender)
                elif outbound.transfer.window_start != start:
                    self._send_fragments(outbound, outbound.transfer.pending())
            return {"status": ez.SUCCESS}
        destination = next((eui for eui, nwk in self.node_ids.items() if nwk == p.sender), None)
        if destination is not None:
            self.radio.send(self._air_frame(destination, aps, bytes(p.messageContents)))
        return {"status": ez.SUCCESS if destination is not None else ez.DELIVERY_FAILED}

    # -- the HAN -------------------------------------------------------------------------------
    def _air_frame(self, destination: bytes, aps: dict, payload: bytes) -> ApsFrame:
        return ApsFrame(self.eui64, destination, payload, aps["clusterId"], aps["profileId"], aps["sourceEndpoint"],
                        aps["destinationEndpoint"])

    def _from_air(self, frame: ApsFrame) -> None:
        """A node transmitted to the hub (called inside ``radio.service``)."""
        sender = self.node_ids.get(frame.source)
        if sender is None or not self.network_up:
            self.counts["air_frames_dropped"] += 1
            return
        queue = self._air_queue.setdefault(sender, deque())
        queue.append(frame)
        if len(queue) == 1:
            self._next_from(sender)

    def _next_from(self, sender: int) -> None:
        """Send the node's queued frames in order; one fragmented transfer at a time, as an APS layer does."""
        queue = self._air_queue.get(sender)
        while queue:
            frame = queue[0]
            if self._start(sender, frame):
                return  # fragmented: the rest waits until it completes or fails
            queue.popleft()

    def _finished(self, sender: int) -> None:
        queue = self._air_queue.get(sender)
        if queue:
            queue.popleft()
        self._next_from(sender)

    def _start(self, sender: int, frame: ApsFrame) -> bool:
        """Put one frame from a node to the host; True when it went as a fragmented transfer."""
        aps = {"profileId": frame.profile, "clusterId": frame.cluster, "sourceEndpoint": frame.source_endpoint,
               "destinationEndpoint": frame.destination_endpoint, "options": 0, "groupId": 0,
               "sequence": self._next_aps_sequence()}
        if len(frame.payload) <= self.max_payload:
            self._incoming(sender, aps, frame.payload)
            return False
        window = self.config[ez.CONFIG_FRAGMENT_WINDOW_SIZE]
        transfer = OutgoingTransfer(frame.payload, self.max_payload - EXTENDED_HEADER, window=window)
        aps["options"] = ez.APS_OPTION_FRAGMENT
        outbound = self._outbound[(sender, aps["sequence"])] = _Outbound(transfer, aps, sender)
        self._send_fragments(outbound, transfer.pending())
        return True

    def _send_fragments(self, outbound: _Outbound, blocks: Iterable[Block]) -> None:
        for block in blocks:
            aps = dict(outbound.aps, groupId=block.total << 8 | block.index)
            self._incoming(outbound.sender, aps, block.data)
        outbound.last_sent = self.clock()

    def _incoming(self, sender: int, aps: dict, payload: bytes) -> None:
        self._callback("incomingMessageHandler", {"type": ez.INCOMING_UNICAST, "apsFrame": aps, "lastHopLqi": 255,
                                                  "lastHopRssi": -40, "sender": sender, "bindingIndex": 0xFF,
                                                  "addressIndex": 0xFF, "messageContents": payload})

    # -- time ----------------------------------------------------------------------------------
    def tick(self) -> bytes:
        """Timers and the HAN: retransmissions, APS ACK waits, the meters' own work."""
        with self._lock:
            requests, self._requests = list(self._requests), deque()
        for action in requests:
            action()
        now = self.clock()
        if self._unacked and now - self._unacked[0][2] > T_RX_ACK:
            self._retransmit()
        if self.network_up:
            self.radio.service()
        self._expire_transfers(now)
        self._flush_callbacks()
        self._pump()
        return self.take_output()

    def _expire_transfers(self, now: float) -> None:
        for key, transfer in list(self._inbound.items()):
            for index, (tag, aps, sent) in list(transfer.waiting.items()):
                if now - sent > APS_ACK_WAIT:  # the remote never acknowledged this fragment's window
                    del transfer.waiting[index]
                    self._message_sent(key[0], aps, tag, ez.DELIVERY_FAILED, b"")
            if transfer.finished_at is not None and now - transfer.finished_at > TRANSFER_MEMORY:
                del self._inbound[key]
        for key, outbound in list(self._outbound.items()):
            if now - outbound.last_sent > APS_ACK_WAIT:
                try:
                    blocks = outbound.transfer.on_timeout()
                except FragmentTransferFailed:
                    self.counts["fragmented_transfers_out_failed"] += 1
                    del self._outbound[key]
                    self._finished(key[0])
                    continue
                self._send_fragments(outbound, blocks)
