"""GBCS General Block Transfer: messages larger than a tunnel transfer, as construct definitions.

A ZigBee tunnel carries at most ``MaximumIncomingTransferSize`` (1500) octets per
TransferData, and GBCS messages can be longer (a CS02b with a certification path is close
to that; firmware images far beyond). GBCS then sends the message in blocks, each one a
"GBT" message: a routing header (a general-ciphering header whose transaction id names the
original message) followed by a DLMS general-block-transfer APDU. The receiver joins the
blocks of one (originator, counter) in block-number order. Layout, from the Wireshark GBCS
dissector (the only public description found)::

    routing header
      DD                       general-ciphering tag
      09 <CRA flag> <originator counter: 8>   transaction id
      08 <business originator id: 8>
      08 <business target id: 8>
      00                       date-time (absent)
      02 <message code: 2>     other-information
      00                       key-info (absent)
      <length>                 BER length of what follows in this message
      <security control: 1> <invocation counter: 4>
    general block transfer
      E0 <block control> <block number: 2> <block number ack: 2> <length> <block data>
      block control: 0x80 last block, 0x40 streaming, 0x3F window

UNCONFIRMED (named constants, change them when the GBCS text is at hand): the security
control octet (``ROUTING_SECURITY_CONTROL``), the invocation counter (0), what the routing
header length counts (here: security control, invocation counter and the GBT APDU), the
streaming bit (set on every block but the last), the window (``GBT_WINDOW``), block
numbering from 1 and an acknowledged-block number of 0. The decoder does not check the
routing header length, so blocks from a device that counts it differently still join.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass

from construct import (
    BitsInteger,
    BitStruct,
    Bytes,
    Const,
    Construct,
    ConstructError,
    Flag,
    GreedyBytes,
    Int8ub,
    Int16ub,
    Int32ub,
    Int64ub,
    Prefixed,
    SizeofError,
    Struct,
    Terminated,
    stream_read,
    stream_write,
)

from rig.gbcs import GbcsDecodeError, decode

GBT_TAG = 0xE0
#: UNCONFIRMED: security control octet of the routing header
ROUTING_SECURITY_CONTROL = 0x00
#: UNCONFIRMED: window size announced in block control
GBT_WINDOW = 1
#: routing header (at most 43 octets) + GBT header (at most 9 octets)
MAX_OVERHEAD = 52


class BerLength(Construct):
    """A BER/A-XDR length: one octet below 0x80, else 0x8n followed by n octets."""

    def _parse(self, stream, context, path):
        first = stream_read(stream, 1, path)[0]
        if first < 0x80:
            return first
        count = first & 0x7F
        if not 1 <= count <= 4:
            raise ConstructError(f"BER length with {count} length octets", path=path)
        return int.from_bytes(stream_read(stream, count, path), "big")

    def _build(self, obj, stream, context, path):
        value = int(obj)
        if value < 0x80:
            data = bytes((value,))
        else:
            raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
            data = bytes((0x80 | len(raw),)) + raw
        stream_write(stream, data, len(data), path)
        return value

    def _sizeof(self, context, path):
        raise SizeofError("BER lengths vary in size", path=path)


BER_LENGTH = BerLength()

ROUTING_HEADER = Struct(
    "tag" / Const(b"\xdd"),
    "transaction_id_length" / Const(b"\x09"),
    "cra_flag" / Int8ub,
    "originator_counter" / Int64ub,
    "originator_id_length" / Const(b"\x08"),
    "originator_id" / Bytes(8),
    "recipient_id_length" / Const(b"\x08"),
    "recipient_id" / Bytes(8),
    "date_time_absent" / Const(b"\x00"),
    "other_information_length" / Const(b"\x02"),
    "message_code" / Int16ub,
    "key_info_absent" / Const(b"\x00"),
    "content_length" / BER_LENGTH,
    "security_control" / Int8ub,
    "invocation_counter" / Int32ub,
)

BLOCK_CONTROL = BitStruct("last_block" / Flag, "streaming" / Flag, "window" / BitsInteger(6))

GBT_APDU = Struct(
    "tag" / Const(bytes((GBT_TAG,))),
    "block_control" / BLOCK_CONTROL,
    "block_number" / Int16ub,
    "block_number_ack" / Int16ub,
    "block_data" / Prefixed(BER_LENGTH, GreedyBytes),
)

GBT_MESSAGE = Struct("routing" / ROUTING_HEADER, "gbt" / GBT_APDU, Terminated)


@dataclass(frozen=True)
class GbtBlock:
    """One block of a split message, with the identity of the message it belongs to."""

    cra_flag: int
    originator_counter: int
    originator_id: bytes
    recipient_id: bytes
    message_code: int
    block_number: int
    data: bytes
    last: bool

    @property
    def key(self) -> tuple[bytes, int, int]:
        return self.originator_id, self.originator_counter, self.cra_flag


class GbtError(ValueError):
    """Bytes that claim to be a GBT block but are malformed."""


def is_gbt(message: bytes) -> bool:
    """A GBT block starts with a general-ciphering tag and a 9-octet transaction id."""
    return len(message) >= 2 and message[0] == 0xDD and message[1] == 0x09


def encode_block(block: GbtBlock) -> bytes:
    apdu = GBT_APDU.build(dict(block_control=dict(last_block=block.last, streaming=not block.last, window=GBT_WINDOW),
                               block_number=block.block_number, block_number_ack=0, block_data=block.data))
    routing = ROUTING_HEADER.build(dict(
        cra_flag=block.cra_flag, originator_counter=block.originator_counter, originator_id=block.originator_id,
        recipient_id=block.recipient_id, message_code=block.message_code, content_length=5 + len(apdu),
        security_control=ROUTING_SECURITY_CONTROL, invocation_counter=0))
    return routing + apdu


def decode_block(data: bytes) -> GbtBlock:
    try:
        parsed = GBT_MESSAGE.parse(bytes(data))
    except ConstructError as exc:
        raise GbtError(f"GBT block: {exc}") from None
    routing, gbt = parsed.routing, parsed.gbt
    return GbtBlock(routing.cra_flag, routing.originator_counter, routing.originator_id, routing.recipient_id,
                    routing.message_code, gbt.block_number, gbt.block_data, gbt.block_control.last_block)


def split_message(message: bytes, max_size: int) -> list[bytes]:
    """``[message]`` when it fits in ``max_size`` octets, else its GBT blocks, each within ``max_size``."""
    message = bytes(message)
    if len(message) <= max_size:
        return [message]
    chunk = max_size - MAX_OVERHEAD
    if chunk <= 0:
        raise ValueError(f"a transfer size of {max_size} octets leaves no room for GBT block data")
    try:
        header = decode(message)
        fields = (int(header.cra_flag), header.originator_counter, header.originator_id, header.recipient_id,
                  header.message_code)
    except GbcsDecodeError as exc:
        fields = routing_fields(message)  # a damaged frame (a negative probe) whose header is intact
        if fields is None:
            raise ValueError(f"cannot split a message that is not GBCS: {exc}") from None
    pieces = [message[i:i + chunk] for i in range(0, len(message), chunk)]
    return [encode_block(GbtBlock(*fields, index + 1, piece, last=index == len(pieces) - 1))
            for index, piece in enumerate(pieces)]


#: how far into a message the general-signing/ciphering header may start (after the MAC header)
_HEADER_SEARCH = 40


def routing_fields(message: bytes) -> tuple[int, int, bytes, bytes, int] | None:
    """(CRA flag, counter, originator, recipient, message code) read from the grouping header alone.

    For a message the full decoder rejects (truncated, a lying length) but whose grouping header
    is intact: the header is ``DF|DD 09 <cra> <counter:8> 08 <originator:8> 08 <recipient:8>
    (00 | 0C <date-time:12>) 02 <message code:2>``.
    """
    for i in range(min(_HEADER_SEARCH, len(message))):
        head = message[i:i + 48]
        if len(head) < 33 or head[0] not in (0xDD, 0xDF) or head[1] != 0x09 or head[11] != 0x08 or head[20] != 0x08:
            continue
        at = 30 if head[29] == 0x00 else 42 if head[29] == 0x0C else None
        if at is None or len(head) < at + 3 or head[at] != 0x02:
            continue
        return (head[2], int.from_bytes(head[3:11], "big"), bytes(head[12:20]), bytes(head[21:29]),
                int.from_bytes(head[at + 1:at + 3], "big"))
    return None


class Reassembler:
    """Joins GBT blocks per (originator, counter, CRA flag); plain messages pass straight through.

    Blocks must arrive in order from block 1: a gap or a repeat drops that message's
    blocks so far (counted), so a message with a lost block is never handed on.
    """

    def __init__(self, max_pending: int = 16):
        self.max_pending = max_pending
        self._pending: OrderedDict[tuple[bytes, int, int], tuple[int, bytearray]] = OrderedDict()
        self.counts: Counter[str] = Counter()

    def feed(self, message: bytes) -> bytes | None:
        if not is_gbt(message):
            return bytes(message)
        try:
            block = decode_block(message)
        except GbtError:
            self.counts["gbt_malformed"] += 1
            return None
        self.counts["gbt_blocks"] += 1
        key = block.key
        expected, data = self._pending.pop(key, (1, bytearray()))
        if block.block_number != expected:
            if expected != 1:
                self.counts["gbt_dropped_messages"] += 1
            if block.block_number != 1:
                self.counts["gbt_out_of_order"] += 1
                return None
            data = bytearray()
        data += block.data
        if block.last:
            self.counts["gbt_messages"] += 1
            return bytes(data)
        self._pending[key] = (block.block_number + 1, data)
        while len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)
            self.counts["gbt_dropped_messages"] += 1
        return None
