"""The mutation tool's own checks, kept cheap: no prove per mutant here (that is
``python -m tools.mutants``, minutes), only that every mutant applies to the tree as it is and
demonstrably changes the behaviour its rule governs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools.mutants import MUTANTS, Hunk, Mutant
from tools.mutants.apply import ROOT, Stale, fresh_copy, patched_texts, plant
from tools.mutants.catalogue import FW, PROVE
from tools.mutants.runner import Result, classify, environment
from tools.mutants.trace import PROBES


def test_the_catalogue_is_large_named_and_documented():
    assert len(MUTANTS) >= 35
    names = [m.name for m in MUTANTS]
    assert len(set(names)) == len(names)
    for mutant in MUTANTS:
        assert mutant.rule and mutant.hunks and mutant.layer in ("firmware_emu", "rig.dcc"), mutant.name
        assert mutant.probe in PROBES, f"{mutant.name}: no probe {mutant.probe!r}"
        assert mutant.reach == PROVE or len(mutant.reach) > 20, f"{mutant.name}: say why prove cannot reach it"


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_every_mutant_applies_to_the_current_tree(mutant):
    texts = patched_texts(mutant, ROOT)  # raises Stale when a search text is gone or ambiguous
    assert all(text != (ROOT / path.relative_to(ROOT)).read_text() for path, text in texts.items())


def test_a_mutant_whose_text_is_gone_is_stale_not_skipped(tmp_path):
    (tmp_path / "firmware_emu").mkdir()
    (tmp_path / "firmware_emu" / "device.py").write_text("x = 1\nx = 1\n")
    gone = Mutant("gone", FW, "r", (Hunk("firmware_emu/device.py", "y = 2", "y = 3"),), "replay")
    twice = Mutant("twice", FW, "r", (Hunk("firmware_emu/device.py", "x = 1", "x = 2"),), "replay")
    missing = Mutant("missing", FW, "r", (Hunk("firmware_emu/nowhere.py", "x", "y"),), "replay")
    for mutant in (gone, twice, missing):
        with pytest.raises(Stale):
            plant(mutant, tmp_path)
    assert (tmp_path / "firmware_emu" / "device.py").read_text() == "x = 1\nx = 1\n"


def test_a_copy_runs_its_own_packages(tmp_path):
    copy = fresh_copy(tmp_path / "tree")
    assert not (copy / ".git").exists() and not (copy / ".venv").exists()
    done = subprocess.run([sys.executable, "-c", "import rig, firmware_emu; print(rig.__file__); "
                           "print(firmware_emu.__file__)"], cwd=tmp_path, env=environment(copy),
                          capture_output=True, text=True, check=True)
    assert all(Path(line).is_relative_to(copy) for line in done.stdout.split()), done.stdout


def test_every_mutant_changes_what_its_probe_observes():
    names = [m.name for m in MUTANTS]
    halves = [names[::2], names[1::2]]  # two processes: the machine has two cores
    workers = [subprocess.Popen([sys.executable, "-m", "tools.mutants.selftest", *half], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for half in halves]
    rows = []
    for worker in workers:
        out, err = worker.communicate(timeout=180)
        rows += [json.loads(line) for line in out.splitlines()]
        assert worker.returncode in (0, 1), err[-2000:]
    assert sorted(r["name"] for r in rows) == sorted(names)
    unchanged = [r for r in rows if not r["changed"]]
    assert not unchanged, unchanged


MIGRATABLE = "gbcs-rig emulated ESME 0.1.0             MIGRATABLE: all 17 required scenario results passed\n"
NOT = "gbcs-rig emulated GSME 0.1.0             NOT MIGRATABLE: replayed-counter failed\n"


@pytest.mark.parametrize(("code", "stdout", "stderr", "failed", "expected"), [
    (0, "[1/2] test_x[esme]  PASSED\n" + MIGRATABLE + "report: r/index.html\n", "", [], Result.SURVIVED),
    (1, MIGRATABLE + NOT, "", ["replayed-counter[gsme]"], Result.CAUGHT),
    (3, "gbcs-rig emulated ESME 0.1.0  NOT PROVEN: n65 not run\n", "", [], Result.CAUGHT),
    (0, MIGRATABLE + NOT, "", [], Result.CAUGHT),
    (1, "", "Traceback (most recent call last):\n  ...\nKeyError: 'x'\n", [], Result.ERROR),
    (1, MIGRATABLE, "Traceback (most recent call last):\n", ["a[esme]"], Result.ERROR),
    (2, "", "error: the scenario run could not start\n", [], Result.ERROR),
    (0, "", "", [], Result.ERROR),
])
def test_prove_results_are_classified_from_exit_code_and_verdicts(code, stdout, stderr, failed, expected):
    assert classify(code, stdout, stderr, failed).result is expected


def test_a_dcc_side_bug_is_caught_by_a_failed_dcc_side_check_only():
    """A rig.dcc bug that only the DCC-side section sees is caught (by design those checks do not
    change the device verdict); without a failed one the mutant survives."""
    stdout = MIGRATABLE + "report: r/index.html\n"
    caught = classify(0, stdout, "", [], dcc_failed=["srv623-mpxn[esme]"])
    assert caught.result is Result.CAUGHT and caught.failed == ["srv623-mpxn[esme]"]
    assert classify(0, stdout, "", [], dcc_failed=[]).result is Result.SURVIVED
