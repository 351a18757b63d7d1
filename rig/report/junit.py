"""JUnit XML written from the journal: one file per run folder, whatever the number of runs.

A resumed run adds its results to the same journal; regenerating ``junit.xml`` from it (instead
of one pytest ``--junitxml`` file per run) keeps one file per folder that agrees with the
verdict: ``failed`` is a ``<failure>``, ``inconclusive`` an ``<error>``, ``not-run`` and
``not-applicable`` are ``<skipped>`` with their reason.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .model import FAILED, INCONCLUSIVE, PASSED, outcome_of

PROPERTIES = ("rig", "device", "manufacturer", "model", "firmware", "transport", "device_id", "kind")


def write_junit(records: list[dict[str, Any]], path: str | Path, *, name: str = "gbcs-rig proof") -> Path:
    path = Path(path)
    ordered = sorted(records, key=lambda r: (r.get("order", 0), r.get("rig", "") or "", r.get("scenario", "")))
    outcomes = [outcome_of(r) for r in ordered]
    suite = ET.Element("testsuite", name=name, tests=str(len(ordered)),
                       failures=str(outcomes.count(FAILED)), errors=str(outcomes.count(INCONCLUSIVE)),
                       skipped=str(sum(o not in (PASSED, FAILED, INCONCLUSIVE) for o in outcomes)),
                       time=f"{sum(float(r.get('duration', 0) or 0) for r in ordered):.3f}")
    for record, outcome in zip(ordered, outcomes, strict=True):
        case = ET.SubElement(suite, "testcase", classname=f"rig.scenarios.{record.get('rig', '')}",
                             name=str(record.get("scenario", "")), time=f"{float(record.get('duration', 0) or 0):.3f}")
        properties = ET.SubElement(case, "properties")
        for key in PROPERTIES:
            if record.get(key) is not None:
                ET.SubElement(properties, "property", name=key, value=str(record[key]))
        ET.SubElement(properties, "property", name="outcome", value=outcome)
        ET.SubElement(properties, "property", name="required", value=str(bool(record.get("required", True))).lower())
        for key in ("response_codes", "alert_codes"):
            if record.get(key):
                ET.SubElement(properties, "property", name=key, value=" ".join(map(str, record[key])))
        reason = str(record.get("reason", ""))
        if outcome == FAILED:
            ET.SubElement(case, "failure", message=reason.splitlines()[0] if reason else "failed").text = reason
        elif outcome == INCONCLUSIVE:
            ET.SubElement(case, "error", message=f"inconclusive: {reason}").text = reason
        elif outcome != PASSED:
            ET.SubElement(case, "skipped", message=f"{outcome}: {reason}")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
