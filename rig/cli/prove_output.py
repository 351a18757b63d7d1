"""What ``gbcs-rig prove`` prints for scripts: ``--list`` (the catalogue) and ``--json`` (the
run's summary).

Both are stable shapes a CI job can parse; the human progress and verdict lines stay the
reference (``--json`` sends them to stderr, so stdout holds exactly one JSON document).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from rig.report.model import EXIT_CODES, OUTCOMES, ModelResult, outcome_of


def catalogue_rows() -> list[dict[str, Any]]:
    """One entry per scenario, in the order a run follows (``Scenario.order``)."""
    from rig.scenarios.catalogue import CATALOGUE

    return [{"id": s.id, "title": s.title, "kind": s.kind, "required": s.required, "devices": list(s.devices),
             "features": list(s.features), "needs": list(s.needs), "description": s.description}
            for s in sorted(CATALOGUE, key=lambda s: s.order)]


def print_list(stream: TextIO, *, as_json: bool) -> None:
    """The catalogue as a table (or JSON with the catalogue version)."""
    from rig.scenarios.catalogue import catalogue_version

    rows = catalogue_rows()
    if as_json:
        stream.write(json.dumps({"catalogue_version": catalogue_version(), "scenarios": rows}, indent=2) + "\n")
        return
    width = max(len(row["id"]) for row in rows)
    stream.write(f"{'id':<{width}}  {'kind':<6} {'required':<8} {'devices':<19} {'features':<13} title\n")
    for row in rows:
        stream.write(f"{row['id']:<{width}}  {row['kind']:<6} {'yes' if row['required'] else 'no':<8} "
                     f"{','.join(row['devices']):<19} {','.join(row['features']) or '-':<13} {row['title']}\n")
    stream.write(f"{len(rows)} scenarios (catalogue {catalogue_version()}); run some with: gbcs-rig prove -k EXPR\n")


def summary(*, verdict: str, records: list[dict[str, Any]], results: list[ModelResult], config: str,
            report_dir: Path, report: Path, manifest: Path, resume: str | None) -> dict[str, Any]:
    """The ``--json`` document: overall verdict and exit code, verdict per model, counts, paths."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for record in records:
        counts[outcome_of(record)] += 1
    return {
        "verdict": verdict, "exit_code": EXIT_CODES[verdict], "config": config,
        "report_dir": str(report_dir), "report": str(report), "manifest": str(manifest), "resume": resume,
        "counts": counts,
        "models": [{"model": r.key, "manufacturer": r.manufacturer, "name": r.model, "firmware": r.firmware,
                    "device_types": sorted(r.device_types), "rigs": sorted(r.rigs), "verdict": r.verdict,
                    "reason": r.verdict_reason, "counts": r.counts()} for r in results],
    }


def usage_error(message: str, code: int) -> dict[str, Any]:
    """The ``--json`` document when nothing was judged."""
    return {"verdict": None, "exit_code": code, "error": message}
