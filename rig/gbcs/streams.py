"""Byte streams and the length-encoding runtime shared by every codec layer.

Why a stream class of our own: GBCS nests BER/DER length-prefixed regions (the MAC header's
ciphered length, the grouping header's content length, every ASN.1 element). Instead of copying
each region into a fresh substream (what construct's ``Prefixed`` does), the whole frame is read
from one stream that keeps a stack of region ends. Offsets in errors are therefore absolute frame
offsets, which is what a lab engineer needs to find a bad byte in a capture.

Length forms: real devices emit non-minimal long forms (``82 00 9A``). Every length read is logged
(its width: 0 for the short form, else the number of length octets) in pre-order; builders consume
the same log as a plan, so ``encode(decode(b)) == b`` holds byte for byte. A message built from
typed values has no plan and gets minimal DER lengths, or the "long form with two octets for every
length >= 128" style that the RTDS devices use when ``long_form_width=2``.

This module imports nothing of ours and performs no I/O.
"""

from __future__ import annotations

from construct import ConstructError


class CodecError(ConstructError):
    """A decode or encode failure at a known absolute byte offset.

    It derives from construct's ``ConstructError`` so construct's own machinery treats it like any
    other parsing error; ``rig.gbcs.decode`` converts it to ``GbcsDecodeError``.
    """

    def __init__(self, message: str, offset: int | None = None, path: str | None = None):
        self.reason = message
        self.offset = offset
        self.field_path = path
        super().__init__(message, path=path)


class ParseStream:
    """Input cursor over the frame bytes with the region-end stack and the length log.

    Not a file object: every reader in ``rig.gbcs`` works on ``data`` and ``pos`` directly,
    which is what makes the compiled codec fast (no ``tell``/``seek`` method calls).
    """

    __slots__ = ("data", "ends", "lenlog", "nonminimal", "pos", "trace")

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        self.ends: list[int] = [len(data)]
        self.lenlog: list[int] = []
        self.nonminimal = False
        #: when a list, constructs append ``(start, end, path, value)`` for annotation
        self.trace: list | None = None

    def tell(self) -> int:
        return self.pos


class BuildState:
    """Shared state of one encode: the length plan and the style for lengths without a plan.

    ``payload_long_form_width`` is the style requested for payload lengths >= 128 (2 reproduces
    the RTDS devices); frame-level lengths stay minimal, as in every RTDS frame. The frame
    builder switches ``long_form_width`` to it while the payload is built.
    """

    __slots__ = ("long_form_width", "payload_long_form_width", "plan", "slot")

    def __init__(self, plan: tuple[int, ...] | None = None, payload_long_form_width: int = 0):
        self.plan = plan
        self.slot = 0
        self.long_form_width = 0
        self.payload_long_form_width = payload_long_form_width


class BuildStream:
    """Output stream carrying the ``BuildState`` and the plan slot of the element it holds.

    Append-only (``write``, ``tell``, ``getvalue``: all the builders use): a ``bytearray`` with
    slots, because one is made for every length-prefixed element of every message and an
    ``io.BytesIO`` costs several times as much to create.
    """

    __slots__ = ("buffer", "slot", "state")

    def __init__(self, state: BuildState, slot: int = -1):
        self.state = state
        self.slot = slot
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def tell(self) -> int:
        return len(self.buffer)

    def getvalue(self) -> bytes:
        return bytes(self.buffer)


def minimal_width(length: int) -> int:
    """Number of length octets DER requires (0 means the short form)."""
    if length < 0x80:
        return 0
    return (length.bit_length() + 7) // 8


def encode_length(length: int, width: int = 0) -> bytes:
    """BER definite length with the given long-form width (0 = short form when it fits)."""
    need = minimal_width(length)
    if width < need:
        width = need
    if width == 0:
        return bytes((length,))
    return bytes((0x80 | width,)) + length.to_bytes(width, "big")


