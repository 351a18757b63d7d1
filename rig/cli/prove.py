"""``gbcs-rig prove``: run the scenario catalogue on the chosen rigs and write the proof.

It runs pytest in this process on the ``rig.scenarios`` package with the gbcs-rig plugin, shows
live progress (scenario, rig, elapsed, pass/fail counts), and writes to the report folder the
JSON-lines journal, JUnit XML (regenerated from the journal: one per folder) and one HTML
migration proof per device model. The verdict is computed over the whole required catalogue for
every rig of the config (``rig.report.model``); see ``EPILOG`` for the exit codes.

``--resume DIR`` continues an interrupted or partial run in its own folder, with the config,
rig selection and mode that run recorded in its journal: scenarios already concluded there
(passed, failed, not applicable) are not run again; inconclusive and not-run ones are. The rig's
inventory in that folder (anti-replay counters committed before every send) guarantees no
counter is ever reused.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rig.cli import prove_output
from rig.cli.vocabulary import MODES
from rig.report import journal as journal_module
from rig.report.model import (
    EXIT_CODES,
    EXIT_USAGE,
    FAILED,
    INCONCLUSIVE,
    NOT_APPLICABLE,
    NOT_PROVEN,
    PASSED,
    by_model,
    overall_exit_code,
    overall_verdict,
)

if TYPE_CHECKING:  # pytest, the scenarios and the report writers load when a run starts, not for --help
    import pytest

#: outcomes a resume does not run again
CONCLUDED = (PASSED, FAILED, NOT_APPLICABLE)
DEFAULT_CONFIG = "hw_configs/emulated.toml"


def _default_config() -> str:
    """``hw_configs/emulated.toml`` in the working folder (a checkout), else the package's copy."""
    from rig.config.packaged import PACKAGED_CONFIG

    return DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() else str(PACKAGED_CONFIG)

