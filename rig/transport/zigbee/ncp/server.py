"""Serving an ``EmulatedNcp`` on a pseudo-terminal or a TCP port, as a USB stick or ``socket://`` NCP.

One single-threaded ``selectors`` loop: bytes from the host go to ``EmulatedNcp.on_bytes``,
every ``tick`` seconds ``EmulatedNcp.tick`` runs (ASH retransmissions, APS ACK waits, the
meters' polls), and whatever the NCP wrote is flushed to the host with non-blocking writes.

A pty lives as long as the server (the host may close and reopen the slave); on TCP one host
is served at a time and a new connection replaces the old one. ``drop()`` cuts the current
TCP connection (a dropped serial line, for tests); the NCP keeps its network, as a real stick
that stays powered does.

``NcpThread`` runs a server on a daemon thread of this process (tests use it to reach the NCP
object for fault injection); ``gbcs-rig ncp`` runs one in its own process.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import threading
import tty
from collections import Counter

from .device import EmulatedNcp

LOCALHOST = "127.0.0.1"


class NcpServer:
    """See the module docstring."""

    def __init__(self, ncp: EmulatedNcp, *, tick: float = 0.005):
        self.ncp = ncp
        self.tick = tick
        self.counts: Counter[str] = Counter()
        self._fd: int | None = None
        self._pending = bytearray()
        self._drop = threading.Event()

    def drop(self) -> None:
        """Cut the current TCP connection (thread-safe)."""
        self._drop.set()

    def _flush(self) -> None:
        while self._fd is not None and self._pending:
            try:
                sent = os.write(self._fd, bytes(self._pending))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._pending.clear()
                return
            del self._pending[:sent]

    def _emit(self, data: bytes) -> None:
        if data and self._fd is not None:
            self._pending += data
            self._flush()

    def _read(self) -> bool:
        """Read what the host sent; False when the connection ended."""
        try:
            data = os.read(self._fd, 65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:  # EIO on a pty whose slave is closed: the host went away, the pty stays
            return self._is_pty
        if not data:
            return self._is_pty
        self.counts["bytes_in"] += len(data)
        self._emit(self.ncp.on_bytes(data))
        return True

    _is_pty = False

    def serve_fd(self, fd: int, stop: threading.Event, extra: selectors.BaseSelector | None = None) -> Counter[str]:
        """Serve a pty master until ``stop`` is set."""
        self._is_pty = True
        os.set_blocking(fd, False)
        self._fd = fd
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while not stop.is_set():
                if selector.select(self.tick):
                    self._read()
                self._emit(self.ncp.tick())
        self._fd = None
        return self.counts

    def serve_tcp(self, listener: socket.socket, stop: threading.Event) -> Counter[str]:
        """Serve one host at a time on ``listener`` until ``stop`` is set."""
        listener.setblocking(False)
        conn: socket.socket | None = None
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ, "accept")
            try:
                while not stop.is_set():
                    if self._drop.is_set() and conn is not None:
                        self._drop.clear()
                        conn = self._close(selector, conn)
                        self.counts["drops"] += 1
                    for key, _ in selector.select(self.tick):
                        if key.data == "accept":
                            try:
                                new, _address = listener.accept()
                            except (BlockingIOError, InterruptedError):
                                continue
                            if conn is not None:
                                conn = self._close(selector, conn)
                            conn = new
                            conn.setblocking(False)
                            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                            self._fd = conn.fileno()
                            self._pending.clear()
                            selector.register(conn, selectors.EVENT_READ, "conn")
                            self.counts["connections"] += 1
                        elif conn is not None and not self._read():
                            conn = self._close(selector, conn)
                    output = self.ncp.tick()
                    if conn is not None:
                        self._emit(output)
            finally:
                if conn is not None:
                    self._close(selector, conn)
        return self.counts

    def _close(self, selector: selectors.BaseSelector, conn: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(conn)
        with contextlib.suppress(OSError):
            conn.close()
        self._fd = None
        self._pending.clear()
        return None


class NcpThread:
    """An ``NcpServer`` on a daemon thread: ``with NcpThread(ncp, tcp=True) as url: ...``."""

    def __init__(self, ncp: EmulatedNcp, *, tcp: bool = False):
        self.ncp = ncp
        self.server = NcpServer(ncp)
        self.tcp = tcp
        self.url = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fds: tuple[int, int] | None = None
        self._listener: socket.socket | None = None

    def start(self) -> str:
        if self.tcp:
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind((LOCALHOST, 0))
            self._listener.listen(1)
            self.url = f"socket://{LOCALHOST}:{self._listener.getsockname()[1]}"
            target = lambda: self.server.serve_tcp(self._listener, self._stop)  # noqa: E731
        else:
            master, slave = os.openpty()
            tty.setraw(slave)
            self._fds = (master, slave)
            self.url = os.ttyname(slave)
            target = lambda: self.server.serve_fd(master, self._stop)  # noqa: E731
        self._thread = threading.Thread(target=target, name="emulated-ncp", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
        if self._fds is not None:
            for fd in self._fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._fds = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
