"""A GBCS link over any pyserial URL: ``/dev/ttyUSB0``, ``rfc2217://host:port``, ``socket://host:port``.

One reader thread per port turns bytes into frames through a pure framer (``framing``) and
hands them to the shared receive queue. Every read has a timeout, so the thread notices
``close()`` promptly and can tell the framer when the line has gone quiet (``frame_gap``),
which is how a frame cut short by a glitch stops holding up the next one.

USB serial adapters disappear when a meter is power-cycled or the hub resets, and come back
under the same path (udev) a moment later. When a read or write fails, the port is closed and
reopened every ``reopen_interval`` seconds until ``reopen_timeout``; frames already queued
are kept, and a ``send`` issued meanwhile waits for the port. If the port does not come back
in time the link is lost: the next ``recv`` or ``send`` raises ``LinkLost``.

Binary framings and XON/XOFF flow control do not mix (0x11 and 0x13 occur in frames and
neither framing escapes them), so ``xonxoff`` stays off unless an adapter handles it below
the byte stream. Nothing global is registered: ports are opened with ``serial_for_url``
and, for device paths, ``exclusive=True`` so a second reader on the same port fails loudly.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import serial

from .base import LinkLost
from .framing import Framer, make_framer
from .link import LinkTransport

SerialFactory = Callable[..., Any]
#: largest single read; a read returns sooner with whatever has arrived
_READ_CHUNK = 65536


def _is_device_path(url: str) -> bool:
    return "://" not in url


class SerialTransport(LinkTransport):
    """GBCS frames over a pyserial URL through a framer; see the module docstring."""

    name = "serial"

    def __init__(
        self,
        url: str,
        *,
        framing: str | Framer = "hdlc",
        framing_options: dict[str, Any] | None = None,
        baudrate: int = 115200,
        bytesize: int = serial.EIGHTBITS,
        parity: str = serial.PARITY_NONE,
        stopbits: float = serial.STOPBITS_ONE,
        rtscts: bool = False,
        xonxoff: bool = False,
        inter_byte_timeout: float | None = None,
        read_timeout: float = 0.05,
        write_timeout: float = 5.0,
        open_timeout: float = 5.0,
        reopen_timeout: float = 10.0,
        reopen_interval: float = 0.1,
        frame_gap: float = 0.5,
        serial_factory: SerialFactory = serial.serial_for_url,
        name: str | None = None,
    ):
        super().__init__()
        if read_timeout <= 0:
            raise ValueError("every read needs a timeout: read_timeout must be > 0")
        self.url = url
        self.name = name or f"serial:{url}"
        self.framer = framing if isinstance(framing, Framer) else make_framer(framing, "client",
                                                                              **(framing_options or {}))
        self.port_settings: dict[str, Any] = dict(
            baudrate=baudrate, bytesize=bytesize, parity=parity, stopbits=stopbits, rtscts=rtscts,
            xonxoff=xonxoff, inter_byte_timeout=inter_byte_timeout, timeout=read_timeout,
            write_timeout=write_timeout)
        if _is_device_path(url):
            self.port_settings["exclusive"] = True
        if url.startswith("rfc2217://"):
            # pyserial's RFC 2217 client refuses any write timeout (NotImplementedError on open);
            # its writes go to a TCP socket, which the kernel buffers
            del self.port_settings["write_timeout"]
        self.open_timeout = open_timeout
        self.reopen_timeout = reopen_timeout
        self.reopen_interval = reopen_interval
        self.frame_gap = frame_gap
        self._factory = serial_factory
        self._port: Any = None
        self._port_cond = threading.Condition()
        self._framer_lock = threading.Lock()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._link_counts = {"reopens": 0, "read_errors": 0, "write_errors": 0, "bytes_rx": 0, "bytes_tx": 0}

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        if self.is_open:
            return
        self._stop.clear()
        port = self._open_port(time.monotonic() + self.open_timeout)
        if port is None:
            raise LinkLost(f"{self.name}: could not open {self.url} within {self.open_timeout}s ({self._last_error})")
        try:
            port.reset_input_buffer()  # bytes left over from an earlier session are not ours
        except (serial.SerialException, OSError, AttributeError):
            pass
        with self._port_cond:
            self._port = port
        super().open()
        self._reader = threading.Thread(target=self._read_loop, name=f"reader:{self.url}", daemon=True)
        self._reader.start()

    def close(self) -> None:
        self._stop.set()
        reader, self._reader = self._reader, None
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=max(2.0, 4 * self.port_settings["timeout"]))
        with self._port_cond:
            port, self._port = self._port, None
            self._port_cond.notify_all()
        _close_quietly(port)
        super().close()

    @property
    def stats(self) -> dict[str, int]:
        with self._framer_lock:
            counts = self.framer.stats
        return {**counts, **self._link_counts}

    # -- sending -----------------------------------------------------------------------------
    def _send(self, frame: bytes) -> None:
        with self._framer_lock:
            wire = self.framer.encode(frame)
        for chunk in self.wire.outgoing(wire):
            self._write(chunk)

    def _write(self, chunk: bytes) -> None:
        for attempt in range(2):
            port = self._wait_for_port()
            try:
                port.write(chunk)
                self._link_counts["bytes_tx"] += len(chunk)
                return
            except (serial.SerialException, OSError) as exc:
                self._link_counts["write_errors"] += 1
                self._port_failed(port)
                if attempt:
                    raise LinkLost(f"{self.name}: write failed after reopening ({exc})") from exc

    def _wait_for_port(self):
        deadline = time.monotonic() + self.reopen_timeout
        with self._port_cond:
            while self._port is None:
                self._check_failure()
                if not self._open:
                    raise LinkLost(f"{self.name} is closed")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LinkLost(f"{self.name}: port not back within {self.reopen_timeout}s")
                self._port_cond.wait(min(remaining, 0.05))
            return self._port

    def _port_failed(self, port) -> None:
        """Drop a broken port; the reader thread reopens it."""
        with self._port_cond:
            if self._port is port:
                self._port = None
        _close_quietly(port)

    # -- receiving (reader thread) -------------------------------------------------------------
    def _read_loop(self) -> None:
        last_rx = time.monotonic()
        while not self._stop.is_set():
            with self._port_cond:
                port = self._port
            if port is None:
                if not self._reopen("port dropped after a write error"):
                    return
                continue
            try:
                waiting = port.in_waiting
                data = port.read(min(max(1, waiting), _READ_CHUNK))
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                # TypeError/AttributeError: pyserial's fd or socket was closed under the read
                self._link_counts["read_errors"] += 1
                self._port_failed(port)
                if self._stop.is_set() or not self._reopen(str(exc)):
                    return
                continue
            now = time.monotonic()
            if data:
                last_rx = now
                self._link_counts["bytes_rx"] += len(data)
                for chunk in self.wire.incoming(bytes(data)):
                    with self._framer_lock:
                        frames = self.framer.feed(chunk)
                    for frame in frames:
                        self._deliver(frame, self.url)
            elif now - last_rx >= self.frame_gap:
                with self._framer_lock:
                    frames = self.framer.idle() if self.framer.has_partial else []
                for frame in frames:
                    self._deliver(frame, self.url)
                last_rx = now

    def _reopen(self, reason: str) -> bool:
        """Reopen within ``reopen_timeout``; on failure record the loss. False means stop reading."""
        if _is_pseudo_terminal(self.url):
            # a pty's slave goes away with its master for good: the same /dev/pts number is the
            # next pty the kernel hands out, another program's, so reopening it would cross links
            self._fail(f"{self.url} lost ({reason}): a pseudo-terminal does not come back once its "
                       "other end has closed")
            with self._port_cond:
                self._port_cond.notify_all()
            return False
        deadline = time.monotonic() + self.reopen_timeout
        while not self._stop.is_set():
            port = self._open_port(min(deadline, time.monotonic() + self.reopen_interval))
            if port is not None:
                with self._framer_lock:
                    self.framer.reset()  # half a frame from before the break is garbage now
                with self._port_cond:
                    self._port = port
                    self._port_cond.notify_all()
                self._link_counts["reopens"] += 1
                return True
            if time.monotonic() >= deadline:
                self._fail(f"{self.url} lost ({reason}) and not back within {self.reopen_timeout}s "
                           f"(last error: {self._last_error})")
                with self._port_cond:
                    self._port_cond.notify_all()
                return False
            self._stop.wait(self.reopen_interval)
        return False

    _last_error: str = ""

    def _open_port(self, deadline: float):
        """Try to open the port until ``deadline``; the port or None."""
        while True:
            try:
                return self._factory(self.url, **self.port_settings)
            except (serial.SerialException, OSError, ValueError) as exc:
                self._last_error = str(exc)
            if time.monotonic() >= deadline or self._stop.is_set():
                return None
            time.sleep(min(self.reopen_interval, max(0.0, deadline - time.monotonic())))


def _is_pseudo_terminal(url: str) -> bool:
    """A local pseudo-terminal path (``/dev/pts/N``, or a link to one), not a URL or an adapter."""
    if "://" in url:
        return False
    return os.path.realpath(url).startswith("/dev/pts/")


def _close_quietly(port) -> None:
    if port is None:
        return
    try:
        port.close()
    except (serial.SerialException, OSError):
        pass
