"""The DCC side's durable state in one sqlite3 file (WAL, synchronous=FULL, explicit transactions).

Why sqlite and these settings: the rig's anti-replay counters must survive a crash or a power
cut between "counter chosen" and "command sent" (design.md, "Nothing is lost"). WAL with
``synchronous=FULL`` makes every committed transaction durable before ``COMMIT`` returns, and
``BEGIN IMMEDIATE`` takes the write lock up front so two processes (or threads) sharing a lab's
inventory file can never both read the same counter and both use it.

The schema holds the smart metering inventory, the counters, migration attempts and model
verdicts, the anomaly detection thresholds and the 6.23 event log, and the comms hub device log.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_VERSION = 1

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
"""


class Database:
    """One connection, serialised by a lock; every write goes through ``transaction()``."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0):
        self.path = str(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(
            "BEGIN IMMEDIATE;" + _SCHEMA
            + f"INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT;")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

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