EPILOG = """\
outcomes: passed, failed (the device did something GBCS forbids), inconclusive (the rig could
not establish the evidence: link lost, no answer, set-up error), not-applicable (declared by the
catalogue), not-run.

verdict, over every required scenario of every rig of the config:
  MIGRATABLE      every required scenario passed                       exit 0
  NOT MIGRATABLE  a required scenario failed (each is named)           exit 1
  NOT PROVEN      none failed, some inconclusive or not run (named);   exit 3
                  complete it with: gbcs-rig prove --resume DIR
  configuration or usage error: nothing was judged                     exit 2
-k, --rig, --mode, Ctrl-C and crashes can only give NOT PROVEN for what they left out.
See docs/verdict.md."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("prove", help="run the scenario catalogue and write the migration proof report",
                                   epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=None, metavar="FILE",
                        help=f"hw_configs file (default: {DEFAULT_CONFIG} when the working folder has one, else the "
                             "package's copy of it; with --resume: the resumed run's)")
    parser.add_argument("--rig", action="append", default=[], metavar="ID",
                        help="only this rig (repeatable; with --resume: default the resumed run's selection)")
    parser.add_argument("--mode", choices=MODES, default=None,
                        help="which rigs of the config to run: emulated ones only, hardware (real devices) only, "
                             "or auto: every rig (default auto; with --resume: the resumed run's)")
    parser.add_argument("--report", metavar="DIR", help="report folder (default: reports/proof-<UTC time>)")
    parser.add_argument("--resume", metavar="DIR", help="continue an interrupted run in its report folder")
    parser.add_argument("-k", dest="keyword", metavar="EXPR",
                        help="only scenarios matching this pytest -k expression over their ids (gbcs-rig prove "
                             "--list) and test names, e.g. 'future-dated or supplier'; the others count as not run")
    parser.add_argument("--sign-key", metavar="PEM", type=Path, default=None,
                        help="ECDSA P-256 private key that signs the report manifest (default: the config's "
                             "[report] signing_key; with neither the folder is hashed, not signed)")
    parser.add_argument("--list", action="store_true", dest="list_scenarios",
                        help="list the scenario catalogue (id, kind, required, device types, features, title) "
                             "and exit; with --json as JSON")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON summary on stdout at the end (verdict and counts per model, report "
                             "path, exit code); the progress lines then go to stderr")
    parser.set_defaults(func=run)


class Progress:
    """A pytest plugin: one live line per scenario (with the cause when it is not a pass), and
    resume's deselection."""

    def __init__(self, done: set[tuple[str, str]], stream=None):
        self.done = done
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.total = 0
        self.counts = {PASSED: 0, FAILED: 0, INCONCLUSIVE: 0, NOT_APPLICABLE: 0}
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

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        """``-k`` also matches the scenario id as ``--list`` shows it (``future-dated``), not only
        the test name (``test_future_dated[esme]``)."""
        scenario, _rig = self._key(item)
        item.extra_keyword_matches.add(scenario)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # after every deselection (resume, rigs, -k): what will run, so the count and ETA are right
        self.total = len(session.items)

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.stream.write(f"collection error in {report.nodeid}:\n{report.longreprtext}\n")

    def pytest_runtest_logstart(self, nodeid: str, location) -> None:
        self.current = nodeid.split("::")[-1]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = getattr(report, "rig_outcome", None)
        if outcome is None or not (report.when == "call" or (report.when == "setup" and outcome != PASSED)):
            return
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        done = sum(self.counts.values())
        cause = getattr(report, "rig_reason", "") if outcome in (INCONCLUSIVE, NOT_APPLICABLE) else ""
        if outcome == FAILED:
            cause = next((line[1:].strip() for line in str(getattr(report, "rig_reason", "")).splitlines()
                          if line.startswith("E ")), "")
            cause = re.sub(r"^[\w.]*EvidenceError: ", "", cause)
        elapsed = time.monotonic() - self.started
        line = (f"[{done}/{self.total}] {self.current:<52} {outcome.upper():<14} "
                f"elapsed {elapsed:6.1f}s  ETA {eta(elapsed, done, self.total)}  passed {self.counts[PASSED]} "
                f"failed {self.counts[FAILED]} inconclusive {self.counts[INCONCLUSIVE]} "
                f"n/a {self.counts[NOT_APPLICABLE]}")
        if cause:
            line += f"\n    {outcome}: {' '.join(cause.split())[:300]}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            if outcome in (FAILED, INCONCLUSIVE) or cause:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def eta(elapsed: float, done: int, total: int) -> str:
    """Time left at the pace so far (scenarios differ, so a rough guide): ``m:ss``."""
    if done <= 0 or total <= done:
        return "0:00"
    left = round(elapsed / done * (total - done))
    return f"{left // 60}:{left % 60:02d}"


def _plugin_loaded_by_entry_point() -> bool:
    import importlib.metadata

    return any(ep.name == "rig" for ep in importlib.metadata.entry_points(group="pytest11"))


def _remembered(report_dir: Path) -> dict:
    """The options the first run in ``report_dir`` recorded (config, rigs, mode)."""
    for record in journal_module.read(report_dir / journal_module.JOURNAL_NAME):
        if record.get("type") == "session" and record.get("options"):
            return record["options"]
    return {}


def _options(args: argparse.Namespace) -> tuple[Path, dict] | int:
    """The report folder and the effective options; an exit code on a usage error."""
    if not args.resume:
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
        return Path(args.report or f"reports/proof-{stamp}"), {
            "config": args.config or _default_config(), "rigs": list(args.rig), "mode": args.mode or "auto"}
    report_dir = Path(args.resume)
    if not (report_dir / journal_module.JOURNAL_NAME).exists():
        print(f"error: {report_dir} holds no journal to resume", file=sys.stderr)
        return EXIT_USAGE
    remembered = _remembered(report_dir)
    config = remembered.get("config")
    if args.config and config and Path(args.config).absolute() != Path(config):
        print(f"error: {report_dir} is a run of {config}; resume it without --config (or with that file)",
              file=sys.stderr)
        return EXIT_USAGE
    return report_dir, {"config": config or args.config or _default_config(),
                        "rigs": list(args.rig) or list(remembered.get("rigs") or []),
                        "mode": args.mode or remembered.get("mode") or "auto"}


