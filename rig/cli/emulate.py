"""``gbcs-rig emulate``: serve an emulated device (or a fleet behind a hub) on a pty or TCP port.

The first line on stdout is exactly ``READY pty=/dev/pts/N`` or ``READY tcp=127.0.0.1:PORT``
(flushed), so a parent process can wait for it and open the link; ``rig.transport.spawn``
does. The server then runs until SIGTERM, SIGINT or EOF on stdin and exits 0. Diagnostics go
to stderr.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from rig.cli.inputs import pki_folder
from rig.cli.serving import add_serving_options, serve
from rig.cli.vocabulary import DEVICE_TYPES, ENDPOINT_KINDS, FRAMINGS


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("emulate", help="serve an emulated device on a pseudo-terminal or TCP port")
    parser.add_argument("--device-type", required=True, type=str.upper, choices=DEVICE_TYPES,
                        help="the emulated device's type (with --fleet: the members' type)")
    add_serving_options(parser)
    parser.add_argument("--framing", choices=FRAMINGS, default="hdlc",
                        help="how frames are delimited on the link; the rig's hw_config transport must use the "
                             "same (default hdlc)")
    parser.add_argument("--fleet", type=int, default=0, metavar="N",
                        help="serve N devices behind an emulated comms hub instead of one device "
                             "(default 0: one device, no hub)")
    parser.add_argument("--endpoint", choices=ENDPOINT_KINDS, default="auto",
                        help="device factory: provision is the emulated meter, stand-in the EchoMeter test "
                             "double, auto the meter when its module is installed (default auto)")
    parser.set_defaults(func=run)


def _install_stop_signals(stop: threading.Event) -> None:
    def handler(_signum, _frame):
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)


def run(args: argparse.Namespace) -> int:
    from rig.transport.serve import StreamServer, endpoint_description, make_endpoint

    if args.fleet < 0:
        print("error: --fleet must be >= 0", file=sys.stderr)
        return 2
    if args.tcp is not None and not 0 <= args.tcp <= 65535:
        print("error: --tcp takes a port number 0..65535", file=sys.stderr)
        return 2
    pki = pki_folder(args.pki) if args.pki is not None else None
    endpoint = make_endpoint(args.device_type, pki, args.fleet, kind=args.endpoint)
    stop = threading.Event()
    _install_stop_signals(stop)
    server = StreamServer(endpoint, args.framing, watch_stdin=True)
    print(f"emulate: {args.device_type} fleet={args.fleet} framing={args.framing} "
          f"endpoint={endpoint_description(endpoint)}", file=sys.stderr)
    counts = serve(server, pty=args.pty, tcp_port=args.tcp, stop=stop)
    print("emulate: stopped " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())), file=sys.stderr)
    return 0
