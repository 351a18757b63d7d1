"""The device end of a serial link: an ``Endpoint`` served over a pty or TCP through a framer.

``make_endpoint`` is the one place the transport layer asks for an emulated device. It uses
``rig.provision`` (the device factory of the emulator package) when that module exists and
falls back to the ``EchoMeter`` test double otherwise, so ``gbcs-rig emulate`` and the serial
contract tests work before, and keep working after, the real devices land.

``Pump`` is the pure part (bytes in, bytes out; no I/O); ``StreamServer.serve_fd`` (a pty
master) and ``StreamServer.serve_tcp`` (a listening socket) are single-threaded ``selectors``
loops around it. Writes are non-blocking and buffered, so a
rig that stops reading can never wedge the emulator, and every wait has a timeout so a stop
request (signal, stdin EOF) is seen within ``tick`` seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import selectors
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from firmware_emu.endpoint import Endpoint
from rig import pki as rig_pki

from .framing import Framer, make_framer
from .spawn import SIGNAL_PROCESSED_ENV
from .testing import fleet_entity_id, make_stand_in

#: which device factory ``make_endpoint`` may use
ENDPOINT_KINDS = ("auto", "provision", "stand-in")

#: the processed signal: this prefix, the 4-byte count of frames received on the stream, the
#: first 16 bytes of the frame's SHA-256. Its first byte (0x00) is no GBCS tag, so it never
#: decodes as a GBCS message: a rig that does not expect it ignores it like any undecodable frame.
PROCESSED_PREFIX = b"\x00gbcs-rig emulate: processed\x00"
_DIGEST_BYTES = 16


def frame_digest(frame: bytes) -> bytes:
    """What a processed signal names a frame by."""
    return hashlib.sha256(frame).digest()[:_DIGEST_BYTES]


def processed_signal(sequence: int, frame: bytes) -> bytes:
    """The signal ``gbcs-rig emulate`` sends once its device has processed ``frame`` (the
    ``sequence``-th frame of the stream) and everything that produced is already sent: the
    response if any, the alerts it raised, and whatever else was due by then."""
    return PROCESSED_PREFIX + (sequence & 0xFFFFFFFF).to_bytes(4, "big") + frame_digest(frame)


def parse_processed_signal(data: bytes) -> tuple[int, bytes] | None:
    """(sequence, digest) of a processed signal; None for any other frame."""
    if len(data) != len(PROCESSED_PREFIX) + 4 + _DIGEST_BYTES or not data.startswith(PROCESSED_PREFIX):
        return None
    body = data[len(PROCESSED_PREFIX):]
    return int.from_bytes(body[:4], "big"), body[4:]


def signal_processed_from_env() -> bool:
    return os.environ.get(SIGNAL_PROCESSED_ENV, "") not in ("", "0")


def make_endpoint(device_type: str, pki_dir: str | Path | None = None, fleet: int = 0, *,
                  kind: str = "auto") -> Endpoint:
    """An emulated ``device_type`` (or a hub in front of ``fleet`` of them) for a transport to serve.

    ``kind="auto"`` uses ``rig.provision.create_device`` / ``create_hub`` when the module is
    importable and the ``EchoMeter`` stand-in otherwise; ``"provision"`` insists on the real
    factory, ``"stand-in"`` on the test double. ``pki_dir`` is a folder written by
    ``gbcs-rig pki init``, loaded with ``rig.pki.load`` and passed as ``pki`` (None: the
    factory's default PKI). Fleet members get ids from ``rig.transport.testing.fleet_entity_id``
    (the same as ``rig.provision.fleet_ids``).
    """
    if kind not in ENDPOINT_KINDS:
        raise ValueError(f"endpoint kind is one of {ENDPOINT_KINDS}, not {kind!r}")
    if kind != "stand-in":
        try:  # written alongside firmware_emu; absent from this branch until it lands
            provision = importlib.import_module("rig.provision")
        except ModuleNotFoundError as exc:
            if kind == "provision" or exc.name != "rig.provision":
                raise
        else:
            pki = rig_pki.load(pki_dir) if pki_dir is not None else None  # once per emulate process
            if fleet <= 0:
                return provision.create_device(device_type, pki=pki)
            devices = [provision.create_device(device_type, pki=pki, entity_id=fleet_entity_id(i))
                       for i in range(fleet)]
            return provision.create_hub(devices, pki=pki)
    return make_stand_in(device_type, pki_dir, fleet)


def endpoint_description(endpoint: Endpoint) -> str:
    return type(endpoint).__module__ + "." + type(endpoint).__qualname__


class Pump:
    """Bytes from the rig in, bytes to the rig out: framer + endpoint, no I/O.

    With ``signal_processed``, every frame's output ends with a processed signal
    (``processed_signal``), after the endpoint's replies and anything else due by then: a rig
    that knows it talks to this emulator can stop waiting for an answer or an alert there,
    instead of at its response timeout (a stream keeps its order, so nothing the device sent
    for that frame can still be on its way)."""

    def __init__(self, endpoint: Endpoint, framer: Framer, *, signal_processed: bool = False):
        self.endpoint = endpoint
        self.framer = framer
        self.signal_processed = signal_processed
        self.counts: Counter[str] = Counter()

    def on_bytes(self, data: bytes) -> bytes:
        out = bytearray()
        for frame in self.framer.feed(data):
            out += self._handle(frame)
        return bytes(out)

    def on_idle(self) -> bytes:
        out = bytearray()
        for frame in self.framer.idle():
            out += self._handle(frame)
        return bytes(out)

    def tick(self) -> bytes:
        """Frames the endpoint emits on its own (alerts), framed."""
        try:
            frames = self.endpoint.poll()
        except Exception as err:
            self._endpoint_failed("poll", err)
            return b""
        return b"".join(self._encode(frame) for frame in frames)

    def _handle(self, frame: bytes) -> bytes:
        self.counts["frames_in"] += 1
        try:
            replies = self.endpoint.receive(frame)
        except Exception as err:
            self._endpoint_failed("receive", err)
            replies = []
        out = b"".join(self._encode(reply) for reply in replies)
        if self.signal_processed:
            self.counts["processed_signals"] += 1
            out += self.tick() + self.framer.encode(processed_signal(self.counts["frames_in"], frame))
        return out

    def _endpoint_failed(self, call: str, err: Exception) -> None:
        """An endpoint that raises (emulated devices never should) is reported and the server
        keeps serving: one bad frame must not take the emulated meter off the link."""
        self.counts[f"endpoint_{call}_errors"] += 1
        print(f"emulate: endpoint {call} failed: {type(err).__name__}: {err}", file=sys.stderr)

    def _encode(self, frame: bytes) -> bytes:
        self.counts["frames_out"] += 1
        return self.framer.encode(frame)


class _Stream:
    """One non-blocking connection: buffered writes and a framer state of its own."""

    def __init__(self, fd: int, pump: Pump):
        self.fd = fd
        self.pump = pump
        self.outgoing = bytearray()
        self.last_rx = time.monotonic()

    def read(self) -> bytes:
        return os.read(self.fd, 65536)

    def flush(self) -> None:
        while self.outgoing:
            try:
                sent = os.write(self.fd, bytes(self.outgoing))
            except (BlockingIOError, InterruptedError):
                return
            del self.outgoing[:sent]


class StreamServer:
    """Serves one ``Endpoint`` over a byte stream with a single-threaded ``selectors`` loop.

    ``serve_fd`` takes a pty master (one stream for the server's life: the rig may close and
    reopen the slave); ``serve_tcp`` takes a listening socket and serves one client at a
    time, each connection with a fresh framer but the same device. Both return when
    ``stop`` is set, or when stdin reaches EOF if ``watch_stdin``.
    """

    def __init__(self, endpoint: Endpoint, framing: str, *, tick: float = 0.05, frame_gap: float = 0.5,
                 watch_stdin: bool = False, signal_processed: bool | None = None):
        """``signal_processed``: send a processed signal after every frame (``Pump``); None
        reads ``SIGNAL_PROCESSED_ENV``, so a parent that spawns ``gbcs-rig emulate`` decides."""
        self.endpoint = endpoint
        self.framing = framing
        self.signal_processed = signal_processed_from_env() if signal_processed is None else signal_processed
        self.tick = tick
        self.frame_gap = frame_gap
        self.watch_stdin = watch_stdin
        self.counts: Counter[str] = Counter()
        self._streams: list[_Stream] = []

    def _new_stream(self, fd: int) -> _Stream:
        os.set_blocking(fd, False)
        stream = _Stream(fd, Pump(self.endpoint, make_framer(self.framing, "server"),
                                  signal_processed=self.signal_processed))
        self._streams.append(stream)
        return stream

    def _end_stream(self, selector: selectors.BaseSelector, stream: _Stream, close: bool) -> None:
        self.counts.update(stream.pump.counts)
        self.counts.update({f"framer_{k}": v for k, v in stream.pump.framer.stats.items()})
        self._streams.remove(stream)
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(stream.fd)
        if close:
            with contextlib.suppress(OSError):
                os.close(stream.fd)

    def serve_fd(self, fd: int, stop: threading.Event) -> Counter[str]:
        with selectors.DefaultSelector() as selector:
            stream = self._new_stream(fd)
            selector.register(fd, selectors.EVENT_READ, stream)
            self._watch_stdin(selector)
            while not stop.is_set():
                self._step(selector, stop, None)
            self._end_stream(selector, stream, close=False)
        return self.counts

    def serve_tcp(self, listener: socket.socket, stop: threading.Event) -> Counter[str]:
        listener.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ, "accept")
            self._watch_stdin(selector)
            while not stop.is_set():
                self._step(selector, stop, listener)
            for stream in list(self._streams):
                self._end_stream(selector, stream, close=True)
        return self.counts

    def _watch_stdin(self, selector: selectors.BaseSelector) -> None:
        if self.watch_stdin and sys.stdin is not None:
            try:
                selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
            except (ValueError, OSError):
                pass  # stdin closed or not selectable: signals still stop the server

    def _accept(self, selector: selectors.BaseSelector, listener: socket.socket) -> None:
        try:
            conn, _address = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        for old in list(self._streams):  # one rig at a time: a new connection replaces the old
            self._end_stream(selector, old, close=True)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream = self._new_stream(conn.detach())
        selector.register(stream.fd, selectors.EVENT_READ, stream)
        self.counts["connections"] += 1

    def _step(self, selector: selectors.BaseSelector, stop: threading.Event, listener: socket.socket | None) -> None:
        for key, _events in selector.select(timeout=self.tick):
            if key.data == "stdin":
                try:
                    eof = os.read(key.fd, 4096) == b""
                except OSError:
                    eof = True
                if eof:
                    stop.set()
                continue
            if key.data == "accept":
                self._accept(selector, listener)
                continue
            stream: _Stream = key.data
            try:
                data = stream.read()
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""  # EIO: the pty has no reader; a socket was reset
            if not data:
                if listener is not None:  # the TCP client went away
                    self._end_stream(selector, stream, close=True)
                continue
            stream.last_rx = time.monotonic()
            stream.outgoing += stream.pump.on_bytes(data)
        now = time.monotonic()
        for stream in self._streams:
            if stream.pump.framer.has_partial and now - stream.last_rx >= self.frame_gap:
                stream.outgoing += stream.pump.on_idle()
                stream.last_rx = now
            stream.outgoing += stream.pump.tick()
            try:
                stream.flush()
            except OSError:
                stream.outgoing.clear()  # nobody on the other side: the bytes have nowhere to go
