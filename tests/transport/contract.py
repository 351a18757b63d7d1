"""The transport contract, run on every implementation (python-can's back-to-back suite idea).

A subclass provides two fixtures: ``link`` (an opened ``Transport`` to a stand-in meter,
closed afterwards) and ``peer`` (``peers.Peer`` for that meter). ``TransportContract`` holds
the behaviour every transport must show; ``FaultContract`` re-checks it under
``FaultyTransport``: corruption is detected and counted and never decoded as valid, drops
surface as timeouts, split and duplicated traffic still works. Nothing here asserts timing.
"""

from __future__ import annotations

import itertools
import time

import pytest

from rig.transport import Direction, FrameLog, LinkLost, TransportTimeout, deadline_in
from rig.transport.faults import FaultPlan, FaultyTransport

#: generous: a deadline is a bound on waiting, not a performance claim
WAIT = 10.0
_counters = itertools.count(1000)


def next_counter() -> int:
    return next(_counters)


class TransportContract:
    """Behaviour every transport shows."""

    #: how long to wait for something that must not come: well above the link's round trip
    short = 0.5

    def test_round_trip(self, link, peer):
        counter = next_counter()
        link.send(peer.command(counter, b"round trip"))
        frame = link.recv(peer.answers(counter), deadline_in(WAIT))
        peer.check(frame, counter, b"round trip")
        assert frame.direction is Direction.RX

    def test_predicate_filtering_keeps_other_frames_queued(self, link, peer):
        first, second = next_counter(), next_counter()
        link.send(peer.command(first, b"first"))
        link.send(peer.command(second, b"second"))
        # take the second answer first: the first one, arriving earlier, must stay queued
        peer.check(link.recv(peer.answers(second), deadline_in(WAIT)), second, b"second")
        peer.check(link.recv(peer.answers(first), deadline_in(WAIT)), first, b"first")

    def test_deadline_raises_timeout_and_loses_nothing(self, link, peer):
        counter = next_counter()
        link.send(peer.command(counter))
        with pytest.raises(TransportTimeout):
            link.recv(lambda frame: False, deadline_in(self.short))
        peer.check(link.recv(peer.answers(counter), deadline_in(WAIT)), counter)

    def test_deadline_in_the_past_still_raises(self, link, peer):
        with pytest.raises(TransportTimeout):
            link.recv(None, deadline_in(-1.0))

    def test_closed_link_raises_link_lost(self, link, peer):
        link.close()
        with pytest.raises(LinkLost):
            link.send(peer.command(next_counter()))
        with pytest.raises(LinkLost):
            link.recv(None, deadline_in(self.short))

    def test_frame_log_has_both_directions(self, link, peer, tmp_path):
        mark = link.log.mark()
        counter = next_counter()
        command = peer.command(counter, b"logged")
        link.send(command)
        response = link.recv(peer.answers(counter), deadline_in(WAIT))
        logged = link.log.since(mark)
        tx = [f for f in logged if f.direction is Direction.TX]
        rx = [f for f in logged if f.direction is Direction.RX]
        assert [f.data for f in tx] == [command]
        assert response.data in [f.data for f in rx]
        lines = [FrameLog.format(f) for f in logged]
        assert any(" tx " + command.hex().upper() + " COMMAND 0x0021" in line for line in lines)
        assert any(" rx " + response.hex + " RESPONSE 0x0021" in line for line in lines)
        trace = link.log.dump(tmp_path / "trace.txt", mark).read_text().splitlines()
        assert trace == lines

    def test_multi_frame_exchange(self, link, peer):
        counters = [next_counter() for _ in range(6)]
        for counter in counters:
            link.send(peer.command(counter, counter.to_bytes(4, "big")))
        answered = {}
        for _ in counters:
            frame = link.recv(lambda f: any(peer.answers(c)(f) for c in counters), deadline_in(WAIT))
            message = peer.verified(frame.data)
            assert message is not None
            answered[message.originator_counter] = message.payload
        assert answered == {c: c.to_bytes(4, "big") for c in counters}

    def test_large_frame_intact(self, link, peer):
        payload = bytes((i * 31 + 7) % 256 for i in range(2048))
        counter = next_counter()
        command = peer.command(counter, payload)
        assert len(command) > 2048
        link.send(command)
        response = link.recv(peer.answers(counter), deadline_in(WAIT))
        peer.check(response, counter, payload)


