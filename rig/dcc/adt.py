"""CoS-party anomaly detection (SRPD 8.2 / TADP): ADT files, their rules, the daily 6.23 count.

ADT file layout. TADP's June 2023 layout is UNCONFIRMED (the slide was an image), so this is the
project's, built on the pre-2023 one [SEED-002] plus the new sequence number [SEED-000 3.2]::

    70-B3-D5-1F-30-00-A0-04                 line 1: the User ID (EUI-64)
    SequenceNumber,17                       line 2: must exceed the last accepted for this User
    6.23,10,20,1440                         SRV, warning threshold, quarantine threshold (ADT), minutes
    1.1.1,999999,999999,1440
    Signature,CN%3DIKI...,8686713829,BASE64  last line: issuer DN, serial, signature (kept, not verified)

Rules when a file is submitted (TADP 3.7 [SEED-000, SEED-002]):

* any failed check rejects the **whole** file and changes nothing: sequence number not above
  the last accepted one, two rows for the same (SRV, period), malformed lines, no signature;
* a critical SRV without any row gets ADT 0 / warning 0 over 1440 minutes;
* 6.23 without a 1440-minute row gets one with ADT 0 / warning 0;
* a User that never submitted a file has ADT 0 / warning 0 (1440 minutes) for every critical SRV
  and for 6.23 (the latter is the project's reading: TADP mandates a daily 6.23 threshold).

Evaluation (``AdtRegistry.check_and_record``): only the User's 1440-minute 6.23 threshold is used
[SEED-000 8.2]; the 6.23s the CoS party processed for that User in the last 1440 minutes plus
this one are counted, and the request breaches when that count is above (``"gt"``, default) the
ADT. So ADT 0 stops every 6.23 (duis-ecos.md 5.2 implication) and ADT n lets n through per day.
A stopped request is not counted.
"""

from __future__ import annotations

import csv
import enum
import io
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .db import Database
from .ids import EuiLike, eui, eui_text
from .tables import COS_PARTY_PERIOD_MINUTES, CRITICAL_SRVS

SRV_623 = "6.23"
_SRV = re.compile(r"^\d+(\.\d+)*$")


class AdtRejectReason(enum.StrEnum):
    MALFORMED = "MALFORMED"
    REPLAYED_SEQUENCE = "REPLAYED_SEQUENCE"
    DUPLICATE_ENTRY = "DUPLICATE_ENTRY"
    MISSING_SIGNATURE = "MISSING_SIGNATURE"


