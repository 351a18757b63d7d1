"""The processed signal of ``gbcs-rig emulate`` and the rig's end of it (``rig.harness.processed``).

The signal may only shorten a wait: it comes after everything the frame produced, it ends a
wait only inside ``until_processed`` and only once the last frame sent is signalled, an old
signal for the same bytes never ends the wait for a resend, and it never reaches a predicate
or the frame log. A real meter never sends one, so its links keep their timeouts.
"""

from __future__ import annotations

import time

import pytest

from rig.config import parse_config
from rig.harness.processed import ProcessedSignalLink
from rig.harness.session import RigSession
from rig.transport import QueueTransport, TransportTimeout, deadline_in
from rig.transport.framing import make_framer
from rig.transport.serve import Pump, parse_processed_signal, processed_signal
from rig.transport.spawn import SIGNAL_PROCESSED_ENV, EmulatorProcess, runs_emulate

from .vectors import FIXTURE_PKI


class Device:
    """Answers ``ask`` with ``answer``, raises ``alert`` for ``probe``; ``due`` frames come out on poll."""

    def __init__(self):
        self.due: list[bytes] = []

    def receive(self, frame: bytes) -> list[bytes]:
        return {b"ask": [b"answer"], b"probe": [b"alert"]}.get(frame, [])

    def poll(self) -> list[bytes]:
        due, self.due = self.due, []
        return due


def _frames_out(pump: Pump, frame: bytes) -> list[bytes]:
    client = make_framer("length-prefixed", "client")
    return client.feed(pump.on_bytes(client.encode(frame)))


def test_the_signal_comes_after_everything_the_frame_produced():
    device = Device()
    pump = Pump(device, make_framer("length-prefixed", "server"), signal_processed=True)
    out = _frames_out(pump, b"ask")
    assert out[0] == b"answer" and parse_processed_signal(out[-1]) == (1, processed_signal(1, b"ask")[-16:])
    device.due.append(b"due alert")  # due by the time the next frame is processed: sent before its signal
    out = _frames_out(pump, b"probe")
    assert out[:2] == [b"alert", b"due alert"] and parse_processed_signal(out[2])[0] == 2 and len(out) == 3
    assert _frames_out(Pump(Device(), make_framer("length-prefixed", "server")), b"ask") == [b"answer"]  # off


class Scripted(QueueTransport):
    """A link whose far end is a ``Pump``; with ``hold``, its output waits for ``release``."""

    name = "scripted"

    def __init__(self, pump: Pump):
        super().__init__()
        self.pump = pump
        self.held: list[bytes] = []
        self.hold = False

    def _send(self, frame: bytes) -> None:
        out = _frames_out(self.pump, frame)
        if self.hold:
            self.held.extend(out)
        else:
            for data in out:
                self._deliver(data)

    def release(self) -> None:
        for data in self.held:
            self._deliver(data)
        self.held.clear()


def _link(device=None) -> tuple[ProcessedSignalLink, Scripted]:
    inner = Scripted(Pump(device or Device(), make_framer("length-prefixed", "server"), signal_processed=True))
    link = ProcessedSignalLink(inner)
    link.open()
    return link, inner


def test_a_wait_inside_until_processed_ends_at_the_signal_and_still_sees_what_came_before_it():
    link, _inner = _link()
    link.send(b"silent")
    started = time.monotonic()
    with link.until_processed(), pytest.raises(TransportTimeout, match="signalled the last frame processed"):
        link.recv(lambda f: f.data == b"answer", deadline_in(5))
    assert time.monotonic() - started < 1
    link.send(b"probe")  # the alert came before the signal: a wait for it finds it
    with link.until_processed():
        assert link.recv(lambda f: f.data == b"alert", deadline_in(5)).data == b"alert"
    link.send(b"ask")
    with link.until_processed():
        assert link.recv(None, deadline_in(5)).data == b"answer"  # a signal is never "any frame"
    assert [f.data for f in link.log] == [b"silent", b"probe", b"alert", b"ask", b"answer"]  # no signals logged
    with link.until_processed(), pytest.raises(TransportTimeout, match="signalled"):  # its signal is read now
        link.recv(lambda f: False, deadline_in(5))
    assert link.stats["processed_signals"] == 3


def test_outside_until_processed_a_wait_runs_to_its_deadline():
    link, _inner = _link()
    link.send(b"silent")
    started = time.monotonic()
    with pytest.raises(TransportTimeout):
        link.recv(lambda f: f.data == b"answer", deadline_in(0.3))
    assert time.monotonic() - started >= 0.3


def test_an_old_signal_for_the_same_bytes_never_ends_the_wait_for_a_resend():
    """A command sent again (a replay probe) while the first copy's signal is still on its way:
    that signal names the first copy; the wait for the second runs until its own signal."""
    link, inner = _link()
    inner.hold = True
    link.send(b"silent")
    link.send(b"silent")
    inner.release()
    first, second = (f for f in inner._queue if parse_processed_signal(f.data))
    inner._queue.remove(second)  # the second copy's signal is late
    with link.until_processed(), pytest.raises(TransportTimeout, match="no matching frame before the deadline"):
        link.recv(lambda f: False, deadline_in(0.3))  # the first signal does not end it
    inner._deliver(second.data)
    with link.until_processed(), pytest.raises(TransportTimeout, match="signalled"):
        link.recv(lambda f: False, deadline_in(5))
    assert first.data != second.data


