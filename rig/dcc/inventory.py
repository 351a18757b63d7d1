"""The smart metering inventory and the rig's anti-replay counters (sqlite, see ``db.py``).

The inventory is what the DCC knows about a device before it sends anything: type, model,
firmware, MPxN, responsible supplier and the MPID registration data holds for the MPxN, comms
hub, and whether the device's transitionalCoS cell holds the TCoS or the ECoS certificate
[SEED-000 2.4: the DCC routes a 6.23 on that]. The rig also keeps every migration attempt with
its evidence here (the DCC's own inventory records only successes [SEED-001 33c]; the rig
needs the failures to classify a model).

Anti-replay counters are kept per (remote party entity id, device). ``next_counter`` commits the
new value durably *before* returning it, so a command built with it may be lost but its counter
is never handed out again, even after a crash or a restart on another process. With a host
``Ledger`` (``ledger.py``: rigs whose device keeps its state across runs) every counter is
reserved and committed there first, so every run on the host continues the meter's sequence;
this inventory then records the counters its run used, for the evidence.
"""

from __future__ import annotations

import enum
import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .db import Database
from .ids import EuiLike, eui, eui_text
from .ledger import Ledger
from .tables import AttemptResult, CredentialStatus

#: the largest counter GBCS and DUIS allow (SeqNumber / floor: 0 .. 2^63 - 1)
MAX_COUNTER = 2**63 - 1
#: devices per ``IN (...)`` list (SQLite allows 32,766 parameters; a fleet batch is 1,024)
_IN_LIMIT = 500

#: counts an attempt in its model's ``model_stats`` row (the device once, before its first row)
_COUNT_ATTEMPT = ("INSERT INTO model_stats (model, devices, attempts, successes)"
                  " SELECT model, NOT EXISTS (SELECT 1 FROM migration_attempts WHERE device_id = ?), 1, ?"
                  " FROM devices WHERE device_id = ?"
                  " ON CONFLICT (model) DO UPDATE SET devices = devices + excluded.devices,"
                  " attempts = attempts + 1, successes = successes + excluded.successes")
_APPEND_ATTEMPT = ("INSERT INTO migration_attempts (device_id, attempt, counter, result, started_at, finished_at,"
                   " evidence) VALUES (?, ?, ?, ?, ?, ?, ?)")


class InventoryError(LookupError):
    """A device the operation needs is not in the inventory (or already is)."""


class CredentialOrigin(enum.StrEnum):
    """How an ECoS device came to hold ECoS credentials (ECOSMIG-007 counts them apart)."""

    INSTALLED = "INSTALLED"
    MIGRATED = "MIGRATED"


@dataclass(frozen=True)
class DeviceRecord:
    """One device as the smart metering inventory holds it.

    ``supplier_id`` is the responsible supplier (whose certificates the device holds);
    ``supplier_mpid`` is the MPID that registration data associates with the device's MPxN,
    which check (ii) compares with the signing certificate (after a CoS registration change it
    is the gaining supplier's).
    """

    device_id: bytes
    device_type: str
    model: str = ""
    firmware: str = ""
    mpxn: str | None = None
    supplier_id: bytes | None = None
    supplier_mpid: str | None = None
    comms_hub_id: bytes | None = None
    credential_status: CredentialStatus = CredentialStatus.TCOS
    #: "SMETS2" (SMETS2+) or "SMETS1": selects the 6.23 target response time
    generation: str = "SMETS2"
    credential_origin: CredentialOrigin = CredentialOrigin.INSTALLED


@dataclass(frozen=True)
class AttemptRecord:
    """One migration attempt as stored (evidence: frames in hex, status codes, error text)."""

    device_id: bytes
    attempt: int
    counter: int | None
    result: AttemptResult
    started_at: float
    finished_at: float
    evidence: dict[str, Any] = field(default_factory=dict)


def _opt_eui(value: str | None) -> bytes | None:
    return eui(value) if value else None


