"""``gbcs-rig ledger``: the host's counter ledger (``rig.dcc.ledger``): show, export, import.

A meter moving to another lab takes its counters along: ``export`` on the old host, ``import``
on the new one (each counter becomes the larger of the two: an import never lowers one).
Exit codes: 0 done; 2 usage error (a bad EUI-64, an unreadable or malformed export file).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rig.dcc loads when an action runs, not for --help
    from rig.dcc.ledger import Ledger


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "ledger", help="the host's anti-replay counter ledger: show a meter's counters, export, import",
        description="Every run on this host reserves each command's counter in one ledger (state_dir in the "
                    "hw_config, default $XDG_STATE_HOME/gbcs-rig, else ~/.local/state/gbcs-rig), so a meter never "
                    "sees a counter twice.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--state-dir", metavar="DIR", help="the state folder (default: the user's state directory)")
    where.add_argument("--config", metavar="FILE", help="use the state_dir of this hw_config")
    commands = parser.add_subparsers(dest="ledger_command", required=True, metavar="ACTION",
                                     help="show: one meter's counters; export / import: move them to another host")
    show = commands.add_parser("show", help="a meter's counters per originator and its latest history")
    show.add_argument("eui64", metavar="EUI64", help="the meter's Device ID (16 hex digits, dashes or colons allowed)")
    show.add_argument("--history", type=int, default=20, metavar="N", help="history events to show (default 20)")
    show.set_defaults(func=run_show)
    export = commands.add_parser("export", help="write every counter to a JSON file")
    export.add_argument("file", metavar="FILE", help="JSON file to write (overwritten)")
    export.set_defaults(func=run_export)
    import_ = commands.add_parser("import", help="merge an export (the larger counter wins: never lowers one)")
    import_.add_argument("file", metavar="FILE", help="JSON file written by gbcs-rig ledger export")
    import_.set_defaults(func=run_import)


def _state_dir(args: argparse.Namespace) -> Path:
    from rig.dcc.ledger import LedgerError, default_state_dir

    if args.config:
        from rig.config import ConfigError, load_config

        try:
            config = load_config(args.config)
        except ConfigError as err:
            raise LedgerError(f"config error: {err}") from None
        states = {spec.state_dir for spec in config.rigs.values()}
        return next(iter(states)) or default_state_dir()
    return Path(args.state_dir) if args.state_dir else default_state_dir()


def _open(args: argparse.Namespace, *, create: bool) -> Ledger | None:
    from rig.dcc.ledger import LEDGER_NAME, Ledger, LedgerError

    folder = _state_dir(args)
    if folder.exists() and not folder.is_dir():
        # a file where the state folder should be is a wrong setting, never "no ledger yet"
        raise LedgerError(f"state folder {folder} is not a folder")
    if not create and not (folder / LEDGER_NAME).exists():
        return None
    return Ledger.in_state_dir(folder, source="gbcs-rig ledger")


def _when(at: float) -> str:
    return _dt.datetime.fromtimestamp(at, _dt.UTC).isoformat(timespec="seconds")


def run_show(args: argparse.Namespace) -> int:
    from rig.dcc.ids import eui_text

    try:
        device = eui_text(args.eui64)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    ledger = _open(args, create=False)
    if ledger is None:
        print(f"meter {device}: no counter ledger in {_state_dir(args)}")
        return 0
    with ledger:
        rows = ledger.rows(device)
        print(f"meter {device}: " + (f"{len(rows)} originator(s) in {ledger.path}" if rows
                                     else f"no counters in {ledger.path}"))
        for row in rows:
            print(f"  originator {row.party}: last used {row.last_used}, floor {row.floor}, next {row.next}"
                  f" (updated {_when(row.updated_at)})")
        events = ledger.history(device, limit=max(0, args.history))
        if events:
            print("  history (latest last):")
        for event in events:
            source = f" by {event['source']}" if event["source"] else ""
            print(f"    {_when(event['at'])} {event['party']} {event['event']} {event['value']}{source}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from rig.dcc.ledger import write_export

    with _open(args, create=True) as ledger:
        count = write_export(ledger, args.file)
    print(f"exported {count} counter(s) to {args.file}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from rig.dcc.ledger import LedgerError, read_export

    try:
        data = read_export(args.file)
        with _open(args, create=True) as ledger:
            merged = ledger.import_(data, source=f"import {args.file}")
    except LedgerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"imported {len(merged)} counter(s) from {args.file} (never lowered)")
    for row in merged:
        print(f"  {row.device} originator {row.party}: next {row.next}")
    return 0