def test_a_frame_the_link_lost_is_passed_over_when_a_later_one_is_signalled():
    link, inner = _link()
    inner.hold = True
    link.send(b"lost")
    inner.held.clear()  # never reached the emulator: no signal
    inner.hold = False
    link.send(b"silent")
    with link.until_processed(), pytest.raises(TransportTimeout, match="signalled"):
        link.recv(lambda f: False, deadline_in(5))
    assert link.processed


def test_only_gbcs_rig_emulate_is_known_as_the_emulator():
    assert runs_emulate(["gbcs-rig", "emulate", "--pty"])
    assert runs_emulate(["/usr/bin/python3", "-m", "rig.cli.main", "emulate", "--pty"])
    assert not runs_emulate(["gbcs-rig", "ncp", "--pty"]) and not runs_emulate(["socat", "pty", "tcp:meter:4000"])


RIG = """
[rigs.{name}]
device = "ESME"
device_id = "7E570D00000000A0"
features = {features}
credentials = {{ pki = "{pki}" }}
transport = {transport}
"""


def _spec(name: str, transport: str, features: str = '["cs02b"]'):
    text = RIG.format(name=name, features=features, pki=FIXTURE_PKI.as_posix(), transport=transport)
    return parse_config(text).rigs[name]


@pytest.mark.parametrize(("transport", "features", "known"), [
    ('{ kind = "serial", spawn = "gbcs-rig emulate --device-type ESME --pty" }', '["cs02b"]', True),
    ('{ kind = "serial", url = "/dev/ttyUSB0", framing = "hdlc" }', '["cs02b"]', False),  # a lab meter
    ('{ kind = "serial", url = "socket://127.0.0.1:4000" }', '["cs02b", "processed_signal"]', True),  # said so
    ('{ kind = "serial", spawn = "socat pty,raw tcp:meter:4000" }', '["cs02b"]', False),
    ('{ kind = "emulated" }', '["cs02b", "processed_signal"]', False),
], ids=["spawned-emulate", "lab-port", "declared", "spawned-other", "in-process"])
def test_the_rig_trusts_the_signal_only_where_it_knows_the_far_end(tmp_path, transport, features, known):
    session = RigSession(_spec("r", transport, features), run_dir=tmp_path)
    assert session.knows_emulator is known


def test_a_spawned_emulator_signals_only_when_asked(monkeypatch):
    monkeypatch.setenv(SIGNAL_PROCESSED_ENV, "1")  # never inherited: the parent decides
    seen = {}
    for asked in (False, True):
        emulator = EmulatorProcess("ESME", framing="length-prefixed", pki_dir=FIXTURE_PKI, signal_processed=asked)
        with emulator:
            from rig.transport.serial_link import SerialTransport

            with SerialTransport(emulator.url, framing="length-prefixed") as link:
                link.send(b"\x00 not gbcs")
                try:
                    link.recv(lambda f: parse_processed_signal(f.data) is not None, deadline_in(2))
                    seen[asked] = True
                except TransportTimeout:
                    seen[asked] = False
    assert seen == {False: False, True: True}


# -- in-process: the device has processed a frame when ``send`` returns ----------------------------------


def _in_process(tmp_path, profile: str = "default") -> RigSession:
    return RigSession(_spec("solo", f'{{ kind = "emulated", profile = "{profile}" }}'), run_dir=tmp_path).open()


def test_in_process_a_probe_wait_ends_once_the_device_processed_it_with_its_alert_received(tmp_path):
    """Inside ``until_processed`` the wait for an answer that must not come ends at once (here
    against a 30 s deadline), and the device's verified alert for the probe is in by then."""
    from rig.scenarios import device, steps

    session = _in_process(tmp_path)
    try:
        steps.ensure_state(session, "tcos")
        message, signer = steps.change_of_supplier_command(session)
        probe = device._forged_signature(session, steps.seal_command(session, message, signer))
        start = time.monotonic()
        with session.until_processed():
            exchange = session.exchange(probe, timeout=30.0, alert_window=30.0)
        assert time.monotonic() - start < 5.0  # ended by the device being done, not by the deadline
        assert exchange.response is None
        verified, rejected = steps._alerts_from_device(session, exchange)
        assert verified == [0x8F3D] and rejected == []
        # outside, the same wait runs to its deadline
        start = time.monotonic()
        session.exchange(probe, timeout=0.3)
        assert time.monotonic() - start >= 0.3
    finally:
        session.close()


def test_in_process_a_device_that_holds_its_answer_back_keeps_the_wait(tmp_path):
    """A model that answers late (the ``slow`` profile) holds output back: the link is not
    settled and the wait inside ``until_processed`` runs until the held answer arrives."""
    from rig.scenarios import steps

    session = _in_process(tmp_path, profile="slow")
    try:
        message, signer = steps.change_of_supplier_command(session)
        frame = steps.seal_command(session, message, signer)
        with session.until_processed():
            exchange = session.exchange(frame, timeout=30.0)
        assert exchange.response is not None and exchange.latency >= 1.0
    finally:
        session.close()
