"""A meter on a labgrid place, end to end on loopback, and the labgrid transport's hw_config keys.

The lab fixture starts what a lab runs, each in a process group of its own: a
``labgrid-coordinator`` on a free loopback port, a stateful ``gbcs-rig emulate --pty`` ESME (the
meter), a byte-counting relay in front of its pty (``tests.pty_relay``: every byte a rig sends
to the meter passes through it, so "zero frames sent" is a count, not an absence of errors), a
``labgrid-exporter`` exporting the relay's pty as a RawSerialPort (published as a
NetworkSerialPort; the exporter runs ser2net in RFC 2217 mode when the place is acquired), and a
place made with ``labgrid-client create`` and ``add-match``. The emulator sends its processed
signal and the configs declare it (``processed_signal``), so probe waits end at the signal, not
at the response timeout (never evidence: docs/verdict.md). The rigs under test are
``gbcs-rig prove`` processes. End-to-end tests carry the ``labgrid`` marker and skip only when
labgrid or ser2net cannot be found.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import getpass
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rig.config import ConfigError, parse_config
from rig.config.model import LabgridTransportSpec, TransportKind
from rig.pytest_plugin.leases import resource_keys
from rig.transport.spawn import EmulatorProcess
from tests.child_signals import interruptible
from tests.lab_configs import ESME_ID, served_esme_config
from tests.pty_relay import PtyRelay

ROOT = Path(__file__).resolve().parents[1]
PKI = ROOT / "fixtures" / "pki"
EXPORTER = "rig-test-exporter"
DEVICE_ID = ESME_ID
HOLDER = "holder-alice"
#: how labgrid names this process's user (``host/user``; ``LG_HOSTNAME``/``LG_USERNAME`` override it)
ME = f"{os.environ.get('LG_HOSTNAME', socket.gethostname())}/{os.environ.get('LG_USERNAME', getpass.getuser())}"


def _tool(name: str) -> str | None:
    """A labgrid console script: next to this interpreter (the venv) or on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def _ser2net() -> str | None:
    # labgrid's exporter looks on PATH, then in /usr/sbin (Debian's place for it)
    return shutil.which("ser2net") or ("/usr/sbin/ser2net" if os.path.exists("/usr/sbin/ser2net") else None)


def _missing() -> str | None:
    if importlib.util.find_spec("labgrid") is None:
        return "labgrid is not installed (pip install '.[labgrid]')"
    for tool in ("labgrid-coordinator", "labgrid-exporter", "labgrid-client"):
        if _tool(tool) is None:
            return f"{tool} not found next to {sys.executable} or on PATH"
    if _ser2net() is None:
        return "ser2net not found (Debian: apt-get install ser2net)"
    return None


MISSING = _missing()
lab_only = [pytest.mark.labgrid, pytest.mark.skipif(MISSING is not None, reason=f"labgrid lab: {MISSING}")]


# -- hw_config keys (no labgrid needed) ------------------------------------------------------------

BASE = f"""
[rigs.esme-lab]
device = "ESME"
device_id = "{DEVICE_ID}"

[rigs.esme-lab.transport]
kind = "labgrid"
"""


def _load(extra: str):
    return parse_config(BASE + extra, "lab.toml").rigs["esme-lab"]


def test_labgrid_transport_keys_load():
    spec = _load('place = "esme-1"\ncoordinator = "lab-coordinator:20408"\nwait = 30\nbaudrate = 9600\n'
                 'framing = "hdlc"\nhdlc = { client = 0x10, server = 0x01 }\nresource = "meter"\n')
    transport = spec.transport
    assert isinstance(transport, LabgridTransportSpec) and transport.kind is TransportKind.LABGRID
    assert (transport.place, transport.coordinator, transport.wait, transport.resource) == (
        "esme-1", "lab-coordinator:20408", 30.0, "meter")
    assert transport.serial.baudrate == 9600 and transport.hdlc.server == 1
    assert not spec.emulated
    # the place lock is the lease: no local lock file for such a rig (its counters stay in the ledger)
    assert resource_keys(spec) == []
    assert _load('place = "p"\ncoordinator = "[::1]:20408"\n').transport.wait == 0.0


