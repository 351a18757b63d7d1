"""Fault injection around any transport: drop, delay, corrupt, split into single bytes, duplicate.

``FaultyTransport(inner, FaultPlan(...))`` is itself a ``Transport`` and shares the inner
transport's frame log. Decisions come from seeded ``random.Random`` streams, one per
direction (and one for received wire chunks), so a test that sends the same frames gets the
same faults on every run, whatever the timing of the other direction.

Where each fault acts:

* **drop, duplicate, delay** act on whole GBCS frames: on ``send`` before the inner transport
  sees the frame, and on receive before the frame is queued (a dropped frame never reaches
  the log or ``recv``; it is recorded in ``events``). A dropped command or response surfaces
  as ``TransportTimeout`` from ``recv``.
* **corrupt** flips one bit. On links with wire taps (serial, the emulated ZigBee radio) it
  flips a bit of the *encoded* bytes, so the framer (HDLC HCS/FCS, CRC-32, or the radio's
  FCS) must detect it: the frame is counted in the framer's error counters and never
  decoded. On links without a byte stream (the in-process emulated pair) the GBCS frame
  itself is damaged, and the far end's decoder and signature check must reject it.
* **split** writes and feeds the wire bytes one at a time (byte-stream links only), which
  exercises every partial-frame path of the framers.

Received wire chunks are whatever the OS returned from one read, so with a corruption
probability strictly between 0 and 1 which *frame* a flipped bit lands in depends on timing;
the sequence of decisions is still seeded. Use probability 1 (or TX corruption, which is
decided per sent frame) where a test needs exact outcomes.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from .base import Direction, Frame, Predicate, QueueTransport, Transport, TransportTimeout
from .link import WireTaps

BOTH = frozenset({Direction.TX, Direction.RX})
#: while RX delays are planned, held frames are looked at this often during ``recv``
_HOLD_CHECK_INTERVAL = 0.02


@dataclass(frozen=True)
class FaultPlan:
    """Probabilities (0..1) of each fault per frame; ``split`` applies to every wire write/read."""

    seed: int = 0
    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    delay_s: float = 0.05
    corrupt: float = 0.0
    split: bool = False
    directions: frozenset[Direction] = BOTH

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "delay", "corrupt"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a probability, not {value}")
        if self.delay_s < 0:
            raise ValueError("delay_s must be >= 0")

    def only(self, direction: Direction) -> FaultPlan:
        return replace(self, directions=frozenset({direction}))


NO_FAULTS = FaultPlan()


@dataclass(frozen=True)
class FaultEvent:
    """One injected fault, for evidence in test reports."""

    kind: str
    direction: Direction
    index: int
    detail: str = ""
    timestamp: float = field(default_factory=time.time)


def flip_bit(data: bytes, rng: random.Random) -> tuple[bytes, int, int]:
    """``data`` with one bit flipped at a random position; also the octet index and bit."""
    position = rng.randrange(len(data))
    bit = rng.randrange(8)
    out = bytearray(data)
    out[position] ^= 1 << bit
    return bytes(out), position, bit


class FaultyTransport(Transport):
    """Wraps ``inner``; see the module docstring for where each fault is applied."""

    def __init__(self, inner: Transport, plan: FaultPlan = NO_FAULTS):
        super().__init__()
        self.inner = inner
        self.log = inner.log
        self.name = f"faulty({inner.name})"
        self.counts: Counter[str] = Counter()
        self.events: list[FaultEvent] = []
        self._lock = threading.Lock()
        self._held: list[tuple[float, bytes, str]] = []
        self._index = {Direction.TX: 0, Direction.RX: 0}
        self._corrupt_next_tx = 0
        self._taps: WireTaps | None = getattr(inner, "wire", None)
        self.plan = plan
        self._original_deliver = None
        if isinstance(inner, QueueTransport):
            self._original_deliver = inner._deliver
            inner._deliver = self._deliver_with_faults  # type: ignore[method-assign]
        if self._taps is not None:
            self._taps.tx = self._wire_tx
            self._taps.rx = self._wire_rx

    # -- plan --------------------------------------------------------------------------------
    @property
    def plan(self) -> FaultPlan:
        return self._plan

    @plan.setter
    def plan(self, plan: FaultPlan) -> None:
        """A new plan restarts the seeded decision streams."""
        with self._lock:
            self._plan = plan
            self._corrupt_next_tx = 0
            self._rng = {Direction.TX: random.Random(f"{plan.seed}:tx"), Direction.RX: random.Random(f"{plan.seed}:rx")}
            self._wire_rng = random.Random(f"{plan.seed}:wire-rx")

    @contextlib.contextmanager
    def injecting(self, plan: FaultPlan) -> Iterator[FaultyTransport]:
        """Apply ``plan`` inside the block, then go back to the previous plan."""
        previous = self.plan
        self.plan = plan
        try:
            yield self
        finally:
            self.plan = previous

    @property
    def byte_level(self) -> bool:
        """True when corruption and splitting act on wire bytes (the inner link has wire taps)."""
        return self._taps is not None

    def decisions(self, direction: Direction) -> int:
        """How many frames have been through the fault decisions in ``direction`` (event indices count from 1)."""
        with self._lock:
            return self._index[direction]

    def _active(self, direction: Direction) -> bool:
        return direction in self._plan.directions

    def _decide(self, direction: Direction) -> dict[str, bool]:
        """Draw every decision for one frame (always the same number of draws per frame)."""
        rng, plan = self._rng[direction], self._plan
        draws = [rng.random() for _ in range(4)]
        return {"drop": draws[0] < plan.drop, "duplicate": draws[1] < plan.duplicate,
                "delay": draws[2] < plan.delay, "corrupt": draws[3] < plan.corrupt}

    def _event(self, kind: str, direction: Direction, detail: str = "") -> None:
        self.counts[f"{direction.value}_{kind}"] += 1
        self.events.append(FaultEvent(kind, direction, self._index[direction], detail))

    # -- transport ---------------------------------------------------------------------------
    def open(self) -> None:
        self.inner.open()

    def close(self) -> None:
        self.inner.close()
        with self._lock:
            self._held.clear()

    @property
    def stats(self) -> dict[str, int]:
        return {**self.inner.stats, **{f"fault_{k}": v for k, v in self.counts.items()}}

    def send(self, frame: bytes) -> None:
        frame = bytes(frame)
        if not self._active(Direction.TX):
            self.inner.send(frame)
            return
        with self._lock:
            decision = self._decide(Direction.TX)
            self._index[Direction.TX] += 1
            if decision["drop"]:
                self._event("drop", Direction.TX, frame.hex().upper())
                return
            if decision["corrupt"]:
                if self.byte_level:
                    self._corrupt_next_tx += 1  # the next wire transmission carries the flip
                else:
                    frame, position, bit = flip_bit(frame, self._rng[Direction.TX])
                    self._event("corrupt", Direction.TX, f"octet {position} bit {bit}")
            if decision["delay"]:
                self._event("delay", Direction.TX, f"{self._plan.delay_s}s")
            if decision["duplicate"]:
                self._event("duplicate", Direction.TX)
        if decision["delay"]:
            time.sleep(self._plan.delay_s)
        self.inner.send(frame)
        if decision["duplicate"]:
            self.inner.send(frame)

    def recv(self, predicate: Predicate | None, deadline: float) -> Frame:
        while True:
            next_due = self._release_due()
            until = deadline if next_due is None else min(deadline, next_due)
            if self._plan.delay:  # frames may be held at any moment (reader threads): look again soon
                until = min(until, time.monotonic() + _HOLD_CHECK_INTERVAL)
            try:
                return self.inner.recv(predicate, until)
            except TransportTimeout:
                if time.monotonic() >= deadline:
                    raise

    # -- receive side ------------------------------------------------------------------------
    def _deliver_with_faults(self, data: bytes, source: str = "") -> None:
        assert self._original_deliver is not None
        if not self._active(Direction.RX):
            self._original_deliver(data, source)
            return
        with self._lock:
            decision = self._decide(Direction.RX)
            self._index[Direction.RX] += 1
            if decision["drop"]:
                self._event("drop", Direction.RX, bytes(data).hex().upper())
                return
            if decision["corrupt"] and not self.byte_level:
                data, position, bit = flip_bit(bytes(data), self._rng[Direction.RX])
                self._event("corrupt", Direction.RX, f"octet {position} bit {bit}")
            copies = 2 if decision["duplicate"] else 1
            if decision["duplicate"]:
                self._event("duplicate", Direction.RX)
            if decision["delay"]:
                self._event("delay", Direction.RX, f"{self._plan.delay_s}s")
                due = time.monotonic() + self._plan.delay_s
                self._held.extend([(due, bytes(data), source)] * copies)
                return
        for _ in range(copies):
            self._original_deliver(data, source)

    def _release_due(self) -> float | None:
        """Deliver held frames whose delay is over; the next due time, if any remain."""
        if self._original_deliver is None:
            return None
        now = time.monotonic()
        with self._lock:
            due = [item for item in self._held if item[0] <= now]
            self._held = [item for item in self._held if item[0] > now]
            next_due = min((item[0] for item in self._held), default=None)
        for _due, data, source in due:
            self._original_deliver(data, source)
        return next_due

    # -- wire taps (byte-stream links) -------------------------------------------------------
    def _wire_tx(self, data: bytes) -> list[bytes]:
        with self._lock:
            if self._corrupt_next_tx and data:
                self._corrupt_next_tx -= 1
                data, position, bit = flip_bit(data, self._rng[Direction.TX])
                self._event("corrupt", Direction.TX, f"wire octet {position} bit {bit}")
            split = self._plan.split and self._active(Direction.TX)
            if split:
                self.counts["tx_split_chunks"] += len(data)
        return [data[i:i + 1] for i in range(len(data))] if split else [data]

    def _wire_rx(self, data: bytes) -> list[bytes]:
        with self._lock:
            active = self._active(Direction.RX)
            if active and data and self._plan.corrupt and self._wire_rng.random() < self._plan.corrupt:
                data, position, bit = flip_bit(data, self._wire_rng)
                self._event("corrupt", Direction.RX, f"wire octet {position} bit {bit}")
            split = self._plan.split and active
            if split:
                self.counts["rx_split_chunks"] += len(data)
        return [data[i:i + 1] for i in range(len(data))] if split else [data]

    def detach(self) -> None:
        """Remove the hooks from the inner transport (it keeps working without faults)."""
        if self._original_deliver is not None and isinstance(self.inner, QueueTransport):
            self.inner._deliver = self._original_deliver  # type: ignore[method-assign]
        if self._taps is not None:
            self._taps.clear()