def read_long_length(io_: ParseStream, at: int, limit: int, path: str | None) -> tuple[int, int]:
    """Long-form length whose first octet is at ``at``; logs it; returns (next offset, value)."""
    data = io_.data
    width = data[at] & 0x7F
    if width == 0:
        raise CodecError("indefinite length (0x80) is not allowed in GBCS", at, path)
    if width > 4:
        raise CodecError(f"length of {width} octets is not supported", at, path)
    if at + 1 + width > limit:
        raise CodecError(f"truncated: {width} length octets expected", at, path)
    length = int.from_bytes(data[at + 1 : at + 1 + width], "big")
    io_.lenlog.append(width)
    if width != minimal_width(length):
        io_.nonminimal = True
    return at + 1 + width, length


def read_length(io_: ParseStream, path: str | None = None) -> int:
    """Read a BER definite length at the current offset, log its form, return the value."""
    start = io_.pos
    limit = io_.ends[-1]
    if start >= limit:
        raise CodecError("truncated: a length octet is missing", start, path)
    first = io_.data[start]
    if first < 0x80:
        io_.pos = start + 1
        io_.lenlog.append(0)
        return first
    io_.pos, length = read_long_length(io_, start, limit, path)
    return length


def push_region(io_: ParseStream, length: int, start: int, path: str | None, what: str) -> int:
    """Open a region of ``length`` bytes at the current offset; return its end offset."""
    end = io_.pos + length
    limit = io_.ends[-1]
    if end > limit:
        raise CodecError(
            f"{what} length {length} overruns the enclosing data by {end - limit} bytes",
            start,
            path,
        )
    io_.ends.append(end)
    return end


def pop_region(io_: ParseStream, end: int, path: str | None, what: str) -> None:
    """Close a region: the content must have been consumed exactly."""
    pos = io_.pos
    if pos != end:
        raise CodecError(f"{end - pos} unparsed bytes at the end of the {what}", pos, path)
    io_.ends.pop()


def read_exact(io_: ParseStream, n: int, path: str | None = None, what: str = "field") -> bytes:
    """Read exactly ``n`` bytes within the current region, or fail with the offset."""
    start = io_.pos
    if start + n > io_.ends[-1]:
        raise CodecError(
            f"truncated: {what} needs {n} bytes, {max(io_.ends[-1] - start, 0)} available",
            start,
            path,
        )
    io_.pos = start + n
    return io_.data[start : start + n]


def peek_byte(io_: ParseStream) -> int | None:
    """The next byte of the current region, or None at its end."""
    pos = io_.pos
    if pos >= io_.ends[-1]:
        return None
    return io_.data[pos]


def trace(io_: ParseStream, start: int, path: str | None, value: object) -> None:
    """Record an annotated field when the stream is tracing (interpreted mode only)."""
    if io_.trace is not None:
        io_.trace.append((start, io_.pos, path or "", value))


def open_element(parent: BuildStream) -> BuildStream:
    """Start building a length-prefixed element; reserves its slot in the plan (pre-order)."""
    state = parent.state
    slot = state.slot
    state.slot = slot + 1
    return BuildStream(state, slot)


def close_element(parent: BuildStream, child: BuildStream, tag: int | None) -> None:
    """Write ``[tag] length body`` for a finished element into its parent."""
    body = child.buffer
    size = len(body)
    state = child.state
    out = parent.buffer
    if tag is not None:
        out.append(tag)
    if size < 0x80 and state.plan is None:
        out.append(size)
    else:
        out += length_at_slot(state, child.slot, size)
    out += body


def length_for(stream: BuildStream, length: int) -> bytes:
    """Encode ``length`` for the element held by ``stream`` following the plan or the style."""
    return length_at_slot(stream.state, stream.slot, length)


def reserve_slot(stream: BuildStream) -> int:
    """Reserve a plan slot for a length written directly into ``stream``."""
    state = stream.state
    slot = state.slot
    state.slot += 1
    return slot


def length_at_slot(state: BuildState, slot: int, length: int) -> bytes:
    """Encode ``length`` for a previously reserved slot (the plan's form, else the style)."""
    plan = state.plan
    if plan is not None and 0 <= slot < len(plan):
        width = plan[slot]
    elif length >= 0x80:
        width = state.long_form_width
    else:
        return bytes((length,))
    if width == 0 and length < 0x80:
        return bytes((length,))
    return encode_length(length, width)
