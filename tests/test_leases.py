"""Leases on the meter, not the config text: canonical endpoints, the private lock folder,
planted symlinks, and a concurrent run that must wait without sending anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rig.cli.main import main
from rig.config import parse_config
from rig.pytest_plugin.leases import Lease, LeaseError, LeaseTimeout, MeterLease, endpoint_keys, resource_keys
from rig.report import journal as journal_module

from .lab_configs import served_esme_config, socket_transport
from .vectors import FIXTURE_PKI, PROJECT

pytestmark = pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="leases need POSIX O_NOFOLLOW and flock")


def rig(transport: str, device_id: str | None = "7E570D00000000A0", rig_id: str = "lab"):
    identity = f'device_id = "{device_id}"\n' if device_id else ""
    return parse_config(f'[rigs.{rig_id}]\ndevice = "ESME"\n{identity}transport = {transport}\n').rigs[rig_id]


def test_two_spellings_of_one_tcp_endpoint_collide():
    by_address = resource_keys(rig('{ kind = "serial", url = "socket://127.0.0.1:4001" }', device_id=None))
    by_name = resource_keys(rig('{ kind = "serial", url = "socket://localhost:4001" }', device_id=None))
    assert "tcp:127.0.0.1:4001" in by_address and set(by_address) & set(by_name)
    other_port = resource_keys(rig('{ kind = "serial", url = "socket://127.0.0.1:4002" }', device_id=None))
    assert not set(by_address) & set(other_port)
    assert endpoint_keys("rfc2217://localhost:4001") == endpoint_keys("socket://localhost:4001")


def test_one_meter_on_two_ports_collides_by_its_eui64():
    first = resource_keys(rig('{ kind = "serial", url = "socket://127.0.0.1:4001" }'))
    second = resource_keys(rig('{ kind = "serial", url = "socket://127.0.0.1:4999" }'))
    assert set(first) & set(second) == {"eui64:7E570D00000000A0"}


def test_a_device_node_is_keyed_on_its_real_path(tmp_path):
    node = tmp_path / "ttyUSB0"
    node.write_text("")
    alias = tmp_path / "by-id-usb-FTDI_1234"
    alias.symlink_to(node)
    assert endpoint_keys(str(alias)) == endpoint_keys(str(node))
    assert f"node:{os.path.realpath(node)}" in endpoint_keys(str(alias))


def test_devices_of_this_process_take_no_lease():
    assert resource_keys(rig('{ kind = "emulated" }')) == []
    assert resource_keys(rig('{ kind = "serial", spawn = "gbcs-rig emulate --pty" }')) == []
    assert MeterLease(rig('{ kind = "emulated" }')).leases == []


def test_a_planted_symlink_is_refused_and_its_target_untouched(tmp_path):
    folder = tmp_path / "leases"
    lease = Lease("tcp:127.0.0.1:4001", folder)
    folder.mkdir(mode=0o700)
    target = tmp_path / "precious.txt"
    target.write_text("do not truncate me\n")
    (folder / lease.name).symlink_to(target)
    with pytest.raises(LeaseError, match="symbolic link"):
        lease.acquire(timeout=0.1)
    assert target.read_text() == "do not truncate me\n"
    dangling = Lease("tcp:127.0.0.1:4002", folder)
    (folder / dangling.name).symlink_to(tmp_path / "would-be-created")
    with pytest.raises(LeaseError, match="symbolic link"):
        dangling.acquire(timeout=0.1)
    assert not (tmp_path / "would-be-created").exists()


def test_an_unsafe_lock_folder_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(LeaseError, match="writable by group or others"):
        Lease("k", shared).acquire(timeout=0.1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    link = tmp_path / "linked"
    link.symlink_to(elsewhere)
    with pytest.raises(LeaseError, match="not a real folder"):
        Lease("k", link).acquire(timeout=0.1)
    assert list(elsewhere.iterdir()) == []


def test_the_lock_folder_is_created_private(tmp_path):
    folder = tmp_path / "state" / "leases"
    with Lease("k", folder).acquire(timeout=0.1) as lease:
        assert (folder.stat().st_mode & 0o777) == 0o700
        assert lease.path.read_text().startswith(f"pid {os.getpid()} ")
        with pytest.raises(LeaseTimeout, match=f"pid {os.getpid()}"):  # the message names the holder
            Lease("k", folder).acquire(timeout=0.1)


def test_a_meter_lease_takes_all_its_locks_or_none(tmp_path):
    spec = rig('{ kind = "serial", url = "socket://127.0.0.1:4001" }')
    other_port = rig('{ kind = "serial", url = "socket://127.0.0.1:4999" }', rig_id="other")
    with MeterLease(spec, tmp_path / "l").acquire(timeout=1):
        with pytest.raises(LeaseTimeout, match="rig lease: rig other: meter eui64:7E570D00000000A0 is leased"):
            MeterLease(other_port, tmp_path / "l").acquire(timeout=0.2)
        free = Lease("tcp:127.0.0.1:4999", tmp_path / "l").acquire(timeout=0.1)  # released on failure
        free.release()
    MeterLease(other_port, tmp_path / "l").acquire(timeout=0.2).release()  # free once the holder is gone


class CountingListener:
    """A TCP port standing in for the meter: counts connections and bytes received."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(0.5)
                try:
                    while data := conn.recv(4096):
                        self.received += len(data)
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def lab_config(*, host: str, port: int, join: float) -> str:
    return served_esme_config(pki=FIXTURE_PKI, rig="esme-tcp", features=("cs02b", "serial"),
                              transport=socket_transport(host, port), response=0.2, alert=1, join=join)


