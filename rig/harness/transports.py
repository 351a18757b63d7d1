"""Opening a rig's transport from its ``TransportSpec``: a table of openers by kind.

* ``emulated``: the device in this process, behind an emulated comms hub (``EmulatedTransport``).
* ``serial``: a pyserial URL, a udev match (resolved by ``rig.discovery``), or a spawned
  ``gbcs-rig emulate`` serving an emulated meter on a pty or TCP port (CI's serial path).
* ``zigbee``: the rig's tunnel manager over a radio backend: the emulated radio (meters in this
  process) or EZSP (a Silicon Labs stick, the optional ``zigbee`` extra).
* ``labgrid``: a labgrid place's serial port over RFC 2217 (``rig.transport.labgrid``, the
  optional ``labgrid`` extra); the place is acquired here and released when the link closes.

Each opener returns the transport and a stop function (a spawned emulator to end).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from rig.config.model import TransportKind, ZigbeeBackend
from rig.transport import Transport
from rig.transport.emulated import EmulatedTransport

if TYPE_CHECKING:
    from .session import RigSession

Opener = Callable[["RigSession"], tuple[Transport, Callable[[], None] | None]]


class HubLink:
    """The emulated comms hub as the rig's link reaches it (an ``Endpoint``): a frame goes to the
    hub, which routes it by its grouping header; after ``address(entity_id)`` the next frame is
    handed to that device on the hub's HAN whatever its header names (link-level addressing), so
    a wrongly addressed probe reaches the device under test and meets its own recipient check."""

    def __init__(self, hub):
        self.hub = hub
        self._address: bytes | None = None

    def address(self, entity_id: bytes) -> None:
        self._address = entity_id

    def receive(self, frame: bytes) -> list[bytes]:
        to, self._address = self._address, None
        return self.hub.forward(to, frame) if to is not None else self.hub.receive(frame)

    def poll(self) -> list[bytes]:
        return self.hub.poll()

    @property
    def settled(self) -> bool:
        """No device on the hub (nor the hub's own) holds output back: every frame they
        produced for what was sent is queued already (``EmulatedTransport.until_processed``).
        A device that holds its answers back (a slow profile) or has future-dated commands
        outstanding keeps the link unsettled, and so every wait to its deadline."""
        return not self.hub.outstanding


def _open_emulated(session: RigSession) -> tuple[Transport, None]:
    session.provision()
    session.transport_resolved = {"kind": "emulated", "in_process": True}
    return EmulatedTransport(HubLink(session.hub), name=f"emulated:{session.rig_id}"), None


def address_next(session: RigSession, entity_id: bytes) -> str | None:
    """Make the link deliver the next frame to ``entity_id`` whatever its header says: how, or
    None when this link cannot (a ZigBee bridge routes by the GBCS header)."""
    transport = session.transport
    if isinstance(transport, EmulatedTransport) and isinstance(transport.endpoint, HubLink):
        transport.endpoint.address(entity_id)
        return "addressed to the device on the emulated hub's HAN"
    if session.spec.transport.kind in (TransportKind.SERIAL, TransportKind.LABGRID):
        return "direct link to the device"
    return None


def _spawn_argv(argv: tuple[str, ...]) -> list[str]:
    """``gbcs-rig ...`` runs with this interpreter (the console script may not be on PATH)."""
    if argv and argv[0] == "gbcs-rig":
        return [sys.executable, "-m", "rig.cli.main", *argv[1:]]
    return list(argv)


def _resolve(spec, deadline: float) -> tuple[str, dict[str, str] | None]:
    """The port of a serial or EZSP transport and, when a udev ``match`` found it, the adapter's
    udev properties (what the report names as "resolved")."""
    from rig.discovery import resolve_port
    from rig.discovery.search import wait_for

    if getattr(spec, "url", None) or not getattr(spec, "match", None):
        return resolve_port(spec, deadline), None
    record = wait_for(spec.match, deadline)
    node = record.device_node or record.properties.get("DEVNAME")
    if not node:
        return resolve_port(spec, deadline), None
    return node, {str(k): str(v) for k, v in record.properties.items()}


def _endpoint(session: RigSession, kind: str) -> tuple[str, Callable[[], None] | None]:
    """Where a serial or EZSP link goes: a spawned emulator's port (``spawn``: ``gbcs-rig
    emulate`` or ``gbcs-rig ncp``, which print the port when ready) or the configured / udev
    matched one. Records what it resolved to on the session; returns the stop function of a
    spawned emulator."""
    from rig.transport import deadline_in
    from rig.transport.spawn import EmulatorProcess, runs_emulate

    spec = session.spec.transport
    if spec.spawn is not None:
        emulator = EmulatorProcess(argv=_spawn_argv(spec.spawn.argv), cwd=spec.spawn.cwd,
                                   ready_timeout=session.spec.timeouts.join, signal_processed=runs_emulate(spec.spawn.argv))
        port = emulator.start()
        session.transport_resolved = {"kind": kind, "url": port, "spawned": list(spec.spawn.argv)}
        return port, emulator.terminate
    port, udev = _resolve(spec, deadline_in(session.spec.timeouts.join))
    session.transport_resolved = {"kind": kind, "url": port, **({"udev": udev} if udev else {})}
    return port, None


def _framing(spec):
    """The framer a serial or labgrid link's ``framing`` and ``hdlc`` addresses name."""
    from rig.transport.framing import HdlcFramer

    if str(spec.framing) == "hdlc" and spec.hdlc is not None:
        return HdlcFramer.for_addresses("client", client=spec.hdlc.client, server=spec.hdlc.server,
                                        physical=spec.hdlc.physical)
    return str(spec.framing)


