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
    failing = by_model([_record("m", "failed"), _record("c", "passed"), _record("n", "failed")])[0]
    assert failing.verdict == NOT_MIGRATABLE and "failed: m on r1, n on r1" in failing.verdict_reason
    # a failure outweighs anything unproven
    assert by_model([_record("m", "failed"), _record("c", "inconclusive")])[0].verdict == NOT_MIGRATABLE
    for unproven in ("inconclusive", "not-run", "skipped", "error"):
        result = by_model([_record("m", unproven), _record("c", "passed")])[0]
        assert result.verdict == NOT_PROVEN, unproven
        assert "on r1" in result.verdict_reason and result.missing_rigs() == ["r1"]
    assert by_model([_record("x", "failed", required=False), _record("c", "passed")])[0].verdict == MIGRATABLE
    dcc = by_model([_record("d", "failed", kind="dcc"), _record("c", "passed")])[0]
    assert dcc.verdict == MIGRATABLE  # the rig's own checks do not decide a device model's verdict
    assert dcc.counts() == {"passed": 1} and len(dcc.dcc_records) == 1  # and are not counted
    assert overall_exit_code([_record("d", "failed", kind="dcc"), _record("c", "passed")]) == 0
    assert overall_exit_code([_record("c", "passed")]) == 0 and overall_exit_code([]) == 3
    assert overall_exit_code([_record("c", "failed"), _record("d", "not-run", model="M2")]) == 1
    assert overall_exit_code([_record("c", "passed"), _record("d", "not-run", model="M2")]) == 3
    assert [r.model for r in by_model([_record("a", "passed"), _record("a", "passed", model="M2")])] == ["M1", "M2"]
    declared = {**_record("probe", "not-applicable"), "reason": "the ZigBee bridge routes each frame by recipient"}
    assert by_model([declared, _record("c", "passed")])[0].verdict == MIGRATABLE
    assert by_model([declared, _record("c", "passed")])[0].counts() == {"passed": 1}
    assert by_model([declared])[0].verdict == NOT_PROVEN  # nothing at all established
    legacy = {**_record("probe", "skipped"), "reason": "not applicable: the zigbee link cannot deliver it"}
    assert by_model([legacy, _record("c", "passed")])[0].verdict == MIGRATABLE
    assert overall_exit_code([declared, _record("c", "passed")]) == 0


def _session(rigs=("r1",), scenarios=("a", "b"), applicable=True):
    return {"type": "session", "attribution": {"rigs": {
        rig: {"device_type": "ESME", "manufacturer": "ACME", "model": "M1", "firmware": "1", "eui64": "00" * 8,
              "transport_configured": {"kind": "emulated"}} for rig in rigs}},
        "expected": [{"scenario": s, "rig": rig, "title": s, "kind": "device", "required": True, "order": 0,
                      "applicable": applicable, "reason": "" if applicable else "not for this rig"}
                     for rig in rigs for s in scenarios]}


def test_the_verdict_counts_the_expected_set_not_what_ran(tmp_path):
    """A run that concluded only some of its expected pairs is NOT PROVEN naming the rest."""
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.append(_session())
    journal.append(_record("a", "passed"))
    records = journal_tests(path)
    assert {(r["scenario"], r["outcome"]) for r in records} == {("a", "passed"), ("b", "not-run")}
    result = by_model(records)[0]
    assert result.verdict == NOT_PROVEN and "not run: b on r1" in result.verdict_reason
    assert result.key == "ACME M1 1"  # the placeholder is grouped with the rig's model
    assert overall_exit_code(records) == 3
    journal.append(_record("b", "passed"))
    assert overall_exit_code(journal_tests(path)) == 0
    # a pair the catalogue declares not applicable is shown, with its reason, and not counted
    other = tmp_path / "other.jsonl"
    Journal(other).append(_session(scenarios=("c",), applicable=False))
    Journal(other).append(_record("a", "passed"))
    placeholder = next(r for r in journal_tests(other) if r["scenario"] == "c")
    assert placeholder["outcome"] == "not-applicable" and placeholder["reason"] == "not for this rig"
    assert by_model(journal_tests(other))[0].verdict == MIGRATABLE


def test_merge_judges_the_union_of_runs(tmp_path):
    from rig.report.merge import merge

    first, second = tmp_path / "a", tmp_path / "b"
    Journal(first / "journal.jsonl").append(_session(rigs=("r1", "r2")))
    Journal(first / "journal.jsonl").append(_record("a", "passed"))
    Journal(first / "journal.jsonl").append(_record("b", "passed"))
    Journal(second / "journal.jsonl").append(_session(rigs=("r1", "r2")))
    Journal(second / "journal.jsonl").append(_record("a", "passed", rig="r2"))
    merge([first], tmp_path / "only-a")
    records = journal_tests(tmp_path / "only-a" / "journal.jsonl")
    assert by_model(records)[0].verdict == NOT_PROVEN and by_model(records)[0].missing_rigs() == ["r2"]
    merge([first, second], tmp_path / "both")
    records = journal_tests(tmp_path / "both" / "journal.jsonl")
    result = by_model(records)[0]
    assert result.verdict == NOT_PROVEN and "not run: b on r2" in result.verdict_reason
    Journal(second / "journal.jsonl").append(_record("b", "passed", rig="r2"))
    merge([first, second], tmp_path / "both")
    assert by_model(journal_tests(tmp_path / "both" / "journal.jsonl"))[0].verdict == MIGRATABLE
    junit = (tmp_path / "both" / "junit.xml").read_text()
    assert junit.count("<testcase ") == 4 and "<failure" not in junit


def test_junit_from_the_journal_agrees_with_the_outcomes(tmp_path):
    from xml.etree import ElementTree

    from rig.report.junit import write_junit

    records = [_record("a", "passed"), {**_record("b", "failed"), "reason": "E   cell statuses: got X"},
               {**_record("c", "inconclusive"), "reason": "link lost: port gone"}, _record("d", "not-run"),
               _record("e", "not-applicable")]
    suite = ElementTree.parse(write_junit(records, tmp_path / "junit.xml")).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("5", "1", "1", "2")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["c"].find("error").get("message") == "inconclusive: link lost: port gone"
    assert cases["d"].find("skipped").get("message").startswith("not-run")
    assert cases["a"].find("failure") is None and cases["a"].find("error") is None


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