def _opt_text(value: EuiLike | None) -> str | None:
    return eui_text(value) if value is not None else None


def _device(row) -> DeviceRecord:
    return DeviceRecord(
        device_id=eui(row["device_id"]), device_type=row["device_type"], model=row["model"],
        firmware=row["firmware"], mpxn=row["mpxn"], supplier_id=_opt_eui(row["supplier_id"]),
        supplier_mpid=row["supplier_mpid"], comms_hub_id=_opt_eui(row["comms_hub_id"]),
        credential_status=CredentialStatus(row["credential_status"]), generation=row["generation"],
        credential_origin=CredentialOrigin(row["credential_origin"]),
    )


class Inventory:
    """Smart metering inventory, counters and migration records over one ``Database``."""

    def __init__(self, db: Database | str | Path, *, clock: Callable[[], float] = time.time,
                 ledger: Ledger | None = None):
        self.db = db if isinstance(db, Database) else Database(db)
        self.clock = clock
        #: the host's counter ledger (owned: closed with the inventory); None keeps counters here only
        self.ledger = ledger
        #: test hook: called after a counter is committed and before ``next_counter`` returns,
        #: i.e. between "counter durable" and "command sent"; raise from it to inject a crash
        self.after_counter_commit: Callable[[bytes, bytes, int], None] | None = None

    @classmethod
    def open(cls, path: str | Path, **kwargs) -> Inventory:
        return cls(Database(path), **kwargs)

    def close(self) -> None:
        self.db.close()
        if self.ledger is not None:
            self.ledger.close()

    # -- devices ---------------------------------------------------------------------------
    def add_device(self, record: DeviceRecord, *, replace: bool = False) -> DeviceRecord:
        """Register a device; ``replace=True`` overwrites an existing row."""
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        params = (eui_text(record.device_id), record.device_type, record.model, record.firmware, record.generation,
                  record.mpxn, _opt_text(record.supplier_id), record.supplier_mpid, _opt_text(record.comms_hub_id),
                  CredentialStatus(record.credential_status).value, CredentialOrigin(record.credential_origin).value,
                  self.clock())
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    f"{verb} INTO devices (device_id, device_type, model, firmware, generation, mpxn, supplier_id,"
                    " supplier_mpid, comms_hub_id, credential_status, credential_origin, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", params)
        except sqlite3.IntegrityError:
            raise InventoryError(f"device {eui_text(record.device_id)} is already in the inventory") from None
        return record

    def device(self, device_id: EuiLike) -> DeviceRecord | None:
        rows = self.db.query("SELECT * FROM devices WHERE device_id = ?", (eui_text(device_id),))
        return _device(rows[0]) if rows else None

    def require(self, device_id: EuiLike) -> DeviceRecord:
        record = self.device(device_id)
        if record is None:
            raise InventoryError(f"device {eui_text(device_id)} is not in the inventory")
        return record

    def devices(self, *, model: str | None = None, supplier_id: EuiLike | None = None) -> list[DeviceRecord]:
        sql, params = "SELECT * FROM devices WHERE 1 = 1", []
        if model is not None:
            sql += " AND model = ?"
            params.append(model)
        if supplier_id is not None:
            sql += " AND supplier_id = ?"
            params.append(eui_text(supplier_id))
        return [_device(row) for row in self.db.query(sql + " ORDER BY device_id", tuple(params))]

    def _update(self, device_id: EuiLike, assignments: str, params: tuple) -> None:
        cursor = self.db.write(f"UPDATE devices SET {assignments}, updated_at = ? WHERE device_id = ?",
                               (*params, self.clock(), eui_text(device_id)))
        if cursor.rowcount != 1:  # the device_id is the key: 0 rows, nothing changed
            raise InventoryError(f"device {eui_text(device_id)} is not in the inventory")

    def set_credential_status(self, device_id: EuiLike, status: CredentialStatus, *,
                              origin: CredentialOrigin | None = None) -> None:
        if origin is None:
            self._update(device_id, "credential_status = ?", (CredentialStatus(status).value,))
        else:
            self._update(device_id, "credential_status = ?, credential_origin = ?",
                         (CredentialStatus(status).value, CredentialOrigin(origin).value))

    def set_credential_statuses(self, changes: Iterable[tuple[EuiLike, CredentialStatus, CredentialOrigin | None]]) -> None:
        """``set_credential_status`` for each ``(device, status, origin)`` (origin None: kept), as
        one batch of writes; every device must be in the inventory (else nothing changes)."""
        now = self.clock()
        keep, change = [], []
        for device_id, status, origin in changes:
            if origin is None:
                keep.append((CredentialStatus(status).value, now, eui_text(device_id)))
            else:
                change.append((CredentialStatus(status).value, CredentialOrigin(origin).value, now,
                               eui_text(device_id)))
        with self.db.transaction() as conn:
            updated = conn.executemany("UPDATE devices SET credential_status = ?, updated_at = ? WHERE device_id = ?",
                                       keep).rowcount if keep else 0
            if change:
                updated += conn.executemany("UPDATE devices SET credential_status = ?, credential_origin = ?,"
                                            " updated_at = ? WHERE device_id = ?", change).rowcount
            if updated != len(keep) + len(change):  # a device_id is the key: one row each, or it is missing
                raise InventoryError("a device whose credential status was set is not in the inventory")

    def set_supplier(self, device_id: EuiLike, supplier_id: EuiLike | None, mpid: str | None = None) -> None:
        """Responsible supplier; ``mpid`` (registration data) is changed only when given."""
        if mpid is None:
            self._update(device_id, "supplier_id = ?", (_opt_text(supplier_id),))
        else:
            self._update(device_id, "supplier_id = ?, supplier_mpid = ?", (_opt_text(supplier_id), mpid))

    def set_registration(self, device_id: EuiLike, *, mpid: str | None = None, mpxn: str | None = None) -> None:
        """Registration data change (e.g. the CoS registration before a 6.23)."""
        record = self.require(device_id)
        self._update(device_id, "supplier_mpid = ?, mpxn = ?",
                     (mpid if mpid is not None else record.supplier_mpid, mpxn if mpxn is not None else record.mpxn))

    def add_to_device_log(self, hub_id: EuiLike, device_id: EuiLike) -> None:
        """Record the device on the comms hub's device log and as the device's hub."""
        with self.db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO device_log (hub_id, device_id, added_at) VALUES (?, ?, ?)",
                         (eui_text(hub_id), eui_text(device_id), self.clock()))
            conn.execute("UPDATE devices SET comms_hub_id = ?, updated_at = ? WHERE device_id = ?",
                         (eui_text(hub_id), self.clock(), eui_text(device_id)))

    def device_log_records(self, hub_id: EuiLike) -> list[DeviceRecord]:
        """The inventory records of the devices on the hub's log, in device log order (one query)."""
        rows = self.db.query("SELECT d.* FROM device_log l JOIN devices d ON d.device_id = l.device_id"
                             " WHERE l.hub_id = ? ORDER BY l.added_at, l.device_id", (eui_text(hub_id),))
        return [_device(row) for row in rows]

    def device_log(self, hub_id: EuiLike) -> list[bytes]:
        rows = self.db.query("SELECT device_id FROM device_log WHERE hub_id = ? ORDER BY added_at, device_id",
                             (eui_text(hub_id),))
        return [eui(row["device_id"]) for row in rows]

    # -- anti-replay counters ------------------------------------------------------------------
    def next_counter(self, party: EuiLike, device: EuiLike) -> int:
        """A fresh originator counter for ``party`` -> ``device``, durable before it is returned.

        The value is ``max(last used, floor) + 1``: strictly above everything the rig has
        handed out and everything the device is known to have seen; with a ledger, also above
        everything any run on the host reserved (the ledger commits it first, on its own: inside
        a batch too, so a counter is never reused even if the batch rolls back). Inside an outer
        ``db.transaction()`` (a batch) the value is durable once that transaction commits: the
        caller sends nothing before then, and ``after_counter_commit`` runs after that commit.
        """
        return self.next_counters(party, (device,))[0]

    def next_counters(self, party: EuiLike, devices: Iterable[EuiLike]) -> list[int]:
        """``next_counter`` for each of ``devices`` (distinct), in order, in one transaction: one
        read of their rows and one batch of writes (a fleet batch's counters, committed
        together before any of its frames leaves)."""
        party_text = eui_text(party)
        targets = [(device, eui_text(device)) for device in devices]
        if len({text for _, text in targets}) != len(targets):
            raise ValueError("next_counters takes each device once")
        with self.db.transaction() as conn:
            rows = {}
            for first in range(0, len(targets), _IN_LIMIT):
                chunk = [text for _, text in targets[first:first + _IN_LIMIT]]
                rows.update((row["device"], row) for row in conn.execute(
                    "SELECT device, last_used, floor FROM counters WHERE party = ? AND device IN"
                    f" ({', '.join('?' * len(chunk))})", (party_text, *chunk)))
            values, writes = [], []
            for device, text in targets:
                row = rows.get(text)
                current = max(row["last_used"], row["floor"]) if row else 0
                value = current + 1
                if self.ledger is not None:
                    value = self.ledger.reserve(party, device, above=current)
                if value > MAX_COUNTER:
                    raise OverflowError(f"counter for {party_text} -> {text} is exhausted")
                values.append(value)
                writes.append((party_text, text, value))
            conn.executemany("INSERT INTO counters (party, device, last_used, floor) VALUES (?, ?, ?, 0)"
                             " ON CONFLICT (party, device) DO UPDATE SET last_used = excluded.last_used", writes)
            hook = self.after_counter_commit
            if hook is not None:
                for (device, _), value in zip(targets, values, strict=True):
                    self.db.after_commit(lambda device=device, value=value: hook(eui(party), eui(device), value))
        return values

    def raise_floor(self, party: EuiLike, device: EuiLike, floor: int) -> None:
        """Never hand out a counter at or below ``floor`` (e.g. a device's CS02a currentSeqNumber)."""
        self.raise_floors(party, ((device, floor),))

    def raise_floors(self, party: EuiLike, floors: Iterable[tuple[EuiLike, int]]) -> None:
        """``raise_floor`` for each ``(device, floor)``, as one batch of writes."""
        floors = list(floors)
        for _, floor in floors:
            if not 0 <= floor <= MAX_COUNTER:
                raise ValueError(f"floor {floor} out of range")
        if self.ledger is not None:
            for device, floor in floors:
                self.ledger.raise_floor(party, device, floor)
        party_text = eui_text(party)
        self.db.write_many("INSERT INTO counters (party, device, last_used, floor) VALUES (?, ?, 0, ?)"
                           " ON CONFLICT (party, device) DO UPDATE SET floor = max(floor, excluded.floor)",
                           [(party_text, eui_text(device), floor) for device, floor in floors])

    def counter_state(self, party: EuiLike, device: EuiLike) -> tuple[int, int]:
        """(last used, floor); (0, 0) for a pair never used."""
        rows = self.db.query("SELECT last_used, floor FROM counters WHERE party = ? AND device = ?",
                             (eui_text(party), eui_text(device)))
        return (rows[0]["last_used"], rows[0]["floor"]) if rows else (0, 0)

    def next_sequence(self, name: str) -> int:
        """A durable, strictly increasing number for identifiers the rig mints (alert ids)."""
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO sequences (name, value) VALUES (?, 1)"
                         " ON CONFLICT (name) DO UPDATE SET value = value + 1", (name,))
            return conn.execute("SELECT value FROM sequences WHERE name = ?", (name,)).fetchone()["value"]

    # -- migration records ---------------------------------------------------------------------
    def record_attempt(self, record: AttemptRecord) -> None:
        self.record_attempts((record,))

    def record_attempts(self, records: Iterable[AttemptRecord]) -> None:
        """Append attempts (one transaction) and count them in their model's ``model_stats`` row.

        Two statements per attempt whatever the inventory's size: the counters are updated from
        the appended row (a device counts once, on its first attempt: one indexed lookup); no
        earlier attempt is read.
        """
        stats, rows = [], []
        for record in records:
            device = eui_text(record.device_id)
            result = AttemptResult(record.result).value
            stats.append((device, int(result == AttemptResult.SUCCESS.value), device))
            rows.append((device, record.attempt, record.counter, result, record.started_at, record.finished_at,
                         json.dumps(record.evidence, sort_keys=True)))
        with self.db.transaction() as conn:
            if len({row[0] for row in rows}) == len(rows):  # each device once (a fleet batch): two batches
                conn.executemany(_COUNT_ATTEMPT, stats)
                conn.executemany(_APPEND_ATTEMPT, rows)
            else:  # a device's first attempt is counted before its second is appended
                for stat, row in zip(stats, rows, strict=True):
                    conn.execute(_COUNT_ATTEMPT, stat)
                    conn.execute(_APPEND_ATTEMPT, row)

    def model_stats(self, model: str) -> tuple[int, int, int]:
        """(devices attempted, attempts, successes) of ``model``; zeros when never attempted."""
        rows = self.db.query("SELECT devices, attempts, successes FROM model_stats WHERE model = ?", (model,))
        return (rows[0]["devices"], rows[0]["attempts"], rows[0]["successes"]) if rows else (0, 0, 0)

    def has_attempts(self, device_id: EuiLike) -> bool:
        return bool(self.db.query("SELECT 1 FROM migration_attempts WHERE device_id = ? LIMIT 1",
                                  (eui_text(device_id),)))

    def attempts(self, *, device_id: EuiLike | None = None, model: str | None = None,
                 since: float | None = None, until: float | None = None) -> list[AttemptRecord]:
        sql = ("SELECT a.* FROM migration_attempts a JOIN devices d ON d.device_id = a.device_id WHERE 1 = 1")
        params: list[Any] = []
        for clause, value in (("a.device_id = ?", _opt_text(device_id)), ("d.model = ?", model),
                              ("a.finished_at >= ?", since), ("a.finished_at <= ?", until)):
            if value is not None:
                sql += f" AND {clause}"
                params.append(value)
        rows = self.db.query(sql + " ORDER BY a.id", tuple(params))
        return [AttemptRecord(eui(r["device_id"]), r["attempt"], r["counter"], AttemptResult(r["result"]),
                              r["started_at"], r["finished_at"], json.loads(r["evidence"])) for r in rows]

    def set_model_verdict(self, model: str, verdict: str, evidence: Iterable[dict[str, Any]] | dict[str, Any]) -> None:
        """Store ``model``'s verdict; ``decided_at`` moves only when the verdict changes.

        ``evidence`` is what the verdict rests on as a summary (the attempts themselves are in
        ``migration_attempts``; ``attempts(model=...)`` reads them when a report needs them).
        """
        payload = json.dumps(evidence if isinstance(evidence, dict) else list(evidence), sort_keys=True)
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO model_verdicts (model, verdict, decided_at, evidence) VALUES (?, ?, ?, ?)"
                         " ON CONFLICT (model) DO UPDATE SET verdict = excluded.verdict, evidence = excluded.evidence,"
                         " decided_at = CASE WHEN verdict = excluded.verdict THEN decided_at"
                         " ELSE excluded.decided_at END", (model, verdict, self.clock(), payload))

    def model_verdict(self, model: str) -> str | None:
        rows = self.db.query("SELECT verdict FROM model_verdicts WHERE model = ?", (model,))
        return rows[0]["verdict"] if rows else None

    def models_with_verdict(self, verdict: str) -> list[str]:
        return [row["model"] for row in self.db.query(
            "SELECT model FROM model_verdicts WHERE verdict = ? ORDER BY model", (verdict,))]