class AdtRejected(ValueError):
    """The whole ADT file is rejected; nothing in it is applied."""

    def __init__(self, reason: AdtRejectReason, detail: str):
        super().__init__(f"ADT file rejected ({reason}): {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Threshold:
    srv: str
    warning: int
    quarantine: int  # the anomaly detection threshold (ADT)
    minutes: int
    defaulted: bool = False  # created by a TADP default rule, not by the User


@dataclass(frozen=True)
class AdtFile:
    user_id: bytes
    sequence_number: int
    thresholds: tuple[Threshold, ...]
    signature: str  # the Signature line as received (recorded, not verified)


def _reject(detail: str, reason: AdtRejectReason = AdtRejectReason.MALFORMED) -> AdtRejected:
    return AdtRejected(reason, detail)


def _non_negative(text: str, what: str, line: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise _reject(f"line {line}: {what} {text!r} is not an integer") from None
    if value < 0:
        raise _reject(f"line {line}: {what} {value} is negative")
    return value


def parse_adt(text: str) -> AdtFile:
    """Parse an ADT file (layout in the module docstring); ``AdtRejected`` on any defect."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(lines) < 3:
        raise _reject("a file needs the User ID, the sequence number and the Signature lines")
    number, first = lines[0]
    try:
        user_id = eui(first.strip().split(",")[0])
    except ValueError:
        raise _reject(f"line {number}: not a User ID: {first!r}") from None
    rows = list(csv.reader(io.StringIO("\n".join(line for _, line in lines[1:]))))
    numbers = [n for n, _ in lines[1:]]
    head = rows[0]
    if len(head) != 2 or head[0].strip() != "SequenceNumber":
        raise _reject(f"line {numbers[0]}: expected 'SequenceNumber,<n>', got {','.join(head)!r}")
    sequence = _non_negative(head[1], "sequence number", numbers[0])
    last = rows[-1]
    if not last or last[0].strip() != "Signature":
        raise _reject("the last line must be the Signature line", AdtRejectReason.MISSING_SIGNATURE)
    if len(last) != 4 or not all(part.strip() for part in last[1:]):
        raise _reject(f"line {numbers[-1]}: Signature needs issuer, serial and value",
                      AdtRejectReason.MISSING_SIGNATURE)
    thresholds, seen = [], set()
    for row, line in zip(rows[1:-1], numbers[1:-1], strict=True):
        if len(row) != 4:
            raise _reject(f"line {line}: expected SRV,warning,quarantine,minutes")
        srv = row[0].strip()
        if not _SRV.match(srv):
            raise _reject(f"line {line}: {srv!r} is not an SRV")
        warning = _non_negative(row[1], "warning threshold", line)
        quarantine = _non_negative(row[2], "quarantine threshold", line)
        minutes = _non_negative(row[3], "time period", line)
        if minutes == 0:
            raise _reject(f"line {line}: the time period must be at least one minute")
        if (srv, minutes) in seen:
            raise _reject(f"line {line}: second entry for SRV {srv} over {minutes} minutes",
                          AdtRejectReason.DUPLICATE_ENTRY)
        seen.add((srv, minutes))
        thresholds.append(Threshold(srv, warning, quarantine, minutes))
    return AdtFile(user_id, sequence, tuple(thresholds), ",".join(last))


def apply_defaults(thresholds: Iterable[Threshold], critical_srvs: Iterable[str]) -> tuple[Threshold, ...]:
    """The TADP default rows added to a valid file's own."""
    out = list(thresholds)
    named = {t.srv for t in out}
    for srv in critical_srvs:
        if srv not in named:
            out.append(Threshold(srv, 0, 0, COS_PARTY_PERIOD_MINUTES, defaulted=True))
    if not any(t.srv == SRV_623 and t.minutes == COS_PARTY_PERIOD_MINUTES for t in out):
        out.append(Threshold(SRV_623, 0, 0, COS_PARTY_PERIOD_MINUTES, defaulted=True))
    return tuple(out)


@dataclass(frozen=True)
class AnomalyVerdict:
    """The CoS party's anomaly detection result for one request."""

    user_id: bytes
    srv: str
    count: int  # requests in the window including this one
    threshold: Threshold
    breached: bool
    warning: bool

    def describe(self) -> str:
        return (f"{self.count} x SRV {self.srv} in {self.threshold.minutes} min against ADT "
                f"{self.threshold.quarantine} (warning {self.threshold.warning})"
                f"{' [TADP default]' if self.threshold.defaulted else ''}")


class AdtRegistry:
    """Users' thresholds, last accepted sequence numbers and the 6.23 event log (durable)."""

    def __init__(self, db: Database, *, critical_srvs: Iterable[str] = CRITICAL_SRVS, comparison: str = "gt",
                 clock: Callable[[], float] = time.time):
        if comparison not in ("gt", "ge"):
            raise ValueError("comparison must be 'gt' or 'ge'")
        self.db = db
        self.critical_srvs = tuple(critical_srvs)
        self.comparison = comparison
        self.clock = clock

    def submit(self, data: str | AdtFile) -> AdtFile:
        """Accept a file (with defaults applied) or raise ``AdtRejected`` and change nothing."""
        parsed = parse_adt(data) if isinstance(data, str) else data
        effective = apply_defaults(parsed.thresholds, self.critical_srvs)
        user = eui_text(parsed.user_id)
        with self.db.transaction() as conn:
            row = conn.execute("SELECT sequence_number FROM adt_files WHERE user_id = ?", (user,)).fetchone()
            if row is not None and parsed.sequence_number <= row["sequence_number"]:
                raise AdtRejected(AdtRejectReason.REPLAYED_SEQUENCE,
                                  f"sequence number {parsed.sequence_number} is not above the last accepted "
                                  f"{row['sequence_number']} for {user}")
            conn.execute("INSERT OR REPLACE INTO adt_files (user_id, sequence_number, accepted_at, signature)"
                         " VALUES (?, ?, ?, ?)", (user, parsed.sequence_number, self.clock(), parsed.signature))
            conn.execute("DELETE FROM adt_thresholds WHERE user_id = ?", (user,))
            conn.executemany("INSERT INTO adt_thresholds (user_id, srv, minutes, warning, quarantine, defaulted)"
                             " VALUES (?, ?, ?, ?, ?, ?)",
                             [(user, t.srv, t.minutes, t.warning, t.quarantine, int(t.defaulted)) for t in effective])
        return AdtFile(parsed.user_id, parsed.sequence_number, effective, parsed.signature)

    def last_sequence_number(self, user_id: EuiLike) -> int | None:
        rows = self.db.query("SELECT sequence_number FROM adt_files WHERE user_id = ?", (eui_text(user_id),))
        return rows[0]["sequence_number"] if rows else None

    def thresholds(self, user_id: EuiLike) -> tuple[Threshold, ...]:
        """The User's thresholds; TADP's all-zero defaults for a User that never submitted."""
        rows = self.db.query("SELECT * FROM adt_thresholds WHERE user_id = ? ORDER BY srv, minutes",
                             (eui_text(user_id),))
        if not rows and self.last_sequence_number(user_id) is None:
            return apply_defaults((), self.critical_srvs)
        return tuple(Threshold(r["srv"], r["warning"], r["quarantine"], r["minutes"], bool(r["defaulted"]))
                     for r in rows)

    def threshold(self, user_id: EuiLike, srv: str = SRV_623,
                  minutes: int = COS_PARTY_PERIOD_MINUTES) -> Threshold | None:
        return next((t for t in self.thresholds(user_id) if t.srv == srv and t.minutes == minutes), None)

    def _exceeds(self, count: int, limit: int) -> bool:
        return count > limit if self.comparison == "gt" else count >= limit

    def check_and_record(self, user_id: EuiLike, request_id: str, srv: str = SRV_623) -> AnomalyVerdict:
        """Count this request against the User's daily threshold; record it only when not breached.

        One transaction, so concurrent submissions for one User cannot both slip under the limit.
        """
        user = eui_text(user_id)
        threshold = self.threshold(user_id, srv) or Threshold(srv, 0, 0, COS_PARTY_PERIOD_MINUTES, defaulted=True)
        now = self.clock()
        with self.db.transaction() as conn:
            window_start = now - threshold.minutes * 60
            count = conn.execute("SELECT COUNT(*) AS n FROM srv_events WHERE user_id = ? AND srv = ? AND at > ?",
                                 (user, srv, window_start)).fetchone()["n"] + 1
            breached = self._exceeds(count, threshold.quarantine)
            if not breached:
                conn.execute("INSERT INTO srv_events (user_id, srv, at, request_id) VALUES (?, ?, ?, ?)",
                             (user, srv, now, request_id))
        return AnomalyVerdict(eui(user_id), srv, count, threshold, breached,
                              warning=self._exceeds(count, threshold.warning))
