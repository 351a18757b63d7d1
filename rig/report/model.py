"""From journal records to per-model verdicts: what a manufacturer hands on.

A device model (manufacturer, model, firmware) is **migratable** when every required scenario
passed on every rig of that model; **not migratable** when a required scenario failed (the
verdict names it); **not proven** when required scenarios are missing or were skipped.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

MIGRATABLE = "MIGRATABLE"
NOT_MIGRATABLE = "NOT MIGRATABLE"
NOT_PROVEN = "NOT PROVEN"
NOT_APPLICABLE = "not applicable"


@dataclass
class ModelResult:
    manufacturer: str
    model: str
    firmware: str
    device_types: set[str] = field(default_factory=set)
    rigs: set[str] = field(default_factory=set)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.manufacturer} {self.model} {self.firmware}".strip()

    @property
    def required(self) -> list[dict[str, Any]]:
        """Required device scenarios: they decide the verdict (DCC-side ones prove the rig)."""
        return [r for r in self.records if r.get("required", True) and r.get("kind", "device") == "device"]

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.required if r.get("outcome") in ("failed", "error")]

    @property
    def unproven(self) -> list[dict[str, Any]]:
        """Required results that neither passed nor failed, except scenarios skipped as not
        applicable (a probe the link cannot carry, a cell the device type does not have)."""
        return [r for r in self.required if r.get("outcome") not in ("passed", "failed", "error")
                and not str(r.get("reason", "")).startswith(NOT_APPLICABLE)]

    @property
    def verdict(self) -> str:
        if self.failures:
            return NOT_MIGRATABLE
        if not self.required or self.unproven:
            return NOT_PROVEN
        return MIGRATABLE

    @property
    def verdict_reason(self) -> str:
        if self.failures:
            first = self.failures[0]
            more = f" (and {len(self.failures) - 1} more)" if len(self.failures) > 1 else ""
            return f"failed: {first.get('title') or first.get('scenario')} on {first.get('rig')}{more}"
        if not self.required:
            return "no required scenario was run"
        if self.unproven:
            first = self.unproven[0]
            return f"not run or skipped: {first.get('title') or first.get('scenario')} ({first.get('reason', '')})"
        return f"all {len(self.required)} required scenario results passed"

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for record in self.records:
            out[record.get("outcome", "?")] = out.get(record.get("outcome", "?"), 0) + 1
        return out


def by_model(records: list[dict[str, Any]]) -> list[ModelResult]:
    models: OrderedDict[tuple[str, str, str], ModelResult] = OrderedDict()
    for record in sorted(records, key=lambda r: (r.get("order", 0), r.get("rig", ""))):
        key = (record.get("manufacturer") or "unknown", record.get("model") or "unknown", record.get("firmware") or "")
        result = models.setdefault(key, ModelResult(*key))
        result.records.append(record)
        result.rigs.add(record.get("rig", ""))
        if record.get("device"):
            result.device_types.add(record["device"])
    return list(models.values())


def overall_exit_code(records: list[dict[str, Any]]) -> int:
    """0 only when every required scenario passed (and at least one ran); scenarios skipped as
    not applicable are neither passed nor failed."""
    required = [r for r in records if r.get("required", True)
                and not (r.get("outcome") == "skipped" and str(r.get("reason", "")).startswith(NOT_APPLICABLE))]
    if not required or any(r.get("outcome") != "passed" for r in required):
        return 1
    return 0
