"""Compiled and interpreted codecs side by side (see ``docs/reference/construct-perf.md``).

The compiled schema is the hot path. Compiled code carries no field paths, so when it fails the
input is parsed again by the interpreted schema, whose error names the field path and the byte
offset. Should the interpreted schema accept what the compiled one rejected, that is a codec bug
and is reported as such rather than hidden.
"""

from __future__ import annotations

import threading
from typing import Any

from construct import Construct

from .bytecode_cache import compile_schema
from .der import OpaqueRest
from .errors import GbcsDecodeError, GbcsEncodeError
from .fields import check_ciphering_fields
from .frame import Frame, payload_key
from .message import FrameLayout, MacHeader, Message
from .registry import PAYLOAD_SCHEMAS
from .streams import BuildState, BuildStream, CodecError, ParseStream, encode_length

#: the interpreted schema (error messages, annotation, differential tests)
FRAME = Frame(PAYLOAD_SCHEMAS, OpaqueRest())

_lock = threading.Lock()
_compiled: Construct | None = None


def compiled_frame() -> Construct:
    """The compiled schema, compiled once per process on first use (its bytecode cached on disk
    across processes: ``bytecode_cache``)."""
    global _compiled
    if _compiled is None:
        with _lock:
            if _compiled is None:
                _compiled = compile_schema(FRAME)
    return _compiled


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise GbcsDecodeError(f"expected bytes, got {type(data).__name__}", "", None)


def _diagnose(data: bytes, first: BaseException | None) -> GbcsDecodeError:
    """Re-parse interpreted to explain a failure with the field path and offset."""
    stream = ParseStream(data)
    try:
        FRAME._parse(stream, None, "frame")
    except CodecError as err:
        return GbcsDecodeError(err.reason, err.field_path or "", err.offset)
    except Exception as err:
        return GbcsDecodeError(f"unexpected decoder failure: {err!r}", "", stream.pos)
    return GbcsDecodeError(
        f"compiled codec rejected input the interpreted codec accepts ({first!r}): codec bug",
        "", None,
    )


def decode(data: bytes, *, interpreted: bool = False) -> Message:
    """Decode one GBCS message. Raises only ``GbcsDecodeError``."""
    if data.__class__ is not bytes:
        data = _as_bytes(data)
    stream = ParseStream(data)
    try:
        if interpreted:
            return FRAME._parse(stream, None, "frame")
        return (_compiled or compiled_frame()).parsefunc(stream, None)
    except Exception as err:
        if isinstance(err, CodecError) and interpreted:
            raise GbcsDecodeError(err.reason, err.field_path or "", err.offset) from None
        raise _diagnose(data, err) from None


def decode_traced(data: bytes) -> tuple[Message, list[tuple[int, int, str, Any]]]:
    """Interpreted decode that also returns ``(start, end, path, value)`` for every field."""
    data = _as_bytes(data)
    stream = ParseStream(data)
    stream.trace = []
    try:
        message = FRAME._parse(stream, None, "frame")
    except CodecError as err:
        raise GbcsDecodeError(err.reason, err.field_path or "", err.offset) from None
    except Exception as err:
        raise _diagnose(data, err) from None
    return message, stream.trace


def encode_with_layout(msg: Message, *, payload_long_form_width: int = 0,
                       interpreted: bool = False) -> tuple[bytes, FrameLayout]:
    """Encode and return the offsets of the signed and MACed ranges.

    ``payload_long_form_width=2`` writes every payload length >= 128 as ``82 hh ll``, the style
    of the RTDS devices; lengths recorded in ``msg.length_forms`` (a decoded message) win.
    A MACed message with ``mac=None`` gets a 12-byte zero placeholder for ``rig.crypto`` to fill.
    """
    buffer, layout = encode_buffer(msg, payload_long_form_width, interpreted)
    return bytes(buffer), layout


def encode_buffer(msg: Message, payload_long_form_width: int = 0,
                  interpreted: bool = False) -> tuple[bytearray, FrameLayout]:
    """``encode_with_layout``'s frame as the builder's own ``bytearray``, not yet copied: for a
    caller that patches the frame before it copies it once (``rig.crypto.seal`` writes the
    signature in place). The same bytes, layout and errors as ``encode_with_layout``."""
    if msg.__class__ is not Message and not isinstance(msg, Message):
        raise GbcsEncodeError(f"expected a Message, got {type(msg).__name__}")
    stream = BuildStream(BuildState(msg.length_forms, payload_long_form_width))
    try:
        if interpreted:
            layout = FRAME._build(msg, stream, None, "frame")
        else:
            layout = (_compiled or compiled_frame()).buildfunc(msg, stream, None)
    except CodecError as err:
        raise GbcsEncodeError(str(err)) from None
    except (TypeError, ValueError, AttributeError, OverflowError) as err:
        raise GbcsEncodeError(f"cannot encode message: {err}") from None
    buffer = stream.buffer
    payload = msg.payload
    if isinstance(payload, _RAW) and payload_key(msg.cra_flag, msg.message_code) in PAYLOAD_SCHEMAS:
        # raw bytes under a typed message code: written as given, so check decode takes them
        try:
            decode(bytes(buffer))
        except GbcsDecodeError as err:
            raise GbcsEncodeError(f"raw payload for message code 0x{msg.message_code:04X} does not decode: "
                                  f"{err}") from None
    return buffer, layout


#: the payload classes written as given (subclasses too, as ``build_frame`` tests them)
_RAW = (bytes, bytearray, memoryview)


def wrap_in_mac_header(frame: bytes, layout: FrameLayout, header: MacHeader) -> tuple[bytes, FrameLayout]:
    """A signed frame without a MAC header (its ``layout`` from ``decode`` or
    ``encode_with_layout``) inside ``header``, with a 12-byte zero MAC for ``rig.crypto`` to fill:
    the bytes ``encode_with_layout`` gives the same message with that MAC header, without
    encoding it again (what the DSP does to a checked pre-command)."""
    if layout.grouping_start != 0 or layout.length != len(frame) or layout.signature_end != len(frame) \
            or layout.signature_end == layout.payload_end:
        raise GbcsEncodeError("only a whole signed frame without a MAC header can be wrapped in one")
    fields = bytes(header.fields)
    try:
        check_ciphering_fields(fields, None, None)
    except CodecError as err:
        raise GbcsEncodeError(str(err)) from None
    body_length = 5 + len(frame) + 12
    head = b"\xdd" + fields + encode_length(body_length) + bytes((header.security_control,)) \
        + header.invocation_counter.to_bytes(4, "big")
    shift = len(head)
    return head + frame + bytes(12), FrameLayout(shift, layout.payload_start + shift, layout.payload_end + shift,
                                                 layout.signature_end + shift, shift + len(frame) + 12)


def encode(msg: Message, *, payload_long_form_width: int = 0, interpreted: bool = False) -> bytes:
    """Encode one GBCS message; ``encode(decode(b)) == b`` for every well-formed frame.

    Raises only ``GbcsEncodeError``, and does so for anything ``decode`` would reject: a frame
    ``encode`` writes always decodes (``tests/fuzz/test_codec_fuzz.py`` holds it to that).
    """
    return encode_with_layout(msg, payload_long_form_width=payload_long_form_width,
                              interpreted=interpreted)[0]
