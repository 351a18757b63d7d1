"""Exclusive leases on physical rigs across processes (pytest-xdist workers, parallel jobs).

A lease is an advisory ``flock`` on a file named for the rig's resource (its port URL, udev
match or ZigBee adapter and meter), in a folder every process on the host shares. In-process
emulated rigs are never shared (each process has its own device), so they take no lease.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from rig.config.model import RigSpec

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LEASE_DIR = Path(os.environ.get("RIG_LEASE_DIR", Path(tempfile.gettempdir()) / "gbcs-rig-leases"))


class LeaseTimeout(TimeoutError):
    """Another process held the rig for longer than we were prepared to wait."""


def resource_key(spec: RigSpec) -> str | None:
    """What physically identifies the rig; None when nothing is shared (in-process emulation)."""
    transport = spec.transport
    kind = str(transport.kind)
    if kind == "emulated":
        return None
    spawn = getattr(transport, "spawn", None)
    if spawn is not None:
        return None  # each process spawns its own emulator
    parts = {"kind": kind, "url": getattr(transport, "url", None),
             "match": dict(getattr(transport, "match", None) or {}), "eui64": getattr(transport, "eui64", None)}
    if kind == "zigbee" and getattr(transport, "backend", None) == "emulated":
        return None
    return json.dumps(parts, sort_keys=True)


class Lease:
    def __init__(self, key: str, directory: Path = LEASE_DIR):
        self.key = key
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock")
        self._handle = None

    def acquire(self, timeout: float) -> Lease:
        handle = open(self.path, "a+")
        deadline = time.monotonic() + timeout
        while True:
            try:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._handle = handle
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()} {self.key}\n")
                handle.flush()
                return self
            except OSError:
                if time.monotonic() >= deadline:
                    handle.close()
                    raise LeaseTimeout(f"rig {self.key} is leased by another process ({self.path})") from None
                time.sleep(0.05)

    def release(self) -> None:
        if self._handle is not None:
            if fcntl is not None:
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
