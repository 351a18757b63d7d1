"""One transport interface for emulated, serial and ZigBee-bridge links.

``send(frame)`` writes one GBCS frame; ``recv(predicate, deadline)`` returns the first received
frame the predicate accepts, waiting at most until ``deadline`` (an absolute
``time.monotonic()`` value). Frames the predicate does not accept stay queued for later
``recv`` calls, so nothing is lost between tests. Every frame in either direction goes into the
``FrameLog`` (timestamp, direction, raw hex, decoded summary).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


class TransportError(Exception):
    """Base of every transport failure."""


class TransportTimeout(TransportError):
    """The deadline passed without a matching frame."""


class LinkLost(TransportError):
    """The link went away (port vanished, peer closed) and could not be restored in time."""


class FramingError(TransportError):
    """Bytes that do not form a valid frame; carries the framer's counters."""

    def __init__(self, message: str, counts: dict[str, int] | None = None):
        super().__init__(message)
        self.counts = dict(counts or {})


class Direction(enum.Enum):
    TX = "tx"
    RX = "rx"


def summarise(data: bytes) -> str:
    """One-line decoded summary of a GBCS frame for logs (never raises)."""
    from rig.gbcs import GbcsDecodeError, decode
    from rig.gbcs.tables import message_code_label

    try:
        message = decode(data)
    except GbcsDecodeError as err:
        return f"undecodable: {err}"
    return (f"{message.cra_flag.name} 0x{message.message_code:04X} {message_code_label(message.message_code)} "
            f"{message.originator_id.hex().upper()}->{message.recipient_id.hex().upper()} "
            f"ctr {message.originator_counter}")


@dataclass(frozen=True)
class Frame:
    """One frame as it crossed the link."""

    data: bytes
    direction: Direction
    timestamp: float = field(default_factory=time.time)
    #: transport-specific origin (e.g. EUI-64 of a ZigBee node, serial port)
    source: str = ""

    @property
    def hex(self) -> str:
        return self.data.hex().upper()


#: every frame sent or received, as a decoded one-liner at DEBUG (``gbcs-rig -vv``, ``--log-level debug``)
FRAME_LOGGER = logging.getLogger("rig.frames")


class FrameLog:
    """Append-only, thread-safe record of the frames of one transport."""

    def __init__(self) -> None:
        self._frames: list[Frame] = []
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Frame], None]] = []

    def append(self, frame: Frame) -> None:
        with self._lock:
            self._frames.append(frame)
            listeners = list(self._listeners)
        if FRAME_LOGGER.isEnabledFor(logging.DEBUG):
            FRAME_LOGGER.debug("%s %s (%d bytes)", frame.direction.value, summarise(frame.data), len(frame.data))
        for listener in listeners:
            listener(frame)

    def subscribe(self, listener: Callable[[Frame], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Frame], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def mark(self) -> int:
        with self._lock:
            return len(self._frames)

    def since(self, mark: int = 0) -> list[Frame]:
        with self._lock:
            return list(self._frames[mark:])

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.since(0))

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    @staticmethod
    def format(frame: Frame) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(frame.timestamp)) + f".{int(frame.timestamp % 1 * 1000):03d}Z"
        return f"{stamp} {frame.direction.value} {frame.hex} {summarise(frame.data)}"

    def dump(self, path: str | Path, mark: int = 0) -> Path:
        """Write a trace file: one line per frame (timestamp, direction, hex, decoded summary)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(self.format(frame) + "\n" for frame in self.since(mark)))
        return target


def deadline_in(seconds: float) -> float:
    return time.monotonic() + seconds


Predicate = Callable[[Frame], bool]


class Transport(ABC):
    """A link to one device (or to a comms hub fronting several)."""

    name: str = "transport"

    def __init__(self) -> None:
        self.log = FrameLog()

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def send(self, frame: bytes) -> None: ...

    @abstractmethod
    def recv(self, predicate: Predicate | None, deadline: float) -> Frame: ...

    @property
    def stats(self) -> dict[str, int]:
        return {}

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ProcessedScope:
    """A link that can tell when the last frame sent has been processed by the far end (the
    emulator's processed signal, an in-process device): ``recv`` ends early only inside
    ``until_processed``; outside it every wait runs to its deadline."""

    _until_processed = 0

    @contextlib.contextmanager
    def until_processed(self) -> Iterator[None]:
        """Waits inside may end once the last frame sent is known processed."""
        self._until_processed += 1
        try:
            yield
        finally:
            self._until_processed -= 1


class QueueTransport(Transport):
    """Shared receive side: frames are queued as they arrive and matched by predicate.

    Subclasses call ``_deliver`` for every received frame and implement ``_send`` and
    ``_service`` (called while ``recv`` waits: read a port, poll an emulated device).
    """

    #: longest wait between two ``_service`` calls while blocked in ``recv``
    service_interval = 0.01

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._open = False

    def open(self) -> None:
        self._open = True

    def close(self) -> None:
        self._open = False
        with self._cond:
            self._cond.notify_all()

    @property
    def is_open(self) -> bool:
        return self._open

    def send(self, frame: bytes) -> None:
        if not self._open:
            raise LinkLost(f"{self.name} is not open")
        self.log.append(Frame(bytes(frame), Direction.TX))
        self._send(bytes(frame))

    @abstractmethod
    def _send(self, frame: bytes) -> None: ...

    def _service(self) -> None:
        """Fetch pending input (default: nothing; a reader thread delivers)."""

    def _deliver(self, data: bytes, source: str = "") -> None:
        frame = Frame(bytes(data), Direction.RX, source=source)
        self.log.append(frame)
        with self._cond:
            self._queue.append(frame)
            self._cond.notify_all()

    def pending(self) -> list[Frame]:
        with self._cond:
            return list(self._queue)

    def _take(self, predicate: Predicate | None) -> Frame | None:
        for index, frame in enumerate(self._queue):
            if predicate is None or predicate(frame):
                del self._queue[index]
                return frame
        return None

    def _check_failure(self) -> None:
        """Raise ``LinkLost`` when the link failed while nobody was reading (a subclass hook,
        called once the frames already received have been offered)."""

    def recv(self, predicate: Predicate | None, deadline: float) -> Frame:
        while True:
            if not self._open:
                raise LinkLost(f"{self.name} is closed")
            self._service()
            with self._cond:
                frame = self._take(predicate)
                if frame is not None:
                    return frame
                self._check_failure()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TransportTimeout(f"{self.name}: no matching frame before the deadline "
                                           f"({len(self._queue)} other frame(s) queued)")
                self._cond.wait(min(remaining, self.service_interval))
