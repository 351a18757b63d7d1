"""ZCL frames of the Smart Energy Tunneling cluster (0x0704) as construct 2.10 definitions.

Only what carrying GBCS needs: the ZCL header, the tunnel commands in both directions and
the global Default Response a real device may send back. Integers are little-endian, as in
all of ZCL. The command table is data (``COMMANDS``): one row per (direction, command id)
with its dataclass and construct, so encode and decode cannot drift apart.

Values used by GBCS (GBCS section 10.2.2 as quoted by Silicon Labs' comms-hub-function
plugin; the same values appear in every implementation read): ProtocolID 6 (GB-HRGP),
ManufacturerCode 0xFFFF ("not used"), FlowControlSupport False, MaximumIncomingTransferSize
1500 in RequestTunnel and RequestTunnelResponse.

Command ids (ZCL / SE 1.x, cross-checked in three independent implementations):
client to server 0x00 RequestTunnel, 0x01 CloseTunnel, 0x02 TransferData, 0x03
TransferDataError; server to client 0x00 RequestTunnelResponse, 0x01 TransferData, 0x02
TransferDataError, 0x06 TunnelClosureNotification. The ack/ready-data commands (flow control)
and protocol discovery are not used by GBCS and decode as ``UnknownCommand``.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields
from typing import Any

from construct import (
    BitsInteger,
    BitStruct,
    ConstructError,
    Flag,
    GreedyBytes,
    If,
    Int8ul,
    Int16ul,
    Struct,
    this,
)

PROFILE_SMART_ENERGY = 0x0109
CLUSTER_TUNNELING = 0x0704
#: ZCL ProtocolID of GBCS Remote Party Messages
GB_HRGP_PROTOCOL_ID = 6
#: ManufacturerCode GBCS devices send in RequestTunnel ("not used")
MANUFACTURER_CODE_NOT_USED = 0xFFFF
#: MaximumIncomingTransferSize every GBCS tunnel end announces
GBCS_MAX_TRANSFER_SIZE = 1500
#: ZCL global command id of Default Response
DEFAULT_RESPONSE_ID = 0x0B


class FrameType(enum.IntEnum):
    GLOBAL = 0
    CLUSTER = 1


class ZclDirection(enum.IntEnum):
    CLIENT_TO_SERVER = 0
    SERVER_TO_CLIENT = 1


class TunnelStatus(enum.IntEnum):
    """RequestTunnelResponse TunnelStatus."""

    SUCCESS = 0x00
    BUSY = 0x01
    NO_MORE_TUNNEL_IDS = 0x02
    PROTOCOL_NOT_SUPPORTED = 0x03
    FLOW_CONTROL_NOT_SUPPORTED = 0x04


class TransferDataStatus(enum.IntEnum):
    """TransferDataError status."""

    NO_SUCH_TUNNEL = 0x00
    WRONG_DEVICE = 0x01
    DATA_OVERFLOW = 0x02


class ZclDecodeError(ValueError):
    """Bytes that are not a well-formed tunneling-cluster ZCL frame."""


# -- construct definitions ------------------------------------------------------------------
#: ZCL frame control octet; construct reads bits most significant first
FRAME_CONTROL = BitStruct(
    "reserved" / BitsInteger(3),
    "disable_default_response" / Flag,
    "direction" / BitsInteger(1),
    "manufacturer_specific" / Flag,
    "frame_type" / BitsInteger(2),
)

ZCL_HEADER = Struct(
    "frame_control" / FRAME_CONTROL,
    "manufacturer_code" / If(this.frame_control.manufacturer_specific, Int16ul),
    "sequence" / Int8ul,
    "command_id" / Int8ul,
)

REQUEST_TUNNEL = Struct(
    "protocol_id" / Int8ul,
    "manufacturer_code" / Int16ul,
    "flow_control_support" / Flag,
    "max_incoming_transfer_size" / Int16ul,
)
REQUEST_TUNNEL_RESPONSE = Struct(
    "tunnel_id" / Int16ul,
    "status" / Int8ul,
    "max_incoming_transfer_size" / Int16ul,
)
CLOSE_TUNNEL = Struct("tunnel_id" / Int16ul)
TRANSFER_DATA = Struct("tunnel_id" / Int16ul, "data" / GreedyBytes)
TRANSFER_DATA_ERROR = Struct("tunnel_id" / Int16ul, "status" / Int8ul)
TUNNEL_CLOSURE_NOTIFICATION = Struct("tunnel_id" / Int16ul)
DEFAULT_RESPONSE = Struct("command_id" / Int8ul, "status" / Int8ul)


# -- typed commands -------------------------------------------------------------------------
@dataclass(frozen=True)
class RequestTunnel:
    protocol_id: int = GB_HRGP_PROTOCOL_ID
    manufacturer_code: int = MANUFACTURER_CODE_NOT_USED
    flow_control_support: bool = False
    max_incoming_transfer_size: int = GBCS_MAX_TRANSFER_SIZE


@dataclass(frozen=True)
class RequestTunnelResponse:
    tunnel_id: int
    status: int = TunnelStatus.SUCCESS
    max_incoming_transfer_size: int = GBCS_MAX_TRANSFER_SIZE


@dataclass(frozen=True)
class CloseTunnel:
    tunnel_id: int


@dataclass(frozen=True)
class TransferData:
    tunnel_id: int
    data: bytes


@dataclass(frozen=True)
class TransferDataError:
    tunnel_id: int
    status: int


@dataclass(frozen=True)
class TunnelClosureNotification:
    tunnel_id: int


@dataclass(frozen=True)
class DefaultResponse:
    command_id: int
    status: int


@dataclass(frozen=True)
class UnknownCommand:
    """A command of this cluster (or a global one) the rig does not interpret; kept raw."""

    command_id: int
    payload: bytes = b""


TunnelCommand = (RequestTunnel | RequestTunnelResponse | CloseTunnel | TransferData | TransferDataError
                 | TunnelClosureNotification | DefaultResponse | UnknownCommand)


@dataclass(frozen=True)
class CommandSpec:
    frame_type: FrameType
    direction: ZclDirection | None  # None: either direction (global commands)
    command_id: int
    kind: type
    schema: Any


_C2S, _S2C = ZclDirection.CLIENT_TO_SERVER, ZclDirection.SERVER_TO_CLIENT
_CLUSTER = FrameType.CLUSTER

#: the command table: encode looks rows up by type and direction, decode by direction and id
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(_CLUSTER, _C2S, 0x00, RequestTunnel, REQUEST_TUNNEL),
    CommandSpec(_CLUSTER, _C2S, 0x01, CloseTunnel, CLOSE_TUNNEL),
    CommandSpec(_CLUSTER, _C2S, 0x02, TransferData, TRANSFER_DATA),
    CommandSpec(_CLUSTER, _C2S, 0x03, TransferDataError, TRANSFER_DATA_ERROR),
    CommandSpec(_CLUSTER, _S2C, 0x00, RequestTunnelResponse, REQUEST_TUNNEL_RESPONSE),
    CommandSpec(_CLUSTER, _S2C, 0x01, TransferData, TRANSFER_DATA),
    CommandSpec(_CLUSTER, _S2C, 0x02, TransferDataError, TRANSFER_DATA_ERROR),
    CommandSpec(_CLUSTER, _S2C, 0x06, TunnelClosureNotification, TUNNEL_CLOSURE_NOTIFICATION),
    CommandSpec(FrameType.GLOBAL, None, DEFAULT_RESPONSE_ID, DefaultResponse, DEFAULT_RESPONSE),
)

_BY_WIRE = {(spec.frame_type, spec.direction, spec.command_id): spec for spec in COMMANDS}
_BY_KIND = {(spec.kind, spec.direction): spec for spec in COMMANDS}


@dataclass(frozen=True)
class ZclFrame:
    """One ZCL frame of the tunneling cluster."""

    command: TunnelCommand
    direction: ZclDirection
    sequence: int = 0
    disable_default_response: bool = True
    manufacturer_code: int | None = None
    #: for ``UnknownCommand``: whether it was cluster-specific or global
    frame_type: FrameType = FrameType.CLUSTER

    def __post_init__(self) -> None:
        if not isinstance(self.command, UnknownCommand):  # known commands carry their own frame type
            object.__setattr__(self, "frame_type", _spec_for(self.command, self.direction).frame_type)

    @property
    def name(self) -> str:
        return type(self.command).__name__


def _spec_for(command: TunnelCommand, direction: ZclDirection) -> CommandSpec:
    spec = _BY_KIND.get((type(command), direction)) or _BY_KIND.get((type(command), None))
    if spec is None:
        raise ValueError(f"{type(command).__name__} is not sent {direction.name.lower().replace('_', ' ')}")
    return spec


def encode_zcl(frame: ZclFrame) -> bytes:
    """Wire bytes of ``frame`` (ZCL header + command payload)."""
    if isinstance(frame.command, UnknownCommand):
        frame_type, command_id, payload = frame.frame_type, frame.command.command_id, frame.command.payload
    else:
        spec = _spec_for(frame.command, frame.direction)
        frame_type, command_id = spec.frame_type, spec.command_id
        payload = spec.schema.build(asdict(frame.command))
    header = ZCL_HEADER.build(dict(
        frame_control=dict(reserved=0, disable_default_response=frame.disable_default_response,
                           direction=int(frame.direction), manufacturer_specific=frame.manufacturer_code is not None,
                           frame_type=int(frame_type)),
        manufacturer_code=frame.manufacturer_code, sequence=frame.sequence & 0xFF, command_id=command_id))
    return header + payload


def decode_zcl(data: bytes) -> ZclFrame:
    """The ``ZclFrame`` in ``data``; raises ``ZclDecodeError`` for anything malformed."""
    data = bytes(data)
    try:
        header = ZCL_HEADER.parse(data)
    except ConstructError as exc:
        raise ZclDecodeError(f"ZCL header: {exc}") from None
    control = header.frame_control
    try:
        frame_type = FrameType(control.frame_type)
    except ValueError:
        raise ZclDecodeError(f"reserved ZCL frame type {control.frame_type}") from None
    direction = ZclDirection(control.direction)
    payload = data[_header_length(header):]
    spec = _BY_WIRE.get((frame_type, direction, header.command_id)) or _BY_WIRE.get(
        (frame_type, None, header.command_id))
    if spec is None:
        command: TunnelCommand = UnknownCommand(header.command_id, payload)
    else:
        try:
            parsed = spec.schema.parse(payload)
            if spec.kind is not TransferData and len(payload) != spec.schema.sizeof():
                raise ZclDecodeError(f"{spec.kind.__name__}: {len(payload)} payload octets, "
                                     f"expected {spec.schema.sizeof()}")
        except ConstructError as exc:
            raise ZclDecodeError(f"{spec.kind.__name__}: {exc}") from None
        command = spec.kind(**{f.name: parsed[f.name] for f in fields(spec.kind)})
    return ZclFrame(command, direction, header.sequence, bool(control.disable_default_response),
                    header.manufacturer_code, frame_type)


def _header_length(header) -> int:
    """Frame control, [manufacturer code,] sequence number, command id."""
    return 3 + (2 if header.frame_control.manufacturer_specific else 0)
