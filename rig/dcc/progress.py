"""A text progress bar for fleet migrations (``Dcc.migrate_fleet(..., progress=ProgressBar())``).

Standard library only: a fleet run in a terminal shows done/total, the rate and the time left;
when the stream is not a terminal (CI logs) it prints a plain line at most every ``every_s``.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Callable as ``progress(done, total)``; writes to ``stream`` (stderr by default)."""

    def __init__(self, label: str = "migrating", *, stream: TextIO | None = None, width: int = 30,
                 every_s: float = 1.0, clock=time.monotonic):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.every_s = every_s
        self.clock = clock
        self._started: float | None = None
        self._last = float("-inf")

    def line(self, done: int, total: int) -> str:
        """The text shown for ``done`` of ``total`` (rate from the first call)."""
        elapsed = self.clock() - self._started if self._started is not None else 0.0
        share = done / total if total else 1.0
        filled = round(self.width * share)
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (total - done) / rate if rate else 0.0
        return (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done:,}/{total:,} "
                f"{rate:,.0f}/s, {left:,.0f} s left")

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if self._started is None:
            self._started = now
        finished = done >= total
        if not finished and now - self._last < self.every_s:
            return
        self._last = now
        tty = getattr(self.stream, "isatty", lambda: False)()
        end = ("\n" if finished else "") if tty else "\n"
        self.stream.write(("\r" if tty else "") + self.line(done, total) + end)
        self.stream.flush()
