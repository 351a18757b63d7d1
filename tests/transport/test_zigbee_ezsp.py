"""EZSP backend: reset and reconnect with back-off (with fakes); bellows only when it is installed."""

from __future__ import annotations

import importlib.util
import random
import time

import pytest

from rig.transport import LinkLost
from rig.transport.zigbee.backend import ApsFrame, RadioError
from rig.transport.zigbee.ezsp import EzspBackend
from rig.transport.zigbee.supervisor import Backoff, NcpError, NcpSupervisor


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeSession:
    def __init__(self, name: str, fail_sends: int = 0, reset_fails: bool = False):
        self.name = name
        self.fail_sends = fail_sends
        self.reset_fails = reset_fails
        self.sent: list[ApsFrame] = []
        self.resets = 0
        self.closed = False
        self.local_eui64 = bytes.fromhex("00124B0000000001")

    def send_unicast(self, frame: ApsFrame) -> None:
        if self.fail_sends:
            self.fail_sends -= 1
            raise NcpError("ERROR frame from the NCP")
        self.sent.append(frame)

    def reset(self) -> None:
        self.resets += 1
        if self.reset_fails:
            raise NcpError("no RSTACK after reset")

    def close(self) -> None:
        self.closed = True


class FakeConnector:
    def __init__(self, failures: int = 0, **session_options):
        self.failures = failures
        self.session_options = session_options
        self.sessions: list[FakeSession] = []

    def __call__(self) -> FakeSession:
        if self.failures:
            self.failures -= 1
            raise OSError("[Errno 2] could not open port /dev/ttyUSB0")
        session = FakeSession(f"s{len(self.sessions)}", **self.session_options)
        self.sessions.append(session)
        return session


def test_backoff_grows_to_its_cap():
    delays = Backoff(initial=0.5, factor=2.0, maximum=3.0, jitter=0.0).delays()
    assert [next(delays) for _ in range(6)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_backoff_jitter_is_seeded_and_bounded():
    backoff = Backoff(initial=1.0, factor=2.0, maximum=8.0, jitter=0.25)
    first = [d for d, _ in zip(backoff.delays(random.Random(4)), range(5), strict=False)]
    again = [d for d, _ in zip(backoff.delays(random.Random(4)), range(5), strict=False)]
    assert first == again
    for delay, nominal in zip(first, [1, 2, 4, 8, 8], strict=True):
        assert nominal * 0.75 <= delay <= min(nominal * 1.25, 8.0)


def test_connect_retries_with_backoff_then_succeeds():
    clock, connector = FakeClock(), FakeConnector(failures=3)
    supervisor = NcpSupervisor(connector, backoff=Backoff(1.0, 2.0, 10.0, 0.0), give_up_after=60.0,
                               sleep=clock.sleep, clock=clock)
    assert supervisor.session() is connector.sessions[0]
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert supervisor.counts["connect_failures"] == 3 and supervisor.counts["connects"] == 1


def test_connect_gives_up_with_link_lost():
    clock = FakeClock()
    supervisor = NcpSupervisor(FakeConnector(failures=100), backoff=Backoff(1.0, 2.0, 10.0, 0.0), give_up_after=20.0,
                               sleep=clock.sleep, clock=clock)
    with pytest.raises(LinkLost, match="could not open port"):
        supervisor.session()
    assert sum(clock.sleeps) <= 20.0


def test_an_ncp_error_resets_the_ncp_and_retries_once():
    connector = FakeConnector(fail_sends=1)
    supervisor = NcpSupervisor(connector, sleep=lambda s: None)
    frame = ApsFrame(b"\x00" * 8, b"\x01" * 8, b"\x11\x00\x02")
    supervisor.call(lambda session: session.send_unicast(frame))
    session = connector.sessions[0]
    assert session.resets == 1 and session.sent == [frame]
    assert supervisor.counts["resets"] == 1 and supervisor.counts["errors"] == 1


def test_a_failed_reset_reconnects_with_a_new_session():
    clock = FakeClock()
    connector = FakeConnector(fail_sends=1, reset_fails=True)
    supervisor = NcpSupervisor(connector, backoff=Backoff(0.5, 2.0, 5.0, 0.0), sleep=clock.sleep, clock=clock)
    supervisor.session()
    connector.failures = 2  # the adapter re-enumerates: two failed opens first
    connector.session_options = {}
    supervisor.call(lambda session: session.send_unicast(ApsFrame(b"\x00" * 8, b"\x01" * 8, b"x")))
    assert connector.sessions[0].closed
    assert len(connector.sessions) == 2 and len(connector.sessions[1].sent) == 1
    assert clock.sleeps == [0.5, 1.0]
    assert supervisor.counts["reset_failures"] == 1


def test_ezsp_backend_runs_on_the_supervisor():
    sessions: list[FakeSession] = []
    inbound: list[ApsFrame] = []

    def factory(on_frame):
        session = FakeSession("ncp")
        session.on_frame = on_frame
        sessions.append(session)
        return session

    backend = EzspBackend("socket://192.0.2.1:6638", session_factory=factory)
    backend.start(inbound.append)
    assert backend.local_eui64 == bytes.fromhex("00124B0000000001")
    frame = ApsFrame(backend.local_eui64, b"\x02" * 8, b"\x11\x01\x02\x00\x00")
    backend.send(frame)
    assert sessions[0].sent == [frame]
    sessions[0].on_frame(frame)  # from bellows' loop thread: handed to the backend's own inbound thread
    deadline = time.monotonic() + 5
    while not inbound and time.monotonic() < deadline:
        time.sleep(0.01)
    assert inbound == [frame]
    backend.stop()
    assert sessions[0].closed


@pytest.mark.skipif(importlib.util.find_spec("bellows") is not None, reason="bellows is installed here")
def test_without_bellows_the_backend_says_how_to_get_it():
    backend = EzspBackend("/dev/ttyUSB0", give_up_after=0.0)
    with pytest.raises(RadioError, match=r"gbcs-rig\[zigbee\]"):
        backend.start(lambda frame: None)


def test_bellows_backend_module_imports_lazily():
    pytest.importorskip("bellows", reason="bellows is an optional extra (pip install 'gbcs-rig[zigbee]')")
    from rig.transport.zigbee.ezsp import _import_bellows

    ezsp_module, types = _import_bellows()
    assert hasattr(ezsp_module, "EZSP") and hasattr(types, "EmberApsFrame")
