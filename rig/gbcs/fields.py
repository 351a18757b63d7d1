"""Fixed-layout (non-DER) frame fields as construct classes with emitters.

construct's stock ``Bytes`` compiles to a bare ``io.read(n)`` that silently returns short data
and ignores region ends; these classes read through ``streams.read_exact`` so truncation is an
error at a known offset in both compiled and interpreted mode.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from construct import Construct

from .compiling import construction, define, join_path, prelude, ref
from .message import EMPTY_CIPHERING_FIELDS, CosemDateTime, MacHeader, Supplementary
from .streams import (
    BuildStream,
    CodecError,
    ParseStream,
    length_at_slot,
    pop_region,
    push_region,
    read_exact,
    read_length,
    reserve_slot,
    trace,
)

# ---------------------------------------------------------------------------------------------
# runtime


def read_uint(io_: ParseStream, size: int, path: str | None, what: str) -> int:
    return int.from_bytes(read_exact(io_, size, path, what), "big")


def read_const(io_: ParseStream, value: int, path: str | None, what: str) -> None:
    start = io_.pos
    found = read_exact(io_, 1, path, what)[0]
    if found != value:
        raise CodecError(f"{what}: expected 0x{value:02X}, found 0x{found:02X}", start, path)


def read_bytes(io_: ParseStream, size: int, path: str | None, what: str) -> bytes:
    return bytes(read_exact(io_, size, path, what))


def write_bytes(io_: BuildStream, value: bytes, size: int, path: str | None, what: str) -> None:
    if len(value) != size:
        raise CodecError(f"{what} must be {size} bytes, got {len(value)}", None, path)
    io_.write(bytes(value))


def read_date_time(io_: ParseStream, path: str | None) -> CosemDateTime | None:
    """Grouping-header date-time: length 0 (absent) or 12 (COSEM date-time)."""
    start = io_.pos
    size = read_exact(io_, 1, path, "date-time length")[0]
    if size == 0:
        return None
    if size != 12:
        raise CodecError(f"date-time length must be 0 or 12, found {size}", start, path)
    return date_time_from_octets(read_exact(io_, 12, path, "date-time"))


#: the 12 octets of a COSEM date-time: year, month, day, day of week, hour, minute, second,
#: hundredths, deviation (signed), clock status
_DATE_TIME = struct.Struct(">HBBBBBBBhB")
#: the grouping header's date-time field: its length octet (12), then those octets
_DATE_TIME_FIELD = struct.Struct(">BHBBBBBBBhB")


def date_time_from_octets(raw: bytes) -> CosemDateTime:
    """The 12 octets of a COSEM date-time as a value (the inverse of ``date_time_octets``);
    one ``struct`` call, not ten conversions (every decoded grouping header with a date-time)."""
    return CosemDateTime(*_DATE_TIME.unpack(raw))


def date_time_octets(value: CosemDateTime | None) -> bytes:
    """The grouping header's date-time field: its length octet, then the 12 octets if any.

    One ``struct`` call for the usual value (a ``CosemDateTime`` of int year and deviation, every
    field in range: each device response carries one); anything else is written by the
    conversions below, which raise the errors the codec reports (``struct`` would take an
    ``__index__`` year, and its error is not one the codec turns into ``GbcsEncodeError``)."""
    if value is None:
        return b"\x00"
    if value.__class__ is CosemDateTime and value.year.__class__ is int and value.deviation.__class__ is int:
        try:
            return _DATE_TIME_FIELD.pack(12, value.year, value.month, value.day, value.day_of_week, value.hour,
                                         value.minute, value.second, value.hundredths, value.deviation,
                                         value.clock_status)
        except struct.error:
            pass
    return (
        b"\x0c"
        + value.year.to_bytes(2, "big")
        + bytes((value.month, value.day, value.day_of_week, value.hour, value.minute,
                 value.second, value.hundredths))
        + value.deviation.to_bytes(2, "big", signed=True)
        + bytes((value.clock_status,))
    )


def write_date_time(io_: BuildStream, value: CosemDateTime | None) -> None:
    io_.write(date_time_octets(value))


def read_other_info(io_: ParseStream, path: str | None) -> tuple[int, Supplementary | None]:
    """Other-information: message code, then optional supplementary remote party fields.

    Layout by length [RTDS]: 2 = code; 10 = + remote party id; 18 = + its counter; 26 = +
    supplementary originator counter; longer = id, counter and a key agreement certificate.
    """
    start = io_.pos
    length = read_length(io_, path)
    end = push_region(io_, length, start, path, "other-information")
    if length < 2:
        raise CodecError(f"other-information of {length} bytes has no message code", start, path)
    code = read_uint(io_, 2, path, "message code")
    supplementary = None
    rest = length - 2
    if rest:
        if rest < 8 or 8 < rest < 16:
            raise CodecError(f"other-information has {rest} bytes after the message code", start, path)
        party = bytes(read_exact(io_, 8, path, "supplementary remote party id"))
        counter = originator = certificate = None
        if rest >= 16:
            counter = read_uint(io_, 8, path, "supplementary remote party counter")
        if rest == 24:
            originator = read_uint(io_, 8, path, "supplementary originator counter")
        elif rest > 24:
            certificate = bytes(read_exact(io_, rest - 16, path, "key agreement certificate"))
        elif rest > 16:
            raise CodecError(f"other-information has {rest} bytes after the message code", start, path)
        supplementary = Supplementary(party, counter, originator, certificate)
    pop_region(io_, end, path, "other-information")
    return code, supplementary


def check_supplementary(supplementary: Supplementary) -> None:
    """Only the layouts ``read_other_info`` accepts: an 8-byte remote party id, then its counter,
    then either the supplementary originator counter or a key agreement certificate."""
    if len(supplementary.remote_party_id or b"") != 8:
        raise CodecError("supplementary remote party id must be 8 bytes", None, None)
    later = (supplementary.originator_counter, supplementary.ka_certificate)
    if supplementary.remote_party_counter is None and any(v is not None for v in later):
        raise CodecError("supplementary fields after the remote party id need its counter", None, None)
    if all(v is not None for v in later):
        raise CodecError("a supplementary originator counter and a key agreement certificate exclude each other",
                         None, None)
    if supplementary.ka_certificate is not None and len(supplementary.ka_certificate) <= 8:
        raise CodecError("a key agreement certificate in other-information must be longer than 8 bytes", None, None)


def write_other_info(io_: BuildStream, code: int, supplementary: Supplementary | None) -> None:
    body = code.to_bytes(2, "big")
    if supplementary is not None:
        check_supplementary(supplementary)
        body += bytes(supplementary.remote_party_id or b"")
        if supplementary.remote_party_counter is not None:
            body += supplementary.remote_party_counter.to_bytes(8, "big")
        if supplementary.originator_counter is not None:
            body += supplementary.originator_counter.to_bytes(8, "big")
        if supplementary.ka_certificate is not None:
            body += bytes(supplementary.ka_certificate)
    slot = reserve_slot(io_)
    io_.write(length_at_slot(io_.state, slot, len(body)) + body)


#: the six octets after 0xDD, each a zero length (or "key-info absent") in GBCS [RTDS: all 815 MACed frames]
CIPHERING_FIELD_NAMES = ("transaction-id", "originator-system-title", "recipient-system-title", "date-time",
                         "other-information", "key-info")


def check_ciphering_fields(fields: bytes, at: int | None, path: str | None) -> None:
    """GBCS fills the general-ciphering fields by the grouping header instead: each octet is a
    zero length, and ``00`` for key-info means "absent". A non-zero octet announces content this
    layout does not carry (and key-info is outside the MAC's AAD), so it is a format error, not
    a value to pass on."""
    if len(fields) != 6:
        raise CodecError(f"general-ciphering fields must be 6 octets, got {len(fields)}", at, path)
    for index, octet in enumerate(fields):
        if octet:
            where = None if at is None else at + index
            raise CodecError(f"general-ciphering {CIPHERING_FIELD_NAMES[index]} octet must be 0x00 (empty), "
                             f"found 0x{octet:02X}", where, path)


#: the header of every GBCS MACed frame (immutable: shared by every decode that finds it)
USUAL_MAC_HEADER = MacHeader(0x11, 0, EMPTY_CIPHERING_FIELDS)


def read_mac_header(io_: ParseStream, path: str | None) -> MacHeader:
    """General-ciphering header; its length must cover the rest of the frame exactly."""
    pos = io_.pos
    data = io_.data
    limit = io_.ends[-1]
    if data[pos:pos + 7] == b"\xdd" + EMPTY_CIPHERING_FIELDS and pos + 8 <= limit:  # the usual header, in one go
        first = data[pos + 7]
        if first < 0x80:
            at, length, width = pos + 8, first, 0
        elif first == 0x82 and pos + 10 <= limit:
            at, length, width = pos + 10, data[pos + 8] << 8 | data[pos + 9], 2
        else:
            at = length = width = None
        if at is not None and length == limit - at and at + 5 <= limit and data[at] == 0x11 \
                and data[at + 1:at + 5] == b"\x00\x00\x00\x00":
            io_.lenlog.append(width)
            if width == 2 and length < 0x100:
                io_.nonminimal = True
            io_.pos = at + 5
            return USUAL_MAC_HEADER
    read_const(io_, 0xDD, path, "general-ciphering tag")
    at = io_.pos
    fields = bytes(read_exact(io_, 6, path, "general-ciphering fields"))
    check_ciphering_fields(fields, at, path)
    start = io_.pos
    length = read_length(io_, path)
    remaining = io_.ends[-1] - io_.pos
    if length != remaining:
        raise CodecError(
            f"ciphered-content length {length} does not match the {remaining} bytes that follow",
            start, path,
        )
    security_control = read_exact(io_, 1, path, "security control")[0]
    counter = read_uint(io_, 4, path, "invocation counter")
    return MacHeader(security_control, counter, fields)


def read_signature_field(io_: ParseStream, macd: bool, path: str | None) -> tuple[bytes | None, bool]:
    """Signature length octet (0x00 or 0x40 + r||s); absent only in the DUIS pre-command form.

    Returns (signature, precommand).
    """
    start = io_.pos
    if not macd and start == io_.ends[-1]:
        return None, True
    size = read_exact(io_, 1, path, "signature length")[0]
    if size == 0:
        return None, False
    if size != 0x40:
        raise CodecError(f"signature length must be 0x00 or 0x40, found 0x{size:02X}", start, path)
    return bytes(read_exact(io_, 64, path, "signature")), False


def read_mac(io_: ParseStream, path: str | None) -> bytes:
    start = io_.pos
    remaining = io_.ends[-1] - start
    if remaining != 12:
        raise CodecError(f"a 12-byte MAC must end the frame, {remaining} bytes remain", start, path)
    return bytes(read_exact(io_, 12, path, "MAC"))


def check_end(io_: ParseStream, path: str | None) -> None:
    pos = io_.pos
    if pos != io_.ends[-1]:
        raise CodecError(f"{io_.ends[-1] - pos} trailing bytes after the frame", pos, path)


# ---------------------------------------------------------------------------------------------
# construct classes


class _Field(Construct):
    """A fixed-layout leaf with one runtime reader and writer, named for error messages."""

    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def _read(self, io_, path):
        raise NotImplementedError

    def _parse(self, stream, context, path):
        start = stream.pos
        value = self._read(stream, path)
        trace(stream, start, path, value)
        return value


class UInt(_Field):
    """Unsigned big-endian integer of ``size`` bytes, optionally mapped through ``cls``."""

    def __init__(self, size: int, what: str, cls: Callable[[int], Any] | None = None):
        super().__init__(what)
        self.size = size
        self.cls = cls

    def _read(self, io_, path):
        value = read_uint(io_, self.size, path, self.what)
        return self.cls(value) if self.cls else value

    def _build(self, obj, stream, context, path):
        stream.write(int(obj).to_bytes(self.size, "big"))
        return obj

    def _emitparse(self, code):
        prelude(code)
        expr = f"_fields.read_uint(io, {self.size}, None, {self.what!r})"
        return f"{ref(code, self.cls)}({expr})" if self.cls else expr

    def _emitbuild(self, code):
        prelude(code)
        return f"io.write(int(obj).to_bytes({self.size}, 'big'))"


class ConstByte(_Field):
    """A fixed octet (tags and fixed lengths of the grouping header); not stored."""

    def __init__(self, value: int, what: str):
        super().__init__(what)
        self.value = value

    def _read(self, io_, path):
        return read_const(io_, self.value, path, self.what)

    def _build(self, obj, stream, context, path):
        stream.write(bytes((self.value,)))
        return obj

    def _emitparse(self, code):
        prelude(code)
        return f"_fields.read_const(io, {self.value}, None, {self.what!r})"

    def _emitbuild(self, code):
        prelude(code)
        return f"io.write({bytes((self.value,))!r})"


class FixedBytes(_Field):
    """Exactly ``size`` bytes (system titles, signatures, MACs)."""

    def __init__(self, size: int, what: str):
        super().__init__(what)
        self.size = size

    def _read(self, io_, path):
        return read_bytes(io_, self.size, path, self.what)

    def _build(self, obj, stream, context, path):
        write_bytes(stream, obj, self.size, path, self.what)
        return obj

    def _emitparse(self, code):
        prelude(code)
        return f"_fields.read_bytes(io, {self.size}, None, {self.what!r})"

    def _emitbuild(self, code):
        prelude(code)
        return f"_fields.write_bytes(io, obj, {self.size}, None, {self.what!r})"


class DateTimeField(_Field):
    """Grouping-header date-time (absent or 12-byte COSEM date-time)."""

    def __init__(self):
        super().__init__("date-time")

    def _read(self, io_, path):
        return read_date_time(io_, path)

    def _build(self, obj, stream, context, path):
        write_date_time(stream, obj)
        return obj

    def _emitparse(self, code):
        prelude(code)
        return "_fields.read_date_time(io, None)"

    def _emitbuild(self, code):
        prelude(code)
        return "_fields.write_date_time(io, obj)"


FieldName = str | tuple[str, ...] | None


def _names(name: FieldName) -> tuple[str, ...]:
    if name is None:
        return ()
    return (name,) if isinstance(name, str) else name


class Record(Construct):
    """Fixed-order fields decoded into a dataclass (construct's Struct, minus the Container).

    ``fields`` are ``(attribute, construct)``. An attribute of ``None`` is parsed and not
    stored; a tuple of attributes receives a construct's tuple value (other-information yields
    the message code and the supplementary fields). Building reads the attributes from any
    object that has them, so a ``Message`` builds its own grouping header.
    """

    def __init__(self, cls: type, *fields: tuple[FieldName, Construct]):
        super().__init__()
        self.cls = cls
        self.fields = fields

    def _parse(self, stream, context, path):
        start = stream.pos
        values = {}
        for name, sc in self.fields:
            names = _names(name)
            value = sc._parsereport(stream, context, join_path(path, "/".join(names) or sc.what))
            if len(names) == 1:
                values[names[0]] = value
            elif names:
                values.update(zip(names, value, strict=True))
        obj = self.cls(**values)
        trace(stream, start, path, obj)
        return obj

    def _build(self, obj, stream, context, path):
        for name, sc in self.fields:
            names = _names(name)
            value = tuple(getattr(obj, n) for n in names)
            value = value[0] if len(names) == 1 else (value or None)
            sc._build(value, stream, context, join_path(path, "/".join(names) or sc.what))
        return obj

    def _emitparse(self, code):
        lines, args = [], []
        for index, (name, sc) in enumerate(self.fields):
            names = _names(name)
            expr = sc._compileparse(code)
            if not names:
                lines.append(expr)
                continue
            targets = [f"v{index}_{k}" for k in range(len(names))]
            lines.append(f"{', '.join(targets)} = {expr}")
            args.extend(zip(names, targets, strict=True))
        lines.append(f"return {construction(code, self.cls, args)}")
        return define(code, "parse_record", lines, "io, this") + "(io, this)"

    def _emitbuild(self, code):
        lines = ["rec = obj"]
        for name, sc in self.fields:
            names = _names(name)
            if not names:
                lines.append("obj = None")
            elif len(names) == 1:
                lines.append(f"obj = rec.{names[0]}")
            else:
                lines.append(f"obj = ({', '.join(f'rec.{n}' for n in names)})")
            lines.append(sc._compilebuild(code))
        lines.append("return rec")
        return define(code, "build_record", lines, "obj, io, this") + "(obj, io, this)"


class OtherInfoField(_Field):
    """Other-information: ``(message_code, Supplementary | None)``."""

    def __init__(self):
        super().__init__("other-information")

    def _read(self, io_, path):
        return read_other_info(io_, path)

    def _build(self, obj, stream, context, path):
        write_other_info(stream, obj[0], obj[1])
        return obj

    def _emitparse(self, code):
        prelude(code)
        return "_fields.read_other_info(io, None)"

    def _emitbuild(self, code):
        prelude(code)
        return "_fields.write_other_info(io, obj[0], obj[1])"
