"""``gbcs-rig ncp``: serve an emulated EZSP NCP, with emulated meters joined to its network, on a pty or TCP port.

The first line on stdout is exactly ``READY pty=/dev/pts/N`` or ``READY tcp=127.0.0.1:PORT``
(flushed), as ``gbcs-rig emulate`` prints it, so a hw_config's ``spawn`` can start it and the
rig opens the port through bellows as it would open a USB stick. Each ``--device-type`` adds
one emulated meter (its EUI-64 is its entity id from the test PKI) behind the NCP: an ESME
answers on its own tunnel, a GSME polls its mailbox on the rig (the GPF side). The server runs
until SIGTERM, SIGINT or EOF on stdin and exits 0. Diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from rig.cli.serving import add_serving_options
from rig.cli.vocabulary import NCP_DEVICE_TYPES


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("ncp", help="serve an emulated EZSP NCP (bellows-compatible) with emulated meters")
    parser.add_argument("--device-type", action="append", required=True, type=str.upper, choices=NCP_DEVICE_TYPES,
                        help="a meter joined to the NCP's network (repeatable: one meter each)")
    add_serving_options(parser)
    parser.add_argument("--fragment-window", type=int, default=4, metavar="N",
                        help="APS fragmentation window the NCP reports and its nodes use, in fragments "
                             "(1..8, default %(default)s)")
    parser.add_argument("--max-payload", type=int, default=82, metavar="OCTETS",
                        help="maximumPayloadLength the NCP reports: the octets of one APS payload, which sets "
                             "the fragment size (default %(default)s)")
    parser.set_defaults(func=run)


def _watch_stdin(stop: threading.Event) -> None:
    def watch():
        try:
            while sys.stdin.buffer.read1(4096):
                pass
        except (OSError, ValueError):
            pass
        stop.set()

    if sys.stdin is not None and not sys.stdin.closed:
        threading.Thread(target=watch, name="stdin-eof", daemon=True).start()


def run(args: argparse.Namespace) -> int:
    from rig.cli.inputs import pki_folder
    from rig.cli.serving import serve
    from rig.transport.serve import make_endpoint
    from rig.transport.zigbee.ncp import NcpServer, emulated_ncp

    if not 1 <= args.fragment_window <= 8:
        print("error: --fragment-window is 1..8", file=sys.stderr)
        return 2
    if args.tcp is not None and not 0 <= args.tcp <= 65535:
        print("error: --tcp takes a port number 0..65535", file=sys.stderr)
        return 2
    pki = pki_folder(args.pki) if args.pki is not None else None
    devices = []
    for kind in args.device_type:
        endpoint = make_endpoint(kind.upper(), pki, kind="provision")
        devices.append((kind.upper(), bytes(endpoint.entity_id), endpoint))
    ncp = emulated_ncp(devices, fragment_window=args.fragment_window, max_payload=args.max_payload)
    server = NcpServer(ncp)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    _watch_stdin(stop)
    print("ncp: " + ", ".join(f"{kind} {eui.hex().upper()}" for kind, eui, _ in devices), file=sys.stderr)
    counts = serve(server, pty=args.pty, tcp_port=args.tcp, stop=stop)
    counts.update(ncp.counts)
    print("ncp: stopped " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())), file=sys.stderr)
    return 0
