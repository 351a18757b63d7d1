"""EZSP radio backend: a Silicon Labs NCP driven through bellows (optional extra ``zigbee``).

bellows is imported when a backend connects, never at module import, so the rest of the
transport layer works without it. The NCP is expected to be the coordinator of a formed
Smart Energy network with the meters joined and CBKE done (the lab's commissioning, not this
module's job); the backend brings the saved network up (``networkInit``), checks it is joined,
and then only sends and receives APS unicasts on the tunneling cluster.

Session start, in order: bellows' own start (ASH RST/RSTACK, EZSP ``version`` negotiation),
``getEui64``, ``networkInit`` (waiting for ``stackStatusHandler`` NETWORK_UP), ``networkState`` (must be
JOINED_NETWORK), ``getNetworkParameters`` (channel and PAN id, checked against the hw_config
when it names them), ``getConfigurationValue(FRAGMENT_WINDOW_SIZE)`` and
``maximumPayloadLength``.

Sending: a frame that fits one APS payload is one ``sendUnicast``; a longer one (every GBCS
tunnel transfer of a CS02b) is cut into APS fragments by ``aps_fragment.OutgoingTransfer``,
EmberZNet style (``APS_OPTION_FRAGMENT``, ``groupId = count << 8 | index``, every fragment
with the APS counter of the first), sent window by window. Each APS frame is confirmed by its
``messageSentHandler``: SUCCESS means the remote node's APS ACK arrived. The outcome is a
``Delivery`` record (the link layer's delivery report). A failed fragment is sent again up to
the retries, then ``FragmentTransferFailed``; an unfragmented frame that is not acknowledged
raises ``DeliveryFailed``; no ``messageSentHandler`` at all within ``callback_timeout`` is a
stalled NCP (``NcpError``), which the supervisor answers with a reset and one retry. Inbound
fragments are reassembled by bellows (it acknowledges each with ``sendReply``); the whole
message arrives in ``incomingMessageHandler``.

bellows is asyncio-based; each session runs its own event loop on one named daemon thread,
and the blocking ``send`` waits on it. NCP errors, an unexpected RSTACK and a lost serial line
become ``NcpError``; ``NcpSupervisor`` resets the NCP or reconnects with back-off.

Entity id vs EUI-64 byte order (``entity_id_order``): ``"msb-first"`` (the default) takes a
GBCS entity id to be the EUI-64 written most significant octet first, as IEEE and bellows'
``EUI64`` repr write it (over the air the octets go least significant first). ``"lsb-first"``
takes the entity id octets in over-the-air order. See docs/transport.md for the evidence.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from ..base import TransportError
from .aps_fragment import DEFAULT_RETRIES, EXTENDED_HEADER, MAX_BLOCKS, Ack, FragmentTransferFailed, OutgoingTransfer
from .backend import ApsFrame, Delivery, DeliveryFailed, RadioBackend, RadioError, Receiver
from .supervisor import DEFAULT_BACKOFF, Backoff, NcpError, NcpSupervisor

#: APS options for SE unicasts: APS security with the CBKE link key, retries, route discovery
_APS_OPTIONS = ("APS_OPTION_ENCRYPTION", "APS_OPTION_RETRY", "APS_OPTION_ENABLE_ROUTE_DISCOVERY")
_UNKNOWN_NODE = 0xFFFF
ENTITY_ID_ORDERS = ("msb-first", "lsb-first")
#: deliveries kept per backend (the newest)
DELIVERY_LOG_SIZE = 1000


def _import_bellows():
    try:
        return importlib.import_module("bellows.ezsp"), importlib.import_module("bellows.types")
    except ModuleNotFoundError as exc:
        raise RadioError("the EZSP backend needs bellows: pip install 'gbcs-rig[zigbee]'") from exc


def to_wire(entity: bytes, order: str) -> bytes:
    """A GBCS entity id (or EUI-64 as the rig writes it) -> the EUI-64 octets over the air (LSB first)."""
    return bytes(reversed(entity)) if order == "msb-first" else bytes(entity)


def from_wire(wire: bytes, order: str) -> bytes:
    return bytes(reversed(wire)) if order == "msb-first" else bytes(wire)


class BellowsSession:
    """One connection to the NCP through bellows, on a private event-loop thread."""

    def __init__(self, config: dict[str, Any], on_frame: Callable[[ApsFrame], None], *, command_timeout: float = 10.0,
                 callback_timeout: float = 5.0, entity_id_order: str = "msb-first", channel: int | None = None,
                 pan_id: int | None = None, retries: int = DEFAULT_RETRIES):
        if entity_id_order not in ENTITY_ID_ORDERS:
            raise ValueError(f"entity_id_order is one of {ENTITY_ID_ORDERS}, not {entity_id_order!r}")
        self._ezsp_module, self._types = _import_bellows()
        self._on_frame = on_frame
        self.command_timeout = command_timeout
        self.callback_timeout = callback_timeout
        self.order = entity_id_order
        self.expected_channel = channel
        self.expected_pan_id = pan_id
        self.retries = retries
        self._failed: str | None = None
        self._sent: dict[int, asyncio.Future] = {}
        self._eui_by_nwk: dict[int, bytes] = {}
        self._pending_incoming: deque[tuple[Any, int, bytes]] = deque()
        self._tag = 0
        self.network: dict[str, int] = {}
        self.window = 1
        self.max_payload = 0
        self.local_eui64 = b"\x00" * 8
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ezsp-loop", daemon=True)
        self._thread.start()
        try:
            self._ezsp = self._run(self._connect(config), timeout=command_timeout * 3)
            self._run(self._bring_up())
        except BaseException:
            with contextlib.suppress(Exception):
                self._run(self._ezsp.disconnect()) if hasattr(self, "_ezsp") else None
            self._stop_loop()
            raise

    async def _connect(self, config: dict[str, Any]):
        ezsp = self._ezsp_module.EZSP(config, application=self)
        await ezsp.connect(use_thread=False)
        ezsp.add_callback(self._on_callback)
        return ezsp

    async def _bring_up(self) -> None:
        """networkInit, then the checks and values listed in the module docstring."""
        t = self._types
        ezsp = self._ezsp
        (eui,) = await ezsp.getEui64()  # first: frames may arrive as soon as the network is up
        self.local_eui64 = from_wire(bytes(eui.serialize()), self.order)
        with ezsp.wait_for_stack_status(t.sl_Status.NETWORK_UP) as network_up:
            (status,) = await ezsp.networkInit(networkInitBitmask=t.EmberNetworkInitBitmask.NETWORK_INIT_NO_OPTIONS)
            if t.sl_Status.from_ember_status(status) == t.sl_Status.OK:
                await asyncio.wait_for(network_up, self.command_timeout)
        (state,) = await ezsp.networkState()
        if state != t.EmberNetworkStatus.JOINED_NETWORK:
            raise RadioError(f"the NCP is not on a network ({state!r}): commission it first (form the SE network, "
                             "join the meters, CBKE)")
        status, _node_type, parameters = await ezsp.getNetworkParameters()
        self.network = {"channel": int(parameters.radioChannel), "pan_id": int(parameters.panId)}
        for key, expected in (("channel", self.expected_channel), ("pan_id", self.expected_pan_id)):
            if expected is not None and self.network[key] != expected:
                raise RadioError(f"the NCP's network has {key} {self.network[key]:#x}, the hw_config says {expected:#x}")
        status, window = await ezsp.getConfigurationValue(t.EzspConfigId.CONFIG_FRAGMENT_WINDOW_SIZE)
        self.window = int(window) if t.sl_Status.from_ember_status(status) == t.sl_Status.OK and 1 <= window <= 8 else 1
        (self.max_payload,) = await ezsp.maximumPayloadLength()

    def _run(self, coro, timeout: float | None = None):
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=timeout or self.command_timeout)
        except TimeoutError as exc:
            future.cancel()
            raise NcpError(f"EZSP command timed out after {timeout or self.command_timeout}s") from exc
        except (NcpError, RadioError, FragmentTransferFailed):
            raise
        except Exception as exc:  # bellows raises its own exception types
            raise NcpError(f"EZSP: {exc!r}") from exc

    # bellows calls these on its ``application``
    def connection_lost(self, exc) -> None:
        self._failed = f"serial connection lost or NCP failed ({exc!r})"
        for future in self._sent.values():
            if not future.done():
                future.set_exception(NcpError(self._failed))

    def _on_callback(self, frame_name: str, args: list[Any]) -> None:
        if frame_name == "messageSentHandler":
            self._on_message_sent(args)
        elif frame_name == "incomingMessageHandler":
            self._on_incoming(args)

    def _on_message_sent(self, args: list[Any]) -> None:
        if self._ezsp.ezsp_version >= 14:  # status first, then type, nwk, APS frame, tag, message
            status, tag = args[0], args[4]
        else:  # type, destination, APS frame, tag, status, message
            tag, status = args[3], args[4]
        future = self._sent.pop(int(tag), None)
        if future is not None and not future.done():
            future.set_result(self._types.sl_Status.from_ember_status(status) == self._types.sl_Status.OK)

    def _on_incoming(self, args: list[Any]) -> None:
        aps, message = args[1], bytes(args[-1])
        if self._ezsp.ezsp_version >= 14:  # nwk and eui64 are in the callback
            self._deliver(aps, from_wire(bytes(args[3].serialize()), self.order), message)
            return
        # older EZSP: only the sender's short address. Messages are handed on in arrival order
        # (GBT blocks must stay in order), so unknown senders are looked up one at a time.
        nwk = int(args[4])
        if not self._pending_incoming and nwk in self._eui_by_nwk:
            self._deliver(aps, self._eui_by_nwk[nwk], message)
            return
        self._pending_incoming.append((aps, nwk, message))
        if len(self._pending_incoming) == 1:
            self._loop.create_task(self._drain_incoming())

    async def _drain_incoming(self) -> None:
        while self._pending_incoming:
            aps, nwk, message = self._pending_incoming[0]
            eui = self._eui_by_nwk.get(nwk)
            if eui is None:
                with contextlib.suppress(Exception):  # a failing NCP: the message is lost, as on the air
                    status, eui64 = await self._ezsp.lookupEui64ByNodeId(nwk)
                    if self._types.sl_Status.from_ember_status(status) == self._types.sl_Status.OK:
                        eui = self._eui_by_nwk[nwk] = from_wire(bytes(eui64.serialize()), self.order)
            self._pending_incoming.popleft()
            if eui is not None:
                self._deliver(aps, eui, message)

    def _deliver(self, aps, eui: bytes, message: bytes) -> None:
        self._on_frame(ApsFrame(eui, self.local_eui64, message, aps.clusterId, aps.profileId, aps.sourceEndpoint,
                                aps.destinationEndpoint))

    # sending
    def send_unicast(self, frame: ApsFrame) -> Delivery:
        if self._failed:
            raise NcpError(self._failed)
        # every step inside has its own deadline; this outer one only bounds the worst case: each
        # window (at most one per block) tried 1 + retries times, each try a command and a callback wait
        tries = MAX_BLOCKS * (self.retries + 1)
        return self._run(self._send(frame), timeout=tries * (self.command_timeout + self.callback_timeout))

    def _aps_frame(self, frame: ApsFrame, *, fragment: int | None = None, total: int = 0, sequence: int = 0):
        t = self._types
        options = t.EmberApsOption(0)
        for name in _APS_OPTIONS:
            options |= getattr(t.EmberApsOption, name)
        group = 0
        if fragment is not None:
            options |= t.EmberApsOption.APS_OPTION_FRAGMENT
            group = total << 8 | fragment
        return t.EmberApsFrame(profileId=frame.profile, clusterId=frame.cluster, sourceEndpoint=frame.source_endpoint,
                               destinationEndpoint=frame.destination_endpoint, options=options, groupId=group,
                               sequence=sequence)

    async def _unicast(self, nwk, aps, payload: bytes) -> tuple[int, asyncio.Future]:
        """One ``sendUnicast``; returns the APS counter and the future its ``messageSentHandler`` resolves."""
        t = self._types
        self._tag = (self._tag + 1) & 0xFF
        tag = self._tag
        future = self._loop.create_future()
        self._sent[tag] = future
        status, sequence = await self._ezsp.send_unicast(nwk=nwk, aps_frame=aps, message_tag=tag, data=payload)
        if t.sl_Status.from_ember_status(status) != t.sl_Status.OK:
            self._sent.pop(tag, None)
            raise NcpError(f"sendUnicast refused: {status!r}")
        return int(sequence), future

    async def _confirmed(self, futures: list[asyncio.Future]) -> list[bool]:
        try:
            return list(await asyncio.wait_for(asyncio.gather(*futures), self.callback_timeout))
        except TimeoutError:
            raise NcpError(f"no messageSentHandler within {self.callback_timeout}s (stalled NCP callbacks)") from None

    async def _lookup(self, destination: bytes):
        t = self._types
        result = await self._ezsp.lookupNodeIdByEui64(t.EUI64(to_wire(destination, self.order)))
        nwk = result[-1]  # EZSP v14+ puts a status first
        if nwk == _UNKNOWN_NODE or (len(result) > 1 and t.sl_Status.from_ember_status(result[0]) != t.sl_Status.OK):
            raise RadioError(f"{destination.hex().upper()} is not in the NCP's address table")
        self._eui_by_nwk[int(nwk)] = destination
        return nwk

    async def _send(self, frame: ApsFrame) -> Delivery:
        nwk = await self._lookup(frame.destination)
        if len(frame.payload) <= self.max_payload:
            sequence, future = await self._unicast(nwk, self._aps_frame(frame), frame.payload)
            (acked,) = await self._confirmed([future])
            if not acked:
                raise DeliveryFailed(f"no APS ACK from {frame.destination.hex().upper()} for a {len(frame.payload)}"
                                     "-octet frame")
            return Delivery(frame.destination, len(frame.payload), "acked", aps_sequence=sequence)
        transfer = OutgoingTransfer(frame.payload, self.max_payload - EXTENDED_HEADER, window=self.window,
                                    retries=self.retries)
        sequence = 0
        blocks = transfer.pending()
        while True:
            waiting = []
            for block in blocks:
                aps = self._aps_frame(frame, fragment=block.index, total=block.total, sequence=sequence)
                assigned, future = await self._unicast(nwk, aps, block.data)
                if block.index == 0:
                    sequence = assigned
                waiting.append((block.index, future))
            results = await self._confirmed([future for _, future in waiting])
            start = transfer.window_start
            for (index, _), acked in zip(waiting, results, strict=True):
                if acked:
                    transfer.on_ack(Ack(index, 1))
            if transfer.complete:
                return Delivery(frame.destination, len(frame.payload), "acked", fragments=len(transfer.blocks),
                                retransmissions=transfer.counts["retransmissions"], aps_sequence=sequence)
            # the next window, or the unacknowledged blocks again (FragmentTransferFailed after the retries)
            blocks = transfer.pending() if transfer.window_start != start else transfer.on_timeout()

    def reset(self) -> None:
        """Soft-reset the NCP (ASH RST), negotiate EZSP again and bring the network back up."""
        async def reset():
            await self._ezsp.reset()
            await self._ezsp.version()
            await self._bring_up()

        self._run(reset(), timeout=self.command_timeout * 3)
        self._failed = None

    def close(self) -> None:
        async def disconnect():
            # let bellows finish the fragment ACKs it is sending, so none dies on a closed port
            acks = [task for task in getattr(getattr(self._ezsp, "_protocol", None), "_fragment_ack_tasks", ())
                    if not task.done()]
            if acks:
                await asyncio.wait(acks, timeout=1.0)
            await self._ezsp.disconnect()

        try:
            self._run(disconnect())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=self.command_timeout)
        if not self._thread.is_alive():
            self._loop.close()


class EzspBackend(RadioBackend):
    """``RadioBackend`` over an EZSP NCP at a pyserial URL (``/dev/ttyUSB0``, ``socket://host:port``)."""

    def __init__(self, device: str, *, baudrate: int = 115200, flow_control: str | None = "software",
                 backoff: Backoff = DEFAULT_BACKOFF, give_up_after: float = 60.0, command_timeout: float = 10.0,
                 callback_timeout: float = 5.0, entity_id_order: str = "msb-first", channel: int | None = None,
                 pan_id: int | None = None,
                 session_factory: Callable[[Callable[[ApsFrame], None]], Any] | None = None):
        self.device = device
        self.config = {"path": device, "baudrate": baudrate, "flow_control": flow_control}
        self.command_timeout = command_timeout
        self._session_factory = session_factory or (
            lambda on_frame: BellowsSession(self.config, on_frame, command_timeout=command_timeout,
                                            callback_timeout=callback_timeout, entity_id_order=entity_id_order,
                                            channel=channel, pan_id=pan_id))
        self._receive: Receiver | None = None
        self.supervisor = NcpSupervisor(lambda: self._session_factory(self._inbound), backoff=backoff,
                                        give_up_after=give_up_after)
        self.local_eui64 = b"\x00" * 8
        #: the link layer's delivery reports, newest last (see ``Delivery``)
        self.deliveries: deque[Delivery] = deque(maxlen=DELIVERY_LOG_SIZE)
        self.rx_errors: deque[str] = deque(maxlen=DELIVERY_LOG_SIZE)
        self._rx: queue.Queue[ApsFrame | None] = queue.Queue()
        self._rx_thread: threading.Thread | None = None

    def _inbound(self, frame: ApsFrame) -> None:
        """From bellows' loop thread: queue it (the bridge may answer with a send, which waits on that loop)."""
        self._rx.put(frame)

    def _deliver_inbound(self) -> None:
        while True:
            frame = self._rx.get()
            if frame is None:
                return
            receive = self._receive
            if receive is not None:
                try:
                    receive(frame)
                except TransportError as exc:  # the reply could not be sent: the link's problem, logged
                    self.rx_errors.append(str(exc))

    def start(self, receive: Receiver) -> None:
        self._receive = receive
        if self._rx_thread is None:
            self._rx_thread = threading.Thread(target=self._deliver_inbound, name="ezsp-rx", daemon=True)
            self._rx_thread.start()
        try:
            session = self.supervisor.session()
        except BaseException:  # a radio that never came up (or no bellows) leaves nothing running
            self.stop()
            raise
        self.local_eui64 = getattr(session, "local_eui64", self.local_eui64)

    def stop(self) -> None:
        self._receive = None
        if self._rx_thread is not None:
            self._rx.put(None)
            self._rx_thread.join(timeout=self.command_timeout)
            self._rx_thread = None
        self.supervisor.close()

    def send(self, frame: ApsFrame) -> Delivery | None:
        try:
            delivery = self.supervisor.call(lambda session: session.send_unicast(frame))
        except TransportError as exc:  # NcpError, LinkLost, RadioError, FragmentTransferFailed
            self.deliveries.append(Delivery(frame.destination, len(frame.payload), "failed", detail=str(exc)))
            raise
        if isinstance(delivery, Delivery):
            self.deliveries.append(delivery)
            return delivery
        return None

    @property
    def stats(self) -> dict[str, int]:
        counts = dict(self.supervisor.counts)
        counts["deliveries_acked"] = sum(1 for d in self.deliveries if d.acked)
        counts["deliveries_failed"] = sum(1 for d in self.deliveries if not d.acked)
        counts["fragments_retransmitted"] = sum(d.retransmissions for d in self.deliveries)
        return counts
