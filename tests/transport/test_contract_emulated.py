"""The contract on the in-process emulated pair (the CI default link)."""

from __future__ import annotations

import pytest

from rig.transport.emulated import EmulatedTransport
from rig.transport.testing import EchoMeter

from .contract import FaultContract, TransportContract
from .peers import peer_for

pytestmark = pytest.mark.timeout(60)


class TestEmulatedPair(TransportContract, FaultContract):
    short = 0.1  # the meter answers inside send(): nothing is ever in flight

    @pytest.fixture
    def peer(self):
        return peer_for("ESME")

    @pytest.fixture
    def link(self):
        transport = EmulatedTransport(EchoMeter.from_pki("ESME"))
        transport.open()
        yield transport
        transport.close()

    def test_corrupted_commands_are_rejected_by_the_meter(self, link, peer):
        """Without a byte stream the far end's decoder and signature check are the detector."""
        from rig.transport import Direction
        from rig.transport.faults import FaultPlan, FaultyTransport

        meter = link.endpoint
        with FaultyTransport(link, FaultPlan(seed=5, corrupt=1.0).only(Direction.TX)) as faulty:
            for counter in (1, 2, 3):
                faulty.send(peer.command(counter, b"z" * 100))
        assert meter.counts["answered"] == 0
        assert meter.counts["undecodable"] + meter.counts["bad_signature"] + meter.counts["not_for_me"] == 3
