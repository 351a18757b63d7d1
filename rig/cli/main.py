"""``gbcs-rig``: one entry point, subcommands registered from small modules.

Exit codes of ``prove`` and ``report merge`` (``rig.report.model.EXIT_CODES``, docs/verdict.md):
0 MIGRATABLE, 1 NOT MIGRATABLE, 3 NOT PROVEN, 2 a configuration or usage error (nothing judged);
130 when interrupted outside a run (a run interrupted by Ctrl-C reports NOT PROVEN, exit 3).

Every error reaches the user as one line naming what to fix, never a traceback: a missing or
unreadable file is a usage error (2), a closed output pipe (``gbcs-rig decode ... | head``) ends
quietly, and anything unexpected is reported as an internal error (70) with a pointer to
``--debug``, which shows the traceback for a bug report.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from . import decode, devices, emulate, ledger, ncp, pki, prove, replay, report

#: modules that contribute a subcommand through ``add_parser(subparsers)``
COMMANDS = [decode, pki, replay, devices, emulate, ncp, prove, report, ledger]
EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 2, 70, 130, 141
LOG_LEVELS = ("debug", "info", "warning", "error")


def version_text() -> str:
    """The installed version and, in a checkout, the source revision (what a report names)."""
    from rig.harness.attribution import gbcs_rig_version, source_revision

    revision = source_revision()
    return f"gbcs-rig {gbcs_rig_version()}" + (f" ({revision})" if revision else "")


class _VersionAction(argparse._VersionAction):
    """``--version``: the revision is looked up only when asked for (it imports the harness)."""

    def __call__(self, parser, namespace, values, option_string=None):
        self.version = version_text()
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gbcs-rig", description="GB smart meter CS02b test rig",
                                     epilog="Run 'gbcs-rig COMMAND --help' for a command's options.")
    parser.add_argument("--version", action=_VersionAction, version="%(prog)s", help="show the version and exit")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v info, -vv debug: every frame as a decoded one-liner)")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="only errors in the log output")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=None,
                        help="log level of the standard logging output on stderr (overrides -v/-q)")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an error (for bug reports)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                       help="what to do (each has its own --help)")
    for module in COMMANDS:
        module.add_parser(subparsers)
    return parser


def _log_level(args: argparse.Namespace) -> int:
    if args.log_level:
        return getattr(logging, args.log_level.upper())
    return {0: logging.WARNING, 1: logging.INFO}.get(args.verbose - args.quiet,
                                                     logging.DEBUG if args.verbose > args.quiet else logging.ERROR)


def _configure_logging(args: argparse.Namespace) -> None:
    logging.basicConfig(level=_log_level(args), stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")


def _broken_pipe() -> int:
    """The reader went away (``| head``): stop quietly, and keep Python from complaining when it
    flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _broken_pipe()
    except Exception as err:
        if args.debug:
            raise
        print(f"gbcs-rig {args.command}: {describe_error(err)}", file=sys.stderr)
        return EXIT_USAGE if isinstance(err, OSError | ValueError | LookupError) else EXIT_INTERNAL


def describe_error(err: BaseException) -> str:
    """One line a person can act on; an unexpected one says how to get the traceback."""
    if isinstance(err, FileNotFoundError):
        return f"error: no such file or folder: {err.filename}"
    if isinstance(err, PermissionError):
        return f"error: permission denied: {err.filename}"
    if isinstance(err, FileExistsError):
        return f"error: {err.filename} already exists (a file where a folder is needed?)"
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"error: {err.strerror}: {err.filename}"
    if isinstance(err, OSError | ValueError | LookupError):
        return f"error: {err}"
    return f"internal error: {type(err).__name__}: {err} (run with --debug for the traceback and report it)"


if __name__ == "__main__":
    sys.exit(main())
