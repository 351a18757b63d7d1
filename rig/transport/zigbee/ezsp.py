"""EZSP radio backend: a Silicon Labs NCP driven through bellows (optional extra ``zigbee``).

bellows is imported when a backend connects, never at module import, so the rest of the
transport layer works without it. The NCP is expected to be the coordinator of a formed
Smart Energy network with the meters joined and CBKE done (the lab's commissioning, not this
module's job); the backend only sends and receives APS unicasts on the tunneling cluster.

bellows is asyncio-based; each session runs its own event loop on one named daemon thread,
and the blocking ``send`` waits on it with ``command_timeout``. Inbound
``incomingMessageHandler`` callbacks are turned into ``ApsFrame``s and handed to the bridge
from that thread. NCP errors and a lost serial line become ``NcpError``; ``NcpSupervisor``
resets the NCP or reconnects with back-off.

Not done here (marked for whoever has the hardware): APS fragmentation of transfers larger
than one APS payload (the bridge's 1500-octet tunnel transfers need it on real radios; some
NCP firmwares fragment for the host, bellows reassembles inbound fragments), and the
SE-specific source routing a large HAN might need. UNCONFIRMED: that GBCS entity ids equal
the EUI-64 in big-endian order (the reverse of the over-the-air octet order bellows uses).
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Callable
from typing import Any

from .backend import ApsFrame, RadioBackend, RadioError, Receiver
from .supervisor import DEFAULT_BACKOFF, Backoff, NcpError, NcpSupervisor

#: APS options for SE unicasts: APS security with the CBKE link key, retries, route discovery
_APS_OPTIONS = ("APS_OPTION_ENCRYPTION", "APS_OPTION_RETRY", "APS_OPTION_ENABLE_ROUTE_DISCOVERY")
_UNKNOWN_NODE = 0xFFFF


def _import_bellows():
    try:
        return importlib.import_module("bellows.ezsp"), importlib.import_module("bellows.types")
    except ModuleNotFoundError as exc:
        raise RadioError("the EZSP backend needs bellows: pip install 'gbcs-rig[zigbee]'") from exc


class BellowsSession:
    """One connection to the NCP through bellows, on a private event-loop thread."""

    def __init__(self, config: dict[str, Any], on_frame: Callable[[ApsFrame], None], *, command_timeout: float = 10.0):
        self._ezsp_module, self._types = _import_bellows()
        self._on_frame = on_frame
        self.command_timeout = command_timeout
        self._failed: str | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ezsp-loop", daemon=True)
        self._thread.start()
        try:
            self._ezsp = self._run(self._connect(config))
            (eui,) = self._run(self._ezsp.getEui64())
            self.local_eui64 = bytes(reversed(bytes(eui)))
        except BaseException:
            self._stop_loop()
            raise

    async def _connect(self, config: dict[str, Any]):
        ezsp = self._ezsp_module.EZSP(config, application=self)
        await ezsp.connect(use_thread=False)
        ezsp.add_callback(self._on_callback)
        return ezsp

    def _run(self, coro):
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=self.command_timeout)
        except TimeoutError as exc:
            future.cancel()
            raise NcpError(f"EZSP command timed out after {self.command_timeout}s") from exc
        except NcpError:
            raise
        except Exception as exc:  # bellows raises its own exception types
            raise NcpError(f"EZSP: {exc!r}") from exc

    # bellows calls these on its ``application``
    def connection_lost(self, exc) -> None:
        self._failed = f"serial connection lost ({exc!r})"

    def _on_callback(self, frame_name: str, args: list[Any]) -> None:
        if frame_name != "incomingMessageHandler":
            return
        aps, message = args[1], bytes(args[-1])
        if len(args) >= 10:  # EZSP v14+: nwk and eui64 are in the callback
            eui = bytes(reversed(bytes(args[3])))
            self._deliver(aps, eui, message)
        else:  # older EZSP: only the sender's short address; look its EUI-64 up
            nwk = args[4]

            async def lookup():
                _status, eui64 = await self._ezsp.lookupEui64ByNodeId(nwk)
                self._deliver(aps, bytes(reversed(bytes(eui64))), message)

            self._loop.create_task(lookup())

    def _deliver(self, aps, eui: bytes, message: bytes) -> None:
        self._on_frame(ApsFrame(eui, self.local_eui64, message, aps.clusterId, aps.profileId, aps.sourceEndpoint,
                                aps.destinationEndpoint))

    def send_unicast(self, frame: ApsFrame) -> None:
        if self._failed:
            raise NcpError(self._failed)
        t = self._types
        eui = t.EUI64(bytes(reversed(frame.destination)))
        (nwk,) = self._run(self._ezsp.lookupNodeIdByEui64(eui))
        if nwk == _UNKNOWN_NODE:
            raise RadioError(f"{frame.destination.hex().upper()} is not in the NCP's address table")
        options = t.EmberApsOption(0)
        for name in _APS_OPTIONS:
            options |= getattr(t.EmberApsOption, name)
        aps = t.EmberApsFrame(profileId=frame.profile, clusterId=frame.cluster, sourceEndpoint=frame.source_endpoint,
                              destinationEndpoint=frame.destination_endpoint, options=options, groupId=0, sequence=0)
        status, _sequence = self._run(self._ezsp.send_unicast(nwk=nwk, aps_frame=aps, message_tag=0, data=frame.payload))
        if t.sl_Status.from_ember_status(status) != t.sl_Status.OK:
            raise NcpError(f"sendUnicast to {frame.destination.hex().upper()} failed: {status!r}")

    def reset(self) -> None:
        self._run(self._ezsp.reset())
        self._failed = None

    def close(self) -> None:
        try:
            self._run(self._ezsp.disconnect())
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
                 session_factory: Callable[[Callable[[ApsFrame], None]], Any] | None = None):
        self.device = device
        self.config = {"path": device, "baudrate": baudrate, "flow_control": flow_control}
        self.command_timeout = command_timeout
        self._session_factory = session_factory or (
            lambda on_frame: BellowsSession(self.config, on_frame, command_timeout=command_timeout))
        self._receive: Receiver | None = None
        self.supervisor = NcpSupervisor(lambda: self._session_factory(self._inbound), backoff=backoff,
                                        give_up_after=give_up_after)
        self.local_eui64 = b"\x00" * 8

    def _inbound(self, frame: ApsFrame) -> None:
        receive = self._receive
        if receive is not None:
            receive(frame)

    def start(self, receive: Receiver) -> None:
        self._receive = receive
        session = self.supervisor.session()
        self.local_eui64 = getattr(session, "local_eui64", self.local_eui64)

    def stop(self) -> None:
        self._receive = None
        self.supervisor.close()

    def send(self, frame: ApsFrame) -> None:
        self.supervisor.call(lambda session: session.send_unicast(frame))

    @property
    def stats(self) -> dict[str, int]:
        return dict(self.supervisor.counts)
