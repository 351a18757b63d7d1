"""Keeping an NCP session healthy: reset on errors, reconnect with exponential back-off, then give up.

Users of EZSP sticks report the same failures again and again: ERROR frames after a
glitch, missed heartbeats, the USB adapter re-enumerating. The supervisor turns those into
one policy, independent of bellows so it can be unit-tested with a fake session:

1. the first use connects, retrying with back-off until ``give_up_after`` seconds have passed;
2. an ``NcpError`` during a call resets the NCP (soft reset) and retries the call once;
3. if the reset fails too, the session is closed and a new one is connected with back-off;
4. when nothing works before the deadline, ``LinkLost`` is raised.

Calls are serialised (one lock): the EZSP backend sends from the caller's thread and from its
inbound thread (tunnel housekeeping replies), and there is only one NCP session to share.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..base import LinkLost, TransportError

T = TypeVar("T")


class NcpError(TransportError):
    """The NCP misbehaved (ERROR/RSTACK frame, missing heartbeat, command timeout, lost serial line)."""


class NcpSession(Protocol):
    def reset(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """Delays ``initial, initial*factor, ...`` capped at ``maximum``, each varied by +-``jitter`` (a fraction)."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.1

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        delay = self.initial
        while True:
            spread = 1.0 + self.jitter * (2.0 * rng.random() - 1.0) if rng is not None and self.jitter else 1.0
            yield min(delay * spread, self.maximum)
            delay = min(delay * self.factor, self.maximum)


DEFAULT_BACKOFF = Backoff()


class NcpSupervisor:
    """One live ``NcpSession`` at a time, recovered per the module docstring."""

    def __init__(self, connect: Callable[[], NcpSession], *, backoff: Backoff = DEFAULT_BACKOFF, give_up_after: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None):
        self._connect = connect
        self.backoff = backoff
        self.give_up_after = give_up_after
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._session: NcpSession | None = None
        self.counts: Counter[str] = Counter()
        self.last_error: str = ""
        self._lock = threading.RLock()

    @property
    def connected(self) -> bool:
        return self._session is not None

    def session(self) -> NcpSession:
        with self._lock:
            if self._session is None:
                self._session = self._connect_with_backoff()
            return self._session

    def _connect_with_backoff(self) -> NcpSession:
        deadline = self._clock() + self.give_up_after
        delays = self.backoff.delays(self._rng)
        while True:
            try:
                session = self._connect()
            except (NcpError, OSError) as exc:
                self.counts["connect_failures"] += 1
                self.last_error = str(exc)
            else:
                self.counts["connects"] += 1
                return session
            delay = next(delays)
            if self._clock() + delay > deadline:
                raise LinkLost(f"NCP not reachable within {self.give_up_after}s (last error: {self.last_error})")
            self._sleep(delay)

    def recover(self, error: Exception) -> NcpSession:
        """Reset the NCP after ``error``; reconnect with back-off if the reset fails."""
        with self._lock:
            return self._recover(error)

    def _recover(self, error: Exception) -> NcpSession:
        self.counts["errors"] += 1
        self.last_error = str(error)
        session = self._session
        if session is not None:
            try:
                session.reset()
            except (NcpError, OSError) as exc:
                self.counts["reset_failures"] += 1
                self.last_error = str(exc)
                self._drop()
            else:
                self.counts["resets"] += 1
                return session
        return self.session()

    def call(self, action: Callable[[NcpSession], T]) -> T:
        """Run ``action`` on the session; after an ``NcpError``, recover and retry once."""
        with self._lock:
            try:
                return action(self.session())
            except NcpError as exc:
                return action(self.recover(exc))

    def _drop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except (NcpError, OSError):
                pass

    def close(self) -> None:
        with self._lock:
            self._drop()
