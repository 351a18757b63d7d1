"""The run journal: one JSON object per line, appended and fsynced as things happen.

It is the record every report is built from and what ``--resume`` reads, so it must survive a
kill at any moment: each line is written whole and flushed to disk before the run goes on; a
torn last line (power cut mid-write) is ignored on reading.

Record types:

* ``session``: a run started: ``attribution`` (versions, catalogue version, start time, and per
  rig the device, rig kind, transport and PKI fingerprints), ``expected`` (every scenario and rig
  pair a complete run concludes, applicable or not) and ``options`` (config, rigs, mode: what
  ``--resume`` continues with);
* ``rig``: a rig's transport was opened (``transport_resolved``: the port and its udev
  properties, the spawned emulator's URL);
* ``test``: one scenario on one rig finished (outcome, evidence, codes, timings, frames);
* ``counter``: an anti-replay counter was committed for a remote party and device (resume
  safety is enforced by the inventory; this is the audit trail);
* ``end``: the run finished (``exit_status``, ``complete``: false when interrupted, ``ended``).
  A journal without one is from a run that was killed.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer process per journal there
    fcntl = None  # type: ignore[assignment]

JOURNAL_NAME = "journal.jsonl"


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


class Journal:
    """Append-only JSON-lines writer (thread-safe, durable per record)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        record = {"time": now_iso(), **record}
        line = json.dumps(record, default=str, separators=(",", ":")) + "\n"
        with self._lock, open(self.path, "a+b") as handle:
            if fcntl is not None:  # pytest-xdist workers append to one journal: one whole line at a time
                with suppress(OSError):
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            size = handle.seek(0, os.SEEK_END)
            if size:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":  # a torn line from a killed writer: end it first
                    line = "\n" + line
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())


def read(path: str | Path) -> Iterator[dict[str, Any]]:
    """Records of a journal; a torn or corrupt line (a kill mid-write) is skipped."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


def tests(path: str | Path) -> list[dict[str, Any]]:
    """The ``test`` records, the last one winning per (scenario, rig), and for every expected
    pair no run concluded a ``not-run`` (or declared ``not-applicable``) record in its place."""
    return with_missing(list(read(path)))


def _latest_tests(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        if record.get("type") == "test":
            latest[(record.get("scenario", record.get("nodeid", "")), record.get("rig", ""))] = record
    return latest


def expected(records: list[dict[str, Any]]) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, dict]]:
    """The union of the expected sets of every session record, and the attribution of each rig."""
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    rigs: dict[str, dict] = {}
    for record in records:
        if record.get("type") != "session":
            continue
        for entry in record.get("expected", []) or []:
            pairs.setdefault((entry.get("scenario", ""), entry.get("rig", "")), entry)
        for rig_id, info in ((record.get("attribution") or {}).get("rigs") or {}).items():
            rigs.setdefault(rig_id, info)
    return pairs, rigs


def with_missing(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Test records plus placeholders for the expected pairs none of them concluded."""
    from rig.report.model import NOT_APPLICABLE, NOT_RUN

    latest = _latest_tests(records)
    pairs, rigs = expected(records)
    for key, entry in pairs.items():
        if key in latest:
            continue
        rig = rigs.get(key[1], {})
        latest[key] = {
            "type": "test", "scenario": entry.get("scenario"), "rig": entry.get("rig"),
            "title": entry.get("title", ""), "description": entry.get("description", ""),
            "kind": entry.get("kind", "device"), "required": entry.get("required", True),
            "order": entry.get("order", 0),
            "outcome": NOT_RUN if entry.get("applicable", True) else NOT_APPLICABLE,
            "reason": "not run in this report's runs" if entry.get("applicable", True) else entry.get("reason", ""),
            "device": rig.get("device_type"), "manufacturer": rig.get("manufacturer"), "model": rig.get("model"),
            "firmware": rig.get("firmware"), "device_id": rig.get("eui64"),
            "transport": (rig.get("transport_configured") or {}).get("kind"), "synthesised": True,
        }
    return list(latest.values())


def run_summary(path: str | Path) -> dict[str, Any]:
    """What a report shows about the run(s) of a journal: when the last run ended and whether it
    completed (the attribution header comes from ``rig.report.attribution.attribution_of``)."""
    records = list(read(path))
    sessions = [r for r in records if r.get("type") == "session"]
    ends = [r for r in records if r.get("type") == "end"]
    if not sessions:
        return {}
    last_session_time = sessions[-1].get("time", "")
    last_end = next((e for e in reversed(ends) if e.get("time", "") >= last_session_time), None)
    if last_end is None:
        completion = "interrupted: the last run wrote no end record (killed or crashed)"
    elif not last_end.get("complete", True):
        completion = "interrupted (Ctrl-C)"
    else:
        # one session record per process: under pytest-xdist every worker writes one
        runs = sum(1 for r in sessions if r.get("worker", "main") in ("main", "gw0"))
        completion = "complete" if runs <= 1 else f"complete ({runs} runs: resumed)"
    return {"ended": last_end.get("ended") if last_end else None, "completion": completion, "runs": len(sessions)}