class FaultContract:
    """The same links under ``FaultyTransport``."""

    short = 0.5

    #: False where a corrupted transmission cannot be tied to one command (mailbox polling)
    exact_tx_faults = True

    @pytest.fixture
    def faulty(self, link):
        wrapper = FaultyTransport(link)
        yield wrapper
        wrapper.detach()

    @staticmethod
    def _errors(stats: dict[str, int]) -> int:
        keys = ("crc_errors", "resyncs", "discarded_bytes", "header_errors", "radio_crc_errors",
                "reassembly_errors", "discarded_segments", "radio_malformed_frames")
        return sum(stats.get(key, 0) for key in keys)

    def _exchange(self, faulty, peer, payload=b"ok"):
        counter = next_counter()
        faulty.send(peer.command(counter, payload))
        return counter, faulty.recv(peer.answers(counter), deadline_in(WAIT))

    def test_dropped_command_surfaces_as_timeout(self, faulty, peer):
        self._exchange(faulty, peer)  # tunnels and sessions up before the fault
        counter = next_counter()
        with faulty.injecting(FaultPlan(drop=1.0).only(Direction.TX)):
            faulty.send(peer.command(counter))
            with pytest.raises(TransportTimeout):
                faulty.recv(peer.answers(counter), deadline_in(self.short))
        assert faulty.counts["tx_drop"] == 1
        assert not any(f.data == peer.command(counter) for f in faulty.log)
        self._exchange(faulty, peer)  # and the link still works

    def _never_answered(self, faulty, predicate, happened) -> None:
        """``recv`` keeps timing out until ``happened()`` (the fault took effect), and once more after."""
        deadline = time.monotonic() + WAIT
        while not happened() and time.monotonic() < deadline:
            with pytest.raises(TransportTimeout):
                faulty.recv(predicate, deadline_in(self.short))
        assert happened(), "the fault was never applied"
        with pytest.raises(TransportTimeout):
            faulty.recv(predicate, deadline_in(self.short))

    def test_dropped_response_surfaces_as_timeout(self, faulty, peer):
        self._exchange(faulty, peer)
        counter = next_counter()
        with faulty.injecting(FaultPlan(drop=1.0).only(Direction.RX)):
            faulty.send(peer.command(counter))
            self._never_answered(faulty, peer.answers(counter), lambda: faulty.counts["rx_drop"] >= 1)

    def test_corrupted_responses_detected_and_never_decoded(self, faulty, peer):
        self._exchange(faulty, peer)
        mark = faulty.log.mark()
        with faulty.injecting(FaultPlan(seed=3, corrupt=1.0).only(Direction.RX)):
            for _ in range(2):  # one at a time, so every response is hit by a flip of its own
                counter = next_counter()
                errors_before, corrupt_before = self._errors(faulty.stats), faulty.counts["rx_corrupt"]
                faulty.send(peer.command(counter, b"x" * 300))
                if faulty.byte_level:  # the framer (or the radio's frame check) counts the damage
                    self._never_answered(faulty, peer.genuine_answer(counter),
                                         lambda before=errors_before: self._errors(faulty.stats) > before)
                else:
                    self._never_answered(faulty, peer.genuine_answer(counter),
                                         lambda before=corrupt_before: faulty.counts["rx_corrupt"] > before)
            received = [f for f in faulty.log.since(mark) if f.direction is Direction.RX]
        if faulty.byte_level:
            # every flip was caught below the GBCS layer: nothing reached the queue or the log
            assert received == []
        else:
            # no byte stream: the damaged GBCS frames arrive, and none of them verifies
            assert received
            assert all(peer.verified(f.data) is None for f in received)

    def test_seeded_command_corruption_answers_only_clean_commands(self, faulty, peer):
        self._exchange(faulty, peer)
        counters = [next_counter() for _ in range(8)]
        answered: set[int] = set()

        def collect(until_all: set[int] | None, deadline: float) -> None:
            while until_all is None or not until_all <= answered:
                try:
                    frame = faulty.recv(lambda f: any(peer.answers(c)(f) for c in counters), deadline)
                except TransportTimeout:
                    return
                message = peer.verified(frame.data)
                assert message is not None  # whatever comes back is genuine
                answered.add(message.originator_counter)

        with faulty.injecting(FaultPlan(seed=11, corrupt=0.5).only(Direction.TX)):
            start = faulty.decisions(Direction.TX)
            for counter in counters:
                faulty.send(peer.command(counter, b"c" * 200))
            hit = {e.index for e in faulty.events if e.kind == "corrupt" and e.direction is Direction.TX}
            # event index = ordinal of the send it damaged
            clean = {c for n, c in enumerate(counters, start + 1) if n not in hit}
            if self.exact_tx_faults:
                collect(clean, deadline_in(WAIT))  # every undamaged command is answered...
            collect(None, deadline_in(self.short * 2))  # ...and nothing else turns up
        assert 0 < faulty.counts["tx_corrupt"] < len(counters)  # seed 11 hits some commands, not all
        if self.exact_tx_faults:
            assert answered == clean
        else:
            assert answered < set(counters)

    def test_split_into_single_bytes_still_round_trips(self, faulty, peer):
        payload = bytes(range(256)) * 8
        with faulty.injecting(FaultPlan(split=True)):
            counter, frame = self._exchange(faulty, peer, payload)
        peer.check(frame, counter, payload)
        if faulty.byte_level:  # written one octet per write, and handed on one octet at a time
            assert faulty.counts["tx_split_chunks"] > len(payload)
            assert faulty.counts["rx_split_chunks"] > len(payload)

    def test_duplicated_command_is_answered_twice(self, faulty, peer):
        self._exchange(faulty, peer)
        counter = next_counter()
        with faulty.injecting(FaultPlan(duplicate=1.0).only(Direction.TX)):
            faulty.send(peer.command(counter, b"twice"))
        first = faulty.recv(peer.answers(counter), deadline_in(WAIT))
        second = faulty.recv(peer.answers(counter), deadline_in(WAIT))
        peer.check(first, counter, b"twice")
        assert second.data == first.data

    def test_duplicated_and_delayed_responses_arrive(self, faulty, peer):
        self._exchange(faulty, peer)
        counter = next_counter()
        with faulty.injecting(FaultPlan(duplicate=1.0, delay=1.0, delay_s=0.1).only(Direction.RX)):
            faulty.send(peer.command(counter, b"late"))
            first = faulty.recv(peer.answers(counter), deadline_in(WAIT))
            second = faulty.recv(peer.answers(counter), deadline_in(WAIT))
        peer.check(first, counter, b"late")
        assert second.data == first.data
        assert faulty.counts["rx_delay"] >= 1 and faulty.counts["rx_duplicate"] >= 1