@pytest.mark.parametrize(("extra", "line", "key", "message"), [
    ('place = "p"\n', 6, "rigs.esme-lab.transport.coordinator", "missing required key 'coordinator'"),
    ('place = "p"\ncoordinator = "lab-coordinator"\n', 9, "rigs.esme-lab.transport.coordinator",
     "'lab-coordinator' is not host:port"),
    ('place = "p"\ncoordinator = "h:70000"\n', 9, "rigs.esme-lab.transport.coordinator", "is not host:port"),
    ('place = "p"\ncoordinator = "h:1"\nplcae = "q"\n', 10, "rigs.esme-lab.transport.plcae",
     "unknown key 'plcae' in a labgrid transport (did you mean 'place'?)"),
    ('place = "p"\ncoordinator = "h:1"\nurl = "/dev/ttyUSB0"\n', 10, "rigs.esme-lab.transport.url",
     "'url' belongs to kind = 'serial'"),
    ('place = "p"\ncoordinator = "h:1"\nwait = -2\n', 10, "rigs.esme-lab.transport.wait", "must be zero or more"),
    ('place = ""\ncoordinator = "h:1"\n', 8, "rigs.esme-lab.transport.place", "must not be empty"),
])
def test_labgrid_transport_key_errors_name_the_line(extra, line, key, message):
    with pytest.raises(ConfigError) as caught:
        _load(extra)
    assert (caught.value.line, caught.value.key) == (line, key)
    assert message in caught.value.message


def test_serial_transport_refers_place_to_the_labgrid_kind():
    with pytest.raises(ConfigError, match="'place' belongs to kind = 'labgrid'"):
        parse_config(BASE.replace('"labgrid"', '"serial"') + 'url = "/dev/ttyUSB0"\nplace = "p"\n', "lab.toml")


def test_missing_extra_is_one_clear_line(monkeypatch):
    from rig.transport import labgrid

    monkeypatch.setitem(sys.modules, "labgrid.remote", None)  # as if the extra were not installed
    monkeypatch.setitem(sys.modules, "labgrid", None)
    spec = _load('place = "p"\ncoordinator = "127.0.0.1:9"\n').transport
    with pytest.raises(labgrid.LabgridMissing) as caught:
        labgrid.open_labgrid(spec, name="labgrid:esme-lab", framing="hdlc", join=1.0)
    text = str(caught.value)
    assert "\n" not in text and "pip install 'gbcs-rig[labgrid]'" in text


# -- the lab on loopback ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the process group (the exporter's ser2net too), then SIGKILL."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever the group still holds (ser2net)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


#: one emulated meter (and place) per test that changes the meter's state or needs it fresh:
#: a full prove migrates its meter, and an interrupted run leaves its meter wherever it stopped;
#: "quick" takes the few-scenario prove and the open/close test (which sends the meter nothing)
METERS = ("full", "busy", "sigint", "sigterm", "quick")


def place_of(meter: str) -> str:
    return f"esme-{meter}"


class Meter:
    """An emulated ESME behind a byte-counting relay, exported as group ``meter-<name>``."""

    def __init__(self, name: str):
        self.name = name
        self.place = place_of(name)
        self.emulator = EmulatorProcess("ESME", pki_dir=PKI, ready_timeout=20, signal_processed=True)
        self.relay: PtyRelay | None = None

    def start(self) -> Meter:
        self.relay = PtyRelay(self.emulator.start()).__enter__()
        return self

    @property
    def sent(self) -> int:
        """Bytes the rigs have sent to this meter so far."""
        return self.relay.forwarded

    def stop(self) -> None:
        if self.relay is not None:
            self.relay.__exit__(None, None, None)
        self.emulator.terminate()


