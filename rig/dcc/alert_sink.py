"""Where DCC alerts go, and where a test or a scenario waits for them.

Same contract as a transport's ``recv``: ``wait_for(code, deadline)`` returns (and takes) the
first queued alert that matches, waiting at most until ``deadline`` (absolute
``time.monotonic()``); alerts that do not match stay queued, and every alert ever published is
kept in ``history()`` (and appended to a JSON-lines file when one is given), so none is lost
between a publish and a wait in another thread.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from rig.transport.base import TransportTimeout

from .alerts import DccAlert


class AlertTimeout(TransportTimeout):
    """No matching DCC alert before the deadline (a ``TransportTimeout``, so runners treat both alike)."""


def _jsonable(value):
    if isinstance(value, bytes):
        return value.hex().upper()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"type": type(value).__name__,
                **{f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    return value


class AlertSink:
    """Thread-safe queue plus history of ``DccAlert`` values."""

    def __init__(self, record_path: str | Path | None = None):
        self._queue: deque[DccAlert] = deque()
        self._history: list[DccAlert] = []
        self._cond = threading.Condition()
        self._listeners: list[Callable[[DccAlert], None]] = []
        self.record_path = Path(record_path) if record_path is not None else None

    def publish(self, alert: DccAlert) -> None:
        with self._cond:
            self._queue.append(alert)
            self._history.append(alert)
            listeners = list(self._listeners)
            if self.record_path is not None:
                self.record_path.parent.mkdir(parents=True, exist_ok=True)
                with self.record_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(_jsonable(alert), sort_keys=True) + "\n")
            self._cond.notify_all()
        for listener in listeners:
            listener(alert)

    def subscribe(self, listener: Callable[[DccAlert], None]) -> None:
        with self._cond:
            self._listeners.append(listener)

    def wait_for(self, code: str | None, deadline: float,
                 predicate: Callable[[DccAlert], bool] | None = None) -> DccAlert:
        """Take the first queued alert with ``code`` (any code if None) that ``predicate`` accepts."""

        def matches(alert: DccAlert) -> bool:
            return (code is None or alert.code == code) and (predicate is None or predicate(alert))

        with self._cond:
            while True:
                for index, alert in enumerate(self._queue):
                    if matches(alert):
                        del self._queue[index]
                        return alert
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AlertTimeout(f"no DCC alert {code or '(any)'} before the deadline "
                                       f"({len(self._queue)} other alert(s) queued)")
                self._cond.wait(remaining)

    def pending(self) -> list[DccAlert]:
        with self._cond:
            return list(self._queue)

    def history(self, code: str | None = None) -> list[DccAlert]:
        with self._cond:
            return [a for a in self._history if code is None or a.code == code]
