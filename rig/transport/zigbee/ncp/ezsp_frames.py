"""EZSP frames as the NCP sees them (Silicon Labs UG100): the two frame formats and a command table.

* Legacy format (the first ``version`` command, before negotiation): ``sequence,
  frame control (1 octet), frame id (1 octet), parameters``.
* Extended format, frame format version 1 (EZSP v8 and later, after ``version``):
  ``sequence, frame control low, frame control high, frame id (2 octets, little-endian),
  parameters``. Frame control low: bit 7 set in responses and callbacks; bits 4..3 the
  callback type (01 synchronous, 10 asynchronous). Frame control high: bits 1..0 the frame
  format version (1).

All integers are little-endian; an EUI-64 travels least significant octet first; byte strings
carry a one-octet length. The command table below is EZSP v13 (EmberZNet 7.x), the version
this emulated NCP speaks; only the commands the rig's EZSP backend (through bellows) uses are
listed. Command ids and parameter layouts are from UG100; ``tests/transport/test_zigbee_ncp.py``
checks each one against bellows' own definitions when bellows is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from construct import Bytes, GreedyBytes, Int8sl, Int8ul, Int16ul, Int32ul, Prefixed, Struct

#: the EZSP protocol version this NCP negotiates, its stack type, and the stack version it reports
PROTOCOL_VERSION = 13
STACK_TYPE = 2  # mesh stack
STACK_VERSION = 0x7440  # EmberZNet 7.4.4.0

FC_RESPONSE = 0x80
FC_CALLBACK_ASYNC = 0x10
FRAME_FORMAT_VERSION = 0x01

#: EmberStatus / EzspStatus values used here
SUCCESS = 0x00
ERROR_INVALID_FRAME_ID = 0x31
ERROR_INVALID_VALUE = 0x35
DELIVERY_FAILED = 0x66
INVALID_CALL = 0x70
MESSAGE_TOO_LONG = 0x74
NETWORK_UP = 0x90
NOT_JOINED = 0x93

#: EmberNetworkStatus
NO_NETWORK, JOINED_NETWORK = 0, 2
#: EmberNodeType
COORDINATOR = 1
#: EmberApsOption bits
APS_OPTION_FRAGMENT = 0x8000
#: EmberIncomingMessageType / EmberOutgoingMessageType
INCOMING_UNICAST = 0
OUTGOING_DIRECT = 0
#: EzspConfigId values the NCP keeps
CONFIG_FRAGMENT_WINDOW_SIZE = 0x1C
CONFIG_FRAGMENT_DELAY_MS = 0x1D

LvBytes = Prefixed(Int8ul, GreedyBytes)

APS_FRAME = Struct(
    "profileId" / Int16ul,
    "clusterId" / Int16ul,
    "sourceEndpoint" / Int8ul,
    "destinationEndpoint" / Int8ul,
    "options" / Int16ul,
    "groupId" / Int16ul,
    "sequence" / Int8ul,
)

NETWORK_PARAMETERS = Struct(
    "extendedPanId" / Bytes(8),
    "panId" / Int16ul,
    "radioTxPower" / Int8ul,
    "radioChannel" / Int8ul,
    "joinMethod" / Int8ul,
    "nwkManagerId" / Int16ul,
    "nwkUpdateId" / Int8ul,
    "channels" / Int32ul,
)

EUI64 = Bytes(8)  # on the wire: least significant octet first


@dataclass(frozen=True)
class Command:
    """One EZSP frame id: its request parameters (from the host) and response (or callback) parameters."""

    name: str
    frame_id: int
    request: Struct
    response: Struct


def _command(name: str, frame_id: int, request: tuple = (), response: tuple = ()) -> Command:
    return Command(name, frame_id, Struct(*request), Struct(*response))


COMMANDS_V13 = [
    _command("version", 0x0000, ("desiredProtocolVersion" / Int8ul,),
             ("protocolVersion" / Int8ul, "stackType" / Int8ul, "stackVersion" / Int16ul)),
    _command("nop", 0x0005),
    _command("networkInit", 0x0017, ("networkInitBitmask" / Int16ul,), ("status" / Int8ul,)),
    _command("networkState", 0x0018, (), ("status" / Int8ul,)),
    _command("stackStatusHandler", 0x0019, (), ("status" / Int8ul,)),
    _command("getEui64", 0x0026, (), ("eui64" / EUI64,)),
    _command("getNodeId", 0x0027, (), ("nodeId" / Int16ul,)),
    _command("getNetworkParameters", 0x0028, (),
             ("status" / Int8ul, "nodeType" / Int8ul, "parameters" / NETWORK_PARAMETERS)),
    _command("maximumPayloadLength", 0x0033, (), ("apsLength" / Int8ul,)),
    _command("sendUnicast", 0x0034,
             ("type" / Int8ul, "indexOrDestination" / Int16ul, "apsFrame" / APS_FRAME, "messageTag" / Int8ul,
              "messageContents" / LvBytes),
             ("status" / Int8ul, "sequence" / Int8ul)),
    _command("sendReply", 0x0039, ("sender" / Int16ul, "apsFrame" / APS_FRAME, "messageContents" / LvBytes),
             ("status" / Int8ul,)),
    _command("messageSentHandler", 0x003F, (),
             ("type" / Int8ul, "indexOrDestination" / Int16ul, "apsFrame" / APS_FRAME, "messageTag" / Int8ul,
              "status" / Int8ul, "messageContents" / LvBytes)),
    _command("incomingMessageHandler", 0x0045, (),
             ("type" / Int8ul, "apsFrame" / APS_FRAME, "lastHopLqi" / Int8ul, "lastHopRssi" / Int8sl,
              "sender" / Int16ul, "bindingIndex" / Int8ul, "addressIndex" / Int8ul, "messageContents" / LvBytes)),
    _command("customFrame", 0x0047, ("payload" / LvBytes,), ("status" / Int8ul, "reply" / LvBytes)),
    _command("getConfigurationValue", 0x0052, ("configId" / Int8ul,), ("status" / Int8ul, "value" / Int16ul)),
    _command("setConfigurationValue", 0x0053, ("configId" / Int8ul, "value" / Int16ul), ("status" / Int8ul,)),
    _command("setPolicy", 0x0055, ("policyId" / Int8ul, "decisionId" / Int8ul), ("status" / Int8ul,)),
    _command("invalidCommand", 0x0058, (), ("status" / Int8ul,)),
    _command("lookupNodeIdByEui64", 0x0060, ("eui64" / EUI64,), ("nodeId" / Int16ul,)),
    _command("lookupEui64ByNodeId", 0x0061, ("nodeId" / Int16ul,), ("status" / Int8ul, "eui64" / EUI64)),
]

BY_NAME = {command.name: command for command in COMMANDS_V13}
BY_ID = {command.frame_id: command for command in COMMANDS_V13}

class EzspFrameError(ValueError):
    """Octets from the host that are not an EZSP frame this NCP can parse."""


@dataclass(frozen=True)
class HostFrame:
    """A command from the host, split into its header and parameter octets."""

    sequence: int
    frame_id: int
    legacy: bool
    parameters: bytes


def parse_host_frame(data: bytes) -> HostFrame:
    """Split a host frame; the third octet tells the formats apart (frame format version 1, or
    the legacy one-octet frame id the host uses for ``version`` right after a reset)."""
    if len(data) < 3:
        raise EzspFrameError(f"EZSP frame too short: {data.hex()}")
    if data[2] & 0x03 != FRAME_FORMAT_VERSION:
        return HostFrame(data[0], data[2], True, data[3:])
    if len(data) < 5:
        raise EzspFrameError(f"EZSP frame too short: {data.hex()}")
    return HostFrame(data[0], int.from_bytes(data[3:5], "little"), False, data[5:])


def build_frame(sequence: int, name: str, values: dict[str, Any], *, legacy: bool = False,
                callback: bool = False) -> bytes:
    """A response (or, with ``callback``, an asynchronous callback) frame from the NCP."""
    command = BY_NAME[name]
    parameters = command.response.build(values)
    control = FC_RESPONSE | (FC_CALLBACK_ASYNC if callback else 0)
    if legacy:
        return bytes([sequence & 0xFF, control, command.frame_id & 0xFF]) + parameters
    return bytes([sequence & 0xFF, control, FRAME_FORMAT_VERSION]) + command.frame_id.to_bytes(2, "little") + parameters
