"""``gbcs-rig report merge DIR... --out DIR``: one proof over several runs (hosts, rigs, resumes)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rig.report import journal as journal_module
from rig.report.merge import merge
from rig.report.model import by_model, overall_exit_code


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help="work with proof report folders")
    commands = parser.add_subparsers(dest="report_command", required=True)
    merge_parser = commands.add_parser("merge", help="merge report folders into one report")
    merge_parser.add_argument("directories", nargs="+", metavar="DIR")
    merge_parser.add_argument("--out", required=True, metavar="DIR")
    merge_parser.set_defaults(func=run_merge)


def run_merge(args: argparse.Namespace) -> int:
    missing = [d for d in args.directories if not (Path(d) / journal_module.JOURNAL_NAME).exists()]
    if missing:
        print(f"error: no journal in {', '.join(missing)}", file=sys.stderr)
        return 2
    paths = merge(args.directories, args.out)
    records = journal_module.tests(Path(args.out) / journal_module.JOURNAL_NAME)
    for result in by_model(records):
        print(f"{result.key:<40} {result.verdict}: {result.verdict_reason}")
    print(f"report: {paths[0]}")
    return overall_exit_code(records)
