"""The contract every serial framing keeps: a pure incremental codec, no I/O.

``encode(payload)`` gives the bytes to write for one GBCS frame (possibly several link
frames); ``feed(data)`` takes whatever bytes a read returned, in any chunking, and gives back
the payloads completed by them. Bytes that do not form a valid frame are never returned:
they are dropped and counted, and the parser hunts for the next frame start (a resync).
``idle()`` tells the parser that the line has gone quiet, so a candidate frame that is
still waiting for bytes (typically a corrupted length field) is abandoned and the buffered
bytes are scanned again instead of stalling the link until more data arrives.

Feeding the same bytes in one call or one byte at a time gives the same payloads and the
same counters: every decision depends only on bytes already seen, never on chunk limits.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from typing import ClassVar

#: counters every framer keeps (framers add their own)
COMMON_COUNTERS = ("frames", "crc_errors", "resyncs", "discarded_bytes")


class Framer(ABC):
    """Incremental codec between GBCS frames and a byte stream."""

    name: ClassVar[str] = "framer"

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.counts: Counter[str] = Counter({key: 0 for key in COMMON_COUNTERS})

    @abstractmethod
    def encode(self, payload: bytes) -> bytes:
        """Wire bytes carrying ``payload``."""

    @abstractmethod
    def _parse(self) -> list[bytes]:
        """Consume as much of ``self._buffer`` as can be decided now; return completed payloads."""

    @abstractmethod
    def _abandon_candidate(self) -> None:
        """Give up on the frame candidate at the start of the buffer (``idle``)."""

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        self._buffer += data
        return self._parse()

    def idle(self) -> list[bytes]:
        """The line went quiet: abandon any stalled candidate and rescan what is buffered."""
        out: list[bytes] = []
        while self.has_partial:
            self._abandon_candidate()
            out += self._parse()
        return out

    @property
    def has_partial(self) -> bool:
        """True when buffered bytes wait for more input to be decided."""
        return bool(self._buffer)

    @property
    def stats(self) -> dict[str, int]:
        return dict(self.counts)

    @property
    def errors(self) -> int:
        """Everything that indicates damaged or lost input."""
        return sum(self.counts[key] for key in self.error_counters)

    #: counters summed by ``errors``
    error_counters: ClassVar[tuple[str, ...]] = ("crc_errors", "resyncs", "discarded_bytes")

    def reset(self) -> None:
        """Forget buffered bytes (counters are kept: they describe the whole link)."""
        self._buffer.clear()
