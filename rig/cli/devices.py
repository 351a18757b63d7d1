"""``gbcs-rig devices``: the serial adapters on this machine, each with a hw_config match block.

The labgrid-suggest idea for our format: plug the meter's adapter in, run this, paste the
block into the rig's transport. With nothing plugged in (CI) it says so and succeeds.
"""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("devices", help="list serial adapters with ready-to-paste hw_config match blocks")
    parser.add_argument("--json", action="store_true", help="print JSON instead of TOML blocks")
    parser.add_argument("--all", action="store_true", dest="include_all",
                        help="include built-in serial ports, not only USB adapters")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rig import discovery

    backend = discovery.default_backend()
    everything = discovery.adapters(backend, include_all=True)
    shown = everything if args.include_all else [record for record in everything if discovery.is_adapter(record)]
    suggestions = [(record, discovery.suggest_match(record, everything)) for record in shown]
    if args.json:
        print(json.dumps({"discovery": backend.name, "adapters": [
            {"device_node": record.device_node, "properties": record.summary(), "match": match}
            for record, match in suggestions]}, indent=2))
        return 0
    if not suggestions:
        print(f"# no adapters found (discovery: {backend.name})")
        print(f"# {_hint(len(everything), args.include_all)}")
        return 0
    print(f"# {len(suggestions)} serial port(s) (discovery: {backend.name}).")
    print("# Paste a block into your hw_config and rename the rig (here named after the port).")
    for record, match in suggestions:
        print()
        print(discovery.match_block(record, match))
    return 0


def _hint(ports: int, include_all: bool) -> str:
    """What to try next when nothing is shown: the built-in ports ``--all`` adds, or the adapter."""
    if not include_all and ports:
        return (f"{ports} built-in serial port(s) not shown (a meter on a UART slot?): "
                "gbcs-rig devices --all lists them")
    return ("plug the meter's USB serial adapter in and run this again; "
            "gbcs-rig devices --all also lists built-in serial ports")
