"""The DCC side's durable state in one sqlite3 file (WAL, synchronous=FULL, explicit transactions).

Why sqlite and these settings: the rig's anti-replay counters must survive a crash or a power
cut between "counter chosen" and "command sent" (design.md, "Nothing is lost"). WAL with
``synchronous=FULL`` makes every committed transaction durable before ``COMMIT`` returns, and
``BEGIN IMMEDIATE`` takes the write lock up front so two processes (or threads) sharing a lab's
inventory file can never both read the same counter and both use it.

The schema holds the smart metering inventory, the counters, migration attempts and model
verdicts, the anomaly detection thresholds and the 6.23 event log, and the comms hub device log.

Every per-device operation touches a bounded number of rows (indexed lookups, appended rows,
per-model counters), so its cost does not grow with the inventory. Transactions nest: an outer
``transaction()`` batches the writes of many devices into one commit (one fsync), and work that
must wait for the commit to be durable (the counter hook) registers with ``after_commit``.

Schema 2 adds the per-model counters (``model_stats``) and the indexes the per-device paths
need; a schema 1 file is upgraded in place when opened (counters rebuilt from its attempts).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    device_type TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    firmware TEXT NOT NULL DEFAULT '',
    generation TEXT NOT NULL DEFAULT 'SMETS2',
    mpxn TEXT,
    supplier_id TEXT,
    supplier_mpid TEXT,
    comms_hub_id TEXT,
    credential_status TEXT NOT NULL CHECK (credential_status IN ('TCOS', 'ECOS', 'UNKNOWN')),
    credential_origin TEXT NOT NULL DEFAULT 'INSTALLED' CHECK (credential_origin IN ('INSTALLED', 'MIGRATED')),
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    party TEXT NOT NULL,
    device TEXT NOT NULL,
    last_used INTEGER NOT NULL DEFAULT 0,
    floor INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (party, device)
);
CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS migration_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    counter INTEGER,
    result TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    evidence TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS model_verdicts (
    model TEXT PRIMARY KEY,
    verdict TEXT NOT NULL,
    decided_at REAL NOT NULL,
    evidence TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS device_log (
    hub_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    added_at REAL NOT NULL,
    PRIMARY KEY (hub_id, device_id)
);
CREATE TABLE IF NOT EXISTS adt_files (
    user_id TEXT PRIMARY KEY,
    sequence_number INTEGER NOT NULL,
    accepted_at REAL NOT NULL,
    signature TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS adt_thresholds (
    user_id TEXT NOT NULL,
    srv TEXT NOT NULL,
    minutes INTEGER NOT NULL,
    warning INTEGER NOT NULL,
    quarantine INTEGER NOT NULL,
    defaulted INTEGER NOT NULL,
    PRIMARY KEY (user_id, srv, minutes)
);
CREATE TABLE IF NOT EXISTS srv_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    srv TEXT NOT NULL,
    at REAL NOT NULL,
    request_id TEXT
);
CREATE INDEX IF NOT EXISTS srv_events_by_user ON srv_events (user_id, srv, at);
CREATE INDEX IF NOT EXISTS migration_attempts_by_device ON migration_attempts (device_id);
CREATE INDEX IF NOT EXISTS migration_attempts_by_finish ON migration_attempts (finished_at);
CREATE INDEX IF NOT EXISTS devices_by_model ON devices (model);
CREATE INDEX IF NOT EXISTS device_log_by_hub ON device_log (hub_id, added_at, device_id);
CREATE TABLE IF NOT EXISTS model_stats (
    model TEXT PRIMARY KEY,
    devices INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0
);
"""

#: schema 1 -> 2: per-model counters rebuilt from the attempts (by the devices' current models)
_UPGRADE_1 = """
DELETE FROM model_stats;
INSERT INTO model_stats (model, devices, attempts, successes)
    SELECT d.model, COUNT(DISTINCT a.device_id), COUNT(*), SUM(a.result = 'SUCCESS')
    FROM migration_attempts a JOIN devices d ON d.device_id = a.device_id GROUP BY d.model;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
"""


class Database:
    """One connection, serialised by a lock; every write goes through ``transaction()``.

    ``transaction()`` nests: only the outermost one begins and commits, so callers batch the
    writes of many operations into one durable commit.
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0):
        self.path = str(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            fresh = self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None
            for statement in _statements(_SCHEMA):
                self._conn.execute(statement)
            self._conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                               (str(SCHEMA_VERSION if fresh else 1),))
            version = int(self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
            if version == 1:
                for statement in _statements(_UPGRADE_1):
                    self._conn.execute(statement)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @property
    def connection(self) -> sqlite3.Connection:
        """The underlying connection (for instrumentation: trace and progress callbacks)."""
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception); nested calls join the
        outer one as a savepoint (an exception inside rolls back only the nested part)."""
        with self._lock:
            if self._depth:
                name = f"nested_{self._depth}"
                self._conn.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute(f"ROLLBACK TO {name}")
                    self._conn.execute(f"RELEASE {name}")
                    raise
                else:
                    self._conn.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._depth = 0
                self._after_commit.clear()
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self._depth = 0
            pending, self._after_commit = self._after_commit, []
        for action in pending:
            action()

    def write(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        """One write statement. Inside a transaction it joins it without a savepoint (a single
        statement is atomic on its own: on failure it changed nothing); outside one it is its
        own ``transaction()``. Per-device writes of a batch cost one statement each."""
        with self._lock:
            if self._depth:
                return self._conn.execute(sql, params)
        with self.transaction() as conn:
            return conn.execute(sql, params)

    def write_many(self, sql: str, rows: list[tuple]) -> sqlite3.Cursor:
        """``write`` for many parameter rows: one statement, executed per row (inside a
        transaction it joins it; outside one it is its own ``transaction()``)."""
        with self._lock:
            if self._depth:
                return self._conn.executemany(sql, rows)
        with self.transaction() as conn:
            return conn.executemany(sql, rows)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the current transaction has committed (now when there is none)."""
        with self._lock:
            if self._depth:
                self._after_commit.append(action)
                return
        action()

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _statements(script: str) -> list[str]:
    """``script``'s statements (it holds no semicolons inside literals)."""
    return [part.strip() for part in script.split(";") if part.strip()]
