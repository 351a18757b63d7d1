"""An emulated EZSP NCP (ASH + EZSP v13) with the emulated HAN behind it; see ``device.py``."""

from __future__ import annotations

from collections.abc import Iterable

from firmware_emu.endpoint import Endpoint

from ..emulated import DEFAULT_HUB_EUI64, SLEEPY_DEVICE_TYPES, EmulatedRadio, node_for
from .device import EmulatedNcp
from .server import NcpServer, NcpThread

#: seconds between a sleepy meter's mailbox polls behind the NCP. Not the in-process radio's 50 ms:
#: every poll takes two APS counters, and bellows 1.2.x loses a fragmented message whose APS
#: counter comes round again within its 10 s reassembly timer (see docs/transport.md)
SLEEPY_POLL_INTERVAL = 0.25


def emulated_ncp(devices: Iterable[tuple[str, bytes, Endpoint]], *, hub_eui64: bytes = DEFAULT_HUB_EUI64,
                 poll_interval: float = SLEEPY_POLL_INTERVAL, **options) -> EmulatedNcp:
    """An NCP whose network has ``devices`` (device type, EUI-64, endpoint) joined, each behind its node."""
    nodes = [node_for(kind, eui64, endpoint, **({"poll_interval": poll_interval} if kind in SLEEPY_DEVICE_TYPES else {}))
             for kind, eui64, endpoint in devices]
    return EmulatedNcp(EmulatedRadio(nodes, local_eui64=hub_eui64), **options)


__all__ = ["EmulatedNcp", "NcpServer", "NcpThread", "emulated_ncp"]
