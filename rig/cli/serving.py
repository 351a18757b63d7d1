"""Serving an emulator on a new pseudo-terminal or a loopback TCP port (``emulate``, ``ncp``).

Both commands announce where they listen with one ``READY pty=...`` / ``READY tcp=host:port``
line on stdout, which is what ``rig.transport.spawn`` waits for before a rig opens the port.
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import tty
from pathlib import Path
from typing import Any, Protocol

LOCALHOST = "127.0.0.1"


def add_serving_options(parser: argparse.ArgumentParser) -> None:
    """The options every serving command shares: the test PKI, and where to listen (one of
    ``--pty`` / ``--tcp``), so ``emulate`` and ``ncp`` say them the same way."""
    parser.add_argument("--pki", type=Path, metavar="DIR",
                        help="test PKI folder written by gbcs-rig pki init (default: the built-in test PKI, "
                             "the one the emulated rigs use)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal; prints its path")
    where.add_argument("--tcp", type=int, metavar="PORT", help="serve on 127.0.0.1:PORT (0 picks a free port)")


class Server(Protocol):
    def serve_fd(self, fd: int, stop: threading.Event) -> dict[str, Any]: ...

    def serve_tcp(self, listener: socket.socket, stop: threading.Event) -> dict[str, Any]: ...


def serve(server: Server, *, pty: bool, tcp_port: int | None, stop: threading.Event) -> dict[str, Any]:
    """Serve until ``stop``; returns the server's counters."""
    if pty:
        master, slave = os.openpty()
        try:
            tty.setraw(slave)  # no echo, no line editing, no XON/XOFF: frames are binary
            print(f"READY pty={os.ttyname(slave)}", flush=True)
            return server.serve_fd(master, stop)
        finally:
            os.close(master)
            os.close(slave)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOCALHOST, tcp_port or 0))
        listener.listen(1)
        print(f"READY tcp={LOCALHOST}:{listener.getsockname()[1]}", flush=True)
        return server.serve_tcp(listener, stop)
    finally:
        listener.close()
