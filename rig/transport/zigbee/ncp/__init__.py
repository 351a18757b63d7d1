"""An emulated EZSP NCP (ASH + EZSP v13) with the emulated HAN behind it; see ``device.py``."""

from __future__ import annotations

from collections.abc import Iterable

from firmware_emu.endpoint import Endpoint

from ..emulated import DEFAULT_HUB_EUI64, EmulatedRadio, node_for
from .device import EmulatedNcp
from .server import NcpServer, NcpThread


def emulated_ncp(devices: Iterable[tuple[str, bytes, Endpoint]], *, hub_eui64: bytes = DEFAULT_HUB_EUI64,
                 **options) -> EmulatedNcp:
    """An NCP whose network has ``devices`` (device type, EUI-64, endpoint) joined, each behind its node."""
    radio = EmulatedRadio([node_for(kind, eui64, endpoint) for kind, eui64, endpoint in devices], local_eui64=hub_eui64)
    return EmulatedNcp(radio, **options)


__all__ = ["EmulatedNcp", "NcpServer", "NcpThread", "emulated_ncp"]
