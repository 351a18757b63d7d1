"""FaultyTransport itself: plans, seeded determinism, where each fault lands, clean detach."""

from __future__ import annotations

import random

import pytest

from rig.transport import Direction, TransportTimeout, deadline_in
from rig.transport.emulated import EmulatedTransport
from rig.transport.faults import FaultPlan, FaultyTransport, flip_bit
from rig.transport.serial_link import SerialTransport
from rig.transport.testing import EchoMeter

from .fakes import FakeSerialFactory
from .peers import peer_for

PEER = peer_for("ESME")


@pytest.mark.parametrize("bad", [dict(drop=1.5), dict(corrupt=-0.1), dict(delay_s=-1)])
def test_plans_are_validated(bad):
    with pytest.raises(ValueError):
        FaultPlan(**bad)


def test_flip_bit_changes_exactly_one_bit():
    data = bytes(range(64))
    flipped, position, bit = flip_bit(data, random.Random(1))
    diff = [a ^ b for a, b in zip(data, flipped, strict=True)]
    assert diff[position] == 1 << bit and sum(bin(d).count("1") for d in diff) == 1


def _run(seed: int) -> list[tuple[str, str, int]]:
    link = FaultyTransport(EmulatedTransport(EchoMeter.from_pki("ESME")),
                           FaultPlan(seed=seed, drop=0.3, duplicate=0.3, corrupt=0.3))
    with link:
        for counter in range(20):
            link.send(PEER.command(counter))
    return [(e.kind, e.direction.value, e.index) for e in link.events]


def test_same_seed_same_faults():
    assert _run(7) == _run(7)
    assert _run(7) != _run(8)


def test_decisions_per_direction_are_independent_of_the_other():
    only_tx = FaultyTransport(EmulatedTransport(EchoMeter.from_pki("ESME")), FaultPlan(seed=2, drop=0.5))
    with only_tx:
        for counter in range(10):
            only_tx.send(PEER.command(counter))
            try:
                only_tx.recv(None, deadline_in(0.01))
            except TransportTimeout:
                pass
    tx_events = [e.index for e in only_tx.events if e.direction is Direction.TX]
    both_seen = FaultyTransport(EmulatedTransport(EchoMeter.from_pki("ESME")), FaultPlan(seed=2, drop=0.5))
    with both_seen:
        for counter in range(10):
            both_seen.send(PEER.command(counter))  # never reads: RX decisions are not drawn
    assert tx_events == [e.index for e in both_seen.events if e.direction is Direction.TX]


def test_message_level_corruption_on_links_without_a_byte_stream():
    inner = EmulatedTransport(EchoMeter.from_pki("ESME"))
    link = FaultyTransport(inner, FaultPlan(seed=1, corrupt=1.0).only(Direction.TX))
    assert not link.byte_level
    with link:
        link.send(PEER.command(1))
        sent = [f.data for f in link.log if f.direction is Direction.TX]
    assert len(sent) == 1 and sent[0] != PEER.command(1)
    assert inner.endpoint.counts["answered"] == 0


def test_wire_corruption_on_serial_reaches_the_wire_not_the_log():
    factory = FakeSerialFactory()
    inner = SerialTransport("/dev/ttyUSB9", framing="length-prefixed", serial_factory=factory)
    link = FaultyTransport(inner, FaultPlan(seed=4, corrupt=1.0, split=True).only(Direction.TX))
    assert link.byte_level
    with link:
        command = PEER.command(1)
        link.send(command)
        assert [f.data for f in link.log] == [command]  # the log shows what the rig meant to send
        from rig.transport.framing import LengthPrefixedFramer

        clean = LengthPrefixedFramer().encode(command)
        written = bytes(factory.port.written)
        assert len(written) == len(clean) and written != clean
        assert sum(bin(a ^ b).count("1") for a, b in zip(written, clean, strict=True)) == 1
        assert link.counts["tx_split_chunks"] == len(clean)


def test_detach_restores_the_inner_transport():
    inner = EmulatedTransport(EchoMeter.from_pki("ESME"))
    link = FaultyTransport(inner, FaultPlan(drop=1.0))
    link.detach()
    with inner:
        inner.send(PEER.command(3))
        PEER.check(inner.recv(PEER.answers(3), deadline_in(1)), 3)


def test_injecting_restores_the_previous_plan():
    link = FaultyTransport(EmulatedTransport(EchoMeter.from_pki("ESME")))
    with link:
        with link.injecting(FaultPlan(drop=1.0)):
            link.send(PEER.command(1))
        link.send(PEER.command(2))
        PEER.check(link.recv(PEER.answers(2), deadline_in(1)), 2)
        with pytest.raises(TransportTimeout):
            link.recv(PEER.answers(1), deadline_in(0.05))
    assert link.counts["tx_drop"] == 1
