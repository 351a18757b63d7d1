"""Combining the results of several runs (hosts, rigs, or a resumed run) into one report.

The multi-host pattern: one pytest / ``gbcs-rig prove`` process per host or per rig, each
writing its own report folder; ``gbcs-rig report merge DIR...`` then joins their journals and
renders the proof reports over everything. The verdict is computed over the union: the
expected sets of every run's session record against the latest result of each (scenario, rig)
pair in any of them, so what no run concluded is still named as not run. ``junit.xml`` is
written from the merged journal (one file, agreeing with the verdict).
"""

from __future__ import annotations

from pathlib import Path

from . import journal as journal_module
from .attribution import attribution_of
from .html import write_reports
from .junit import write_junit

JUNIT_NAME = "junit.xml"


def merge_journals(sources: list[Path], target: Path) -> list[dict]:
    """Copy every record of every source journal into ``target``; return the test records."""
    out = journal_module.Journal(target)
    for source in sources:
        for record in journal_module.read(source):
            out.append({**record, "merged_from": str(source.parent)})
    return journal_module.tests(target)


def merge(directories: list[str | Path], output: str | Path) -> list[Path]:
    """Merge report folders into ``output``; returns the HTML files written."""
    folders = [Path(d) for d in directories]
    target = Path(output)
    target.mkdir(parents=True, exist_ok=True)
    merged_journal = target / journal_module.JOURNAL_NAME
    if merged_journal.exists():
        merged_journal.unlink()
    records = merge_journals([f / journal_module.JOURNAL_NAME for f in folders], merged_journal)
    write_junit(records, target / JUNIT_NAME)
    summary = journal_module.run_summary(merged_journal)
    return write_reports(records, target, run={"config": ", ".join(str(f) for f in folders), **summary},
                         attribution=attribution_of(journal_module.read(merged_journal)))
