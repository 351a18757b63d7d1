"""From journal records to per-model verdicts: what a manufacturer hands on.

A device model (manufacturer, model, firmware) is judged over the *whole* required catalogue for
its rigs' device types and declared features (the ``expected`` set the journal keeps, so a
scenario a run left out is ``not-run``, never forgotten):

* **MIGRATABLE** only when every required device scenario passed;
* **NOT MIGRATABLE** when any required device scenario failed (each is named);
* **NOT PROVEN** when none failed but any is inconclusive or not run (each is named; the way
  to complete it is ``gbcs-rig prove --resume DIR``).

``not-applicable`` results (declared by the catalogue, with the reason) count for nothing. The
rig's own DCC-side checks (kind ``dcc``) are reported in their own section and do not count for
a device model's verdict.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

#: the five outcomes of a scenario result (``rig.harness.outcomes`` says which exception gives which)
PASSED = "passed"
FAILED = "failed"
INCONCLUSIVE = "inconclusive"
NOT_APPLICABLE = "not-applicable"
NOT_RUN = "not-run"
OUTCOMES = (PASSED, FAILED, INCONCLUSIVE, NOT_APPLICABLE, NOT_RUN)

MIGRATABLE = "MIGRATABLE"
NOT_MIGRATABLE = "NOT MIGRATABLE"
NOT_PROVEN = "NOT PROVEN"

#: exit codes of ``gbcs-rig prove`` and ``gbcs-rig report merge`` (docs/verdict.md)
EXIT_CODES = {MIGRATABLE: 0, NOT_MIGRATABLE: 1, NOT_PROVEN: 3}
EXIT_USAGE = 2  # a configuration or usage error: nothing was judged

_LEGACY_NA = "not applicable"


def outcome_of(record: dict[str, Any]) -> str:
    """The record's outcome as one of ``OUTCOMES`` (journals written before the five outcomes
    said ``error`` and ``skipped``: neither is evidence, so both read as inconclusive unless the
    skip was declared not applicable)."""
    outcome = record.get("outcome")
    if outcome in OUTCOMES:
        return outcome
    if outcome == "skipped" and str(record.get("reason", "")).startswith(_LEGACY_NA):
        return NOT_APPLICABLE
    return INCONCLUSIVE


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
    def device_records(self) -> list[dict[str, Any]]:
        """Device conformance results (what the verdict is about), applicable or not."""
        return [r for r in self.records if r.get("kind", "device") == "device"]

    @property
    def dcc_records(self) -> list[dict[str, Any]]:
        """The rig's own DCC-side checks: shown apart, not counted for the device verdict."""
        return [r for r in self.records if r.get("kind") == "dcc"]

    @property
    def required(self) -> list[dict[str, Any]]:
        """The required, applicable device results: exactly what the verdict counts."""
        return [r for r in self.device_records if r.get("required", True) and outcome_of(r) != NOT_APPLICABLE]

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.required if outcome_of(r) == FAILED]

    @property
    def unproven(self) -> list[dict[str, Any]]:
        """Required results that neither passed nor failed: inconclusive or not run."""
        return [r for r in self.required if outcome_of(r) not in (PASSED, FAILED)]

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
            return f"failed: {_names(self.failures)}"
        if not self.required:
            return "no required device scenario applies or was expected"
        if self.unproven:
            inconclusive = [r for r in self.unproven if outcome_of(r) == INCONCLUSIVE]
            not_run = [r for r in self.unproven if outcome_of(r) == NOT_RUN]
            parts = []
            if inconclusive:
                parts.append(f"inconclusive: {_names(inconclusive, with_reason=True)}")
            if not_run:
                parts.append(f"not run: {_names(not_run)}")
            return f"{len(self.unproven)} of {len(self.required)} required scenario results not established; " \
                   + "; ".join(parts)
        return f"all {len(self.required)} required scenario results passed"

    def counts(self) -> dict[str, int]:
        """Outcomes over the results the verdict counts (the number at the top of a report)."""
        out: dict[str, int] = {}
        for record in self.required:
            outcome = outcome_of(record)
            out[outcome] = out.get(outcome, 0) + 1
        return out

    def missing_rigs(self) -> list[str]:
        """Rigs with required results still to establish (for the ``--resume`` hint)."""
        return sorted({r.get("rig", "") for r in self.unproven})


def _names(records: list[dict[str, Any]], *, with_reason: bool = False) -> str:
    parts = []
    for record in records:
        name = f"{record.get('title') or record.get('scenario')} on {record.get('rig')}"
        if with_reason and record.get("reason"):
            name += f" ({' '.join(str(record['reason']).split())[:160]})"
        parts.append(name)
    return ", ".join(parts)


def by_model(records: list[dict[str, Any]]) -> list[ModelResult]:
    models: OrderedDict[tuple[str, str, str], ModelResult] = OrderedDict()
    for record in sorted(records, key=lambda r: (r.get("order", 0), r.get("rig", "") or "")):
        key = (record.get("manufacturer") or "unknown", record.get("model") or "unknown", record.get("firmware") or "")
        result = models.setdefault(key, ModelResult(*key))
        result.records.append(record)
        result.rigs.add(record.get("rig", ""))
        if record.get("device"):
            result.device_types.add(record["device"])
    return list(models.values())


def overall_verdict(records: list[dict[str, Any]]) -> str:
    """The worst per-model verdict (NOT PROVEN when there is no model at all)."""
    verdicts = [result.verdict for result in by_model(records)]
    if NOT_MIGRATABLE in verdicts:
        return NOT_MIGRATABLE
    if not verdicts or NOT_PROVEN in verdicts:
        return NOT_PROVEN
    return MIGRATABLE


def overall_exit_code(records: list[dict[str, Any]]) -> int:
    """0 MIGRATABLE, 1 NOT MIGRATABLE, 3 NOT PROVEN (``EXIT_CODES``), over every model."""
    return EXIT_CODES[overall_verdict(records)]
