"""Journal durability and the proof report's verdict rules."""

from __future__ import annotations

from rig.report import MIGRATABLE, NOT_MIGRATABLE, NOT_PROVEN, Journal, by_model, read, render_model
from rig.report import tests as journal_tests
from rig.report.model import overall_exit_code
from rig.report.svg import sequence_diagram


def _record(scenario, outcome, *, required=True, kind="device", model="M1", rig="r1"):
    return {"type": "test", "scenario": scenario, "title": scenario, "outcome": outcome,
            "required": required, "kind": kind, "manufacturer": "ACME", "model": model, "firmware": "1",
            "rig": rig, "device": "ESME"}


def test_journal_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.append(_record("a", "passed"))
    journal.append(_record("b", "failed"))
    with open(path, "a") as handle:
        handle.write('{"type": "test", "scenario": "c", "outc')  # killed mid-write
    assert [r["scenario"] for r in read(path)] == ["a", "b"]
    journal.append(_record("b", "passed"))  # a later result for the same key wins
    assert {r["scenario"]: r["outcome"] for r in journal_tests(path)} == {"a": "passed", "b": "passed"}


def test_verdicts():
    assert by_model([_record("m", "passed"), _record("c", "passed")])[0].verdict == MIGRATABLE
    failing = by_model([_record("m", "failed"), _record("c", "passed")])[0]
    assert failing.verdict == NOT_MIGRATABLE and "failed: m on r1" in failing.verdict_reason
    assert by_model([_record("m", "skipped"), _record("c", "passed")])[0].verdict == NOT_PROVEN
    assert by_model([_record("x", "failed", required=False), _record("c", "passed")])[0].verdict == MIGRATABLE
    dcc = by_model([_record("d", "failed", kind="dcc"), _record("c", "passed")])[0]
    assert dcc.verdict == MIGRATABLE  # the rig's own checks do not decide a device model's verdict
    assert overall_exit_code([_record("d", "failed", kind="dcc"), _record("c", "passed")]) == 1
    assert overall_exit_code([_record("c", "passed")]) == 0 and overall_exit_code([]) == 1
    assert [r.model for r in by_model([_record("a", "passed"), _record("a", "passed", model="M2")])] == ["M1", "M2"]
    not_applicable = {**_record("probe", "skipped"), "reason": "not applicable: the zigbee link cannot deliver it"}
    assert by_model([not_applicable, _record("c", "passed")])[0].verdict == MIGRATABLE
    assert overall_exit_code([not_applicable, _record("c", "passed")]) == 0


def test_html_is_self_contained_and_escaped():
    record = {**_record("<script>", "failed"), "reason": "E   got <b>", "frames": [
        {"time": "t", "direction": "tx", "hex": "DF09", "summary": "COMMAND <x>", "offset": 0.0},
        {"time": "t", "direction": "rx", "hex": "DF0902", "summary": "RESPONSE", "offset": 0.01}],
        "evidence": [{"name": "n", "value": "<v>", "expected": "e", "ok": False}]}
    page = render_model(by_model([record])[0])
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;v&gt;" in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from elsewhere
    svg = sequence_diagram(record["frames"])
    assert svg.count("<line") == 4 and "COMMAND &lt;x&gt;" in svg
