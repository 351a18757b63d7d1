"""GBCS over a ZigBee bridge adapter: Smart Energy Tunneling (0x0704) with GB-HRGP.

``ZigbeeBridgeTransport`` (the comms hub's tunnel manager, one ``Transport``) over a
``RadioBackend``: ``EmulatedRadio`` in CI, ``EzspBackend`` (bellows, optional extra) in labs.
"""

from .backend import ApsFrame, RadioBackend, RadioError
from .bridge import TunnelRefused, ZigbeeBridgeTransport
from .emulated import DEFAULT_HUB_EUI64, SLEEPY_DEVICE_TYPES, AwakeNode, EmulatedRadio, SleepyNode, node_for

__all__ = ["DEFAULT_HUB_EUI64", "SLEEPY_DEVICE_TYPES", "ApsFrame", "AwakeNode", "EmulatedRadio", "RadioBackend",
           "RadioError", "SleepyNode", "TunnelRefused", "ZigbeeBridgeTransport", "node_for"]
