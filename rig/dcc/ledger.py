"""The host's counter ledger: one meter's anti-replay counters across every run.

A meter keeps the highest originator counter it has accepted from each remote party for ever
(GBCS 4.3.2.5: a command at or below it is discarded as a replay). A report folder's inventory
is one run's memory; the ledger is the host's: one sqlite file in the state folder every run
on the host shares (``state_dir`` in the hw_config, default the user's state directory), keyed
by the device's EUI-64 and the originator's entity id. ``Inventory.next_counter`` reserves every
counter here first, so a second run, a resumed run and a run from another config (another
report folder) all continue the same meter's sequence; the run's inventory keeps a copy of what
it used, for the evidence.

Durability is the inventory's: WAL, ``synchronous=FULL`` (every ``COMMIT`` is fsynced before it
returns) and ``BEGIN IMMEDIATE`` (two processes never read the same value). A reservation is
committed before it is returned, so a frame is never written with a counter the ledger could
forget; a crash after the commit only burns the value.

Only rigs whose device keeps its state between runs use the ledger: hardware, and emulators
reached over a link that the rig does not spawn. A device emulated in the rig's process, or
spawned per run, is factory-fresh every time: its counters start again, and the run folder's
inventory is its whole memory (``keeps_state``).

A meter moving between labs takes its counters along: ``export`` writes them as JSON and
``import_`` merges them, never lowering a counter (the larger value wins).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .ids import EuiLike, eui_text

#: the largest counter GBCS and DUIS allow (as ``inventory.MAX_COUNTER``)
MAX_COUNTER = 2**63 - 1
LEDGER_NAME = "counters.sqlite"
EXPORT_FORMAT = "gbcs-rig counter ledger"
EXPORT_VERSION = 1

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counters (device TEXT NOT NULL, party TEXT NOT NULL,"
    " last_used INTEGER NOT NULL DEFAULT 0, floor INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL,"
    " PRIMARY KEY (device, party))",
    "CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL,"
    " party TEXT NOT NULL, event TEXT NOT NULL, value INTEGER NOT NULL, at REAL NOT NULL, source TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS history_by_device ON history (device, id)",
)


class LedgerError(ValueError):
    """A ledger file or an export that cannot be used (named, with what is wrong)."""


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/gbcs-rig``, else ``~/.local/state/gbcs-rig`` (the XDG base directory rule)."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME", "")
    if not base or not Path(base).is_absolute():  # the XDG spec says to ignore a relative value
        base = str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "gbcs-rig"


def keeps_state(spec: Any) -> bool:
    """True when the rig's device outlives the run (hardware, or an emulator the rig reaches
    over a link without spawning it): its counters must continue across runs."""
    transport = spec.transport
    kind = str(transport.kind)
    if kind == "emulated" or getattr(transport, "spawn", None) is not None:
        return False
    return not (kind == "zigbee" and str(getattr(transport, "backend", "")) == "emulated")


@dataclass(frozen=True)
class CounterRow:
    """One (device, originator) pair: the highest counter handed out, and the floor the device
    is known to have seen (a CS02a read-back, or an import)."""

    device: str
    party: str
    last_used: int
    floor: int
    updated_at: float

    @property
    def next(self) -> int:
        return max(self.last_used, self.floor) + 1


def _check_counter(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNTER:
        raise LedgerError(f"{what}: {value!r} is not a counter (an integer 0 .. 2^63-1)")
    return value


class Ledger:
    """The counter ledger in one sqlite file (created with its folder when missing)."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0, source: str = ""):
        self.path = Path(path)
        #: what the history names as the reserver (the run's report folder)
        self.source = source
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as err:  # a rig set-up problem, never a link fault
            raise LedgerError(f"counter ledger folder {self.path.parent}: {err.strerror or err}") from None
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None,
                                         check_same_thread=False)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            with self._transaction() as conn:
                for statement in _SCHEMA:
                    conn.execute(statement)
        except sqlite3.DatabaseError as err:
            raise LedgerError(f"counter ledger {self.path}: {err}") from None

    @classmethod
    def in_state_dir(cls, state_dir: str | Path | None = None, **kwargs) -> Ledger:
        return cls(Path(state_dir or default_state_dir()) / LEDGER_NAME, **kwargs)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- reservations ---------------------------------------------------------------------------
    def reserve(self, party: EuiLike, device: EuiLike, *, above: int = 0) -> int:
        """The next counter for ``party`` -> ``device``, strictly above ``above`` (what the caller
        already knows of) and everything this ledger has handed out or been told the device saw.
        Committed (fsynced) before it is returned."""
        key = (eui_text(device), eui_text(party))
        with self._transaction() as conn:
            row = conn.execute("SELECT last_used, floor FROM counters WHERE device = ? AND party = ?", key).fetchone()
            current = max(row["last_used"], row["floor"], above) if row else above
            value = current + 1
            if value > MAX_COUNTER:
                raise OverflowError(f"counter for {key[1]} -> {key[0]} is exhausted")
            now = time.time()
            conn.execute("INSERT INTO counters (device, party, last_used, floor, updated_at) VALUES (?, ?, ?, 0, ?)"
                         " ON CONFLICT (device, party) DO UPDATE SET last_used = excluded.last_used,"
                         " updated_at = excluded.updated_at", (*key, value, now))
            conn.execute("INSERT INTO history (device, party, event, value, at, source) VALUES (?, ?, 'reserved', ?, ?, ?)",
                         (*key, value, now, self.source))
        return value

    def raise_floor(self, party: EuiLike, device: EuiLike, floor: int, *, event: str = "floor") -> None:
        """Never hand out a counter at or below ``floor`` for this pair (never lowers it)."""
        _check_counter(floor, "floor")
        key = (eui_text(device), eui_text(party))
        now = time.time()
        with self._transaction() as conn:
            conn.execute("INSERT INTO counters (device, party, last_used, floor, updated_at) VALUES (?, ?, 0, ?, ?)"
                         " ON CONFLICT (device, party) DO UPDATE SET floor = max(floor, excluded.floor),"
                         " updated_at = excluded.updated_at", (*key, floor, now))
            conn.execute("INSERT INTO history (device, party, event, value, at, source) VALUES (?, ?, ?, ?, ?, ?)",
                         (*key, event, floor, now, self.source))

    # -- reading --------------------------------------------------------------------------------
    def rows(self, device: EuiLike | None = None) -> list[CounterRow]:
        sql, params = "SELECT * FROM counters", ()
        if device is not None:
            sql, params = sql + " WHERE device = ?", (eui_text(device),)
        with self._lock:
            found = self._conn.execute(sql + " ORDER BY device, party", params).fetchall()
        return [CounterRow(r["device"], r["party"], r["last_used"], r["floor"], r["updated_at"]) for r in found]

    def state(self, party: EuiLike, device: EuiLike) -> tuple[int, int]:
        """(last used, floor); (0, 0) for a pair never used."""
        rows = [row for row in self.rows(device) if row.party == eui_text(party)]
        return (rows[0].last_used, rows[0].floor) if rows else (0, 0)

    def history(self, device: EuiLike, *, limit: int = 20) -> list[dict[str, Any]]:
        """The latest ``limit`` events for ``device``, oldest first."""
        with self._lock:
            found = self._conn.execute("SELECT * FROM history WHERE device = ? ORDER BY id DESC LIMIT ?",
                                       (eui_text(device), limit)).fetchall()
        return [dict(row) for row in reversed(found)]

    # -- moving a meter between labs ------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        return {"format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                "counters": [{k: v for k, v in asdict(row).items() if k != "updated_at"} for row in self.rows()]}

    def import_(self, data: Any, *, source: str = "import") -> list[CounterRow]:
        """Merge an ``export``: each pair's counters become the larger of the two (never lower).
        Everything is checked before anything is written; returns the merged rows."""
        entries = _parse_export(data)
        now = time.time()
        with self._transaction() as conn:
            for device, party, last_used, floor in entries:
                conn.execute("INSERT INTO counters (device, party, last_used, floor, updated_at) VALUES (?, ?, ?, ?, ?)"
                             " ON CONFLICT (device, party) DO UPDATE SET last_used = max(last_used, excluded.last_used),"
                             " floor = max(floor, excluded.floor), updated_at = excluded.updated_at",
                             (device, party, last_used, floor, now))
                conn.execute("INSERT INTO history (device, party, event, value, at, source)"
                             " VALUES (?, ?, 'imported', ?, ?, ?)", (device, party, max(last_used, floor), now, source))
        merged = {(device, party) for device, party, _, _ in entries}
        return [row for row in self.rows() if (row.device, row.party) in merged]


