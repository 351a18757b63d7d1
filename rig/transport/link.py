"""What the serial and ZigBee-bridge transports share on top of ``QueueTransport``.

* A link can fail while nobody is reading (a reader thread sees the port vanish and gives
  up reopening it). The failure is remembered and raised as ``LinkLost`` by the next
  ``recv`` or ``send``; frames that arrived before it are still handed out first, so
  nothing already received is lost.
* ``WireTaps``: byte-level hooks on the encoded stream (after framing on the way out,
  before de-framing on the way in). ``rig.transport.faults`` installs corruption and
  byte-splitting there, so the framer, not the GBCS decoder, is what must catch them.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import LinkLost, QueueTransport

ChunkFilter = Callable[[bytes], list[bytes]]


class WireTaps:
    """Optional filters over the wire bytes of one link (identity when unset)."""

    def __init__(self) -> None:
        self.tx: ChunkFilter | None = None
        self.rx: ChunkFilter | None = None

    def outgoing(self, data: bytes) -> list[bytes]:
        return self.tx(data) if self.tx is not None else [data]

    def incoming(self, data: bytes) -> list[bytes]:
        return self.rx(data) if self.rx is not None else [data]

    def clear(self) -> None:
        self.tx = self.rx = None


class LinkTransport(QueueTransport):
    """``QueueTransport`` plus a remembered link failure and wire taps."""

    def __init__(self) -> None:
        super().__init__()
        self.wire = WireTaps()
        self._failure: str | None = None

    def open(self) -> None:
        self._failure = None
        super().open()

    @property
    def failure(self) -> str | None:
        """Why the link was lost, or None while it is healthy."""
        return self._failure

    def _fail(self, reason: str) -> None:
        """Record that the link is gone for good; wakes every waiting ``recv``."""
        with self._cond:
            if self._failure is None:
                self._failure = reason
            self._cond.notify_all()

    def _check_failure(self) -> None:
        if self._failure is not None:
            raise LinkLost(f"{self.name}: {self._failure}")

    def send(self, frame: bytes) -> None:
        self._check_failure()
        super().send(frame)
