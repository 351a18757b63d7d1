"""GBCS codec: Construct schemas for the frame layers and the CS02a-g payloads. No I/O.

Public API::

    decode(data) -> Message          # raises only GbcsDecodeError
    encode(message) -> bytes         # encode(decode(b)) == b
    encode_with_layout(message)      # bytes plus signed / MACed offsets
"""

from .codec import decode, decode_traced, encode, encode_with_layout, wrap_in_mac_header
from .errors import GbcsDecodeError, GbcsEncodeError
from .message import CosemDateTime, FrameLayout, MacHeader, Message, Supplementary
from .payloads.cs02 import (
    AuthorisingControl,
    CellContents,
    Cs02aCommand,
    Cs02aResponse,
    Cs02bAlert,
    Cs02bCommand,
    Cs02bResponse,
    Cs02cResponse,
    Cs02dCommand,
    Cs02dResponse,
    Cs02eResponse,
    ExecutionOutcome,
    KeyUsageRequest,
    RemotePartyDetails,
    Replacement,
    ReplacementOutcome,
    SeqNumberChange,
    SpecialistSeqNumber,
    TrustAnchorCellId,
)
from .tables import (
    CellUsage,
    CraFlag,
    KeyUsage,
    RemotePartyRole,
    ReplacementMode,
    StatusCode,
    TimeBasedChecks,
)

__all__ = [
    "AuthorisingControl", "CellContents", "CellUsage", "CosemDateTime", "CraFlag",
    "Cs02aCommand", "Cs02aResponse", "Cs02bAlert", "Cs02bCommand", "Cs02bResponse",
    "Cs02cResponse", "Cs02dCommand", "Cs02dResponse", "Cs02eResponse", "ExecutionOutcome",
    "FrameLayout", "GbcsDecodeError", "GbcsEncodeError", "KeyUsage", "KeyUsageRequest",
    "MacHeader", "Message", "RemotePartyDetails", "RemotePartyRole", "Replacement",
    "ReplacementMode", "ReplacementOutcome", "SeqNumberChange", "SpecialistSeqNumber",
    "StatusCode", "Supplementary", "TimeBasedChecks", "TrustAnchorCellId", "decode",
    "decode_traced", "encode", "encode_with_layout", "wrap_in_mac_header",
]
