"""An emulated communications hub: the CHF, the GPF and the devices on its device log.

The hub fronts every device it serves on one link (as a real comms hub does on the WAN): a
frame goes to the device whose entity id is the grouping-header recipient (read from the header
alone, so a frame broken further on still reaches that device, whose own checks discard it),
``forward`` hands a frame to a device by its HAN address whatever its header names, and ``poll``
gathers what any of them emits. Joining a device adds it to the device log; the rig's DCC
side is told separately (a real DCC learns it from the CCS01 it sent).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from rig.gbcs import GbcsDecodeError, decode

from .device import EmulatedDevice
from .device_types import DeviceType
from .endpoint import Endpoint


@dataclass(frozen=True)
class DeviceLogEntry:
    entity_id: bytes
    device_type: DeviceType
    joined_at: _dt.datetime


class CommsHub:
    """Routes frames to the CHF, the GPF and joined devices (implements ``Endpoint``)."""

    def __init__(self, chf: EmulatedDevice, gpf: EmulatedDevice | None = None):
        self.chf = chf
        self.gpf = gpf
        self._routes: dict[bytes, Endpoint] = {chf.entity_id: chf}
        if gpf is not None:
            self._routes[gpf.entity_id] = gpf
        self.device_log: dict[bytes, DeviceLogEntry] = {}
        self.undeliverable = 0

    @property
    def devices(self) -> dict[bytes, Endpoint]:
        return dict(self._routes)

    def join(self, device: EmulatedDevice) -> DeviceLogEntry:
        """Add ``device`` to the CHF device log (method A/B joining itself is not emulated)."""
        entry = DeviceLogEntry(device.entity_id, device.device_type, self.chf.now())
        self.device_log[device.entity_id] = entry
        self._routes[device.entity_id] = device
        self.chf.log(0x8F12, f"device log: added {device.entity_id.hex().upper()} ({device.device_type.value})")
        self.chf.save()
        return entry

    def leave(self, entity_id: bytes) -> None:
        self.device_log.pop(entity_id, None)
        self._routes.pop(entity_id, None)
        self.chf.log(0x8F12, f"device log: removed {entity_id.hex().upper()}")
        self.chf.save()

    def receive(self, frame: bytes) -> list[bytes]:
        try:
            recipient = decode(frame).recipient_id
        except GbcsDecodeError:
            # a hub routes by the grouping header alone: a frame broken further on still reaches
            # its recipient, whose own checks discard it; one whose header is unreadable cannot
            recipient = routing_recipient(frame)
            if recipient is None or recipient not in self._routes:
                return self.chf.receive(frame)  # the CHF logs the integrity failure
            return self._routes[recipient].receive(frame)
        endpoint = self._routes.get(recipient)
        if endpoint is None:
            self.undeliverable += 1
            snapshot = self.chf.state.snapshot()
            try:
                self.chf.log(0x8F84, f"no device {recipient.hex().upper()} on the device log")
                self.chf.save()
            except Exception:  # like the devices it fronts, the hub never raises: the log entry is lost
                self.chf.state.restore(snapshot)
            return []
        return endpoint.receive(frame)

    def forward(self, entity_id: bytes, frame: bytes) -> list[bytes]:
        """Hand ``frame`` to the device on the device log with ``entity_id`` (its HAN address),
        whatever its grouping header names: the device's own recipient check then applies. The
        rig uses it to deliver a wrongly addressed probe to the device under test."""
        endpoint = self._routes.get(entity_id)
        return endpoint.receive(frame) if endpoint is not None else []

    def poll(self) -> list[bytes]:
        out: list[bytes] = []
        for endpoint in list(self._routes.values()):
            out.extend(endpoint.poll())
        return out


def routing_recipient(frame: bytes) -> bytes | None:
    """The recipient system title of a frame's grouping header (after an optional MAC header),
    read without decoding the rest; None when the header is not there."""
    at = 0
    if frame[:1] == b"\xdd":  # general ciphering: tag, six field octets, length, SC, IC
        at = 7
        if len(frame) <= at:
            return None
        first = frame[at]
        at += 1 + (first & 0x7F if first & 0x80 else 0) + 1 + 4
    header = frame[at:at + 29]
    if len(header) < 29 or header[0] != 0xDF or header[1] != 0x09 or header[11] != 0x08 or header[20] != 0x08:
        return None
    return bytes(header[21:29])
