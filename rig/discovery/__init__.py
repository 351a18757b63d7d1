"""Finding serial adapters: udev match dicts (``@`` keys for ancestors), hot-plug waits.

``find(match)`` lists the ports a match selects, ``wait_for(match, deadline)`` awaits exactly
one, and ``resolve_port(transport_spec)`` gives a transport the URL or device node to open.
udev (pyudev, imported lazily, Linux only) is used where its database exists; elsewhere
pyserial's ``list_ports`` supplies the same property names.
"""

from .backends import Backend, ListPortsBackend, Monitor, UdevBackend, default_backend, record_from_port, udev_backend
from .match import matches, serial_match
from .records import DeviceRecord, snapshot
from .search import (
    AmbiguousMatchError,
    DiscoveryError,
    DiscoveryTimeout,
    NoMatchError,
    adapters,
    find,
    is_adapter,
    resolve_port,
    wait_for,
)
from .suggest import match_block, suggest_match

__all__ = ["AmbiguousMatchError", "Backend", "DeviceRecord", "DiscoveryError", "DiscoveryTimeout", "ListPortsBackend",
           "Monitor", "NoMatchError", "UdevBackend", "adapters", "default_backend", "find", "is_adapter", "match_block", "matches",
           "record_from_port", "resolve_port", "serial_match", "snapshot", "suggest_match", "udev_backend", "wait_for"]