def resume_command(report_dir: Path, records: list[dict], options: dict) -> str:
    """The command that completes a NOT PROVEN run in ``report_dir``."""
    missing = sorted({rig for result in by_model(records) for rig in result.missing_rigs()})
    command = f"gbcs-rig prove --resume {report_dir}"
    selected = options.get("rigs") or []
    if selected and not set(missing) <= set(selected):
        command += "".join(f" --rig {rig}" for rig in missing)
    return command


@dataclass
class Checked:
    """What the config pre-check found: the rigs' PKIs (they check the report's frames) and
    the key that seals the report folder."""

    pkis: list = field(default_factory=list)
    signing_key: Path | None = None
    integrity: str = ""


def keyword_error(expression: str) -> str | None:
    """Why a ``-k`` expression is not one pytest accepts, before a report folder is made for a run
    that could not start. Uses pytest's own parser (``_pytest.mark.expression``, not public API:
    when it moves, the check is skipped and pytest reports the expression itself)."""
    try:
        from _pytest.mark.expression import Expression
    except ImportError:
        return None
    try:
        Expression.compile(expression)
    except Exception as err:  # SyntaxError in pytest 8.4+ (ParseError before)
        reason = getattr(err, "msg", None) or getattr(err, "message", None) or str(err)
        column = getattr(err, "offset", None) or getattr(err, "column", None)
        where = f", at column {column}" if column else ""
        return (f"-k {expression!r} is not a pytest -k expression ({reason}{where}); "
                "e.g. -k 'future-dated or supplier' (scenario ids: gbcs-rig prove --list)")
    return None


def _check_config(options: dict, sign_key: Path | None) -> str | Checked:
    """A configuration error (file and line where there is one), before anything runs."""
    from rig.config import ConfigError, load_config
    from rig.harness.credentials import CredentialsError, pki_for
    from rig.report.manifest import SigningKeyError, describe_signing

    checked = Checked(signing_key=sign_key)
    path = Path(options["config"])
    try:
        if not path.exists():
            return f"{path}: no such hw_config file"
        config = load_config(path)
        checked.signing_key = sign_key or config.signing_key
        for spec in config.select(ids=options["rigs"] or None):
            pki = pki_for(spec)
            if all(pki is not known for known in checked.pkis):
                checked.pkis.append(pki)
        checked.integrity = describe_signing(checked.signing_key)
    except (ConfigError, CredentialsError, LookupError, SigningKeyError) as err:
        return str(err)
    return checked


def run(args: argparse.Namespace) -> int:
    if args.list_scenarios:
        prove_output.print_list(sys.stdout, as_json=args.json)
        return 0
    # with --json stdout holds only the summary; everything a person reads goes to stderr
    out = sys.stderr if args.json else sys.stdout
    chosen = _options(args)
    if isinstance(chosen, int):
        if args.json:
            _emit(prove_output.usage_error("usage error (see stderr)", chosen))
        return chosen
    report_dir, options = chosen
    bad_keyword = keyword_error(args.keyword) if args.keyword is not None else None
    if bad_keyword:
        print(f"error: {bad_keyword}", file=sys.stderr)
        if args.json:
            _emit(prove_output.usage_error(f"usage error: {bad_keyword}", EXIT_USAGE))
        return EXIT_USAGE
    checked = _check_config(options, args.sign_key)
    if isinstance(checked, str):
        print(f"configuration error: {checked}", file=sys.stderr)
        if args.json:
            _emit(prove_output.usage_error(f"configuration error: {checked}", EXIT_USAGE))
        return EXIT_USAGE
    report_dir.mkdir(parents=True, exist_ok=True)
    return _run_scenarios(args, report_dir, options, checked, out)


