"""The contract over the ZigBee bridge: the rig's tunnel manager, the emulated radio, ESME and GSME nodes."""

from __future__ import annotations

import pytest

from rig.transport.testing import EchoMeter
from rig.transport.zigbee import EmulatedRadio, ZigbeeBridgeTransport, node_for

from .contract import FaultContract, TransportContract
from .peers import peer_for

pytestmark = pytest.mark.timeout(60)


def bridge_to(*device_types: str) -> tuple[ZigbeeBridgeTransport, EmulatedRadio]:
    meters = [EchoMeter.from_pki(device_type) for device_type in device_types]
    radio = EmulatedRadio([node_for(m.device_type, m.device_id, m, poll_interval=0.02) if m.device_type == "GSME"
                           else node_for(m.device_type, m.device_id, m) for m in meters])
    sleepy = [m.device_id for m in meters if m.device_type == "GSME"]
    return ZigbeeBridgeTransport(radio, sleepy=sleepy), radio


class TestZigbeeEsmeDirect(TransportContract, FaultContract):
    device_type = "ESME"
    short = 0.2

    @pytest.fixture
    def peer(self):
        return peer_for(self.device_type)

    @pytest.fixture
    def link(self):
        transport, _radio = bridge_to("ESME", "GSME")
        transport.open()
        yield transport
        transport.close()


class TestZigbeeGsmeMailbox(TestZigbeeEsmeDirect):
    """GSME: commands wait in the hub's mailbox until the sleepy meter GETs them; answers come as PUT."""

    device_type = "GSME"
    short = 0.25  # a 20 ms mailbox poll, a few round trips
    # a flipped GET-RESPONSE may carry a command or an empty mailbox poll: no 1:1 mapping to sends
    exact_tx_faults = False
