"""udev match dicts, decided on any object shaped like a udev device; no pyudev needed.

A match is ``{KEY: "value", "@KEY": "value"}``. A plain key must equal a udev property of the
device itself, or failing that one of its sysfs attributes; an ``@`` key must equal a property
or attribute of some ancestor (the USB interface, the USB device, a hub). Values compare as
exact strings: udev writes ``"10c4"`` and ``"10C4"`` would never match, which is the point -
a match must name one port and nothing else.

Devices are duck-typed: pyudev's ``Device``, our ``DeviceRecord`` snapshots and the plain
fakes of the tests all offer ``properties``, ``attributes``, ``parent``, ``device_node`` and
``subsystem``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol


class UdevLike(Protocol):
    @property
    def properties(self) -> Mapping[str, str]: ...

    @property
    def attributes(self) -> Any: ...  # ``.get(name)`` -> bytes | str | None

    @property
    def parent(self) -> UdevLike | None: ...

    @property
    def device_node(self) -> str | None: ...

    @property
    def subsystem(self) -> str | None: ...


#: every serial port is a tty: the one key a serial match always carries
SERIAL_IMPLIED = {"SUBSYSTEM": "tty"}


def serial_match(match: Mapping[str, str]) -> dict[str, str]:
    """The match as used for serial ports: ``SUBSYSTEM=tty`` unless the file says otherwise."""
    return {**SERIAL_IMPLIED, **match}


def property_value(device: UdevLike, name: str) -> str | None:
    value = (getattr(device, "properties", None) or {}).get(name)
    if value is None:  # records without a full property set still know these two
        value = {"SUBSYSTEM": getattr(device, "subsystem", None),
                 "DEVNAME": getattr(device, "device_node", None)}.get(name)
    return None if value is None else str(value)


def attribute_value(device: UdevLike, name: str) -> str | None:
    """A sysfs attribute as text; unreadable attributes count as absent rather than failing a scan."""
    attributes = getattr(device, "attributes", None)
    if attributes is None:
        return None
    try:
        value = attributes.get(name)
    except (OSError, ValueError, KeyError):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return None if value is None else str(value).rstrip("\n")


def value_of(device: UdevLike, name: str) -> str | None:
    """The device's property ``name``, else its attribute ``name``."""
    value = property_value(device, name)
    return value if value is not None else attribute_value(device, name)


def ancestors(device: UdevLike) -> Iterator[UdevLike]:
    parent = getattr(device, "parent", None)
    while parent is not None:
        yield parent
        parent = getattr(parent, "parent", None)


def ancestor_value(device: UdevLike, name: str) -> str | None:
    """The value of ``@name``: from the nearest ancestor that has it."""
    for ancestor in ancestors(device):
        value = value_of(ancestor, name)
        if value is not None:
            return value
    return None


def key_value(device: UdevLike, key: str) -> str | None:
    """What ``key`` of a match dict reads on ``device`` (``@`` keys: the nearest ancestor's value)."""
    return ancestor_value(device, key[1:]) if key.startswith("@") else value_of(device, key)


def matches(device: UdevLike, match: Mapping[str, str]) -> bool:
    """True when every key of ``match`` holds for ``device``.

    An ``@`` key holds when *any* ancestor has the value, not only the nearest one that has the
    name: ``@SUBSYSTEM = "usb"`` must find the USB device above the USB interface.
    """
    for key, wanted in match.items():
        if key.startswith("@"):
            if not any(value_of(ancestor, key[1:]) == wanted for ancestor in ancestors(device)):
                return False
        elif value_of(device, key) != wanted:
            return False
    return True
