"""Serving an emulator on a new pseudo-terminal or a loopback TCP port (``emulate``, ``ncp``).

Both commands announce where they listen with one ``READY pty=...`` / ``READY tcp=host:port``
line on stdout, which is what ``rig.transport.spawn`` waits for before a rig opens the port.
"""

from __future__ import annotations

import os
import socket
import threading
import tty
from typing import Any, Protocol

LOCALHOST = "127.0.0.1"


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
