"""Injectable clocks: the emulated device's notion of "now".

Future-dated commands and time-based certificate checks depend on it, so tests drive a
``ManualClock`` and move it past an execution time in microseconds instead of waiting.
"""

from __future__ import annotations

import datetime as _dt
import threading
from typing import Protocol

UTC = _dt.UTC


class Clock(Protocol):
    def now(self) -> _dt.datetime:
        """Aware UTC datetime."""
        ...


class SystemClock:
    """The host's UTC time."""

    def now(self) -> _dt.datetime:
        return _dt.datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (thread-safe)."""

    def __init__(self, start: _dt.datetime | None = None):
        start = start or _dt.datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> _dt.datetime:
        # no lock: reading one attribute is atomic, and ``set``/``advance`` replace the (immutable)
        # datetime in one assignment; the lock orders the writers' read-modify-write only. A device
        # reads its clock several times per command.
        return self._now

    def set(self, when: _dt.datetime) -> None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        with self._lock:
            self._now = when

    def advance(self, delta: _dt.timedelta | float) -> _dt.datetime:
        if not isinstance(delta, _dt.timedelta):
            delta = _dt.timedelta(seconds=delta)
        with self._lock:
            self._now += delta
            return self._now
