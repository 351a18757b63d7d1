"""``prove --list [--json]``, ``prove --json`` and the ``devices`` hint (issue 15): output a
script can parse and a person can act on."""

from __future__ import annotations

import json

import pytest

from rig import discovery
from rig.cli.main import main
from rig.scenarios.catalogue import CATALOGUE, catalogue_version

from .test_discovery import FakeBackend, bench
from .vectors import PROJECT

EMULATED = PROJECT / "hw_configs" / "emulated.toml"


def test_prove_list_names_every_scenario_with_its_title_kind_devices_and_features(capsys):
    assert main(["prove", "--list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert set(rows) == {s.id for s in CATALOGUE}
    assert rows["future-dated"].split()[1:5] == ["device", "yes", "ESME,GSME,GPF", "future_dated"]
    assert rows["future-dated"].endswith("Future-dated change of supplier (0x8F66)")
    assert rows["initial-read-back"].split()[3] == "ESME,GSME,CHF,GPF"
    assert f"{len(CATALOGUE)} scenarios" in out.splitlines()[-1]


def test_prove_list_json_is_the_catalogue(capsys):
    assert main(["prove", "--list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["catalogue_version"] == catalogue_version()
    by_id = {row["id"]: row for row in listing["scenarios"]}
    assert list(by_id) == [s.id for s in sorted(CATALOGUE, key=lambda s: s.order)]
    for scenario in CATALOGUE:
        row = by_id[scenario.id]
        assert (row["title"], row["kind"], row["required"], row["devices"], row["features"]) == (
            scenario.title, scenario.kind, scenario.required, list(scenario.devices), list(scenario.features))
    assert any(row["kind"] == "dcc" for row in listing["scenarios"])


@pytest.mark.parametrize(("rig_id", "other", "passed"), [
    ("chf", "ESME", 4),  # the CHF's catalogue is the shortest: the fast suite's whole-rig --json run
    pytest.param("esme", "GSME", 19, marks=pytest.mark.slow),
])
def test_prove_json_is_one_document_on_stdout_and_progress_on_stderr(rig_id, other, passed, tmp_path, gbcs_rig):
    report = tmp_path / "proof"
    done = gbcs_rig("prove", "--config", str(EMULATED), "--rig", rig_id, "--report", str(report), "--json",
                    timeout=300)
    summary = json.loads(done.stdout)  # nothing else on stdout
    # --rig leaves the other rigs' models not run: NOT PROVEN, with the command that completes it
    assert done.returncode == 3 == summary["exit_code"]
    assert summary["verdict"] == "NOT PROVEN" and summary["resume"].startswith(f"gbcs-rig prove --resume {report}")
    models = {m["model"]: m for m in summary["models"]}
    chosen = models[f"gbcs-rig emulated {rig_id.upper()} 0.1.0"]
    assert chosen["verdict"] == "MIGRATABLE" and chosen["rigs"] == [rig_id] and chosen["counts"]["passed"] >= passed
    assert models[f"gbcs-rig emulated {other} 0.1.0"]["verdict"] == "NOT PROVEN"
    assert summary["counts"]["passed"] >= passed and summary["counts"]["failed"] == 0
    assert summary["counts"]["not-run"] > 0
    assert summary["report"] == str(report / "index.html") and (report / "index.html").exists()
    assert summary["manifest"] == str(report / "manifest.json")
    assert "[1/" in done.stderr and "verdict: NOT PROVEN (exit 3)" in done.stderr


def test_prove_json_on_a_configuration_error_still_gives_a_document(tmp_path, gbcs_rig):
    done = gbcs_rig("prove", "--config", str(tmp_path / "missing.toml"), "--json")
    assert done.returncode == 2
    document = json.loads(done.stdout)
    assert document["exit_code"] == 2 and document["verdict"] is None and "no such hw_config file" in document["error"]
    assert "Traceback" not in done.stderr


def _devices(capsys, monkeypatch, records, *argv) -> str:
    monkeypatch.setattr(discovery, "default_backend", lambda: FakeBackend(records))
    assert main(["devices", *argv]) == 0
    return capsys.readouterr().out


def test_devices_without_adapters_points_at_all_when_built_in_ports_exist(capsys, monkeypatch):
    built_in = [record for record in bench() if record.device_node == "/dev/ttyS0"]
    out = _devices(capsys, monkeypatch, built_in)
    assert "# no adapters found (discovery: fake)" in out
    assert "1 built-in serial port(s) not shown" in out and "gbcs-rig devices --all" in out


def test_devices_with_no_port_at_all_says_to_plug_the_adapter_in(capsys, monkeypatch):
    out = _devices(capsys, monkeypatch, [])
    assert "# no adapters found" in out and "plug the meter's USB serial adapter in" in out
    assert "not shown" not in out


def test_progress_eta_follows_the_pace_so_far():
    from rig.cli.prove import eta

    assert eta(10.0, 5, 20) == "0:30"  # 2 s a scenario, 15 to go
    assert eta(120.0, 1, 3) == "4:00"
    assert eta(3.0, 0, 10) == "0:00" and eta(9.0, 10, 10) == "0:00"


def test_prove_k_matches_the_scenario_ids_of_the_list_and_counts_only_what_runs(tmp_path, gbcs_rig):
    """``-k future-dated`` (an id as ``--list`` shows it) selects that scenario and the one whose id
    contains it; the progress counts ``[n/2]``, not the whole catalogue, so the ETA is about them."""
    report = tmp_path / "proof"
    done = gbcs_rig("prove", "--config", str(EMULATED), "--rig", "esme", "-k", "future-dated", "--report", str(report))
    assert done.returncode == 3, done.stdout + done.stderr  # the rest is not run: NOT PROVEN
    progress = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert [line.split()[:2] for line in progress] == [["[1/2]", "test_future_dated[esme]"],
                                                      ["[2/2]", "test_future_dated_failing[esme]"]]
    records = [json.loads(line) for line in (report / "journal.jsonl").read_text().splitlines()]
    ran = {r["scenario"]: r["outcome"] for r in records if r.get("type") == "test"}
    assert ran == {"future-dated": "passed", "future-dated-failing": "passed"}