def _run_scenarios(args: argparse.Namespace, report_dir: Path, options: dict, checked: Checked, out) -> int:
    """The checked run: pytest on the catalogue, then the journal's reports and the seal."""
    import importlib.metadata

    import pytest

    from rig.pki import keystore_of
    from rig.report.attribution import attribution_of
    from rig.report.html import write_reports
    from rig.report.junit import write_junit
    from rig.report.manifest import write_manifest
    from rig.report.merge import JUNIT_NAME

    earlier = journal_module.tests(report_dir / journal_module.JOURNAL_NAME)
    done = {(r.get("scenario", ""), r.get("rig", "")) for r in earlier if r.get("outcome") in CONCLUDED}
    if args.resume:
        concluded = [r for r in earlier if r.get("outcome") in CONCLUDED and not r.get("synthesised")]
        passed = sum(r.get("outcome") == PASSED for r in concluded)
        failed = sum(r.get("outcome") == FAILED for r in concluded)
        declared = sum(r.get("outcome") == NOT_APPLICABLE for r in earlier) - (len(concluded) - passed - failed)
        print(f"resuming {report_dir}: {len(concluded)} scenario result(s) already concluded "
              f"({passed} passed, {failed} failed, {len(concluded) - passed - failed} not applicable), "
              f"{declared} declared not applicable; running the rest", file=out)
    # an ini file of our own, so a project's pytest settings (addopts, testpaths) do not leak in
    ini = report_dir / "pytest.ini"
    ini.write_text("[pytest]\njunit_family = xunit1\n")
    pytest_args = ["-c", str(ini), "--rootdir", str(report_dir), "--pyargs", "rig.scenarios",
                   "--rig-config", str(Path(options["config"]).absolute()), "--rig-mode", options["mode"],
                   "--rig-log-dir", str(report_dir.absolute()), "--rig-capture", "all",
                   "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:logging",
                   "-p", "no:labgrid"]  # labgrid's pytest plugin: unused (rig.transport.labgrid), ~1 s to load
    if not _plugin_loaded_by_entry_point():
        pytest_args += ["-p", "rig.pytest_plugin"]
    for rig_id in options["rigs"]:
        pytest_args += ["--rig", rig_id]
    if args.keyword:
        pytest_args += ["-k", args.keyword]
    print(f"gbcs-rig prove: config {options['config']}, report {report_dir}", file=out)
    progress = Progress(done, stream=out)
    code = pytest.main(pytest_args, plugins=[progress])
    print(file=out)
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
        print(f"error: the scenario run could not start (pytest exit {int(code)})", file=sys.stderr)
        if args.json:
            _emit(prove_output.usage_error(f"the scenario run could not start (pytest exit {int(code)})",
                                           EXIT_USAGE))
        return EXIT_USAGE
    if code == pytest.ExitCode.INTERRUPTED:
        print("interrupted: what did not run is reported as not run", file=out)
    records = journal_module.tests(report_dir / journal_module.JOURNAL_NAME)
    write_junit(records, report_dir / JUNIT_NAME)
    run_info = {"config": options["config"], "host": os.uname().nodename if hasattr(os, "uname") else "",
                "version": importlib.metadata.version("gbcs-rig") if _installed() else "source",
                **journal_module.run_summary(report_dir / journal_module.JOURNAL_NAME)}
    verdict = overall_verdict(records)
    if verdict == NOT_PROVEN:
        run_info["resume"] = resume_command(report_dir, records, options)
    results = by_model(records)
    paths = write_reports(records, report_dir, run=run_info, keystore=keystore_of(*checked.pkis),
                          attribution=attribution_of(journal_module.read(report_dir / journal_module.JOURNAL_NAME)),
                          integrity=checked.integrity)
    for result in results:
        print(f"{result.key:<40} {result.verdict}: {result.verdict_reason}", file=out)
    print(f"verdict: {verdict} (exit {EXIT_CODES[verdict]})", file=out)
    if verdict == NOT_PROVEN:
        print(f"to complete it: {run_info['resume']}", file=out)
    print(f"report: {paths[0]}", file=out)
    # last: the manifest seals every artefact written above (``gbcs-rig report verify`` checks it)
    manifest = write_manifest(report_dir, checked.signing_key,
                              verdicts={r.key: f"{r.verdict}: {r.verdict_reason}" for r in results})
    print(f"sealed: {manifest} ({checked.integrity})", file=out)
    if args.json:
        _emit(prove_output.summary(verdict=verdict, records=records, results=results, config=options["config"],
                                   report_dir=report_dir, report=paths[0], manifest=manifest,
                                   resume=run_info.get("resume")))
    return overall_exit_code(records)


def _emit(document: dict) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()


def _installed() -> bool:
    import importlib.metadata

    try:
        importlib.metadata.version("gbcs-rig")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