def _parse_export(data: Any) -> list[tuple[str, str, int, int]]:
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise LedgerError(f"not a counter ledger export (expected \"format\": \"{EXPORT_FORMAT}\")")
    if data.get("version") != EXPORT_VERSION:
        raise LedgerError(f"counter ledger export version {data.get('version')!r} is not supported"
                          f" (this gbcs-rig reads version {EXPORT_VERSION})")
    counters = data.get("counters")
    if not isinstance(counters, list):
        raise LedgerError("counter ledger export: \"counters\" must be a list")
    entries = []
    for index, entry in enumerate(counters):
        where = f"counters[{index}]"
        if not isinstance(entry, dict):
            raise LedgerError(f"{where}: expected an object")
        try:
            device, party = eui_text(entry.get("device", "")), eui_text(entry.get("party", ""))
        except (ValueError, AttributeError) as err:
            raise LedgerError(f"{where}: {err}") from None
        entries.append((device, party, _check_counter(entry.get("last_used", 0), f"{where}.last_used"),
                        _check_counter(entry.get("floor", 0), f"{where}.floor")))
    return entries


def read_export(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LedgerError(f"{path}: not a JSON counter ledger export ({err})") from None


def write_export(ledger: Ledger, path: str | Path) -> int:
    data = ledger.export()
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return len(data["counters"])



def ledger_for(spec: Any, *, source: str = "") -> Ledger | None:
    """The host ledger for a rig whose device keeps state (``keeps_state``), else None."""
    return Ledger.in_state_dir(spec.state_dir, source=source) if keeps_state(spec) else None
