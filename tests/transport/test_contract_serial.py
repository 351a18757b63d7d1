"""The contract over a real serial link: pyserial on a pty (and TCP) to ``gbcs-rig emulate`` in another process."""

from __future__ import annotations

import os

import pytest

from rig.transport.serial_link import SerialTransport
from rig.transport.spawn import EmulatorProcess

from .contract import FaultContract, TransportContract
from .peers import peer_for

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not hasattr(os, "openpty"), reason="pseudo-terminals need a POSIX system"),
]


class SerialLink:
    """Fixtures: one emulator process per class, a fresh SerialTransport per test."""

    framing = "hdlc"
    pty = True
    short = 0.25

    @pytest.fixture(scope="class")
    @classmethod
    def emulator(cls):
        with EmulatorProcess("ESME", pty=cls.pty, framing=cls.framing, endpoint="stand-in") as emulator:
            yield emulator
        assert emulator.returncode == 0, emulator.stderr_text()

    @pytest.fixture
    def peer(self):
        return peer_for("ESME")

    @pytest.fixture
    def link(self, emulator):
        transport = SerialTransport(emulator.url, framing=self.framing, reopen_timeout=2.0)
        transport.open()
        yield transport
        transport.close()


class TestSerialPtyHdlc(SerialLink, TransportContract, FaultContract):
    framing = "hdlc"


class TestSerialPtyLengthPrefixed(SerialLink, TransportContract, FaultContract):
    framing = "length-prefixed"


class TestSerialTcpHdlc(SerialLink, TransportContract):
    """``socket://`` through the same pyserial path (what a ser2net-exported lab port looks like).

    The fault contract is not repeated here: the bytes pass the same framer and wire taps as on
    the pty, and pyserial's socket handler pauses 0.3 s on every close.
    """

    framing = "hdlc"
    pty = False
