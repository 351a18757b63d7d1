"""The GBCS header inside TransferData for sleepy devices (the GSME mailbox), as construct.

A GSME sleeps; the comms hub keeps Remote Party Messages for it. When it wakes, the GSME
sends ``GET`` over its tunnel; the hub answers ``GET-RESPONSE`` with the number of messages
still waiting after this one and (if there was one) the message; the GSME sends each of its
responses and alerts as ``PUT`` + message. Traffic with devices that are always awake (ESME)
carries bare GBCS messages in TransferData, no header.

Byte values, each confirmed by two independent public implementations (the Wireshark GBCS
dissector's ``gbcs_tunnel`` and Silicon Labs' comms-hub-function plugin), not checked
against the GBCS text itself::

    GET           0x01                      (nothing follows)
    GET-RESPONSE  0x02 <remaining: uint8> [message]
    PUT           0x03 <message>

UNCONFIRMED (design choices, named so a lab can change them): a remaining count above 255
is sent as ``REMAINING_MAX`` (255); octets after a GET are ignored rather than rejected;
a GET-RESPONSE with nothing waiting carries no message octets (the plugin does this).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from construct import ConstructError, GreedyBytes, Int8ul, Struct

#: UNCONFIRMED: largest remaining-messages count the one-octet field can say
REMAINING_MAX = 0xFF


class TunnelHeader(enum.IntEnum):
    GET = 0x01
    GET_RESPONSE = 0x02
    PUT = 0x03


GET_RESPONSE_BODY = Struct("remaining" / Int8ul, "message" / GreedyBytes)
PUT_BODY = Struct("message" / GreedyBytes)


@dataclass(frozen=True)
class Get:
    """GSME -> hub: "anything for me?"."""


@dataclass(frozen=True)
class GetResponse:
    """Hub -> GSME: one waiting message (or none) and how many remain after it."""

    remaining: int
    message: bytes = b""


@dataclass(frozen=True)
class Put:
    """GSME -> hub: one response or alert."""

    message: bytes


@dataclass(frozen=True)
class Bare:
    """A GBCS message without a tunnel header (always-awake devices)."""

    message: bytes


TunnelPayload = Get | GetResponse | Put | Bare


class TunnelHeaderError(ValueError):
    """A tunnel payload that announces a header but is malformed (or is empty)."""


def encode_tunnel_payload(payload: TunnelPayload) -> bytes:
    if isinstance(payload, Get):
        return bytes((TunnelHeader.GET,))
    if isinstance(payload, GetResponse):
        remaining = min(max(payload.remaining, 0), REMAINING_MAX)
        return bytes((TunnelHeader.GET_RESPONSE,)) + GET_RESPONSE_BODY.build(
            dict(remaining=remaining, message=payload.message))
    if isinstance(payload, Put):
        return bytes((TunnelHeader.PUT,)) + PUT_BODY.build(dict(message=payload.message))
    return bytes(payload.message)


def decode_tunnel_payload(data: bytes) -> TunnelPayload:
    """Header and message of one TransferData payload (``Bare`` when it has no GBCS header)."""
    data = bytes(data)
    if not data:
        raise TunnelHeaderError("empty tunnel payload")
    head, body = data[0], data[1:]
    try:
        if head == TunnelHeader.GET:
            return Get()
        if head == TunnelHeader.GET_RESPONSE:
            parsed = GET_RESPONSE_BODY.parse(body)
            return GetResponse(parsed.remaining, parsed.message)
        if head == TunnelHeader.PUT:
            return Put(PUT_BODY.parse(body).message)
    except ConstructError as exc:
        raise TunnelHeaderError(f"{TunnelHeader(head).name}: {exc}") from None
    return Bare(data)
