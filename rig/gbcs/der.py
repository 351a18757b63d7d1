"""DER primitives as construct classes, each with compile emitters.

GBCS CS02 payloads are DER (commands) or "DER with non-minimal long-form lengths" (device
responses). Values are strict DER: INTEGERs minimal, BIT STRINGs with named-bit rules, DEFAULT
values omitted. Lengths are read in any definite form and logged so the encoder reproduces them
(see ``rig.gbcs.streams``).

Implicit context tags (``[2] TrustAnchorCellIdentifier`` encodes as ``A2 ...``) are expressed by
passing the tag byte to the construct: ``DerSequence(..., tag=0xA2)``, ``DerInteger(tag=0x83)``.

Every class has ``_parse``/``_build`` (interpreted: field paths in errors, annotation trace) and
``_emitparse``/``_emitbuild`` (compiled: the hot path). Both call the same runtime functions below,
so the two modes share their byte-level semantics by construction; the differential test checks
the composition.

A ``DerSequence`` or ``DerSequenceOf`` compiles to one flat function for its whole subtree
(``rig.gbcs.inlining``): the classes' ``_inline_parse``/``_inline_build`` emit the usual forms in
place and fall back to the runtime functions, through the ordinary emitters, for everything else;
``tests/test_codec_fastpaths.py`` holds each form to the interpreted codec.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable, Sequence
from typing import Any

from construct import Construct

from .compiling import define, join_path, prelude, ref
from .inlining import (
    build_fallback,
    build_function,
    build_lines,
    close_lines,
    construct_lines,
    fresh,
    header_lines,
    indent,
    open_lines,
    parse_fallback,
    parse_function,
    parse_lines,
    plan_free,
    wrap_lines,
)
from .streams import (
    BuildStream,
    CodecError,
    ParseStream,
    close_element,
    length_at_slot,
    open_element,
    peek_byte,
    pop_region,
    read_long_length,
    trace,
)

# ---------------------------------------------------------------------------------------------
# runtime: parsing


def _header(io_: ParseStream, tag: int, path: str | None, what: str) -> tuple[int, int]:
    """Check ``tag`` and read the length at the cursor; return (content start, content end).

    The short-form path is inlined: this runs for every element of every message.
    """
    start = io_.pos
    data = io_.data
    limit = io_.ends[-1]
    if start + 2 > limit:
        if start >= limit:
            raise CodecError(f"truncated: {what} (tag 0x{tag:02X}) is missing", start, path)
        if data[start] == tag:
            raise CodecError(f"truncated: {what} has no length octet", start, path)
    found = data[start]
    if found != tag:
        raise CodecError(f"expected {what} (tag 0x{tag:02X}), found tag 0x{found:02X}", start, path)
    length = data[start + 1]
    if length < 0x80:
        io_.lenlog.append(0)
        pos = start + 2
    else:
        pos, length = read_long_length(io_, start + 1, limit, path)
    end = pos + length
    if end > limit:
        raise CodecError(
            f"{what} length {length} overruns the enclosing data by {end - limit} bytes", start, path
        )
    return pos, end


def enter(io_: ParseStream, tag: int, path: str | None, what: str) -> int:
    """Read ``tag`` and a length; open the element's region; return its end offset.

    The well-formed short form is handled here without a call; anything else (long forms,
    every error) goes through ``_header``. The same holds for the readers below.
    """
    start = io_.pos
    data = io_.data
    limit = io_.ends[-1]
    if start + 2 <= limit and data[start] == tag:
        length = data[start + 1]
        if length < 0x80:
            end = start + 2 + length
            if end <= limit:
                io_.lenlog.append(0)
                io_.pos = start + 2
                io_.ends.append(end)
                return end
        elif length == 0x82 and start + 4 <= limit:  # the long form of every element of 256 octets or more
            length = data[start + 2] << 8 | data[start + 3]
            end = start + 4 + length
            if end <= limit:
                io_.lenlog.append(2)
                if length < 0x100:
                    io_.nonminimal = True
                io_.pos = start + 4
                io_.ends.append(end)
                return end
    io_.pos, end = _header(io_, tag, path, what)
    io_.ends.append(end)
    return end


def read_primitive(io_: ParseStream, tag: int, path: str | None, what: str) -> bytes:
    """Content octets of a primitive element with the given tag."""
    start = io_.pos
    data = io_.data
    if start + 2 <= io_.ends[-1] and data[start] == tag:
        length = data[start + 1]
        end = start + 2 + length
        if length < 0x80 and end <= io_.ends[-1]:
            io_.lenlog.append(0)
            io_.pos = end
            return data[start + 2:end]
    pos, end = _header(io_, tag, path, what)
    io_.pos = end
    return data[pos:end]


def decode_integer(content: bytes, start: int, path: str | None, what: str) -> int:
    """Two's-complement content octets to int, enforcing the DER minimal form."""
    if not content:
        raise CodecError(f"{what} has no content octets", start, path)
    if len(content) > 1:
        b0, b1 = content[0], content[1]
        if (b0 == 0 and b1 < 0x80) or (b0 == 0xFF and b1 >= 0x80):
            raise CodecError(f"{what} is not minimally encoded", start, path)
    return int.from_bytes(content, "big", signed=True)