class Lab:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = _free_port()
        self.coordinator = f"127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen] = []
        self.meters: dict[str, Meter] = {}

    def spawn(self, *argv: str, name: str) -> subprocess.Popen:
        with open(self.folder / f"{name}.log", "wb") as log:
            process = subprocess.Popen(argv, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes.append(process)
        return process

    def client(self, *args: str, user: str | None = None, check: bool = True) -> str:
        env = {**os.environ, **({"LG_USERNAME": user} if user else {})}
        done = subprocess.run([_tool("labgrid-client"), "-x", self.coordinator, *args], capture_output=True,
                              text=True, timeout=30, env=env)
        if check and done.returncode:
            raise AssertionError(f"labgrid-client {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout + done.stderr

    def session(self, work):
        """``work(session, loop, pb2)`` in a labgrid client session of this process (what each
        ``labgrid-client`` command opens, without starting an interpreter for it)."""
        from rig.transport.labgrid import _in_session

        return _in_session(self.coordinator, work)

    def acquire_as(self, place: str, user: str) -> None:
        """``LG_USERNAME=user labgrid-client -p place acquire``, in this process: the same
        AcquirePlace from a session that names ``user`` (a labgrid-client process costs a second
        of interpreter start and imports; one test still acquires with the real command)."""
        def acquire(session, loop, pb2) -> None:
            loop.run_until_complete(session.stub.AcquirePlace(pb2.AcquirePlaceRequest(placename=place)))
            loop.run_until_complete(session.sync_with_coordinator())
        _session_as(self.coordinator, user, acquire)
        assert self.holder(place).endswith(f"/{user}")

    def release_as(self, place: str, user: str) -> None:
        """``LG_USERNAME=user labgrid-client -p place release``, in this process."""
        def release(session, loop, pb2) -> None:
            loop.run_until_complete(session.stub.ReleasePlace(pb2.ReleasePlaceRequest(placename=place)))
            loop.run_until_complete(session.sync_with_coordinator())
        _session_as(self.coordinator, user, release)

    def holder(self, place: str) -> str | None:
        """Who holds the place, as the coordinator says (``labgrid-client show``'s "acquired")."""
        return self.session(lambda session, loop, pb2: session.places[place].acquired) or None

    def reservations(self) -> list[str]:
        """The state of each reservation the coordinator holds (``labgrid-client reservations``)."""
        from labgrid.remote.common import Reservation

        def states(session, loop, pb2) -> list[str]:
            response = loop.run_until_complete(session.stub.GetReservations(pb2.GetReservationsRequest()))
            return [Reservation.from_pb2(r).state.name for r in response.reservations]
        return self.session(states)

    def exported(self) -> set[str]:
        """The exporter's resources the coordinator knows, as ``exporter/group/class`` paths."""
        def paths(session, loop, pb2) -> set[str]:
            return {f"{exporter}/{group}/{entry.cls}" for exporter, groups in session.resources.items()
                    for group, resources in groups.items() for entry in resources.values()}
        return self.session(paths)

    def config(self, name: str, meter: str, *, wait: float = 0.0) -> Path:
        path = self.folder / f"{name}.toml"
        path.write_text(served_esme_config(
            pki=PKI, rig="esme-lab", features=("cs02b", "future_dated", "serial", "processed_signal"),
            response=1, alert=10, join=10, preamble=f'state_dir = "{(self.folder / "state").as_posix()}"\n',
            transport=f"""
[rigs.esme-lab.transport]
kind = "labgrid"
place = "{place_of(meter)}"
coordinator = "{self.coordinator}"
wait = {wait}
framing = "hdlc"
baudrate = 115200
inter_byte_timeout = 0.05
hdlc = {{ client = 0x10, server = 0x01 }}"""))
        return path

    def start(self) -> Lab:
        self.spawn(_tool("labgrid-coordinator"), "-l", self.coordinator, name="coordinator")
        with ThreadPoolExecutor(len(METERS)) as starting:  # each emulator takes a second or two to come up
            self.meters = dict(zip(METERS, starting.map(lambda name: Meter(name).start(), METERS), strict=True))
        (self.folder / "exporter.yaml").write_text("".join(
            f"meter-{name}:\n  RawSerialPort:\n    port: {meter.relay.url}\n    speed: 115200\n"
            for name, meter in self.meters.items()))
        _wait_for(lambda: _connects(self.port), 15, "the coordinator to listen")
        self.spawn(_tool("labgrid-exporter"), "-c", self.coordinator, "-n", EXPORTER, "--hostname", "127.0.0.1",
                   "exporter.yaml", name="exporter")
        resources = [f"{EXPORTER}/meter-{name}/NetworkSerialPort" for name in METERS]
        _wait_for(lambda: set(resources) <= self.exported(), 20, "the exporter's resources")

        def create_places(session, loop, pb2) -> None:  # labgrid-client create, then add-match
            for name, resource in zip(METERS, resources, strict=True):
                loop.run_until_complete(session.stub.AddPlace(pb2.AddPlaceRequest(name=place_of(name))))
                loop.run_until_complete(session.stub.AddPlaceMatch(
                    pb2.AddPlaceMatchRequest(placename=place_of(name), pattern=resource)))
        self.session(create_places)
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            _stop_group(process)
        for meter in self.meters.values():
            meter.stop()


def _session_as(coordinator: str, user: str, work) -> None:
    """``work(session, loop, pb2)`` in a labgrid client session that introduces itself to the
    coordinator as ``host/user`` (labgrid reads LG_USERNAME when the session starts; setting it in
    this process would leak into the runs other threads start), on a thread with its own loop."""
    from labgrid.remote import client
    from labgrid.remote.generated import labgrid_coordinator_pb2

    class NamedSession(client.ClientSession):
        def getuser(self) -> str:
            return user

    failures: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            session = NamedSession(coordinator, loop, args=argparse.Namespace())
            loop.run_until_complete(session.start())
            try:
                work(session, loop, labgrid_coordinator_pb2)
            finally:
                loop.run_until_complete(session.stop())
                loop.run_until_complete(session.close())
        except BaseException as err:
            failures.append(err)
        finally:
            loop.close()

    worker = threading.Thread(target=run, name=f"labgrid-as-{user}", daemon=True)
    worker.start()
    worker.join(30)
    if worker.is_alive():
        raise AssertionError(f"labgrid session as {user}: no answer from {coordinator} within 30s")
    if failures:
        raise failures[0]


def _connects(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if MISSING is not None:
        pytest.skip(f"labgrid lab: {MISSING}")
    running = Lab(tmp_path_factory.mktemp("lab"))
    try:
        yield running.start()
    finally:
        running.stop()
    leaked = [p.pid for p in running.processes if p.poll() is None]
    assert not leaked, f"processes still running after the lab stopped: {leaked}"


def _prove(lab: Lab, config: Path, report: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rig.cli.main", "prove", "--config", str(config),
                           "--report", str(lab.folder / report), "--json", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def _journal(lab: Lab, report: str) -> list[dict]:
    return [json.loads(line) for line in (lab.folder / report / "journal.jsonl").read_text().splitlines()]


def _assert_run_over_the_place(lab: Lab, meter: Meter, report: str) -> None:
    """The run's frames went through the place's exported port, the journal and the report
    attribute it to the place, and the place was released at the end."""
    assert meter.sent > 0  # the frames went through the exported port
    journal = _journal(lab, report)
    configured = journal[0]["attribution"]["rigs"]["esme-lab"]["transport_configured"]
    assert (configured["kind"], configured["place"], configured["coordinator"]) == (
        "labgrid", meter.place, lab.coordinator)
    resolved = next(r["transport_resolved"] for r in journal if r.get("type") == "rig")
    assert (resolved["place"], resolved["coordinator"]) == (meter.place, lab.coordinator)
    assert re.fullmatch(r"rfc2217://127\.0\.0\.1:\d+", resolved["endpoint"])
    assert resolved["resource_path"] == f"{EXPORTER}/meter-{meter.name}/NetworkSerialPort/RawSerialPort"
    header = (lab.folder / report / "index.html").read_text()  # the report's attribution says so too
    assert f"place={meter.place}" in header and resolved["endpoint"] in header
    assert lab.holder(meter.place) is None  # released at the end of the run


@pytest.mark.timeout(300)
@pytest.mark.usefixtures("lab")
class TestLab:
    pytestmark = lab_only

    @pytest.mark.slow
    def test_prove_over_a_labgrid_place(self, lab):
        """The whole catalogue over the place: the model is proved MIGRATABLE."""
        done = _prove(lab, lab.config("prove", "full"), "prove")
        summary = json.loads(done.stdout)
        assert (done.returncode, summary["verdict"]) == (0, "MIGRATABLE"), done.stderr[-3000:]
        _assert_run_over_the_place(lab, lab.meters["full"], "prove")

    def test_a_few_scenarios_over_a_labgrid_place(self, lab):
        """A read-back, a probe and the migration over the place pass; the rest of the catalogue
        is not run, so the verdict is NOT PROVEN (the whole prove: ``pytest -m slow``)."""
        done = _prove(lab, lab.config("few", "quick"), "few", "-k", "initial_read_back or bad_mac or test_migration")
        summary = json.loads(done.stdout)
        assert (done.returncode, summary["verdict"]) == (3, "NOT PROVEN"), done.stderr[-3000:]
        tests = {r["scenario"]: r for r in _journal(lab, "few") if r.get("type") == "test"}
        assert {name: tests[name]["outcome"] for name in ("initial-read-back", "bad-mac", "migration")} == dict.fromkeys(
            ("initial-read-back", "bad-mac", "migration"), "passed")
        assert tests["bad-mac"]["delivery"] == "device alert"
        assert summary["counts"]["not-run"] > 0 and summary["counts"]["failed"] == summary["counts"]["inconclusive"] == 0
        _assert_run_over_the_place(lab, lab.meters["quick"], "few")

    def test_busy_place_fails_at_once_naming_the_holder_and_sends_nothing(self, lab):
        meter = lab.meters["busy"]
        lab.client("-p", meter.place, "acquire", user=HOLDER)
        try:
            holder = lab.holder(meter.place)
            assert holder.endswith(f"/{HOLDER}")
            before = meter.sent
            started = time.monotonic()
            done = _prove(lab, lab.config("busy", "busy"), "busy", "-k", "initial_read_back")
            took = time.monotonic() - started
            assert json.loads(done.stdout)["verdict"] == "NOT PROVEN" and done.returncode == 3
            assert (f"labgrid place '{meter.place}' (coordinator {lab.coordinator}) is acquired by {holder}"
                    in done.stderr)
            assert "nothing was sent" in done.stderr
            assert meter.sent == before  # zero bytes reached the meter
            assert took < 30
            # the rig fault is an inconclusive result, never the meter's
            tests = [r for r in _journal(lab, "busy") if r.get("type") == "test"]
            assert tests and {r["outcome"] for r in tests} == {"inconclusive"}
            assert lab.holder(meter.place) == holder  # the holder keeps the place
        finally:
            lab.release_as(meter.place, HOLDER)

    def test_busy_place_with_wait_queues_and_gives_up_after_the_wait(self, lab):
        meter = lab.meters["busy"]
        lab.acquire_as(meter.place, HOLDER)
        try:
            before = meter.sent
            started = time.monotonic()
            done = _prove(lab, lab.config("wait-short", "busy", wait=1.5), "wait-short", "-k", "initial_read_back")
            took = time.monotonic() - started
            assert done.returncode == 3
            assert f"is still acquired by {lab.holder(meter.place)} after waiting 1.5s" in done.stderr
            assert meter.sent == before
            assert took >= 1.5
            assert lab.reservations() == []  # the reservation was cancelled
        finally:
            lab.release_as(meter.place, HOLDER)

    def test_busy_place_with_wait_runs_once_released(self, lab):
        meter = lab.meters["busy"]
        lab.acquire_as(meter.place, HOLDER)

        def release_once_queued():
            # the holder lets go only once the rig is waiting in its reservation
            with contextlib.suppress(AssertionError):
                _wait_for(lambda: "waiting" in lab.reservations(), 30, "the rig's reservation")
            lab.release_as(meter.place, HOLDER)

        released = threading.Thread(target=release_once_queued)
        released.start()
        try:
            before = meter.sent
            done = _prove(lab, lab.config("wait-long", "busy", wait=30), "wait-long", "-k", "initial_read_back")
        finally:
            released.join()
        journal = _journal(lab, "wait-long")
        tests = [r for r in journal if r.get("type") == "test"]
        assert [r["outcome"] for r in tests] == ["passed"], done.stderr[-2000:]
        resolved = next(r["transport_resolved"] for r in journal if r.get("type") == "rig")
        assert resolved.get("reservation")  # it got the place through its reservation
        assert meter.sent > before
        assert lab.holder(meter.place) is None
        assert lab.reservations() == []

    def test_close_releases_the_place_and_a_failed_open_keeps_nothing(self, lab):
        from rig.transport.labgrid import LabgridError, open_labgrid

        meter = lab.meters["quick"]
        spec = parse_config(lab.config("local", "quick").read_text(), "local.toml").rigs["esme-lab"].transport
        transport, resolved = open_labgrid(spec, name="labgrid:local", framing="hdlc", join=10)
        try:
            assert transport.is_open and resolved["acquired_as"] == ME
            assert lab.holder(meter.place) == ME
        finally:
            transport.close()
        assert lab.holder(meter.place) is None  # released by close, not only when this process exits
        # a place whose port cannot be used is released before the error goes on
        wrong = dataclasses.replace(spec, resource="no-such-port")
        with pytest.raises(LabgridError, match="has no NetworkSerialPort named 'no-such-port'"):
            open_labgrid(wrong, name="labgrid:local", framing="hdlc", join=10)
        assert lab.holder(meter.place) is None
        with pytest.raises(LabgridError, match=r"does not exist \(did you mean 'esme-quick'\?\)"):
            open_labgrid(dataclasses.replace(spec, place="esme-quik"), name="labgrid:local", framing="hdlc", join=10)

    @pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
    def test_place_released_after_a_signal(self, lab, signum):
        meter = lab.meters[signum.name.lower()]
        report = f"signal-{signum.name}"
        run = subprocess.Popen([sys.executable, "-m", "rig.cli.main", "prove", "--config",
                                str(lab.config(report, meter.name)), "--report", str(lab.folder / report)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=interruptible)
        try:
            journal = lab.folder / report / "journal.jsonl"
            try:
                _wait_for(lambda: run.poll() is not None or (journal.exists() and '"type":"rig"' in journal.read_text()),
                          30, "the run to open the place")
            except AssertionError as timeout:  # say what the run was doing
                run.kill()
                raise AssertionError(f"{timeout}; the run printed: {run.communicate()[0][-3000:]}") from None
            assert run.poll() is None, f"the run ended before it was signalled: {run.communicate()[0][-3000:]}"
            assert lab.holder(meter.place) == ME
            run.send_signal(signum)
            output, _ = run.communicate(timeout=30)
        finally:
            if run.poll() is None:
                run.kill()
        assert lab.holder(meter.place) is None, output[-2000:]
        ended = [r for r in _journal(lab, report) if r.get("type") == "end"]
        assert ended and ended[-1]["complete"] is False  # interrupted, and recorded as such
