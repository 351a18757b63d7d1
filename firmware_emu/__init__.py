"""Emulated GB smart meter firmware: ESME, GSME, CHF and GPF with trust anchor stores that
process CS02b as GBCS says, failures included.

Imports only ``rig.gbcs``, ``rig.crypto`` and the standard library (plus ``cryptography``
objects those hand over). Devices are pure state machines behind ``Endpoint``.
"""

from .clock import Clock, ManualClock, SystemClock
from .device import DeviceIdentity, EmulatedDevice, Rejected
from .device_types import CELLS, DeviceType
from .endpoint import Endpoint
from .events import Event
from .hub import CommsHub
from .profiles import DEFAULT, PROFILES, ModelProfile, get_profile
from .rejections import REJECTIONS, Reason
from .store import DeviceState, PowerCut, TrustAnchorStore

__all__ = ["CELLS", "DEFAULT", "PROFILES", "REJECTIONS", "Clock", "CommsHub", "DeviceIdentity", "DeviceState",
           "DeviceType", "EmulatedDevice", "Endpoint", "Event", "ManualClock", "ModelProfile", "PowerCut", "Reason",
           "Rejected", "SystemClock", "TrustAnchorStore", "get_profile"]
