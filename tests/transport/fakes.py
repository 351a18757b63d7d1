"""Scriptable stand-ins for a pyserial port, for reconnect and settings tests."""

from __future__ import annotations

import threading
import time

import serial


class FakePort:
    """A port whose inbound bytes the test feeds; ``vanish()`` makes reads and writes fail."""

    def __init__(self, settings: dict):
        self.settings = settings
        self.timeout = settings.get("timeout", 0.05)
        self.written = bytearray()
        self._inbound = bytearray()
        self._cond = threading.Condition()
        self.gone = False
        self.closed = False

    def feed(self, data: bytes) -> None:
        with self._cond:
            self._inbound += data
            self._cond.notify_all()

    def vanish(self) -> None:
        with self._cond:
            self.gone = True
            self._cond.notify_all()

    @property
    def in_waiting(self) -> int:
        if self.gone:
            raise serial.SerialException("device disconnected")
        return len(self._inbound)

    def read(self, size: int = 1) -> bytes:
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while not self._inbound and not self.gone:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return b""
                self._cond.wait(remaining)
            if self.gone:
                raise serial.SerialException("device reports readiness to read but returned no data")
            data = bytes(self._inbound[:size])
            del self._inbound[:size]
            return data

    def write(self, data: bytes) -> int:
        if self.gone:
            raise serial.SerialException("write failed: device disconnected")
        self.written += data
        return len(data)

    def reset_input_buffer(self) -> None:
        with self._cond:
            self._inbound.clear()

    def close(self) -> None:
        self.closed = True


class FakeSerialFactory:
    """``serial_for_url`` stand-in: ``fail_next`` opens fail; every port it made is kept."""

    def __init__(self):
        self.ports: list[FakePort] = []
        self.calls: list[tuple[str, dict]] = []
        self.fail_next = 0
        self.always_fail = False
        self._lock = threading.Lock()

    def __call__(self, url: str, **settings) -> FakePort:
        with self._lock:
            self.calls.append((url, settings))
            if self.always_fail or self.fail_next > 0:
                self.fail_next = max(0, self.fail_next - 1)
                raise serial.SerialException(f"could not open port {url}: [Errno 2] No such file or directory")
            port = FakePort(settings)
            self.ports.append(port)
            return port

    @property
    def port(self) -> FakePort:
        return self.ports[-1]
