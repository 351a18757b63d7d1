"""Run ``gbcs-rig prove`` (and optionally the suite) on a mutated copy and classify the result.

Everything runs in subprocesses whose ``PYTHONPATH`` and working directory are the copy, so the
planted bug is what ``rig`` and ``firmware_emu`` resolve to there, in any ``gbcs-rig emulate``
they spawn too. Classification:

* caught: prove exited 1 (NOT MIGRATABLE) or 3 (NOT PROVEN), or a model's verdict is not
  MIGRATABLE;
* survived: exit 0 and every model MIGRATABLE;
* stale: the mutant's search text is gone (``apply.Stale``); neither caught nor survived;
* error: prove crashed or could not start (any other exit, a timeout); counts as not caught.
"""

from __future__ import annotations

import enum
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .apply import ROOT, Stale, fresh_copy, plant
from .catalogue import DCC, Mutant

#: exit codes of ``gbcs-rig prove`` that mean "the rig judged the model" (not MIGRATABLE / not proven)
CAUGHT_EXITS = (1, 3)
VERDICT_LINE = re.compile(r"^(?P<model>.+?)\s+(?P<verdict>MIGRATABLE|NOT[ _]MIGRATABLE|NOT[ _]PROVEN|[A-Z_ ]+?):",
                          re.MULTILINE)
PROVE_TIMEOUT_S = 600
SUITE_TIMEOUT_S = 3600


class Result(enum.StrEnum):
    CAUGHT = "caught"
    SURVIVED = "survived"
    STALE = "stale"
    ERROR = "error"
    NOT_RUN = "-"


@dataclass
class Run:
    """What one tool (prove or the suite) made of one mutant."""

    result: Result
    exit_code: int | None = None
    verdicts: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)  # scenarios (prove) or tests (suite) that failed
    detail: str = ""


@dataclass
class Outcome:
    mutant: Mutant | None  # None: the unmutated control copy
    prove: Run
    suite: Run = field(default_factory=lambda: Run(Result.NOT_RUN))

    @property
    def name(self) -> str:
        return self.mutant.name if self.mutant else "(control: no mutant)"


def environment(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _failed_scenarios(report: Path) -> list[str]:
    failed = []
    try:
        for line in (report / "journal.jsonl").read_text().splitlines():
            record = json.loads(line)
            if record.get("type") == "test" and record.get("outcome") not in ("passed", "skipped"):
                failed.append(f"{record.get('scenario', record.get('nodeid'))}[{record.get('rig', '')}]")
    except (OSError, ValueError):
        pass
    return failed


def _failed_dcc_checks(report: Path) -> list[str]:
    """The rig's own DCC-side checks (kind ``dcc``) that failed: prove reports them in their own
    section and, by design, they do not change the device verdict (docs/verdict.md)."""
    failed = []
    try:
        for line in (report / "journal.jsonl").read_text().splitlines():
            record = json.loads(line)
            if record.get("type") == "test" and record.get("kind") == "dcc" and record.get("outcome") == "failed":
                failed.append(f"{record.get('scenario')}[{record.get('rig', '')}]")
    except (OSError, ValueError):
        pass
    return failed


def run_prove(copy: Path, report: Path, *, timeout: float = PROVE_TIMEOUT_S, dcc_side: bool = False) -> Run:
    command = [sys.executable, "-m", "rig.cli.main", "prove", "--config", "hw_configs/emulated.toml",
               "--report", str(report)]
    try:
        done = subprocess.run(command, cwd=copy, env=environment(copy), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return Run(Result.ERROR, detail=f"prove did not finish within {timeout:.0f} s")
    return classify(done.returncode, done.stdout, done.stderr, _failed_scenarios(report),
                    dcc_failed=_failed_dcc_checks(report) if dcc_side else ())


def classify(returncode: int, stdout: str, stderr: str, failed: list[str], *, dcc_failed=()) -> Run:
    """caught / survived / error from prove's exit code, its verdict lines and the failed scenarios.

    ``dcc_failed``: for a bug in the rig's DCC side, the DCC-side checks prove reported failed; a
    device verdict of MIGRATABLE with one of them failed is the bug caught where it lives."""
    verdicts = {m["model"].strip(): m["verdict"].strip() for m in VERDICT_LINE.finditer(stdout)
                if not m["model"].startswith(("[", "gbcs-rig prove:", "report"))}
    crashed = "Traceback" in stderr
    if not crashed and returncode == 0 and verdicts and all(v == "MIGRATABLE" for v in verdicts.values()):
        if dcc_failed:
            return Run(Result.CAUGHT, 0, verdicts, list(dcc_failed),
                       detail="caught by prove's DCC-side checks (they do not change the device verdict)")
        return Run(Result.SURVIVED, 0, verdicts, failed)
    # judged: a verdict-bearing exit backed by verdict lines or failed scenarios, or exit 0 with a
    # model not MIGRATABLE; anything else (a crash, exit 2, no verdict at all) is an error
    judged = ((returncode in CAUGHT_EXITS and (verdicts or failed))
              or (returncode == 0 and verdicts and any(v != "MIGRATABLE" for v in verdicts.values())))
    if judged and not crashed:
        return Run(Result.CAUGHT, returncode, verdicts, failed)
    return Run(Result.ERROR, returncode, verdicts, failed, detail=f"prove exit {returncode}:\n{_tail(stdout + stderr)}")


def run_suite(copy: Path, *, timeout: float = SUITE_TIMEOUT_S) -> Run:
    """``pytest -x -q`` on the copy; the lint test and this tool's own test are left out (a mutant is
    caught by behaviour, not by style, and the mutant test would only find its own patch applied)."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "--ignore=tests/test_lint.py", "--ignore=tests/test_mutants.py"]
    try:
        done = subprocess.run(command, cwd=copy, env=environment(copy), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return Run(Result.ERROR, detail=f"the suite did not finish within {timeout:.0f} s")
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", done.stdout, re.MULTILINE)
    if done.returncode == 0:
        return Run(Result.SURVIVED, 0)
    if done.returncode == 1:
        return Run(Result.CAUGHT, 1, failed=failed)
    return Run(Result.ERROR, done.returncode, failed=failed,
               detail=f"pytest exit {done.returncode}:\n{_tail(done.stdout + done.stderr)}")


def evaluate(mutant: Mutant | None, *, suite: bool = False, source: Path = ROOT,
             keep: Path | None = None) -> Outcome:
    """Plant ``mutant`` (None: nothing, the control run) in a fresh copy and run prove (and the suite)."""
    with tempfile.TemporaryDirectory(prefix="gbcs-mutant-") as scratch:
        base = Path(scratch)
        copy = fresh_copy(base / "tree", source)
        if mutant is not None:
            try:
                plant(mutant, copy)
            except Stale as err:
                return Outcome(mutant, Run(Result.STALE, detail=str(err)),
                               Run(Result.STALE, detail=str(err)) if suite else Run(Result.NOT_RUN))
        outcome = Outcome(mutant, run_prove(copy, base / "report", dcc_side=mutant is not None and mutant.layer == DCC))
        if suite:
            outcome.suite = run_suite(copy)
        if keep is not None:
            _keep_report(base / "report", keep / (mutant.name if mutant else "control"))
        return outcome


def _keep_report(report: Path, destination: Path) -> None:
    import shutil

    if report.is_dir():
        shutil.copytree(report, destination, dirs_exist_ok=True)