def read_integer(io_: ParseStream, tag: int, path: str | None, what: str = "INTEGER") -> int:
    start = io_.pos
    data = io_.data
    if start + 3 <= io_.ends[-1] and data[start] == tag and data[start + 1] == 1:  # one octet, always minimal
        io_.lenlog.append(0)
        io_.pos = start + 3
        value = data[start + 2]
        return value - 256 if value & 0x80 else value
    pos, end = _header(io_, tag, path, what)
    io_.pos = end
    if end - pos == 1:  # the common case, always minimal
        value = io_.data[pos]
        return value - 256 if value & 0x80 else value
    return decode_integer(io_.data[pos:end], start, path, what)


def enum_value(members: dict[int, Any], cls: Callable[[int], Any], value: int) -> Any:
    """``cls(value)`` through a dictionary of its members (Enum calls are slow)."""
    member = members.get(value)
    return member if member is not None else cls(value)


def members_of(cls: Callable[[int], Any]) -> dict[int, Any]:
    return dict(getattr(cls, "_value2member_map_", {}))


def read_integer_as(io_: ParseStream, tag: int, members: dict[int, Any], cls: Callable[[int], Any],
                    path: str | None, what: str = "INTEGER") -> Any:
    return enum_value(members, cls, read_integer(io_, tag, path, what))


def read_null(io_: ParseStream, tag: int, path: str | None) -> None:
    start = io_.pos
    if read_primitive(io_, tag, path, "NULL"):
        raise CodecError("NULL with content octets", start, path)


def read_octets(io_: ParseStream, tag: int, size: int | None, path: str | None, what: str) -> bytes:
    start = io_.pos
    content = read_primitive(io_, tag, path, what)
    if size is not None and len(content) != size:
        raise CodecError(f"{what} must be {size} octets, found {len(content)}", start, path)
    return bytes(content)


#: decoded named-bit values per class, by content octets (the compiled reader looks them up inline)
_NAMED_BITS: dict[Any, dict[bytes, Any]] = {}


def named_bits_cache(cls: Any) -> dict[bytes, Any]:
    cache = _NAMED_BITS.get(cls)
    if cache is None:
        cache = _NAMED_BITS[cls] = {}
    return cache


def decode_named_bits(content: bytes, start: int, path: str | None) -> int:
    """DER named-bit BIT STRING to an int whose bit i is X.509 bit i (trailing zeros removed)."""
    if not content:
        raise CodecError("BIT STRING has no content octets", start, path)
    unused = content[0]
    bits = content[1:]
    if unused > 7 or (not bits and unused):
        raise CodecError(f"BIT STRING with {unused} unused bits", start, path)
    value = 0
    for index, octet in enumerate(bits):
        for bit in range(8):
            if octet & (0x80 >> bit):
                value |= 1 << (index * 8 + bit)
    if encode_named_bits(value) != bytes(content):
        raise CodecError("BIT STRING is not in DER named-bit form", start, path)
    return value


def read_named_bits(io_: ParseStream, tag: int, cls: Callable[[int], Any], path: str | None) -> Any:
    start = io_.pos
    content = bytes(read_primitive(io_, tag, path, "BIT STRING"))
    cache = named_bits_cache(cls)
    value = cache.get(content)
    if value is None:
        value = cls(decode_named_bits(content, start, path))
        if len(cache) < 256:  # key usages are a handful of values; bound the cache anyway
            cache[content] = value
    return value


_UTC = _dt.UTC


def read_generalized_time(io_: ParseStream, tag: int, path: str | None) -> _dt.datetime:
    """GBCS GeneralizedTime: exactly ``YYYYMMDDHHMMSSZ`` (UTC, no fraction)."""
    start = io_.pos
    content = bytes(read_primitive(io_, tag, path, "GeneralizedTime"))
    try:
        if len(content) != 15 or content[14] != 0x5A or not content[:14].isdigit():
            raise ValueError(content)
        digits = content[:14]
        return _dt.datetime(
            int(digits[0:4]), int(digits[4:6]), int(digits[6:8]),
            int(digits[8:10]), int(digits[10:12]), int(digits[12:14]), tzinfo=_UTC,
        )
    except ValueError:
        raise CodecError(f"GeneralizedTime {content!r} is not YYYYMMDDHHMMSSZ", start, path) from None


def read_raw_element(io_: ParseStream, tag: int, path: str | None, what: str) -> bytes:
    """A complete element (tag, length, content) kept as bytes, e.g. an X.509 certificate.

    Its length form is carried in the bytes themselves, so it is not logged.
    """
    start = io_.pos
    data = io_.data
    if start + 4 <= io_.ends[-1] and data[start] == tag and data[start + 1] == 0x82:  # a certificate
        end = start + 4 + (data[start + 2] << 8 | data[start + 3])
        if end <= io_.ends[-1]:
            io_.pos = end
            return bytes(data[start:end])
    mark, flag = len(io_.lenlog), io_.nonminimal
    end = enter(io_, tag, path, what)
    del io_.lenlog[mark:]
    io_.nonminimal = flag
    io_.pos = end
    io_.ends.pop()
    return bytes(io_.data[start:end])


def read_rest(io_: ParseStream) -> bytes:
    """Everything up to the end of the current region (opaque payloads)."""
    start = io_.pos
    end = io_.ends[-1]
    io_.pos = end
    return bytes(io_.data[start:end])


def check_not_default(value: Any, default: Any, start: int, path: str | None) -> Any:
    if value == default:
        raise CodecError("DER forbids encoding a DEFAULT value explicitly", start, path)
    return value


