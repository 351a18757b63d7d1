"""``DeviceRecord``: a frozen snapshot of one udev-like device and its ancestors.

Discovery returns snapshots, not live pyudev objects, so results can be kept, compared,
printed and sent to another thread after the port has gone; and so the list_ports fallback and
the tests can build the very same type without udev.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .match import UdevLike, attribute_value, key_value

#: sysfs attributes worth keeping in a snapshot (reading all of them is slow and can block)
SNAPSHOT_ATTRIBUTES = ("idVendor", "idProduct", "serial", "manufacturer", "product", "port_number",
                       "bInterfaceNumber", "interface")

#: what a person needs to tell adapters apart, in display order
DISPLAY_KEYS = ("ID_VENDOR_ID", "ID_MODEL_ID", "ID_SERIAL_SHORT", "ID_PATH", "ID_USB_INTERFACE_NUM",
                "ID_VENDOR", "ID_MODEL")


@dataclass(frozen=True)
class DeviceRecord:
    device_node: str | None
    subsystem: str | None
    properties: Mapping[str, str]
    attributes: Mapping[str, str]
    parent: DeviceRecord | None = None

    @classmethod
    def make(cls, device_node: str | None, subsystem: str | None, properties: Mapping[str, str] | None = None,
             attributes: Mapping[str, str] | None = None, parent: DeviceRecord | None = None) -> DeviceRecord:
        return cls(device_node, subsystem, MappingProxyType(dict(properties or {})),
                   MappingProxyType(dict(attributes or {})), parent)

    def get(self, key: str) -> str | None:
        """The value a match key reads on this device (``@`` keys from the ancestors)."""
        return key_value(self, key)

    def summary(self) -> dict[str, str]:
        """The identifying properties this device has, in display order."""
        return {key: value for key in DISPLAY_KEYS if (value := self.get(key)) is not None}

    def describe(self) -> str:
        details = " ".join(f"{key}={value}" for key, value in self.summary().items())
        return f"{self.device_node or '?'} ({details})" if details else f"{self.device_node or '?'}"


def snapshot(device: UdevLike) -> DeviceRecord:
    """Freeze a udev-like device (and its ancestors) into ``DeviceRecord``s."""
    if isinstance(device, DeviceRecord):
        return device
    parent = getattr(device, "parent", None)
    attributes = {name: value for name in SNAPSHOT_ATTRIBUTES if (value := attribute_value(device, name)) is not None}
    return DeviceRecord.make(
        device_node=getattr(device, "device_node", None),
        subsystem=getattr(device, "subsystem", None),
        properties={str(key): str(value) for key, value in (getattr(device, "properties", None) or {}).items()},
        attributes=attributes,
        parent=None if parent is None else snapshot(parent),
    )
