"""``gbcs-rig emulate``, ``spawn.EmulatorProcess``, ``serve.make_endpoint`` and the Pump."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import types

import pytest

from rig.cli.main import build_parser
from rig.transport import deadline_in
from rig.transport.framing import make_framer
from rig.transport.serial_link import SerialTransport
from rig.transport.serve import Pump, make_endpoint
from rig.transport.spawn import PROJECT_ROOT, EmulatorError, EmulatorProcess, url_from_ready_line
from rig.transport.testing import EchoHub, EchoMeter, fleet_entity_id

from .peers import peer_for

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.skipif(not hasattr(os, "openpty"), reason="the emulator's pty mode needs a POSIX system")]


def _start(*args: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    process = subprocess.Popen([sys.executable, "-m", "rig.cli.main", "emulate", *args], cwd=PROJECT_ROOT, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()  # the READY line is printed and flushed before serving
    return process, line


@pytest.fixture
def started():
    processes = []

    def start(*args):
        process, line = _start(*args)
        processes.append(process)
        return process, line

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdin, process.stdout, process.stderr):
            if not stream.closed:
                stream.close()


def test_ready_line_for_a_pty(started):
    _process, line = started("--device-type", "ESME", "--pty", "--endpoint", "stand-in")
    assert re.fullmatch(r"READY pty=/dev/\S+\n", line), line
    assert os.path.exists(line.split("=", 1)[1].strip())


def test_ready_line_for_tcp_port_zero(started):
    _process, line = started("--device-type", "ESME", "--tcp", "0", "--framing", "length-prefixed")
    match = re.fullmatch(r"READY tcp=127\.0\.0\.1:(\d+)\n", line)
    assert match and int(match.group(1)) > 0


@pytest.mark.parametrize("how", ["stdin-eof", "sigterm", "sigint"])
def test_stops_cleanly_with_exit_0(started, how):
    process, line = started("--device-type", "ESME", "--pty")
    assert line.startswith("READY ")
    if how == "stdin-eof":
        process.stdin.close()
    else:
        process.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
    assert process.wait(timeout=10) == 0
    assert "emulate: stopped" in process.stderr.read()


def test_bad_arguments_exit_2():
    parser = build_parser()
    with pytest.raises(SystemExit) as caught:
        parser.parse_args(["emulate", "--device-type", "ESME"])  # neither --pty nor --tcp
    assert caught.value.code == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["emulate", "--device-type", "ESME", "--pty", "--tcp", "1"])


def test_ready_line_parsing():
    assert url_from_ready_line("READY pty=/dev/pts/7") == "/dev/pts/7"
    assert url_from_ready_line("READY tcp=127.0.0.1:4000\n") == "socket://127.0.0.1:4000"
    for bad in ("hello", "READY udp=1", "READY pty="):
        with pytest.raises(EmulatorError):
            url_from_ready_line(bad)


def test_spawn_runs_a_given_command_line(tmp_path):
    argv = [sys.executable, "-m", "rig.cli.main", "emulate", "--device-type", "ESME", "--tcp", "0",
            "--endpoint", "stand-in"]
    with EmulatorProcess(argv=argv, cwd=tmp_path) as emulator:
        assert emulator.url.startswith("socket://127.0.0.1:")
        with SerialTransport(emulator.url) as link:
            peer = peer_for("ESME")
            link.send(peer.command(3))
            peer.check(link.recv(peer.answers(3), deadline_in(10)), 3)
    assert emulator.returncode == 0


def test_spawn_reports_an_emulator_that_dies_before_ready():
    emulator = EmulatorProcess("NOSUCHTYPE", endpoint="stand-in", ready_timeout=20)
    with pytest.raises(EmulatorError, match="before READY"):
        emulator.start()
    assert emulator.returncode not in (None, 0)
    emulator.close()


def test_fleet_behind_a_hub_over_tcp():
    with EmulatorProcess("ESME", pty=False, fleet=3, framing="length-prefixed", endpoint="stand-in") as emulator:
        assert emulator.url.startswith("socket://127.0.0.1:")
        with SerialTransport(emulator.url, framing="length-prefixed") as link:
            for index in range(3):
                peer = peer_for("ESME", fleet_entity_id(index))
                link.send(peer.command(index + 1))
                peer.check(link.recv(peer.answers(index + 1), deadline_in(10)), index + 1)
            stranger = peer_for("ESME")  # the single-device id is not in the fleet
            link.send(stranger.command(9))
            with pytest.raises(Exception, match="deadline"):
                link.recv(stranger.answers(9), deadline_in(0.3))
    assert emulator.returncode == 0


def test_make_endpoint_falls_back_to_the_stand_in_without_rig_provision(monkeypatch):
    monkeypatch.setitem(sys.modules, "rig.provision", None)  # absent, whether or not this tree has it
    assert isinstance(make_endpoint("ESME"), EchoMeter)
    hub = make_endpoint("GSME", fleet=2)
    assert isinstance(hub, EchoHub) and [d.device_id for d in hub.devices] == [fleet_entity_id(0), fleet_entity_id(1)]
    with pytest.raises(ModuleNotFoundError):
        make_endpoint("ESME", kind="provision")


def test_fleet_ids_match_rig_provision():
    assert fleet_entity_id(0) == bytes.fromhex("7E57100000000001")
    assert fleet_entity_id(41) == bytes.fromhex("7E5710000000002A")


def test_make_endpoint_uses_rig_provision_when_present(monkeypatch):
    from rig import pki

    from .peers import DEFAULT_PKI_DIR

    calls = []
    fake = types.ModuleType("rig.provision")
    fake.create_device = lambda device_type, **kw: calls.append(("device", device_type, kw)) or f"dev{len(calls)}"
    fake.create_hub = lambda devices, **kw: calls.append(("hub", devices, kw)) or "hub"
    monkeypatch.setitem(sys.modules, "rig.provision", fake)
    assert make_endpoint("ESME", DEFAULT_PKI_DIR) == "dev1"
    (_, device_type, kwargs), = calls
    assert device_type == "ESME" and isinstance(kwargs["pki"], pki.Pki)  # the factory takes a loaded PKI
    calls.clear()
    assert make_endpoint("ESME", None, 2) == "hub"
    assert calls == [("device", "ESME", {"pki": None, "entity_id": fleet_entity_id(0)}),
                     ("device", "ESME", {"pki": None, "entity_id": fleet_entity_id(1)}),
                     ("hub", ["dev1", "dev2"], {"pki": None})]
    assert isinstance(make_endpoint("ESME", kind="stand-in"), EchoMeter)


def test_pump_frames_replies_and_polled_frames():
    meter = EchoMeter.from_pki("ESME")
    pump = Pump(meter, make_framer("hdlc", "server"))
    rig_side = make_framer("hdlc", "client")
    peer = peer_for("ESME")
    wire = rig_side.encode(peer.command(4))
    out = pump.on_bytes(wire[:10]) + pump.on_bytes(wire[10:])
    (reply,) = rig_side.feed(out)
    assert peer.verified(reply).originator_counter == 4
    meter.outbox.append(reply)
    assert rig_side.feed(pump.tick()) == [reply]
    assert pump.counts == {"frames_in": 1, "frames_out": 2}


class _Failing:
    """An endpoint whose first receive and poll raise, then answer."""

    def __init__(self):
        self.calls = 0

    def receive(self, frame: bytes) -> list[bytes]:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("injected receive failure")
        return [frame[::-1]]

    def poll(self) -> list[bytes]:
        if self.calls == 1:
            raise RuntimeError("injected poll failure")
        return []


def test_pump_keeps_serving_when_the_endpoint_raises(capsys):
    endpoint = _Failing()
    pump = Pump(endpoint, make_framer("length-prefixed", "server"))
    rig_side = make_framer("length-prefixed", "client")
    assert pump.on_bytes(rig_side.encode(b"\x01\x02")) == b"" and pump.tick() == b""
    assert rig_side.feed(pump.on_bytes(rig_side.encode(b"\x03\x04"))) == [b"\x04\x03"]
    assert pump.counts["endpoint_receive_errors"] == 1 and pump.counts["endpoint_poll_errors"] == 1
    assert "injected receive failure" in capsys.readouterr().err


def test_emulate_answers_poisoned_commands_and_keeps_serving(fixture_pki):
    """Frames that crashed ``gbcs-rig emulate`` (exit 1): a certificate ``cryptography`` cannot
    load, immediate and future dated; the served meter answers them as GBCS says and stays up."""
    import datetime as dt

    from rig.gbcs import CraFlag, decode

    from ..attack_helpers import poisoned_change_of_supplier

    with EmulatorProcess("ESME", pty=False, framing="length-prefixed") as emulator:
        with SerialTransport(emulator.url, framing="length-prefixed") as link:
            link.send(poisoned_change_of_supplier(fixture_pki, counter=20_001))
            reply = decode(link.recv(lambda f: decode(f.data).cra_flag == CraFlag.RESPONSE, deadline_in(20)).data)
            assert [int(o.status) for o in reply.payload.execution_outcome.outcomes] == [5, 0, 0]
            when = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).replace(microsecond=0)
            link.send(poisoned_change_of_supplier(fixture_pki, poison="version", when=when, counter=20_002))
            accepted = decode(link.recv(lambda f: decode(f.data).cra_flag == CraFlag.RESPONSE, deadline_in(20)).data)
            assert accepted.originator_counter == 20_002 and accepted.payload.execution_outcome is None
            alert = decode(link.recv(lambda f: decode(f.data).cra_flag == CraFlag.ALERT, deadline_in(20)).data)
            assert alert.payload.alert_code == 0x8F67
            link.send(poisoned_change_of_supplier(fixture_pki, poison="key-type", counter=20_003))
            again = decode(link.recv(lambda f: decode(f.data).cra_flag == CraFlag.RESPONSE, deadline_in(20)).data)
            assert again.originator_counter == 20_003
    assert emulator.returncode == 0
