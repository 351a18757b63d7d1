"""``gbcs-rig``: one entry point, subcommands registered from small modules.

Exit codes of ``prove`` and ``report merge`` (``rig.report.model.EXIT_CODES``, docs/verdict.md):
0 MIGRATABLE, 1 NOT MIGRATABLE, 3 NOT PROVEN, 2 a configuration or usage error (nothing judged);
130 when interrupted outside a run (a run interrupted by Ctrl-C reports NOT PROVEN, exit 3).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import decode, devices, emulate, ncp, pki, prove, replay, report

#: modules that contribute a subcommand through ``add_parser(subparsers)``
COMMANDS = [decode, pki, replay, devices, emulate, ncp, prove, report]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gbcs-rig", description="GB smart meter CS02b test rig")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
