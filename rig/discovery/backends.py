"""Where device records come from: udev on Linux, pyserial's ``list_ports`` everywhere else.

pyudev is imported here, lazily and only on Linux, so nothing else in the rig (and nothing in
an emulated CI run) pays for it or needs it installed. udev is used only when its database is
there: in a container without udevd the ``ID_*`` properties are missing and every match would
fail, while ``list_ports`` still reads vendor, product and serial from sysfs itself.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from .match import UdevLike
from .records import DeviceRecord


class Monitor(Protocol):
    """A source of hot-plug events; ``wait`` returns True when a tty event arrived in time."""

    def wait(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


class Backend(Protocol):
    name: str

    def devices(self) -> Iterable[UdevLike]:
        """Every tty device (serial port) the system has now."""
        ...

    def monitor(self) -> Monitor | None:
        """A hot-plug event source, or ``None`` when callers must poll."""
        ...


class UdevBackend:
    name = "udev"

    def __init__(self, pyudev: Any, context: Any):
        self._pyudev = pyudev
        self._context = context

    def devices(self) -> Iterable[UdevLike]:
        return list(self._context.list_devices(subsystem="tty"))

    def monitor(self) -> Monitor | None:
        try:
            monitor = self._pyudev.Monitor.from_netlink(self._context)
            monitor.filter_by("tty")
            monitor.start()
        except OSError:  # no netlink access (some containers): fall back to polling
            return None
        return _UdevMonitor(monitor)


class _UdevMonitor:
    def __init__(self, monitor: Any):
        self._monitor = monitor

    def wait(self, timeout: float) -> bool:
        return self._monitor is not None and self._monitor.poll(timeout=max(timeout, 0.001)) is not None

    def close(self) -> None:
        self._monitor = None  # pyudev releases the netlink socket when the monitor is collected


def udev_backend() -> UdevBackend | None:
    """The udev backend if this is Linux with pyudev, libudev and a udev database; else ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        pyudev = importlib.import_module("pyudev")
        context = pyudev.Context()
    except (ImportError, OSError):
        return None
    if not (Path(context.run_path) / "data").is_dir():
        return None
    return UdevBackend(pyudev, context)


#: ``1-1.2:1.0`` (Linux) or ``1-1.2:x.0`` (Windows): the USB interface number follows the last dot
_INTERFACE_IN_LOCATION = re.compile(r":(?:\d+|x)\.(\d+)$")


def record_from_port(port: Any) -> DeviceRecord:
    """A ``ListPortInfo`` as a udev-shaped record: the same property names a match uses on Linux.

    ``ID_PATH`` carries pyserial's ``location``, whose format is the platform's own (a match
    written from ``gbcs-rig devices`` on that platform uses it consistently). The USB device's
    ids also appear as attributes of a parent record, so ``@idVendor``-style keys work too.
    """
    properties = {"DEVNAME": port.device, "SUBSYSTEM": "tty"}
    usb: dict[str, str] = {}
    if port.vid is not None:
        properties["ID_VENDOR_ID"] = usb["idVendor"] = f"{port.vid:04x}"
    if port.pid is not None:
        properties["ID_MODEL_ID"] = usb["idProduct"] = f"{port.pid:04x}"
    for prop, attribute, value in (("ID_SERIAL_SHORT", "serial", port.serial_number),
                                   ("ID_VENDOR", "manufacturer", port.manufacturer),
                                   ("ID_MODEL", "product", port.product)):
        if value:
            properties[prop] = usb[attribute] = str(value)
    if port.location:
        properties["ID_PATH"] = str(port.location)
        interface = _INTERFACE_IN_LOCATION.search(str(port.location))
        if interface:
            properties["ID_USB_INTERFACE_NUM"] = f"{int(interface.group(1)):02x}"
    # list_ports reports only ports backed by hardware: give each the parent a udev tty would have
    parent_subsystem = "usb" if port.vid is not None else (getattr(port, "subsystem", None) or "serial")
    parent = DeviceRecord.make(None, parent_subsystem, attributes=usb)
    return DeviceRecord.make(port.device, "tty", properties, parent=parent)


class ListPortsBackend:
    name = "list_ports"

    def __init__(self, comports: Callable[[], Iterable[Any]] | None = None):
        self._comports = comports

    def devices(self) -> Iterable[UdevLike]:
        comports = self._comports
        if comports is None:
            from serial.tools import list_ports

            comports = list_ports.comports
        return [record_from_port(port) for port in comports()]

    def monitor(self) -> Monitor | None:
        return None


def default_backend() -> Backend:
    return udev_backend() or ListPortsBackend()
