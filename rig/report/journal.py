"""The run journal: one JSON object per line, appended and fsynced as things happen.

It is the record every report is built from and what ``--resume`` reads, so it must survive a
kill at any moment: each line is written whole and flushed to disk before the run goes on; a
torn last line (power cut mid-write) is ignored on reading.

Record types:

* ``session``: a run started (config, rigs, host, versions);
* ``test``: one scenario on one rig finished (outcome, evidence, codes, timings, frames);
* ``counter``: an anti-replay counter was committed for a remote party and device (resume
  safety is enforced by the inventory; this is the audit trail);
* ``end``: the run finished (exit status).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    """The ``test`` records, the last one winning per (scenario, rig)."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for record in read(path):
        if record.get("type") == "test":
            latest[(record.get("scenario", record.get("nodeid", "")), record.get("rig", ""))] = record
    return list(latest.values())
