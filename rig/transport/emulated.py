"""In-process link to an emulated device or hub (the CI default): pymodbus's null modem idea."""

from __future__ import annotations

import time

from firmware_emu.endpoint import Endpoint

from .base import Frame, Predicate, ProcessedScope, QueueTransport


class EmulatedTransport(ProcessedScope, QueueTransport):
    """``send`` hands the frame to the endpoint; its replies and polled alerts are received.

    The in-process analogue of the emulator's processed signal (``rig.harness.processed``):
    ``send`` returns only once the endpoint has processed the frame and every reply is queued,
    so inside ``until_processed`` a wait for a frame that is not there ends at once (after one
    poll, for what the endpoint emits on its own), as it would at its deadline. Only while the
    endpoint holds nothing back (``settled``): a model that delays its answers, or has
    future-dated commands outstanding, keeps every wait to its deadline. It only shortens waits,
    never makes evidence: what is not received is still missing.
    """

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

    @property
    def settled(self) -> bool:
        """The endpoint holds no output back: all it produced for the frames sent is queued (or
        comes out on the next poll). An endpoint that cannot say is never settled."""
        settled = getattr(self.endpoint, "settled", None)
        if settled is not None:
            return bool(settled)
        outstanding = getattr(self.endpoint, "outstanding", None)
        return outstanding is not None and not outstanding

    def recv(self, predicate: Predicate | None, deadline: float) -> Frame:
        if self._until_processed and self.settled:
            deadline = min(deadline, time.monotonic())  # one pass: poll, take what is queued, else time out
        return super().recv(predicate, deadline)
