"""SerialTransport: settings, one reader per port, reopen after re-enumeration, LinkLost, quiet-line resync."""

from __future__ import annotations

import os
import socket
import time

import pytest
import serial

from rig.transport import LinkLost, TransportTimeout, deadline_in
from rig.transport.framing import LengthPrefixedFramer
from rig.transport.serial_link import SerialTransport
from rig.transport.spawn import EmulatorProcess

from .fakes import FakeSerialFactory
from .peers import peer_for

pytestmark = pytest.mark.timeout(60)
SERVER = LengthPrefixedFramer("server")


def _wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def factory():
    return FakeSerialFactory()


def _transport(factory, url="/dev/ttyUSB7", **options) -> SerialTransport:
    options.setdefault("framing", "length-prefixed")
    options.setdefault("reopen_interval", 0.02)
    return SerialTransport(url, serial_factory=factory, **options)


def test_port_settings_come_from_the_constructor(factory):
    link = _transport(factory, baudrate=9600, parity=serial.PARITY_EVEN, stopbits=serial.STOPBITS_TWO,
                      bytesize=serial.SEVENBITS, rtscts=True, xonxoff=False, inter_byte_timeout=0.01, read_timeout=0.03)
    with link:
        url, settings = factory.calls[0]
    assert url == "/dev/ttyUSB7"
    assert settings == dict(baudrate=9600, bytesize=7, parity="E", stopbits=2, rtscts=True, xonxoff=False,
                            inter_byte_timeout=0.01, timeout=0.03, write_timeout=5.0, exclusive=True)


def test_network_urls_are_not_opened_exclusive(factory):
    with _transport(factory, url="rfc2217://lab-host:4001"):
        assert "exclusive" not in factory.calls[0][1]


def test_every_read_has_a_timeout():
    with pytest.raises(ValueError, match="timeout"):
        SerialTransport("/dev/null", read_timeout=0)


def test_frames_flow_through_the_framer(factory):
    with _transport(factory) as link:
        link.send(b"\xdfhello")
        assert SERVER.feed(bytes(factory.port.written)) == [b"\xdfhello"]
        factory.port.feed(SERVER.encode(b"\xdfanswer"))
        frame = link.recv(None, deadline_in(5))
        assert frame.data == b"\xdfanswer" and frame.source == "/dev/ttyUSB7"
        assert link.stats["frames"] == 1 and link.stats["bytes_tx"] > 0


def test_reopens_after_the_adapter_re_enumerates(factory):
    with _transport(factory, reopen_timeout=5.0) as link:
        factory.port.feed(SERVER.encode(b"before"))
        _wait_for(lambda: link.pending())
        first = factory.port
        factory.fail_next = 3  # the device node is missing for a moment
        first.vanish()
        _wait_for(lambda: len(factory.ports) == 2)
        assert first.closed
        factory.port.feed(SERVER.encode(b"after"))
        assert link.recv(None, deadline_in(5)).data == b"before"  # queued before the loss: kept
        assert link.recv(None, deadline_in(5)).data == b"after"
        link.send(b"again")
        assert SERVER.feed(bytes(factory.port.written)) == [b"again"]
        assert link.stats["reopens"] == 1 and link.stats["read_errors"] == 1


def test_link_lost_when_the_port_does_not_come_back(factory):
    with _transport(factory, reopen_timeout=0.3) as link:
        factory.port.feed(SERVER.encode(b"last words"))
        _wait_for(lambda: link.pending())
        factory.always_fail = True
        factory.port.vanish()
        assert link.recv(None, deadline_in(5)).data == b"last words"
        with pytest.raises(LinkLost, match="not back within"):
            link.recv(None, deadline_in(5))
        with pytest.raises(LinkLost):
            link.send(b"anyone?")


def test_open_gives_up_with_link_lost(factory):
    factory.always_fail = True
    link = _transport(factory, open_timeout=0.2)
    with pytest.raises(LinkLost, match="could not open"):
        link.open()
    assert len(factory.calls) >= 2  # it retried within the deadline


def test_send_during_a_reopen_waits_for_the_port(factory):
    with _transport(factory, reopen_timeout=5.0, reopen_interval=0.1) as link:
        factory.fail_next = 2
        factory.port.vanish()
        link.send(b"queued")  # blocks until the reader has reopened the port
        assert len(factory.ports) == 2
        assert SERVER.feed(bytes(factory.port.written)) == [b"queued"]


def test_quiet_line_abandons_a_cut_frame(factory):
    with _transport(factory, frame_gap=0.05) as link:
        factory.port.feed(SERVER.encode(b"cut short")[:-3])
        _wait_for(lambda: link.stats["resyncs"] > 0)  # given up on during the silence, no new bytes needed
        factory.port.feed(SERVER.encode(b"whole"))
        assert link.recv(None, deadline_in(5)).data == b"whole"
        with pytest.raises(TransportTimeout):
            link.recv(None, deadline_in(0.1))


def test_a_second_reader_on_the_same_device_fails(tmp_path):
    if not hasattr(os, "openpty"):
        pytest.skip("pseudo-terminals need a POSIX system")
    master, slave = os.openpty()
    try:
        path = os.ttyname(slave)
        with SerialTransport(path, framing="hdlc"):
            with pytest.raises(LinkLost):
                SerialTransport(path, framing="hdlc", open_timeout=0.1).open()
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="pseudo-terminals need a POSIX system")
def test_emulator_gone_means_link_lost_on_a_pty_never_reopened():
    """The emulator gone is a lost link, at once, whatever the reopen timeout: the /dev/pts
    number it freed is the next pty another program gets, and reopening it would cross into
    another link (under pytest-xdist, another test's)."""
    with EmulatorProcess("ESME", pty=True, endpoint="stand-in") as emulator:
        link = SerialTransport(emulator.url, reopen_timeout=60.0)
        with link:
            peer = peer_for("ESME")
            link.send(peer.command(1))
            peer.check(link.recv(peer.answers(1), deadline_in(10)), 1)
            assert emulator.terminate() == 0
            with pytest.raises(LinkLost, match="pseudo-terminal does not come back"):
                link.recv(None, deadline_in(10))
            assert link.stats["reopens"] == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_reconnects_when_a_tcp_port_comes_back():
    port = _free_port()
    peer = peer_for("ESME")
    with EmulatorProcess("ESME", pty=False, tcp_port=port, endpoint="stand-in") as first:
        link = SerialTransport(first.url, reopen_timeout=20.0, reopen_interval=0.05)
        link.open()
        try:
            link.send(peer.command(1))
            peer.check(link.recv(peer.answers(1), deadline_in(10)), 1)
            first.terminate()
            with EmulatorProcess("ESME", pty=False, tcp_port=port, endpoint="stand-in") as second:
                assert second.url == first.url
                _wait_for(lambda: link.stats["reopens"] >= 1, timeout=20)
                link.send(peer.command(2))
                peer.check(link.recv(peer.answers(2), deadline_in(10)), 2)
        finally:
            link.close()