def choice_error(io_: ParseStream, tags: Sequence[int], path: str | None) -> CodecError:
    found = peek_byte(io_)
    expected = ", ".join(f"0x{t:02X}" for t in tags)
    found_text = "the end of the element" if found is None else f"tag 0x{found:02X}"
    return CodecError(f"expected one of tags {expected}, found {found_text}", io_.pos, path)


# ---------------------------------------------------------------------------------------------
# runtime: building


def write_primitive(io_: BuildStream, tag: int, content: bytes) -> None:
    state = io_.state
    slot = state.slot
    state.slot = slot + 1
    size = len(content)
    out = io_.buffer
    out.append(tag)
    if size < 0x80 and state.plan is None:  # the common case: short form, nothing to reproduce
        out.append(size)
    else:
        out += length_at_slot(state, slot, size)
    out += content


def encode_integer(value: int) -> bytes:
    value = int(value)
    if 0 <= value < 0x80:
        return bytes((value,))
    if value >= 0:
        return value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)
    return value.to_bytes((-value - 1).bit_length() // 8 + 1, "big", signed=True)


def write_integer(io_: BuildStream, tag: int, value: int) -> None:
    state = io_.state
    if state.plan is None and isinstance(value, int) and 0 <= value < 0x80:  # the common case: one octet, short form
        state.slot += 1
        io_.buffer += bytes((tag, 1, value))
    else:
        write_primitive(io_, tag, encode_integer(value))


#: encodings of the few named-bit values in use (key usages), by value
_NAMED_BIT_ENCODINGS: dict[int, bytes] = {}


def encode_named_bits(value: int) -> bytes:
    value = int(value)
    known = _NAMED_BIT_ENCODINGS.get(value)
    if known is not None:
        return known
    encoded = _encode_named_bits(value)
    if len(_NAMED_BIT_ENCODINGS) < 256:
        _NAMED_BIT_ENCODINGS[value] = encoded
    return encoded


def _encode_named_bits(value: int) -> bytes:
    if value == 0:
        return b"\x00"
    nbits = value.bit_length()
    nbytes = (nbits + 7) // 8
    out = bytearray(nbytes)
    for bit in range(nbits):
        if value >> bit & 1:
            out[bit // 8] |= 0x80 >> (bit % 8)
    return bytes((nbytes * 8 - nbits,)) + bytes(out)


def write_generalized_time(io_: BuildStream, tag: int, value: _dt.datetime) -> None:
    """Every field zero padded to its width: ``strftime("%Y")`` writes year 999 as ``999`` on
    glibc, which the reader (rightly) rejects."""
    if value.tzinfo is not None:
        value = value.astimezone(_dt.UTC)
    text = (f"{value.year:04d}{value.month:02d}{value.day:02d}"
            f"{value.hour:02d}{value.minute:02d}{value.second:02d}Z")
    write_primitive(io_, tag, text.encode("ascii"))


def write_raw(io_: BuildStream, value: bytes) -> None:
    io_.write(bytes(value))


#: (tag, bytes) of raw elements already checked: the same certificates are encoded over and
#: over (every command of a migration carries the same ones); bounded, cleared when full
_CHECKED_RAW: set[tuple[int, bytes]] = set()
_CHECKED_RAW_MAX = 1024


def check_raw_element(value: bytes, tag: int, what: str) -> bytes:
    """``value`` must be exactly one element ``read_raw_element`` accepts: the encoder refuses
    what the decoder would reject (a truncated or padded certificate, a wrong tag)."""
    data = bytes(value)
    key = (tag, data)
    if key in _CHECKED_RAW:
        return data
    stream = ParseStream(data)
    read_raw_element(stream, tag, None, what)
    if stream.pos != len(data):
        raise CodecError(f"{what} blob has {len(data) - stream.pos} bytes after its element", None, None)
    if len(_CHECKED_RAW) >= _CHECKED_RAW_MAX:
        _CHECKED_RAW.clear()
    _CHECKED_RAW.add(key)
    return data


def write_raw_element(io_: BuildStream, tag: int, value: bytes, what: str) -> None:
    io_.write(check_raw_element(value, tag, what))


# ---------------------------------------------------------------------------------------------
# construct classes


class _Leaf(Construct):
    """A primitive element: one runtime reader and one runtime writer."""

    what = "element"

    def __init__(self, tag: int):
        super().__init__()
        self.tag = tag

    def _read(self, io_: ParseStream, path: str | None) -> Any:
        raise NotImplementedError

    def _parse(self, stream, context, path):
        start = stream.pos
        value = self._read(stream, path)
        trace(stream, start, path, value)
        return value


class DerInteger(_Leaf):
    """INTEGER (or an implicitly tagged one, e.g. ``[3] SeqNumber`` = tag 0x83)."""

    what = "INTEGER"

    def __init__(self, tag: int = 0x02, cls: Callable[[int], Any] | None = None):
        super().__init__(tag)
        self.cls = cls

    def _read(self, io_, path):
        value = read_integer(io_, self.tag, path, self.what)
        return self.cls(value) if self.cls is not None else value

    def _build(self, obj, stream, context, path):
        write_integer(stream, self.tag, obj)
        return obj

    def _emitparse(self, code):
        prelude(code)
        if self.cls is None:
            return f"_der.read_integer(io, {self.tag}, None)"
        members = ref(code, members_of(self.cls))
        return f"_der.read_integer_as(io, {self.tag}, {members}, {ref(code, self.cls)}, None)"

    def _emitbuild(self, code):
        prelude(code)
        return f"_der.write_integer(io, {self.tag}, obj)"

    def _inline_parse(self, code, target, limit):
        tag = self.tag
        value = fresh(code, "x") if self.cls is not None else target
        mapped = []
        # one content octet: its value (or enumeration member, None for a value that is none)
        # by table; enum_value's cls(value) for the rest
        signed = tuple(octet - 256 if octet > 127 else octet for octet in range(256))
        if self.cls is None:
            one = [f"{target} = {ref(code, signed)}[data[pos + 2]]"]
        else:
            members = members_of(self.cls)
            mapped = [f"{target} = {ref(code, members)}.get({value})",
                      f"if {target} is None:", f"    {target} = {ref(code, self.cls)}({value})"]
            one = [f"{target} = {ref(code, tuple(members.get(v) for v in signed))}[data[pos + 2]]",
                   f"if {target} is None:",
                   f"    {target} = {ref(code, self.cls)}({ref(code, signed)}[data[pos + 2]])"]
        return [
            f"if pos + 3 <= {limit} and data[pos] == {tag} and data[pos + 1] == 1:",
            *indent(one),
            "    log(0)",
            "    pos += 3",
            # several content octets, short form, minimal (what decode_integer accepts)
            f"elif pos + 4 <= {limit} and data[pos] == {tag} and 1 < data[pos + 1] < 128 "
            f"and pos + 2 + data[pos + 1] <= {limit} and not (data[pos + 2] == 0 and data[pos + 3] < 128 "
            "or data[pos + 2] == 255 and data[pos + 3] > 127):",
            f"    {value} = _from_bytes(data[pos + 2:pos + 2 + data[pos + 1]], 'big', signed=True)",
            "    log(0)",
            "    pos += 2 + data[pos + 1]",
            *indent(mapped),
            "else:",
            *indent(parse_fallback(self, code, target, limit)),
        ]

    def _inline_build(self, code, value):
        table = ref(code, tuple(bytes((self.tag, 1, n)) for n in range(0x80)))
        content = fresh(code, "c")
        free = plan_free(code)
        unplanned = "" if free else "(s >= plen or not plan[s]) and "
        count = [] if free else ["    s += 1"]
        return [
            f"if {unplanned}isinstance({value}, int) and 0 <= {value} < 128:",
            f"    out += {table}[{value}]",
            *count,
            # a plain non-negative int of several octets: encode_integer's content, short form
            f"elif {unplanned}{value}.__class__ is int and 0 <= {value} "
            f"and {value}.bit_length() < 1008:",  # under 128 content octets
            f"    {content} = {value}.to_bytes({value}.bit_length() // 8 + 1, 'big', signed=True)",
            f"    out.append({self.tag})",
            f"    out.append(len({content}))",
            f"    out += {content}",
            *count,
            "else:",
            *indent(build_fallback(self, code, value)),
        ]


class DerEnumerated(DerInteger):
    """ENUMERATED: the same content rules as INTEGER, universal tag 0x0A."""

    what = "ENUMERATED"

    def __init__(self, tag: int = 0x0A, cls: Callable[[int], Any] | None = None):
        super().__init__(tag, cls)


class DerNull(_Leaf):
    """NULL; parses to None (e.g. CS02b ``commandAccepted``)."""

    what = "NULL"

    def __init__(self, tag: int = 0x05):
        super().__init__(tag)

    def _read(self, io_, path):
        return read_null(io_, self.tag, path)

    def _build(self, obj, stream, context, path):
        write_primitive(stream, self.tag, b"")
        return obj

    def _emitparse(self, code):
        prelude(code)
        return f"_der.read_null(io, {self.tag}, None)"

    def _emitbuild(self, code):
        prelude(code)
        return f"_der.write_primitive(io, {self.tag}, b'')"

    def _inline_parse(self, code, target, limit):
        return [
            f"if pos + 2 <= {limit} and data[pos] == {self.tag} and data[pos + 1] == 0:",
            f"    {target} = None",
            "    log(0)",
            "    pos += 2",
            "else:",
            *indent(parse_fallback(self, code, target, limit)),
        ]

    def _inline_build(self, code, value):
        if plan_free(code):  # what write_primitive writes without a plan
            return [f"out += {bytes((self.tag, 0))!r}"]
        return [
            "if s >= plen or not plan[s]:",
            f"    out += {bytes((self.tag, 0))!r}",
            "    s += 1",
            "else:",
            *indent(build_fallback(self, code, value)),
        ]


class DerOctetString(_Leaf):
    """OCTET STRING, optionally of a fixed size (entity ids and key identifiers are 8 octets)."""

    what = "OCTET STRING"

    def __init__(self, tag: int = 0x04, size: int | None = None):
        super().__init__(tag)
        self.size = size

    def _read(self, io_, path):
        return read_octets(io_, self.tag, self.size, path, self.what)

    def _build(self, obj, stream, context, path):
        _check_size(obj, self.size, path)
        write_primitive(stream, self.tag, bytes(obj))
        return obj

    def _emitparse(self, code):
        prelude(code)
        return f"_der.read_octets(io, {self.tag}, {self.size!r}, None, 'OCTET STRING')"

    def _emitbuild(self, code):
        prelude(code)
        return f"(_der._check_size(obj, {self.size!r}, None), _der.write_primitive(io, {self.tag}, bytes(obj)))"

    def _inline_parse(self, code, target, limit):
        tag, size = self.tag, self.size
        if size is not None and size < 0x80:
            fast = [f"if pos + {2 + size} <= {limit} and data[pos] == {tag} and data[pos + 1] == {size}:",
                    f"    {target} = data[pos + 2:pos + {2 + size}]",
                    "    log(0)",
                    f"    pos += {2 + size}"]
        elif size is None:
            fast = [f"if pos + 2 <= {limit} and data[pos] == {tag} and data[pos + 1] < 128 "
                    f"and pos + 2 + data[pos + 1] <= {limit}:",
                    f"    {target} = data[pos + 2:pos + 2 + data[pos + 1]]",
                    "    log(0)",
                    "    pos += 2 + data[pos + 1]"]
        else:
            return parse_fallback(self, code, target, limit)
        return [*fast, "else:", *indent(parse_fallback(self, code, target, limit))]

    def _inline_build(self, code, value):
        size = self.size
        if size is None or size >= 0x80:
            return build_fallback(self, code, value)
        free = plan_free(code)
        return [
            f"if {'' if free else '(s >= plen or not plan[s]) and '}{value}.__class__ is bytes "
            f"and len({value}) == {size}:",
            f"    out += {bytes((self.tag, size))!r}",
            f"    out += {value}",
            *([] if free else ["    s += 1"]),
            "else:",
            *indent(build_fallback(self, code, value)),
        ]


def _check_size(obj: bytes, size: int | None, path: str | None) -> None:
    if size is not None and len(obj) != size:
        raise CodecError(f"OCTET STRING must be {size} octets, got {len(obj)}", None, path)


class DerNamedBits(_Leaf):
    """BIT STRING with named bits (X.509 KeyUsage) mapped to an ``IntFlag`` class."""

    what = "BIT STRING"

    def __init__(self, cls: type[enum.IntFlag], tag: int = 0x03):
        super().__init__(tag)
        self.cls = cls

    def _read(self, io_, path):
        return read_named_bits(io_, self.tag, self.cls, path)

    def _build(self, obj, stream, context, path):
        write_primitive(stream, self.tag, encode_named_bits(obj))
        return obj

    def _emitparse(self, code):
        prelude(code)
        return f"_der.read_named_bits(io, {self.tag}, {ref(code, self.cls)}, None)"

    def _emitbuild(self, code):
        prelude(code)
        return f"_der.write_primitive(io, {self.tag}, _der.encode_named_bits(obj))"

    def _inline_parse(self, code, target, limit):
        cache = ref(code, named_bits_cache(self.cls))
        return [
            f"if pos + 2 <= {limit} and data[pos] == {self.tag} and (n := data[pos + 1]) < 128 "
            f"and pos + 2 + n <= {limit}:",
            f"    {target} = {cache}.get(data[pos + 2:pos + 2 + n])",
            "else:",
            f"    {target} = None",
            f"if {target} is None:",
            *indent(parse_fallback(self, code, target, limit)),
            "else:",
            "    log(0)",
            "    pos += 2 + data[pos + 1]",
        ]

    def _inline_build(self, code, value):
        # whole elements of the flag class's members (every key usage in use), by value
        elements = {}
        for member in self.cls:
            content = encode_named_bits(member)
            if len(content) < 0x80:
                elements[int(member)] = bytes((self.tag, len(content))) + content
        table = ref(code, elements)
        element = fresh(code, "b")
        free = plan_free(code)
        return [
            f"{element} = {table}.get({value}) if {'' if free else '(s >= plen or not plan[s]) and '}"
            f"isinstance({value}, int) else None",
            f"if {element} is not None:",
            f"    out += {element}",
            *([] if free else ["    s += 1"]),
            "else:",
            *indent(build_fallback(self, code, value)),
        ]


class DerGeneralizedTime(_Leaf):
    """GeneralizedTime ``YYYYMMDDHHMMSSZ`` as an aware UTC ``datetime``."""

    what = "GeneralizedTime"

    def __init__(self, tag: int = 0x18):
        super().__init__(tag)

    def _read(self, io_, path):
        return read_generalized_time(io_, self.tag, path)

    def _build(self, obj, stream, context, path):
        write_generalized_time(stream, self.tag, obj)
        return obj

    def _emitparse(self, code):
        prelude(code)
        return f"_der.read_generalized_time(io, {self.tag}, None)"

    def _emitbuild(self, code):
        prelude(code)
        return f"_der.write_generalized_time(io, {self.tag}, obj)"


class DerRaw(_Leaf):
    """A whole element kept as its bytes (X.509 certificates, PKCS#10 requests).

    Certificates are parsed by ``cryptography`` when needed, never on the codec's hot path.
    """

    def __init__(self, tag: int = 0x30, what: str = "Certificate"):
        super().__init__(tag)
        self.what = what

    def _read(self, io_, path):
        return read_raw_element(io_, self.tag, path, self.what)

    def _build(self, obj, stream, context, path):
        try:
            write_raw_element(stream, self.tag, obj, self.what)
        except CodecError as err:
            raise CodecError(err.reason, None, path) from None
        return obj

    def _emitparse(self, code):
        prelude(code)
        return f"_der.read_raw_element(io, {self.tag}, None, {self.what!r})"

    def _emitbuild(self, code):
        prelude(code)
        return f"_der.write_raw_element(io, {self.tag}, obj, {self.what!r})"

    def _inline_build(self, code, value):
        checked = ref(code, _CHECKED_RAW)
        return [
            f"if {value}.__class__ is bytes and ({self.tag}, {value}) in {checked}:",  # checked before: as is
            f"    out += {value}",
            "else:",
            *indent(build_fallback(self, code, value)),
        ]

    def _inline_parse(self, code, target, limit):
        stop = fresh(code, "z")
        return [
            f"if pos + 4 <= {limit} and data[pos] == {self.tag} and data[pos + 1] == 130 "
            f"and pos + 4 + (data[pos + 2] << 8 | data[pos + 3]) <= {limit}:",
            f"    {stop} = pos + 4 + (data[pos + 2] << 8 | data[pos + 3])",
            f"    {target} = data[pos:{stop}]",
            f"    pos = {stop}",
            "else:",
            *indent(parse_fallback(self, code, target, limit)),
        ]


class OpaqueRest(_Leaf):
    """The rest of the current region as bytes (payloads of use cases we do not type)."""

    what = "payload"

    def __init__(self):
        super().__init__(-1)

    def _read(self, io_, path):
        return read_rest(io_)

    def _build(self, obj, stream, context, path):
        write_raw(stream, obj)
        return obj

    def _emitparse(self, code):
        prelude(code)
        return "_der.read_rest(io)"

    def _emitbuild(self, code):
        prelude(code)
        return "_der.write_raw(io, obj)"


#: distinct contents kept per interned sequence schema (GBCS has a few dozen trust anchor cells)
INTERNED_MAX = 256
#: distinct contents kept per memoised SEQUENCE OF (a rig sends a few certificate sets at a time)
MEMO_MAX = 64


def closed_set(sc: Construct) -> bool:
    """``sc`` decodes to one of a few values: an enumerated INTEGER, named bits, NULL, or one of
    those with a DEFAULT or OPTIONAL."""
    if isinstance(sc, (DerDefault, DerOptional)):
        return closed_set(sc.subcon)
    return isinstance(sc, DerNamedBits | DerNull) or (isinstance(sc, DerInteger) and sc.cls is not None)


class DerSequence(Construct):
    """SEQUENCE (or an implicitly tagged SEQUENCE) decoded straight into a dataclass.

    ``fields`` are ``(attribute, construct)`` pairs in encoding order; an attribute of ``None``
    parses an element that is not stored (a NULL marker). Building reads the attributes back.
    """

    def __init__(self, cls: type, *fields: tuple[str | None, Construct], tag: int = 0x30, what: str | None = None,
                 memo: bool = False):
        super().__init__()
        self.cls = cls
        self.fields = fields
        self.tag = tag
        self.what = what or cls.__name__
        #: ``memo``: instances its users hand out again and again (the emulator's replacement
        #: outcomes and floors, the same on every command of a fleet) get the element cache that
        #: interned sequences have: per instance, never per equal value (an equal value of other
        #: field types, ``0.0`` for ``0``, must still meet the builder's own checks)
        self.memo = memo
        #: content octets -> (instance, its length log), for ``interned`` sequences (compiled only)
        self._instances: dict[bytes, tuple[Any, tuple[int, ...]]] = {}
        #: ``id`` of an instance -> (the instance, its element), for ``interned`` sequences built
        #: without a plan (compiled only)
        self._encodings: dict[int, tuple[Any, bytes]] = {}

    def _parse(self, stream, context, path):
        start = stream.pos
        end = enter(stream, self.tag, path, self.what)
        values = {}
        for name, sc in self.fields:
            value = sc._parsereport(stream, context, join_path(path, name or sc.__class__.__name__))
            if name:
                values[name] = value
        pop_region(stream, end, path, self.what)
        obj = self.cls(**values)
        trace(stream, start, path, obj)
        return obj

    def _build(self, obj, stream, context, path):
        child = open_element(stream)
        for name, sc in self.fields:
            sc._build(getattr(obj, name) if name else None, child, context, join_path(path, name or "-"))
        close_element(stream, child, self.tag)
        return obj

    def _emitparse(self, code):
        return parse_function(code, self)

    def _emitbuild(self, code):
        return build_function(code, self)

    def _inline_parse(self, code, target, limit):
        end = fresh(code, "e")
        lines = header_lines(code, self.tag, self.what, end, limit)
        pairs = []
        body = []
        for name, sc in self.fields:
            value = fresh(code, "v")
            body += parse_lines(sc, code, value, end)
            if name:
                pairs.append((name, value))
        body += close_lines(end, self.what)
        body += construct_lines(code, self.cls, pairs, target)
        if not self.interned:
            return lines + body
        # a value from a small closed set (a trust anchor cell): one instance per content,
        # reused when the same content octets come again; only contents whose every length
        # was short are kept, so a reuse logs exactly the zeros the parse logged
        cache, key, hit, mark = ref(code, self._instances), fresh(code, "c"), fresh(code, "h"), fresh(code, "n")
        return [
            *lines,
            f"{key} = data[pos:{end}]",
            f"{hit} = {cache}.get({key})",
            f"if {hit} is not None:",
            f"    {target} = {hit}[0]",
            f"    io.lenlog.extend({hit}[1])",
            f"    pos = {end}",
            "else:",
            f"    {mark} = len(io.lenlog)",
            *indent(body),
            f"    if len({cache}) < {INTERNED_MAX} and not any(io.lenlog[{mark}:]):",
            *([f"        {target} = {ref(code, self.cls.canonical)}({target})"]
              if hasattr(self.cls, "canonical") else []),
            f"        {cache}[{key}] = ({target}, tuple(io.lenlog[{mark}:]))",
        ]

    @property
    def interned(self) -> bool:
        """Every field is drawn from a closed set (enumerations, named bits), so the distinct
        values are few and immutable instances can be shared."""
        params = getattr(self.cls, "__dataclass_params__", None)
        return bool(params is not None and params.frozen and all(closed_set(sc) for _, sc in self.fields))

    def _inline_build(self, code, value):
        mark, slot = fresh(code, "m"), fresh(code, "k")
        free = plan_free(code)
        lines = open_lines(code, self.tag, mark, slot)
        for name, sc in self.fields:
            field = fresh(code, "v")
            lines.append(f"{field} = {value}.{name}" if name else f"{field} = None")
            lines += build_lines(sc, code, field)
        lines += wrap_lines(code, self.tag, mark, slot)
        if not (free and (self.interned or self.memo)):
            return lines
        # a value from a small closed set (a trust anchor cell), or a ``memo`` instance, without a
        # plan: its element, once written, is kept per instance and appended as it is when the
        # same instance comes again.
        # Kept only for an instance of the frozen class itself whose content is under 128 octets:
        # every length in it is then short, whatever the style. The cache pins each instance it
        # holds (so an id is not reused while its entry exists) and is emptied when full.
        cache, hit = ref(code, self._encodings), fresh(code, "h")
        return [
            f"{hit} = {cache}.get(id({value}))",
            f"if {hit} is not None and {hit}[0] is {value}:",
            f"    out += {hit}[1]",
            "else:",
            *indent(lines),
            f"    if {value}.__class__ is {ref(code, self.cls)} and len(out) - {mark} < 128:",
            f"        if len({cache}) >= {INTERNED_MAX}:",
            f"            {cache}.clear()",
            f"        {cache}[id({value})] = ({value}, bytes(out[{mark} - 2:]))",
        ]


class DerSequenceOf(Construct):
    """SEQUENCE OF ``item`` as a tuple (construct's GreedyRange does not compile; this does).

    With ``into=(cls, attribute)`` the tuple is wrapped as ``cls(attribute=items)``: a payload
    that *is* a SEQUENCE OF (the CS02a response) still decodes to a named dataclass.
    """

    def __init__(self, item: Construct, tag: int = 0x30, what: str = "SEQUENCE OF",
                 into: tuple[type, str] | None = None, memo: bool = False):
        super().__init__()
        self.item = item
        self.tag = tag
        self.what = what
        self.into = into
        self.cls = into[0] if into else tuple
        #: ``memo``: the same content octets come again and again (a fleet's replacement
        #: certificates and certification path), so the compiled parser keeps content octets ->
        #: (the tuple, its length log) and hands the same immutable tuple back. Only for items
        #: that decode to immutable values (bytes, frozen dataclasses).
        self.memo = memo
        self._memo: dict[bytes, tuple[Any, tuple[int, ...]]] = {}

    def _parse(self, stream, context, path):
        start = stream.pos
        end = enter(stream, self.tag, path, self.what)
        items = []
        while stream.pos < end:
            items.append(self.item._parsereport(stream, context, join_path(path, f"[{len(items)}]")))
        pop_region(stream, end, path, self.what)
        value = tuple(items)
        if self.into:
            value = self.into[0](**{self.into[1]: value})
        trace(stream, start, path, value)
        return value

    def _build(self, obj, stream, context, path):
        if self.into:
            obj = getattr(obj, self.into[1])
        child = open_element(stream)
        for index, item in enumerate(obj):
            self.item._build(item, child, context, join_path(path, f"[{index}]"))
        close_element(stream, child, self.tag)
        return obj

    def _emitparse(self, code):
        return parse_function(code, self)

    def _emitbuild(self, code):
        return build_function(code, self)

    def _inline_parse(self, code, target, limit):
        end, items, item = fresh(code, "e"), fresh(code, "items"), fresh(code, "w")
        lines = header_lines(code, self.tag, self.what, end, limit)
        body = [f"{items} = []", f"while pos < {end}:"]
        body += indent([*parse_lines(self.item, code, item, end), f"{items}.append({item})"])
        body += close_lines(end, self.what)
        if self.into:
            body.append(f"{target} = {ref(code, self.into[0])}({self.into[1]}=tuple({items}))")
        else:
            body.append(f"{target} = tuple({items})")
        if not self.memo:
            return lines + body
        # the value is a function of the content octets alone; a hit replays the lengths the
        # parse logged. Kept only when the parse met no non-minimal length (the flag is
        # frame-wide and a hit must leave it as the parse would); emptied when full
        cache, key, hit, mark = ref(code, self._memo), fresh(code, "c"), fresh(code, "h"), fresh(code, "n")
        return [
            *lines,
            f"{key} = data[pos:{end}]",
            f"{hit} = {cache}.get({key})",
            f"if {hit} is not None:",
            f"    {target} = {hit}[0]",
            f"    io.lenlog.extend({hit}[1])",
            f"    pos = {end}",
            "else:",
            f"    {mark} = len(io.lenlog)",
            *indent(body),
            "    if not io.nonminimal:",
            f"        if len({cache}) >= {MEMO_MAX}:",
            f"            {cache}.clear()",
            f"        {cache}[{key}] = ({target}, tuple(io.lenlog[{mark}:]))",
        ]

    def _inline_build(self, code, value):
        mark, slot, item = fresh(code, "m"), fresh(code, "k"), fresh(code, "i")
        seq = f"{value}.{self.into[1]}" if self.into else value
        lines = [*open_lines(code, self.tag, mark, slot), f"for {item} in {seq}:"]
        lines += indent(build_lines(self.item, code, item))
        return lines + wrap_lines(code, self.tag, mark, slot)


class DerOptional(Construct):
    """OPTIONAL element recognised by its tag; None when absent (DER omits absent elements)."""

    flagbuildnone = True

    def __init__(self, subcon: Construct):
        super().__init__()
        self.subcon = subcon
        self.tag = subcon.tag

    def _parse(self, stream, context, path):
        if peek_byte(stream) != self.tag:
            return None
        return self.subcon._parsereport(stream, context, path)

    def _build(self, obj, stream, context, path):
        if obj is not None:
            self.subcon._build(obj, stream, context, path)
        return obj

    def _emitparse(self, code):
        prelude(code)
        return f"({self.subcon._compileparse(code)} if peek_byte(io) == {self.tag} else None)"

    def _emitbuild(self, code):
        return f"({self.subcon._compilebuild(code)} if obj is not None else None)"

    def _inline_parse(self, code, target, limit):
        return [
            f"if pos < {limit} and data[pos] == {self.tag}:",
            *indent(parse_lines(self.subcon, code, target, limit)),
            "else:",
            f"    {target} = None",
        ]

    def _inline_build(self, code, value):
        return [f"if {value} is not None:", *indent(build_lines(self.subcon, code, value))]


class DerDefault(Construct):
    """Element with a DEFAULT: absent means the default; an explicit default is not DER."""

    def __init__(self, subcon: Construct, default: Any):
        super().__init__()
        self.subcon = subcon
        self.tag = subcon.tag
        self.default = default

    def _parse(self, stream, context, path):
        if peek_byte(stream) != self.tag:
            return self.default
        start = stream.pos
        value = self.subcon._parsereport(stream, context, path)
        return check_not_default(value, self.default, start, path)

    def _build(self, obj, stream, context, path):
        if obj != self.default:
            self.subcon._build(obj, stream, context, path)
        return obj

    def _emitparse(self, code):
        default = ref(code, self.default)
        lines = [
            f"if peek_byte(io) != {self.tag}:",
            f"    return {default}",
            "start = io.pos",
            f"return _der.check_not_default({self.subcon._compileparse(code)}, {default}, start, None)",
        ]
        return define(code, "parse_default", lines, "io, this") + "(io, this)"

    def _emitbuild(self, code):
        default = ref(code, self.default)
        return f"({self.subcon._compilebuild(code)} if obj != {default} else None)"

    def _inline_parse(self, code, target, limit):
        default, start = ref(code, self.default), fresh(code, "t")
        return [
            f"if pos < {limit} and data[pos] == {self.tag}:",
            f"    {start} = pos",
            *indent(parse_lines(self.subcon, code, target, limit)),
            f"    if {target} == {default}:",
            f"        _der.check_not_default({target}, {default}, {start}, None)",
            "else:",
            f"    {target} = {default}",
        ]

    def _inline_build(self, code, value):
        default = ref(code, self.default)
        return [f"if {value} != {default}:", *indent(build_lines(self.subcon, code, value))]


class DerChoice(Construct):
    """CHOICE between alternatives told apart by tag, into a dataclass with one field set.

    ``alternatives`` are ``(attribute, construct)``; the dataclass must default every attribute
    to None. Building encodes the first attribute that is not None.
    """

    def __init__(self, cls: type, *alternatives: tuple[str, Construct]):
        super().__init__()
        self.cls = cls
        self.alternatives = alternatives
        self.tags = tuple(sc.tag for _, sc in alternatives)

    def _parse(self, stream, context, path):
        tag = peek_byte(stream)
        for name, sc in self.alternatives:
            if tag == sc.tag:
                return self.cls(**{name: sc._parsereport(stream, context, join_path(path, name))})
        raise choice_error(stream, self.tags, path)

    def _build(self, obj, stream, context, path):
        for name, sc in self.alternatives:
            value = getattr(obj, name)
            if value is not None:
                sc._build(value, stream, context, join_path(path, name))
                return obj
        raise CodecError(f"{self.cls.__name__} has no alternative set", None, path)

    def _emitparse(self, code):
        cls = ref(code, self.cls)
        lines = ["tag = peek_byte(io)"]
        for name, sc in self.alternatives:
            lines.append(f"if tag == {sc.tag}:")
            lines.append(f"    return {cls}({name}={sc._compileparse(code)})")
        lines.append(f"raise _der.choice_error(io, {self.tags!r}, None)")
        return define(code, "parse_choice", lines, "io, this") + "(io, this)"

    def _emitbuild(self, code):
        lines = ["rec = obj"]
        for name, sc in self.alternatives:
            lines.append(f"if rec.{name} is not None:")
            lines.append(f"    obj = rec.{name}")
            lines.append(f"    {sc._compilebuild(code)}")
            lines.append("    return rec")
        lines.append(f"raise CodecError('{self.cls.__name__} has no alternative set', None, None)")
        return define(code, "build_choice", lines, "obj, io, this") + "(obj, io, this)"
