"""``gbcs-rig prove``: run the scenario catalogue on the chosen rigs and write the proof.

It runs pytest in this process on the ``rig.scenarios`` package with the gbcs-rig plugin, shows
live progress (scenario, rig, elapsed, pass/fail counts), and writes to the report folder the
JSON-lines journal, JUnit XML and one HTML migration proof per device model. The exit code is 0
only when every required scenario passed.

``--resume DIR`` continues an interrupted run in its own folder: scenarios already concluded
there are not run again (and are reported as they were), and the rig's inventory in that folder
(anti-replay counters committed before every send) guarantees no counter is ever reused.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import os
import sys
import time
from pathlib import Path

import pytest

from rig.report import journal as journal_module
from rig.report.html import write_reports
from rig.report.merge import JUNIT_NAME
from rig.report.model import by_model, overall_exit_code

CONCLUDED = ("passed", "failed")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("prove", help="run the scenario catalogue and write the migration proof report")
    parser.add_argument("--config", default="hw_configs/emulated.toml", help="hw_configs file (default: %(default)s)")
    parser.add_argument("--rig", action="append", default=[], metavar="ID", help="only this rig (repeatable)")
    parser.add_argument("--mode", choices=["emulated", "hardware", "auto"], default="auto")
    parser.add_argument("--report", metavar="DIR", help="report folder (default: reports/proof-<UTC time>)")
    parser.add_argument("--resume", metavar="DIR", help="continue an interrupted run in its report folder")
    parser.add_argument("-k", dest="keyword", help="only scenarios matching this pytest -k expression")
    parser.set_defaults(func=run)


class Progress:
    """A pytest plugin: one live line per scenario, and resume's deselection."""

    def __init__(self, done: set[tuple[str, str]], stream=None):
        self.done = done
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.total = 0
        self.counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
        self.started = time.monotonic()
        self.current = ""

    def _key(self, item: pytest.Item) -> tuple[str, str]:
        marker = item.get_closest_marker("scenario")
        scenario = marker.args[0] if marker and marker.args else item.name
        rig = getattr(getattr(item, "callspec", None), "params", {}).get("rig") or ""
        return scenario, rig

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep, skipped = [], []
        for item in items:
            scenario, rig = self._key(item)
            # concluded before (resume), or no selected rig to run it on
            (skipped if not rig or (scenario, rig) in self.done else keep).append(item)
        if skipped:
            config.hook.pytest_deselected(items=skipped)
            items[:] = keep
        self.total = len(items)

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.stream.write(f"collection error in {report.nodeid}:\n{report.longreprtext}\n")

    def pytest_runtest_logstart(self, nodeid: str, location) -> None:
        self.current = nodeid.split("::")[-1]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = "error" if report.when == "setup" and report.failed else report.outcome
            self.counts[outcome] += 1
            done = sum(self.counts.values())
            line = (f"[{done}/{self.total}] {self.current:<52} {outcome.upper():<7} "
                    f"elapsed {time.monotonic() - self.started:6.1f}s  passed {self.counts['passed']} "
                    f"failed {self.counts['failed'] + self.counts['error']} skipped {self.counts['skipped']}")
            if self.tty:
                self.stream.write("\r\x1b[2K" + line)
                if outcome in ("failed", "error"):
                    self.stream.write("\n")
            else:
                self.stream.write(line + "\n")
            self.stream.flush()


def _plugin_loaded_by_entry_point() -> bool:
    return any(ep.name == "rig" for ep in importlib.metadata.entry_points(group="pytest11"))


def run(args: argparse.Namespace) -> int:
    if args.resume:
        report_dir = Path(args.resume)
        if not (report_dir / journal_module.JOURNAL_NAME).exists():
            print(f"error: {report_dir} holds no journal to resume", file=sys.stderr)
            return 2
    else:
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
        report_dir = Path(args.report or f"reports/proof-{stamp}")
    report_dir.mkdir(parents=True, exist_ok=True)
    earlier = journal_module.tests(report_dir / journal_module.JOURNAL_NAME)
    done = {(r.get("scenario", ""), r.get("rig", "")) for r in earlier if r.get("outcome") in CONCLUDED}
    if args.resume:
        passed = sum(r.get("outcome") == "passed" for r in earlier if (r.get("scenario"), r.get("rig")) in done)
        print(f"resuming {report_dir}: {len(done)} scenario result(s) already concluded "
              f"({passed} passed, {len(done) - passed} failed); running the rest")
    junit = report_dir / (JUNIT_NAME if not args.resume else f"junit-{int(time.time())}.xml")
    # an ini file of our own, so a project's pytest settings (addopts, testpaths) do not leak in
    ini = report_dir / "pytest.ini"
    ini.write_text("[pytest]\njunit_family = xunit1\n")
    pytest_args = ["-c", str(ini), "--rootdir", str(report_dir), "--pyargs", "rig.scenarios",
                   "--rig-config", str(Path(args.config).absolute()), "--rig-mode", args.mode,
                   "--rig-log-dir", str(report_dir.absolute()), "--rig-capture", "all", "--junitxml", str(junit),
                   "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:logging"]
    if not _plugin_loaded_by_entry_point():
        pytest_args += ["-p", "rig.pytest_plugin"]
    for rig_id in args.rig:
        pytest_args += ["--rig", rig_id]
    if args.keyword:
        pytest_args += ["-k", args.keyword]
    print(f"gbcs-rig prove: config {args.config}, report {report_dir}")
    progress = Progress(done)
    code = pytest.main(pytest_args, plugins=[progress])
    print()
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
        print(f"error: the scenario run could not start (pytest exit {int(code)})", file=sys.stderr)
        return 2
    records = journal_module.tests(report_dir / journal_module.JOURNAL_NAME)
    run_info = {"config": args.config, "host": os.uname().nodename if hasattr(os, "uname") else "",
                "version": importlib.metadata.version("gbcs-rig") if _installed() else "source"}
    paths = write_reports(records, report_dir, run=run_info)
    for result in by_model(records):
        print(f"{result.key:<40} {result.verdict}: {result.verdict_reason}")
    print(f"report: {paths[0]}")
    return overall_exit_code(records)


def _installed() -> bool:
    try:
        importlib.metadata.version("gbcs-rig")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