def _open_serial(session: RigSession) -> tuple[Transport, Callable[[], None] | None]:
    from rig.transport.serial_link import SerialTransport

    spec = session.spec.transport
    url, stop = _endpoint(session, "serial")
    framing = _framing(spec)
    try:
        # the rig's join timeout is how long a device may take to appear: to open, and to come
        # back after a power cycle or re-enumeration
        join = session.spec.timeouts.join
        transport = SerialTransport(url, framing=framing, name=f"serial:{session.rig_id}", open_timeout=join,
                                    reopen_timeout=join, **spec.serial.pyserial_kwargs())
    except Exception:
        if stop is not None:
            stop()
        raise
    return transport, stop


def _open_labgrid(session: RigSession) -> tuple[Transport, None]:
    from rig.transport.labgrid import open_labgrid

    spec = session.spec.transport
    transport, session.transport_resolved = open_labgrid(spec, name=f"labgrid:{session.rig_id}",
                                                         framing=_framing(spec), join=session.spec.timeouts.join)
    return transport, None  # closing the transport releases the place


def _zigbee_backend(session: RigSession) -> tuple[object, Callable[[], None] | None]:
    from rig.transport.zigbee import SLEEPY_DEVICE_TYPES, EmulatedRadio, node_for
    from rig.transport.zigbee.emulated import IN_PROCESS_POLL_INTERVAL

    spec = session.spec.transport
    if spec.backend is ZigbeeBackend.EMULATED:
        session.provision()
        session.transport_resolved = {"kind": "zigbee", "backend": "emulated", "in_process": True}
        sleepy = {"poll_interval": IN_PROCESS_POLL_INTERVAL} if session.device_type in SLEEPY_DEVICE_TYPES else {}
        return EmulatedRadio([node_for(session.device_type, session.device_id, session.device, **sleepy)]), None
    from rig.transport.zigbee.ezsp import EzspBackend

    device, stop = _endpoint(session, "zigbee")
    session.transport_resolved["backend"] = "ezsp"
    # bellows' names: "software" (XON/XOFF, what EZSP sticks mostly use), "hardware" (RTS/CTS)
    flow_control = {"xonxoff": "software", "rtscts": "hardware"}.get(str(spec.serial.flow_control), "none")
    backend = EzspBackend(device, baudrate=spec.serial.baudrate, flow_control=flow_control,
                          entity_id_order=str(spec.entity_id_order), channel=spec.channel, pan_id=spec.pan_id)
    return backend, stop


def _open_zigbee(session: RigSession) -> tuple[Transport, Callable[[], None] | None]:
    from rig.transport.zigbee import SLEEPY_DEVICE_TYPES, ZigbeeBridgeTransport

    spec = session.spec.transport
    meter = bytes.fromhex(spec.eui64) if spec.eui64 else session.device_id
    sleepy = [meter] if session.device_type in SLEEPY_DEVICE_TYPES else []
    backend, stop = _zigbee_backend(session)
    try:
        transport = ZigbeeBridgeTransport(backend, sleepy=sleepy, meter=meter, name=f"zigbee:{session.rig_id}")
    except Exception:
        if stop is not None:
            stop()
        raise
    return transport, stop


OPENERS: dict[TransportKind, Opener] = {
    TransportKind.EMULATED: _open_emulated,
    TransportKind.SERIAL: _open_serial,
    TransportKind.ZIGBEE: _open_zigbee,
    TransportKind.LABGRID: _open_labgrid,
}


def open_transport(session: RigSession) -> tuple[Transport, Callable[[], None] | None]:
    kind = session.spec.transport.kind
    opener = OPENERS.get(kind)
    if opener is None:
        raise NotImplementedError(f"rig {session.rig_id}: no transport for kind {kind!s}")
    return opener(session)


def rebind(session: RigSession) -> None:
    """After ``reset``: point an in-process link at the freshly provisioned device."""
    transport = session.transport
    if isinstance(transport, EmulatedTransport):
        transport.endpoint = HubLink(session.hub)
        transport._queue.clear()  # frames of the previous device are not this device's
        return
    nodes = getattr(getattr(transport, "backend", None), "nodes", {})  # the emulated radio's meters
    for node in nodes.values():
        node.endpoint = session.device
