"""The trust anchor store and the rest of a device's durable state, persisted atomically.

State (cells, anti-replay counters, the alert counter, pending future-dated commands, events,
the counters of displaced keys) lives in one JSON document. ``save`` writes a temporary file, fsyncs it, renames it over the
old one and fsyncs the folder: after a power cut at any point the folder holds the old or the
new document, never a mix, and a device restarted on it carries on from there. A test hook is
called at every write point so tests can cut the power exactly there.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rig.gbcs.payloads.cs02 import TrustAnchorCellId
from rig.gbcs.tables import CellUsage, KeyUsage, RemotePartyRole

from .events import CAPACITY, Event

STATE_FILE = "device-state.json"
#: where ``save`` calls the fault hook, in order
WRITE_POINTS = ("open", "partial-write", "fsync", "rename", "dir-fsync")


class PowerCut(BaseException):
    """Raised by a test fault hook to simulate losing power at a write point.

    A ``BaseException`` (like ``SystemExit``): the device's "never raise" guards turn every
    failure into GBCS behaviour, but a power cut ends the process and must get through them.
    """


@dataclass(frozen=True)
class PendingCommand:
    """A future-dated command accepted and not yet executed."""

    frame: bytes
    execute_at: _dt.datetime
    authorising_role: int

    def to_json(self) -> dict:
        return {"frame": self.frame.hex(), "execute_at": self.execute_at.isoformat(),
                "authorising_role": self.authorising_role}

    @classmethod
    def from_json(cls, data: dict) -> PendingCommand:
        return cls(bytes.fromhex(data["frame"]), _dt.datetime.fromisoformat(data["execute_at"]),
                   int(data["authorising_role"]))


def cell_key(cell: TrustAnchorCellId) -> str:
    return f"{int(cell.role)}/{int(cell.key_usage)}/{int(cell.cell_usage)}"


def parse_cell_key(key: str) -> TrustAnchorCellId:
    role, usage, cell_usage = (int(part) for part in key.split("/"))
    return TrustAnchorCellId(RemotePartyRole(role), KeyUsage(usage), CellUsage(cell_usage))


@dataclass
class DeviceState:
    #: cell -> certificate DER (None: the cell exists but is empty)
    cells: dict[TrustAnchorCellId, bytes | None]
    #: anti-replay counter per remote party role
    counters: dict[int, int] = field(default_factory=dict)
    #: specialist counters per (role, usage), e.g. supplier prepayment top-up
    specialist_counters: dict[tuple[int, int], int] = field(default_factory=dict)
    #: the device's own originator counter for alerts (the next alert uses alert_counter + 1)
    alert_counter: int = 2000
    pending: list[PendingCommand] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    #: highest counter of a role while a key (its key id, hex) held control of it, kept once the
    #: key was displaced: a key installed again resumes above its old frames (``counters``)
    retired_counters: dict[str, int] = field(default_factory=dict)

    def log(self, event: Event) -> None:
        self.events.append(event)
        if len(self.events) > CAPACITY:
            del self.events[: len(self.events) - CAPACITY]

    def snapshot(self) -> DeviceState:
        """A copy to roll back to: containers copied, their (immutable) items shared."""
        return DeviceState(dict(self.cells), dict(self.counters), dict(self.specialist_counters),
                           self.alert_counter, list(self.pending), list(self.events), dict(self.retired_counters))

    def restore(self, snapshot: DeviceState) -> None:
        """Put this state back to ``snapshot`` in place (holders of this object see it too)."""
        self.cells = dict(snapshot.cells)
        self.counters = dict(snapshot.counters)
        self.specialist_counters = dict(snapshot.specialist_counters)
        self.alert_counter = snapshot.alert_counter
        self.pending = list(snapshot.pending)
        self.events = list(snapshot.events)
        self.retired_counters = dict(snapshot.retired_counters)

    def to_json(self) -> dict:
        return {
            "version": 1,
            "cells": {cell_key(c): (der.hex() if der else None) for c, der in self.cells.items()},
            "counters": {str(role): value for role, value in self.counters.items()},
            "specialist_counters": {f"{r}/{u}": v for (r, u), v in self.specialist_counters.items()},
            "alert_counter": self.alert_counter,
            "pending": [p.to_json() for p in self.pending],
            "events": [e.to_json() for e in self.events],
            "retired_counters": dict(self.retired_counters),
        }

    @classmethod
    def from_json(cls, data: dict) -> DeviceState:
        if data.get("version") != 1:
            raise ValueError(f"unsupported device state version {data.get('version')!r}")
        specialist = {}
        for key, value in data.get("specialist_counters", {}).items():
            role, usage = key.split("/")
            specialist[(int(role), int(usage))] = int(value)
        return cls(
            cells={parse_cell_key(k): (bytes.fromhex(v) if v else None) for k, v in data["cells"].items()},
            counters={int(k): int(v) for k, v in data.get("counters", {}).items()},
            specialist_counters=specialist,
            alert_counter=int(data.get("alert_counter", 2000)),
            pending=[PendingCommand.from_json(p) for p in data.get("pending", [])],
            events=[Event.from_json(e) for e in data.get("events", [])],
            retired_counters={str(k): int(v) for k, v in data.get("retired_counters", {}).items()},
        )


class TrustAnchorStore:
    """Persistence of one device's ``DeviceState`` (in memory when ``directory`` is None)."""

    def __init__(self, directory: str | Path | None = None,
                 fault_hook: Callable[[str], None] | None = None):
        self.directory = Path(directory) if directory is not None else None
        self.fault_hook = fault_hook
        self.saves = 0

    @property
    def path(self) -> Path | None:
        return self.directory / STATE_FILE if self.directory is not None else None

    def load(self) -> DeviceState | None:
        path = self.path
        if path is None or not path.exists():
            return None
        return DeviceState.from_json(json.loads(path.read_text()))

    def _hook(self, point: str) -> None:
        if self.fault_hook is not None:
            self.fault_hook(point)

    def save(self, state: DeviceState) -> None:
        self.saves += 1
        path = self.path
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(state.to_json(), separators=(",", ":")).encode()
        tmp = path.with_name(path.name + ".tmp")
        self._hook("open")
        with open(tmp, "wb") as handle:
            handle.write(data[: len(data) // 2])
            self._hook("partial-write")
            handle.write(data[len(data) // 2:])
            handle.flush()
            self._hook("fsync")
            os.fsync(handle.fileno())
        self._hook("rename")
        os.replace(tmp, path)
        self._hook("dir-fsync")
        if hasattr(os, "O_DIRECTORY"):
            fd = os.open(path.parent, os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
