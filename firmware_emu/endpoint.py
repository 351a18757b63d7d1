"""The one interface every emulated device (and comms hub) offers to the outside world.

Devices are pure state machines: bytes in, frames out. A transport delivers a frame with
``receive`` and forwards whatever comes back; it calls ``poll`` while it waits, so frames a
device emits on its own (alerts of future-dated commands once the clock passes their time)
reach the rig too. Neither call blocks or performs I/O.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Endpoint(Protocol):
    def receive(self, frame: bytes) -> list[bytes]:
        """Process one inbound GBCS frame; return the frames emitted in reply (possibly none)."""
        ...

    def poll(self) -> list[bytes]:
        """Frames due now without an inbound frame (e.g. 0x8F66/0x8F67 alerts); usually none."""
        ...
