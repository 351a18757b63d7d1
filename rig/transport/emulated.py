"""In-process link to an emulated device or hub (the CI default): pymodbus's null modem idea."""

from __future__ import annotations

from firmware_emu.endpoint import Endpoint

from .base import QueueTransport


class EmulatedTransport(QueueTransport):
    """``send`` hands the frame to the endpoint; its replies and polled alerts are received."""

    name = "emulated"

    def __init__(self, endpoint: Endpoint, name: str = "emulated"):
        super().__init__()
        self.endpoint = endpoint
        self.name = name

    def _send(self, frame: bytes) -> None:
        for reply in self.endpoint.receive(frame):
            self._deliver(reply)

    def _service(self) -> None:
        for frame in self.endpoint.poll():
            self._deliver(frame)
