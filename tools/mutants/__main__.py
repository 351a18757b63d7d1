"""``python -m tools.mutants [--only NAME...] [--list] [--suite] [--jobs K]``.

Plants each bug in a fresh copy of the tree, runs ``gbcs-rig prove`` on the copy's emulated
default (and the test suite with ``--suite``), prints a table and the score. An unmutated copy is
proven first: if it is not MIGRATABLE, nothing measured against it would mean anything.

Exit code: 0 when every mutant run was caught by prove, 1 when any survived, was stale or
errored, 2 on a usage error or a failing control run.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .catalogue import MUTANTS, Mutant, by_name
from .runner import Outcome, Result, evaluate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.mutants", description=__doc__.split("\n\n")[1])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--suite", action="store_true", help="also run pytest -x -q on each copy (slow)")
    parser.add_argument("--jobs", type=int, default=1, metavar="K", help="mutants run in parallel (default 1)")
    parser.add_argument("--keep-reports", metavar="DIR", type=Path, help="keep each prove report under DIR/<name>")
    parser.add_argument("--no-control", action="store_true", help="skip the unmutated control run")
    return parser


def list_mutants(mutants: list[Mutant]) -> None:
    width = max(len(m.name) for m in mutants)
    for m in mutants:
        reach = "" if m.reachable else f"  [not reachable by prove: {m.reach}]"
        print(f"{m.name:<{width}}  {m.layer:<12}  {m.rule}{reach}")


def _cell(run) -> str:
    return run.result.value


def table(outcomes: list[Outcome], *, suite: bool) -> str:
    rows = [("bug", "layer", "reach", "caught by prove", *(["caught by suite"] if suite else []), "evidence")]
    for o in outcomes:
        m = o.mutant
        reach = "prove" if m.reachable else "other"
        evidence = ", ".join(o.prove.failed[:3]) + (" ..." if len(o.prove.failed) > 3 else "")
        if o.prove.result is Result.STALE or o.prove.result is Result.ERROR:
            evidence = o.prove.detail.splitlines()[0] if o.prove.detail else ""
        rows.append((m.name, m.layer, reach, _cell(o.prove), *([_cell(o.suite)] if suite else []), evidence))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for number, row in enumerate(rows):
        lines.append("  ".join(f"{cell:<{w}}" for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
        if number == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 8)
    return "\n".join(lines)


def score(outcomes: list[Outcome], which: str) -> str:
    runs = [(o.mutant, getattr(o, which)) for o in outcomes]
    stale = sum(r.result is Result.STALE for _, r in runs)
    counted = [(m, r) for m, r in runs if r.result is not Result.STALE]
    caught = sum(r.result is Result.CAUGHT for _, r in counted)
    errors = sum(r.result is Result.ERROR for _, r in counted)
    reachable = [(m, r) for m, r in counted if m.reachable]
    caught_reachable = sum(r.result is Result.CAUGHT for _, r in reachable)
    pct = 100.0 * caught / len(counted) if counted else 0.0
    text = (f"{which}: {caught}/{len(counted)} caught ({pct:.0f}%), "
            f"{sum(r.result is Result.SURVIVED for _, r in counted)} survived, {errors} error(s), {stale} stale")
    if reachable and len(reachable) != len(counted):
        text += f"; of the {len(reachable)} prove can reach: {caught_reachable} caught"
    return text


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        mutants = [by_name(n) for n in args.only] if args.only else list(MUTANTS)
    except KeyError as err:
        print(f"error: {err.args[0]}", file=sys.stderr)
        return 2
    if args.list:
        list_mutants(mutants)
        return 0
    if args.jobs < 1:
        print("error: --jobs must be at least 1", file=sys.stderr)
        return 2
    started = time.monotonic()
    if not args.no_control:
        control = evaluate(None)
        if control.prove.result is not Result.SURVIVED:
            print(f"error: the unmutated tree does not prove MIGRATABLE with exit 0 ({control.prove.result}, "
                  f"exit {control.prove.exit_code}); mutants measured against it would mean nothing\n"
                  f"{control.prove.detail or ', '.join(control.prove.failed)}", file=sys.stderr)
            return 2
        print(f"control: unmutated copy proves {', '.join(sorted(set(control.prove.verdicts.values())))}, exit 0")
    outcomes: list[Outcome] = []

    def one(mutant: Mutant) -> Outcome:
        return evaluate(mutant, suite=args.suite, keep=args.keep_reports)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for outcome in pool.map(one, mutants):
            outcomes.append(outcome)
            print(f"[{len(outcomes)}/{len(mutants)}] {outcome.name}: prove {outcome.prove.result}"
                  + (f", suite {outcome.suite.result}" if args.suite else "")
                  + f"  ({time.monotonic() - started:.0f} s)", flush=True)
            for run in (outcome.prove, outcome.suite):
                if run.result is Result.ERROR:
                    print(f"    cause: {run.detail}", flush=True)
    print()
    print(table(outcomes, suite=args.suite))
    print()
    print("score " + score(outcomes, "prove"))
    if args.suite:
        print("score " + score(outcomes, "suite"))
    return 0 if all(o.prove.result is Result.CAUGHT for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
