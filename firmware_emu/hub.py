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
        #: endpoints ``poll`` asks, by identity: every endpoint just routed or woken, kept while
        #: it has output outstanding (endpoints that cannot say stay for good)
        self._active: dict[int, Endpoint] = {}
        self._routes: dict[bytes, Endpoint] = _Routes(self)
        self._routes[chf.entity_id] = chf
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

    def route(self, device: Endpoint) -> None:
        """Route frames for ``device`` by its entity id without adding it to the device log (a
        restarted hub's log is its own persisted state; the route is the HAN's)."""
        self._routes[device.entity_id] = device

    @property
    def outstanding(self) -> bool:
        """Some endpoint on the hub holds output back (a held answer, a future-dated command):
        what was sent has not produced all it will yet. Asks only the endpoints ``poll`` asks,
        which include every one with output outstanding (those that cannot say count as
        outstanding)."""
        return any(getattr(endpoint, "outstanding", True) for endpoint in list(self._active.values()))

    def leave(self, entity_id: bytes) -> None:
        self.device_log.pop(entity_id, None)
        self._routes.pop(entity_id, None)
        self.chf.log(0x8F12, f"device log: removed {entity_id.hex().upper()}")
        self.chf.save()

    def receive(self, frame: bytes) -> list[bytes]:
        # the grouping header alone routes a frame: read it without decoding the whole frame
        # (the device decodes it anyway); a decodable frame's header always reads this way
        endpoint = self._routes.get(routing_recipient(frame) or b"")
        if endpoint is not None:
            return endpoint.receive(frame)
        try:
            recipient = decode(frame).recipient_id
        except GbcsDecodeError:
            # a frame broken further on whose header names a device went to it above; one whose
            # header is unreadable, or names no device on the log, cannot be routed
            return self.chf.receive(frame)  # the CHF logs the integrity failure
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
        """What any routed endpoint emits; O(1) per call in the devices on the log: only the
        endpoints with output outstanding are asked (an emulated device wakes its hubs when it
        schedules a command or holds a frame back, however the frame reached it)."""
        out: list[bytes] = []
        for key, endpoint in list(self._active.items()):
            out.extend(endpoint.poll())
            if not getattr(endpoint, "outstanding", True):
                self._active.pop(key, None)
        return out

    def _woken(self, device: EmulatedDevice) -> None:
        """A routed device has output outstanding: poll it again."""
        if self._routes.get(device.entity_id) is device:
            self._active[id(device)] = device


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


class _Routes(dict):
    """The hub's routes: an endpoint routed here, by ``join`` or directly, is polled until it
    has no output outstanding, and an emulated device wakes the hub when it has some again."""

    def __init__(self, hub: CommsHub):
        super().__init__()
        self._hub = hub

    def __setitem__(self, entity_id: bytes, endpoint: Endpoint) -> None:
        super().__setitem__(entity_id, endpoint)
        hub = self._hub
        hub._active[id(endpoint)] = endpoint
        wakers = getattr(endpoint, "_wakers", None)
        if wakers is not None and not any(getattr(w, "__self__", None) is hub for w in wakers):
            endpoint._wakers = (*wakers, hub._woken)

    def pop(self, entity_id: bytes, *default):
        endpoint = super().pop(entity_id, *default)
        self._forget(endpoint)
        return endpoint

    def __delitem__(self, entity_id: bytes) -> None:
        endpoint = self[entity_id]
        super().__delitem__(entity_id)
        self._forget(endpoint)

    def _forget(self, endpoint: Endpoint | None) -> None:
        if endpoint is not None and all(e is not endpoint for e in self.values()):
            self._hub._active.pop(id(endpoint), None)
