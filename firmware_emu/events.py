"""The device's event log (security and event logs in one list, as the rig reads them)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from rig.gbcs.compiling import fast_init
from rig.gbcs.tables import alert_code_label

#: events kept per device (older ones fall off, as on a meter's circular log)
CAPACITY = 500


@fast_init  # one per command processed: the frozen dataclass __init__ costs a call per field
@dataclass(frozen=True)
class Event:
    time: _dt.datetime
    code: int
    detail: str = ""

    @property
    def name(self) -> str:
        return alert_code_label(self.code) if self.code else "note"

    def to_json(self) -> dict:
        return {"time": self.time.isoformat(), "code": self.code, "detail": self.detail}

    @classmethod
    def from_json(cls, data: dict) -> Event:
        return cls(_dt.datetime.fromisoformat(data["time"]), int(data["code"]), data.get("detail", ""))

    def __str__(self) -> str:
        code = f"0x{self.code:04X} {self.name}" if self.code else "note"
        return f"{self.time.isoformat()} {code}: {self.detail}"
