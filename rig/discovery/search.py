"""``find``, ``wait_for`` and ``resolve_port``: from a match dict (or a transport spec) to a port.

Deadlines are absolute ``time.monotonic()`` values, as everywhere in ``rig.transport``, so a
caller can share one deadline between finding a port and opening it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from .backends import Backend, default_backend
from .match import UdevLike, ancestors, matches, property_value, serial_match
from .records import DeviceRecord, snapshot

#: longest single wait on a hot-plug monitor, so a missed event costs at most this long
MONITOR_STEP = 1.0
#: polling period when there is no monitor
POLL_INTERVAL = 0.25


class DiscoveryError(Exception):
    """No usable port for a match; ``candidates`` are the adapters that were seen."""

    def __init__(self, message: str, candidates: tuple[DeviceRecord, ...] = ()):
        super().__init__(message)
        self.candidates = candidates


class NoMatchError(DiscoveryError):
    pass


class AmbiguousMatchError(DiscoveryError):
    pass


class DiscoveryTimeout(NoMatchError):
    pass


def is_adapter(device: UdevLike) -> bool:
    """A serial port on a bus adapter (USB and the like), as opposed to a built-in UART slot."""
    if property_value(device, "ID_BUS") or property_value(device, "ID_VENDOR_ID"):
        return True
    return any(getattr(ancestor, "subsystem", None) == "usb" for ancestor in ancestors(device))


def is_hardware(device: UdevLike) -> bool:
    """Backed by a device at all: virtual consoles and pseudo-terminals have no parent."""
    return getattr(device, "parent", None) is not None or bool(property_value(device, "ID_VENDOR_ID"))


def adapters(backend: Backend | None = None, include_all: bool = False) -> list[DeviceRecord]:
    """Serial adapters seen now (with ``include_all``, every hardware serial port), by device node."""
    backend = backend or default_backend()
    keep = is_hardware if include_all else is_adapter
    records = [snapshot(device) for device in backend.devices() if keep(device)]
    return sorted(records, key=lambda record: record.device_node or "")


def find(match: Mapping[str, str], backend: Backend | None = None) -> list[DeviceRecord]:
    """Every serial port that ``match`` selects (``SUBSYSTEM=tty`` implied)."""
    backend = backend or default_backend()
    wanted = serial_match(match)
    return sorted((snapshot(device) for device in backend.devices() if matches(device, wanted)),
                  key=lambda record: record.device_node or "")


def _show(match: Mapping[str, str]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in match.items())


def _seen(candidates: list[DeviceRecord], backend: Backend) -> str:
    if not candidates:
        return f"no serial adapters seen (discovery: {backend.name})"
    return (f"adapters seen (discovery: {backend.name}): " + "; ".join(record.describe() for record in candidates)
            + " - `gbcs-rig devices` prints a match block for each")


def _ambiguous(match: Mapping[str, str], found: list[DeviceRecord]) -> AmbiguousMatchError:
    return AmbiguousMatchError(f"{len(found)} serial ports match {_show(match)}: "
                               + "; ".join(record.describe() for record in found)
                               + " - add a key that tells them apart (ID_SERIAL_SHORT, ID_USB_INTERFACE_NUM or ID_PATH)",
                               tuple(found))


def _one(match: Mapping[str, str], found: list[DeviceRecord], backend: Backend) -> DeviceRecord:
    if len(found) == 1:
        return found[0]
    if found:
        raise _ambiguous(match, found)
    seen = adapters(backend)
    raise NoMatchError(f"no serial port matches {_show(match)}; {_seen(seen, backend)}", tuple(seen))


def wait_for(match: Mapping[str, str], deadline: float, backend: Backend | None = None, *,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> DeviceRecord:
    """The one port ``match`` selects, waiting until ``deadline`` for it to be plugged in.

    Ports that exist only while the device is powered come and go; this waits on udev hot-plug
    events where there are some and polls otherwise. The monitor starts *before* the first look,
    so a port that appears in between is not missed. Two or more matches fail at once: waiting
    cannot make an ambiguous match unambiguous.
    """
    backend = backend or default_backend()
    monitor = backend.monitor()
    try:
        while True:
            found = find(match, backend)
            if len(found) == 1:
                return found[0]
            if found:
                raise _ambiguous(match, found)
            remaining = deadline - clock()
            if remaining <= 0:
                seen = adapters(backend)
                raise DiscoveryTimeout(f"no serial port matching {_show(match)} appeared before the deadline; "
                                       f"{_seen(seen, backend)}", tuple(seen))
            if monitor is not None:
                monitor.wait(min(remaining, MONITOR_STEP))
            else:
                sleep(min(remaining, POLL_INTERVAL))
    finally:
        if monitor is not None:
            monitor.close()


def resolve_port(transport: Any, deadline: float | None = None, backend: Backend | None = None) -> str:
    """The pyserial URL or device node for a serial or ZigBee transport spec.

    ``url`` wins as written; otherwise ``match`` is looked up now (or, with a ``deadline``,
    awaited). Errors name the adapters that were seen, so a lab engineer can fix the match.
    """
    url = getattr(transport, "url", None)
    if url:
        return url
    match = getattr(transport, "match", None)
    if not match:
        kind = getattr(transport, "kind", "this")
        why = (" (it is spawned: its URL comes from the READY line of the started process)"
               if getattr(transport, "spawn", None) else "")
        raise DiscoveryError(f"a {kind} transport without url or match has no port to resolve{why}")
    backend = backend or default_backend()
    record = wait_for(match, deadline, backend) if deadline is not None else _one(match, find(match, backend), backend)
    node = record.device_node or record.properties.get("DEVNAME")
    if not node:
        raise DiscoveryError(f"the port matching {_show(match)} has no device node", (record,))
    return node
