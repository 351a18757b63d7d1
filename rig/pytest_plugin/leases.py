"""Exclusive leases on the meters a run drives, across processes (xdist workers, parallel jobs).

A lease is keyed on the meter, not on the config text: one advisory ``flock`` per identity of
the device, so any two spellings of one meter collide:

* ``eui64:<device id>``: the GBCS Device ID (two configs naming one meter on two ports);
* ``tcp:<address>:<port>`` for each address a ``socket://`` or ``rfc2217://`` host resolves to
  (``localhost`` and ``127.0.0.1`` share ``127.0.0.1``);
* ``node:<realpath>`` for a device node (``/dev/serial/by-id/...`` and ``/dev/ttyUSB0`` are one
  node) and ``udev:<ID_SERIAL>`` for the adapter's udev identity when pyudev can read it;
* ``match:<udev properties>`` for a rig that finds its port by udev match.

The locks are taken in sorted order (two runs never hold one each and wait for the other) and
released together. Lock files live in a private folder (``RIG_LEASE_DIR``, else ``leases`` in
the user's state directory): created 0700, refused when it is not a real folder owned by the
user or when group or others may write to it, and every lock file is opened relative to it
with ``O_NOFOLLOW`` (a planted symlink is refused; its target is never opened).

A waiting run gets the lease only after the holder's counters are committed: every counter is
committed to the host's ledger before its frame is written (``rig.dcc.ledger``), and the lock
is released only after the holder has closed its sessions (or by the kernel when it dies). So
whatever the holder sent, its counter is durable before the waiter can read the ledger.

In-process emulated rigs, and rigs that spawn their own emulator, are never shared (each
process has its own device), so they take no lease. A rig on a labgrid place takes no local
lease either: the place lock, held on the lab's coordinator for every host, is its lease
(``rig.transport.labgrid``); its counters stay in the ledger, keyed by the EUI-64.
"""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import json
import os
import socket
import stat
import time
from pathlib import Path
from urllib.parse import urlsplit

from rig.config.model import RigSpec
from rig.dcc.ledger import default_state_dir, keeps_state

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_NETWORK_SCHEMES = ("socket", "rfc2217")


class LeaseError(RuntimeError):
    """A lease that cannot be taken: the meter is in use, or the lock folder is unsafe."""


class LeaseTimeout(LeaseError):
    """Another run held the meter for longer than we were prepared to wait."""


def lease_dir() -> Path:
    """Where the lock files live (read at call time, so a test or a job can set ``RIG_LEASE_DIR``)."""
    configured = os.environ.get("RIG_LEASE_DIR")
    return Path(configured) if configured else default_state_dir() / "leases"


def private_dir(path: Path) -> int:
    """Open ``path`` as a private folder (created 0700 when missing) and return its descriptor.

    Refused when it is a symlink, not a folder, owned by someone else, or writable by group or
    others: whoever can write there could plant a lock file or a link under a lock's name.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        raise LeaseError(f"lease folder {path} refused: not a real folder ({err.strerror})") from None
    info = os.fstat(fd)
    problem = ("owned by another user" if info.st_uid != os.getuid()
               else "writable by group or others" if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) else None)
    if problem:
        os.close(fd)
        raise LeaseError(f"lease folder {path} refused: {problem} (it must be the user's own, mode 0700)")
    return fd


def _host_addresses(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return [host.lower()]  # unresolvable: the name itself is the best identity there is
    return sorted({str(ipaddress.ip_address(info[4][0].split("%", 1)[0])) for info in infos})


def _node_keys(url: str) -> list[str]:
    node = os.path.realpath(url)
    keys = [f"node:{node}"]
    try:
        import pyudev

        device = pyudev.Devices.from_device_file(pyudev.Context(), node)
        serial = device.properties.get("ID_SERIAL") or device.properties.get("ID_PATH")
        if serial:
            keys.append(f"udev:{serial}")
    except Exception:  # pyudev missing, not Linux, or not a udev device (a pty): the node is the identity
        pass
    return keys


def endpoint_keys(url: str) -> list[str]:
    """The canonical identities of the endpoint a pyserial URL names."""
    parts = urlsplit(url)
    if parts.scheme in _NETWORK_SCHEMES:
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.hostname and port is not None:
            return [f"tcp:{address}:{port}" for address in _host_addresses(parts.hostname, port)]
        return [f"url:{url}"]
    if "://" in url:
        return [f"url:{url}"]  # another pyserial URL scheme: its text is all we know
    return _node_keys(url)


def resource_keys(spec: RigSpec) -> list[str]:
    """Every identity of the rig's meter (sorted); empty when nothing is shared."""
    if not keeps_state(spec) or str(spec.transport.kind) == "labgrid":
        return []
    transport = spec.transport
    keys: set[str] = set()
    if spec.device_id:
        keys.add(f"eui64:{spec.device_id.upper()}")
    if getattr(transport, "eui64", None):
        keys.add(f"radio:{transport.eui64}")
    url = getattr(transport, "url", None)
    if url:
        keys.update(endpoint_keys(url))
    match = getattr(transport, "match", None)
    if match:
        keys.add("match:" + json.dumps(dict(match), sort_keys=True))
    return sorted(keys)


def resource_key(spec: RigSpec) -> str | None:
    """The rig's identities as one text (for messages); None when nothing is shared."""
    keys = resource_keys(spec)
    return " ".join(keys) if keys else None


class Lease:
    """The lock on one identity of a meter (``MeterLease`` takes all of a rig's)."""

    def __init__(self, key: str, directory: Path | None = None):
        self.key = key
        self.directory = Path(directory) if directory is not None else lease_dir()
        self.name = hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock"
        self.path = self.directory / self.name
        self._fd: int | None = None

    def _open(self) -> int:
        folder = private_dir(self.directory)
        try:
            fd = os.open(self.name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise LeaseError(f"lease file {self.path} refused: it is a symbolic link (someone planted it;"
                                 " remove it and check who can write to the folder)") from None
            raise LeaseError(f"lease file {self.path}: {err.strerror}") from None
        finally:
            os.close(folder)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            os.close(fd)
            raise LeaseError(f"lease file {self.path} refused: not a regular file of this user")
        return fd

    def holder(self) -> str:
        """What the current holder wrote (pid and what it leased), for the message."""
        try:
            fd = self._open()
        except LeaseError:
            return "unknown"
        try:
            return os.read(fd, 512).decode(errors="replace").strip() or "unknown"
        finally:
            os.close(fd)

    def acquire(self, timeout: float, *, label: str = "") -> Lease:
        fd = self._open()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LeaseTimeout(f"meter {self.key} is leased by another run ({self.holder()});"
                                       f" waited {timeout:g}s, sent nothing") from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} {label or self.key}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class MeterLease:
    """All the locks of one rig's meter, taken in sorted order within one deadline."""

    def __init__(self, spec: RigSpec, directory: Path | None = None):
        self.spec = spec
        self.leases = [Lease(key, directory) for key in resource_keys(spec)]

    def acquire(self, timeout: float) -> MeterLease:
        deadline = time.monotonic() + timeout
        label = f"rig {self.spec.id} ({resource_key(self.spec)})"
        taken: list[Lease] = []
        try:
            for lease in self.leases:
                taken.append(lease.acquire(max(0.0, deadline - time.monotonic()), label=label))
        except LeaseError as err:
            for lease in taken:
                lease.release()
            raise type(err)(f"rig lease: rig {self.spec.id}: {err}") from None
        return self

    def release(self) -> None:
        for lease in reversed(self.leases):
            lease.release()

    def __enter__(self) -> MeterLease:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
