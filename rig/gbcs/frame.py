"""The GBCS frame: optional MAC header, grouping header, payload, signature field, MAC.

```
[MAC header: DD, 6 field octets, length, SC, IC] || grouping header (DF ...) || content length
|| payload || signature length (00 | 40 + r||s) [absent in DUIS pre-commands] || [MAC(12)]
```

The grouping header is a ``Record``; payloads are looked up by (CRA flag, message code) in
``registry``; the frame flow itself (which layers are present, what must follow what) is one
function per direction shared by the compiled and the interpreted codec, so the two differ only
in how their sub-schemas run.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from construct import Construct

from .compiling import can_make, define, make, prelude, ref
from .der import OpaqueRest
from .fields import (
    USUAL_MAC_HEADER,
    ConstByte,
    DateTimeField,
    FixedBytes,
    OtherInfoField,
    Record,
    UInt,
    check_ciphering_fields,
    check_end,
    date_time_from_octets,
    date_time_octets,
    read_mac,
    read_mac_header,
    read_signature_field,
)
from .message import EMPTY_CIPHERING_FIELDS, CosemDateTime, FrameLayout, MacHeader, Message, Supplementary
from .streams import (
    BuildStream,
    CodecError,
    ParseStream,
    encode_length,
    length_at_slot,
    peek_byte,
    pop_region,
    push_region,
    read_length,
    reserve_slot,
    trace,
)
from .tables import CraFlag

GENERAL_CIPHERING = 0xDD
GENERAL_SIGNING = 0xDF


@dataclass(frozen=True)
class GroupingHeader:
    cra_flag: CraFlag
    originator_counter: int
    originator_id: bytes
    recipient_id: bytes
    date_time: CosemDateTime | None
    message_code: int
    supplementary: Supplementary | None


GROUPING_HEADER = Record(
    GroupingHeader,
    (None, ConstByte(GENERAL_SIGNING, "general-signing tag")),
    (None, ConstByte(0x09, "transaction-id length")),
    ("cra_flag", UInt(1, "CRA flag", CraFlag)),
    ("originator_counter", UInt(8, "originator counter")),
    (None, ConstByte(0x08, "originator system title length")),
    ("originator_id", FixedBytes(8, "originator system title")),
    (None, ConstByte(0x08, "recipient system title length")),
    ("recipient_id", FixedBytes(8, "recipient system title")),
    ("date_time", DateTimeField()),
    (("message_code", "supplementary"), OtherInfoField()),
)


_CRA_FLAGS = dict(CraFlag._value2member_map_)


def read_grouping_header(io_: ParseStream, this: Any, generic: ParseFn) -> GroupingHeader:
    """The compiled codec's grouping header: the usual layout (fixed ids, no or a 12-octet
    date-time, an other-information of the message code alone) read in one go; anything else,
    every error included, by ``generic`` (the schema's compiled reader), which gives the same
    header for what this reads."""
    pos = io_.pos
    data = io_.data
    limit = io_.ends[-1]
    if pos + 33 <= limit and data[pos] == GENERAL_SIGNING and data[pos + 1] == 0x09 and data[pos + 11] == 0x08 \
            and data[pos + 20] == 0x08:
        cra_flag = _CRA_FLAGS.get(data[pos + 2])
        size = data[pos + 29]
        at = pos + 30 + size
        if cra_flag is not None and (size == 0 or size == 12) and at + 3 <= limit and data[at] == 2:
            date_time = None
            if size:
                date_time = date_time_from_octets(data[pos + 30:at])
            io_.lenlog.append(0)  # the other-information length, as ``read_other_info`` logs it
            io_.pos = at + 3
            return make(GroupingHeader, {
                "cra_flag": cra_flag, "originator_counter": int.from_bytes(data[pos + 3:pos + 11], "big"),
                "originator_id": data[pos + 12:pos + 20], "recipient_id": data[pos + 21:pos + 29],
                "date_time": date_time, "message_code": data[at + 1] << 8 | data[at + 2], "supplementary": None})
    return generic(io_, this)


_MAC_PREFIX = bytes((GENERAL_CIPHERING,)) + EMPTY_CIPHERING_FIELDS
_USUAL_SECURITY = b"\x11\x00\x00\x00\x00"  # security control 0x11, invocation counter 0
_new = object.__new__


def parse_frame_fast(io_: ParseStream, this: Any, payloads: dict[int, ParseFn], opaque: ParseFn | None,
                     generic: ParseFn) -> Message:
    """The compiled codec's frame flow for the usual frame, in one function.

    Usual: the GBCS MAC header (or none), the grouping header ``read_grouping_header`` reads in
    one go, a short, ``81 ll`` or ``82 hh ll`` content length, and a trailer that fits the frame exactly
    (signature field ``00`` or ``40`` + 64 octets, or none for a pre-command; the 12-octet MAC).
    Everything is checked before anything is consumed, so any other frame (every malformed one
    included) goes to ``generic``, the shared ``parse_frame``, from an untouched stream; what
    this returns is what ``generic`` returns for the same bytes. ``opaque`` None means the
    frame's opaque schema is ``OpaqueRest``: an untyped payload is its content octets.
    """
    data = io_.data
    size = len(data)
    if io_.pos or len(io_.ends) != 1 or io_.lenlog:
        return generic(io_, this)
    mac_header = None
    pos = 0
    mac_width = -1
    nonminimal = False
    if size > 12 and data[0] == GENERAL_CIPHERING:
        if data[:7] != _MAC_PREFIX:
            return generic(io_, this)
        first = data[7]
        if first < 0x80:
            at, length, mac_width = 8, first, 0
        elif first == 0x82:  # before 0x81: a CS02b command (certificates) is longer than 255
            at, length, mac_width = 10, data[8] << 8 | data[9], 2
            nonminimal = length < 0x100
        elif first == 0x81:
            at, length, mac_width = 9, data[8], 1
            nonminimal = length < 0x80
        else:
            return generic(io_, this)
        if length != size - at or data[at:at + 5] != _USUAL_SECURITY:
            return generic(io_, this)
        mac_header = USUAL_MAC_HEADER
        pos = at + 5
    if pos + 33 > size or data[pos] != GENERAL_SIGNING or data[pos + 1] != 0x09 or data[pos + 11] != 0x08 \
            or data[pos + 20] != 0x08:
        return generic(io_, this)
    cra_flag = _CRA_FLAGS.get(data[pos + 2])
    date_size = data[pos + 29]
    at = pos + 30 + date_size
    if cra_flag is None or (date_size != 0 and date_size != 12) or at + 1 > size:
        return generic(io_, this)
    info = data[at]  # other-information length: the code, then 0, 1, 2 or 3 eight-octet fields
    if info != 2 and info != 10 and info != 18 and info != 26:
        return generic(io_, this)
    at += info - 2  # the content length follows the supplementary fields
    if at + 4 > size:
        return generic(io_, this)
    first = data[at + 3]
    if first < 0x80:
        payload_start = at + 4
        content_width = 0
        end = payload_start + first
    elif first == 0x82 and at + 6 <= size:
        payload_start = at + 6
        content_width = 2
        length = data[at + 4] << 8 | data[at + 5]
        end = payload_start + length
        nonminimal = nonminimal or length < 0x100
    elif first == 0x81 and at + 5 <= size:
        payload_start = at + 5
        content_width = 1
        length = data[at + 4]
        end = payload_start + length
        nonminimal = nonminimal or length < 0x80
    else:
        return generic(io_, this)
    rest = size - end
    if mac_header is not None:
        rest -= 12
    if rest == 65 and data[end] == 0x40:
        signature, precommand = data[end + 1:end + 65], False
    elif rest == 1 and data[end] == 0:
        signature, precommand = None, False
    elif rest == 0 and mac_header is None:
        signature, precommand = None, True
    else:
        return generic(io_, this)
    date_time = None
    if date_size:
        date_time = date_time_from_octets(data[pos + 30:pos + 42])
    log = io_.lenlog
    if mac_width >= 0:
        log.append(mac_width)
    log.append(0)  # the other-information length, as ``read_other_info`` logs it
    log.append(content_width)
    if nonminimal:
        io_.nonminimal = True
    code_at = pos + 30 + date_size
    message_code = data[code_at + 1] << 8 | data[code_at + 2]
    supplementary = None
    if info != 2:
        supplementary = _new(Supplementary)
        fields = supplementary.__dict__
        fields["remote_party_id"] = data[code_at + 3:code_at + 11]
        fields["remote_party_counter"] = int.from_bytes(data[code_at + 11:code_at + 19], "big") if info > 10 else None
        fields["originator_counter"] = int.from_bytes(data[code_at + 19:code_at + 27], "big") if info > 18 else None
        fields["ka_certificate"] = None
    parse_payload = payloads.get(data[pos + 2] << 16 | message_code, opaque)
    if parse_payload is None:  # an untyped payload under ``OpaqueRest``: the content as bytes
        payload = data[payload_start:end]
    else:
        io_.ends.append(end)
        io_.pos = payload_start
        payload = parse_payload(io_, this)
        if io_.pos != end:
            pop_region(io_, end, None, "payload")  # raises: the payload left content unread
        io_.ends.pop()
    io_.pos = size
    layout = _new(FrameLayout)
    fields = layout.__dict__
    fields["grouping_start"] = pos
    fields["payload_start"] = payload_start
    fields["payload_end"] = end
    fields["signature_end"] = size if mac_header is None else size - 12
    fields["length"] = size
    message = _new(Message)
    fields = message.__dict__
    fields["cra_flag"] = cra_flag
    fields["originator_counter"] = int.from_bytes(data[pos + 3:pos + 11], "big")
    fields["originator_id"] = data[pos + 12:pos + 20]
    fields["recipient_id"] = data[pos + 21:pos + 29]
    fields["message_code"] = message_code
    fields["payload"] = payload
    fields["date_time"] = date_time
    fields["supplementary"] = supplementary
    fields["mac_header"] = mac_header
    fields["signature"] = signature
    fields["mac"] = data[size - 12:] if mac_header is not None else None
    fields["precommand"] = precommand
    fields["length_forms"] = tuple(log) if io_.nonminimal else None
    fields["layout"] = layout
    return message


def payload_key(cra_flag: int, message_code: int) -> int:
    return (int(cra_flag) << 16) | message_code


ParseFn = Callable[[ParseStream, Any], Any]
BuildFn = Callable[[Any, BuildStream, Any], Any]


def parse_frame(io_: ParseStream, this: Any, grouping: ParseFn, payloads: dict[int, ParseFn],
                opaque: ParseFn, path: str | None) -> Message:
    """Frame flow, shared by both codecs."""
    mac_header = None
    tracing = io_.trace is not None  # interpreted annotation only: the compiled codec skips the calls
    if peek_byte(io_) == GENERAL_CIPHERING:
        mac_header = read_mac_header(io_, path)
        if tracing:
            trace(io_, 0, "mac header", mac_header)
    grouping_start = io_.pos
    head = grouping(io_, this)
    start = io_.pos
    length = read_length(io_, path)
    if tracing:
        trace(io_, start, "content length", length)
    end = push_region(io_, length, start, path, "content")
    payload_start = io_.pos
    parse_payload = payloads.get(payload_key(head.cra_flag, head.message_code), opaque)
    payload = parse_payload(io_, this)
    pop_region(io_, end, path, "payload")
    signature, precommand = read_signature_field(io_, mac_header is not None, path)
    signature_end = io_.pos
    if tracing and not precommand:
        trace(io_, end, "signature", signature)
    mac = read_mac(io_, path) if mac_header is not None else None
    if tracing and mac is not None:
        trace(io_, signature_end, "mac", mac)
    check_end(io_, path)
    return make(Message, {  # every field given: ``Message(**...)`` without the keyword call
        "cra_flag": head.cra_flag,
        "originator_counter": head.originator_counter,
        "originator_id": head.originator_id,
        "recipient_id": head.recipient_id,
        "message_code": head.message_code,
        "payload": payload,
        "date_time": head.date_time,
        "supplementary": head.supplementary,
        "mac_header": mac_header,
        "signature": signature,
        "mac": mac,
        "precommand": precommand,
        "length_forms": tuple(io_.lenlog) if io_.nonminimal else None,
        "layout": make(FrameLayout, {"grouping_start": grouping_start, "payload_start": payload_start,
                                     "payload_end": end, "signature_end": signature_end, "length": io_.pos}),
    })


def build_grouping_fast(msg: Message, io_: BuildStream, this: Any, generic: BuildFn) -> None:
    """The compiled codec's grouping header for the usual message (eight-octet ids, no
    supplementary fields, an other-information length the plan, if any, records as short) in one
    write; the same bytes and plan slot as ``generic`` (the schema's compiled builder), which
    writes every other message and raises every error."""
    originator, recipient = msg.originator_id, msg.recipient_id
    state = io_.state
    plan, slot = state.plan, state.slot
    if msg.supplementary is not None or originator.__class__ is not bytes or recipient.__class__ is not bytes \
            or len(originator) != 8 or len(recipient) != 8 or (plan is not None and slot < len(plan) and plan[slot]):
        generic(msg, io_, this)
        return
    io_.buffer += (b"\xdf\x09" + int(msg.cra_flag).to_bytes(1, "big") + int(msg.originator_counter).to_bytes(8, "big")
                   + b"\x08" + originator + b"\x08" + recipient + date_time_octets(msg.date_time)
                   + b"\x02" + msg.message_code.to_bytes(2, "big"))
    state.slot = slot + 1  # the other-information length's slot


_COUNTER_LIMIT = 1 << 64


def build_frame_fast(msg: Message, io_: BuildStream, this: Any, grouping: BuildFn,
                     payloads: dict[int, tuple[type, BuildFn]], opaque: BuildFn) -> FrameLayout:
    """The compiled codec's frame flow for the usual message, in one function: what the device
    signs for every response and alert, and most captured frames.

    Usual: no length plan (a message built from typed values, or a decoded one whose lengths
    were all minimal), no MAC header or the GBCS one (an int security control and invocation
    counter in range, the six zero field octets) with no MAC or a 12-byte one, not a pre-command,
    a ``CraFlag`` of one octet and a two-octet message code whose payload is ``bytes`` or exactly
    its table's class, an eight-byte counter, eight-octet ids, no supplementary fields, and a
    signature field that is absent (``00``) or 64 octets. Every condition is checked before
    anything is written, so any other message (every malformed one included) goes to the shared
    ``build_frame``, which writes the same bytes and the same layout for what this takes; errors
    of the payload builder and of ``date_time_octets`` are raised by the same code in the same
    order as there (grouping header first). Lengths are written in place (a one-octet
    placeholder, widened only when a length needs more) rather than inserted. A MACed frame is
    taken only at the start of the stream (``build_frame`` gives its offsets from there).
    """
    state = io_.state
    cra_flag, code, counter = msg.cra_flag, msg.message_code, msg.originator_counter
    originator, recipient, signature = msg.originator_id, msg.recipient_id, msg.signature
    header, mac, payload = msg.mac_header, msg.mac, msg.payload
    if state.plan or msg.precommand or msg.supplementary is not None or cra_flag.__class__ is not CraFlag \
            or not 0 <= cra_flag._value_ < 0x100 or code.__class__ is not int or not 0 <= code < 0x10000 \
            or counter.__class__ is not int or not 0 <= counter < _COUNTER_LIMIT \
            or originator.__class__ is not bytes or recipient.__class__ is not bytes \
            or len(originator) != 8 or len(recipient) != 8 \
            or (signature is not None and (signature.__class__ is not bytes or len(signature) != 64)):
        return build_frame(msg, io_, this, grouping, payloads, opaque)
    if header is None:
        if mac is not None:
            return build_frame(msg, io_, this, grouping, payloads, opaque)
    elif io_.buffer or header.__class__ is not MacHeader or header.fields != EMPTY_CIPHERING_FIELDS \
            or header.security_control.__class__ is not int or not 0 <= header.security_control < 0x100 \
            or header.invocation_counter.__class__ is not int or not 0 <= header.invocation_counter < 1 << 32 \
            or (mac is not None and (mac.__class__ is not bytes or len(mac) != 12)):
        return build_frame(msg, io_, this, grouping, payloads, opaque)
    if payload.__class__ is bytes:
        write = opaque  # what build_frame gives any bytes payload, before its table
    else:
        entry = payloads.get(cra_flag._value_ << 16 | code)
        if entry is None or payload.__class__ is not entry[0]:
            return build_frame(msg, io_, this, grouping, payloads, opaque)
        write = entry[1]
    buffer = io_.buffer
    start = len(buffer)
    if header is not None:  # the MAC header, its length a placeholder until the MAC is written
        buffer += _MAC_HEAD.pack(GENERAL_CIPHERING, EMPTY_CIPHERING_FIELDS, 0, header.security_control,
                                 header.invocation_counter)
        state.slot += 1  # the MAC header length's slot
    grouping_start = len(buffer)
    buffer += _GROUPING_IDS.pack(GENERAL_SIGNING, 9, cra_flag._value_, counter, 8, originator, 8, recipient)
    buffer += date_time_octets(msg.date_time)
    buffer += _CODE_AND_LENGTH.pack(2, code, 0)  # other-information length, code, content length placeholder
    state.slot += 2  # the other-information length's slot, then the content length's
    mark = len(buffer)
    saved_style = state.long_form_width
    state.long_form_width = state.payload_long_form_width
    write(payload, io_, this)
    state.long_form_width = saved_style
    body_length = len(buffer) - mark
    if body_length >= 0x80:
        length = _long_length(body_length, saved_style)
        buffer[mark - 1:mark] = length
        mark += len(length) - 1
    else:
        buffer[mark - 1] = body_length
    payload_end = len(buffer)
    if signature is None:
        buffer.append(0)
    else:
        buffer.append(0x40)
        buffer += signature
    signature_end = len(buffer)
    shift = 0
    if header is not None:
        buffer += _NO_MAC if mac is None else mac
        mac_length = len(buffer) - start - 8
        if mac_length >= 0x80:
            length = _long_length(mac_length, saved_style)
            buffer[start + 7:start + 8] = length
            shift = len(length) - 1
        else:
            buffer[start + 7] = mac_length
    layout = _new(FrameLayout)
    fields = layout.__dict__
    fields["grouping_start"] = grouping_start + shift
    fields["payload_start"] = mark + shift
    fields["payload_end"] = payload_end + shift
    fields["signature_end"] = signature_end + shift
    fields["length"] = len(buffer)
    return layout


def _long_length(length: int, width: int) -> bytes:
    """``encode_length(length, width)`` for a length >= 128: the ``81``/``82`` forms without its
    calls, anything else by it."""
    if length < 0x100 and width < 2:
        return bytes((0x81, length))
    if length < 0x10000 and width <= 2:
        return bytes((0x82, length >> 8, length & 0xFF))
    return encode_length(length, width)


#: the MAC header: tag, the six field octets, the length octet (a placeholder), security
#: control, invocation counter
_MAC_HEAD = struct.Struct(">B6sBBI")
_NO_MAC = bytes(12)  # the placeholder ``rig.crypto`` fills
#: the grouping header up to its date-time: tag, transaction-id length, CRA flag, counter,
#: then each system title after its length (the ids' sizes and the counter's range checked first)
_GROUPING_IDS = struct.Struct(">BBBQB8sB8s")
#: the other-information length (2: the code alone), the message code, then the content length
#: octet (a placeholder until the payload's size is known)
_CODE_AND_LENGTH = struct.Struct(">BHB")


def build_frame(msg: Message, io_: BuildStream, this: Any, grouping: BuildFn,
                payloads: dict[int, tuple[type, BuildFn]], opaque: BuildFn) -> FrameLayout:
    """Frame flow for encoding; returns the offsets of the signed and MACed ranges."""
    state = io_.state
    mac_header = msg.mac_header
    if mac_header is not None:
        if msg.precommand:
            raise CodecError("a pre-command has no MAC header")
        mac_slot = reserve_slot(io_)
        target = BuildStream(state)
        target.buffer += bytes((mac_header.security_control,)) + mac_header.invocation_counter.to_bytes(4, "big")
    else:
        target = io_
    grouping_start = len(target.buffer)
    grouping(msg, target, this)
    # the payload is written in place and its length inserted before it once known (what
    # ``open_element``/``close_element`` write, without a second buffer and copy)
    content_slot = reserve_slot(target)
    buffer = target.buffer
    mark = len(buffer)
    entry = payloads.get(payload_key(msg.cra_flag, msg.message_code))
    payload = msg.payload
    saved_style = state.long_form_width
    state.long_form_width = state.payload_long_form_width
    if isinstance(payload, (bytes, bytearray, memoryview)):
        opaque(bytes(payload), target, this)
    elif entry is not None and isinstance(payload, entry[0]):
        entry[1](payload, target, this)
    else:
        raise CodecError(
            f"payload {type(payload).__name__} does not fit message code 0x{msg.message_code:04X} "
            f"with CRA flag {int(msg.cra_flag)}"
        )
    state.long_form_width = saved_style
    body_length = len(buffer) - mark
    buffer[mark:mark] = length_at_slot(state, content_slot, body_length)
    payload_end = len(buffer)
    payload_start = payload_end - body_length
    signature = msg.signature
    if not msg.precommand:
        if signature is None:
            buffer.append(0)
        elif len(signature) == 64:
            buffer.append(0x40)
            buffer += bytes(signature)
        else:
            raise CodecError(f"signature must be 64 bytes (r||s), got {len(signature)}")
    elif signature is not None:
        raise CodecError("a pre-command carries no signature")
    signature_end = len(buffer)
    shift = 0
    if mac_header is not None:
        mac = bytes(12) if msg.mac is None else bytes(msg.mac)
        if len(mac) != 12:
            raise CodecError(f"MAC must be 12 bytes, got {len(mac)}")
        buffer += mac
        fields = bytes(mac_header.fields)
        if fields != EMPTY_CIPHERING_FIELDS:  # the six zero octets are valid: nothing to check
            check_ciphering_fields(fields, None, None)
        head = bytes((GENERAL_CIPHERING,)) + fields + length_at_slot(state, mac_slot, len(buffer))
        io_.buffer += head
        io_.buffer += buffer
        shift = len(head)
    elif msg.mac is not None:
        raise CodecError("a MAC needs a MAC header")
    return make(FrameLayout, {"grouping_start": grouping_start + shift, "payload_start": payload_start + shift,
                              "payload_end": payload_end + shift, "signature_end": signature_end + shift,
                              "length": len(io_.buffer)})


def _called(expression: str, arguments: str) -> str | None:
    """The function an emitted expression only calls with the table's own arguments (an inline
    payload's ``parse_inline_7(io, this)``), so the table holds it and not a wrapper that calls
    it: one call less per payload. None for any other expression."""
    name = expression[:-len(arguments)] if expression.endswith(arguments) else ""
    return name if name.isidentifier() else None


def _schema_class(schema: Construct) -> type:
    return schema.cls


class Frame(Construct):
    """A whole GBCS message; parses to ``Message`` (``_build`` returns the frame layout)."""

    def __init__(self, payloads: dict[int, Construct], opaque: Construct):
        super().__init__()
        self.grouping = GROUPING_HEADER
        self.payloads = payloads
        self.opaque = opaque

    # interpreted ----------------------------------------------------------------------------
    def _parse(self, stream, context, path):
        def grouping(io_, this):
            return self.grouping._parsereport(io_, this, "grouping header")

        def for_schema(schema):
            return lambda io_, this: schema._parsereport(io_, this, "payload")

        table = {key: for_schema(schema) for key, schema in self.payloads.items()}
        return parse_frame(stream, context, grouping, table, for_schema(self.opaque), "frame")

    def _build(self, obj, stream, context, path):
        def for_schema(schema):
            return lambda value, io_, this: schema._build(value, io_, this, "payload")

        table = {key: (_schema_class(s), for_schema(s)) for key, s in self.payloads.items()}
        return build_frame(
            obj, stream, context,
            lambda value, io_, this: self.grouping._build(value, io_, this, "grouping header"),
            table, for_schema(self.opaque),
        )

    # compiled -------------------------------------------------------------------------------
    def _payload_functions(self, code, kind: str) -> tuple[str, str]:
        """Emit one function per distinct payload schema and a key table; return their names."""
        wrappers: dict[int, str] = {}
        entries = []
        for key, schema in self.payloads.items():
            if id(schema) not in wrappers:
                if kind == "parse":
                    expression = schema._compileparse(code)
                    wrappers[id(schema)] = _called(expression, "(io, this)") \
                        or define(code, "payload_parse", [f"return {expression}"], "io, this")
                else:
                    expression = schema._compilebuild(code)
                    wrappers[id(schema)] = _called(expression, "(obj, io, this)") \
                        or define(code, "payload_build", [expression], "obj, io, this")
            name = wrappers[id(schema)]
            if kind == "parse":
                entries.append(f"{key}: {name}")
            else:
                entries.append(f"{key}: ({ref(code, _schema_class(schema))}, {name})")
        if kind == "parse":
            opaque = define(code, "payload_parse", [f"return {self.opaque._compileparse(code)}"], "io, this")
        else:
            opaque = define(code, "payload_build", [self.opaque._compilebuild(code)], "obj, io, this")
        table = f"PAYLOAD_{kind.upper()}_{code.allocateId()}"
        code.append(f"{table} = {{{', '.join(entries)}}}")
        return table, opaque

    def _emitparse(self, code):
        prelude(code)
        code.append("from rig.gbcs import frame as _frame")
        generic = define(code, "parse_grouping", [f"return {self.grouping._compileparse(code)}"], "io, this")
        grouping = define(code, "parse_grouping_fast", [f"return _frame.read_grouping_header(io, this, {generic})"],
                          "io, this")
        table, opaque = self._payload_functions(code, "parse")
        generic = define(code, "parse_frame", [f"return _frame.parse_frame(io, this, {grouping}, {table}, {opaque}, None)"],
                         "io, this")
        rest = "None" if isinstance(self.opaque, OpaqueRest) else opaque
        return f"_frame.parse_frame_fast(io, this, {table}, {rest}, {generic})"

    def _emitbuild(self, code):
        prelude(code)
        code.append("from rig.gbcs import frame as _frame")
        generic = define(code, "build_grouping", [self.grouping._compilebuild(code)], "obj, io, this")
        grouping = define(code, "build_grouping_fast", [f"_frame.build_grouping_fast(obj, io, this, {generic})"],
                          "obj, io, this")
        table, opaque = self._payload_functions(code, "build")
        return f"_frame.build_frame_fast(obj, io, this, {grouping}, {table}, {opaque})"


# parse_frame and read_grouping_header give every field of what they ``make``
assert all(can_make(cls, list(cls.__dataclass_fields__))
           for cls in (Message, FrameLayout, GroupingHeader, CosemDateTime, Supplementary))