#: run 1, as its plugin holds the meter: the ``MeterLease`` of its rig, until stdin closes
HOLDER = """
import sys
from rig.config import load_config
from rig.pytest_plugin.leases import MeterLease
lease = MeterLease(load_config(sys.argv[1]).rigs["esme-tcp"]).acquire(timeout=5)
print("HELD", flush=True)
sys.stdin.read()
lease.release()
"""


def test_a_concurrent_run_naming_the_meter_localhost_waits_and_sends_nothing(tmp_path, capsys):
    """Run 1 (``127.0.0.1``, another process) holds the meter exactly as its plugin does (the
    ``MeterLease`` of its rig); run 2 names it ``localhost`` from another config: it waits its join timeout, then every
    scenario is inconclusive with the lease message, and not one byte reaches the meter."""
    meter = CountingListener()
    try:
        holder_config = tmp_path / "holder.toml"
        holder_config.write_text(lab_config(host="127.0.0.1", port=meter.port, join=5))
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(holder_config)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(PROJECT)))
        try:
            assert holder.stdout.readline() == "HELD\n"
            waiting = tmp_path / "waiting.toml"
            waiting.write_text(lab_config(host="localhost", port=meter.port, join=1))
            code = main(["prove", "--config", str(waiting), "--report", str(tmp_path / "run2")])
        finally:
            holder.stdin.close()
            holder.wait(timeout=20)
            holder.stdout.close()
        assert meter.connections == 0 and meter.received == 0
    finally:
        meter.close()
    out = capsys.readouterr().out
    assert code == 3 and "verdict: NOT PROVEN (exit 3)" in out  # never a meter fault
    records = journal_module.tests(tmp_path / "run2" / "journal.jsonl")
    ran = [r for r in records if r["outcome"] != "not-applicable"]
    assert ran and {r["outcome"] for r in ran} == {"inconclusive"}
    assert all("rig lease: rig esme-tcp: meter" in r["reason"] and "is leased by another run" in r["reason"]
               and "sent nothing" in r["reason"] for r in ran), {r["reason"] for r in ran}
    assert "rig lease" in out


def test_lease_dir_is_private_under_the_state_dir(monkeypatch, tmp_path):
    from rig.pytest_plugin.leases import lease_dir

    monkeypatch.delenv("RIG_LEASE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert lease_dir() == tmp_path / "gbcs-rig" / "leases"
    monkeypatch.setenv("RIG_LEASE_DIR", str(tmp_path / "x"))
    assert lease_dir() == Path(tmp_path / "x")
