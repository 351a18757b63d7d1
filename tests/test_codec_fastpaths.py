"""The compiled codec's inline fast paths against the interpreted codec, form by form.

The compiled codec reads and writes the usual forms in place (short lengths, ``81 ll`` and
``82 hh ll``, one-octet and minimal multi-octet INTEGERs, fixed-size OCTET STRINGs, certificates,
the usual frame and grouping header, shared trust anchor cell instances) and hands everything
else to the helpers both codecs share. These tests drive every length of real CS02 frames through
short, one-octet and two-octet forms, and every byte of a response and a command through values
that break the usual forms, and require the compiled codec to give exactly what the interpreted
one gives: the same message, length log and layout, or the same error.
"""

from __future__ import annotations

import random

import pytest

from rig.gbcs import GbcsDecodeError, decode, encode
from rig.gbcs.codec import FRAME, encode_with_layout
from rig.gbcs.streams import ParseStream

from .vectors import FIXTURE_SAMPLES, read_hex, rtds_files

FRAMES = {p.stem: read_hex(p) for p in sorted(FIXTURE_SAMPLES.glob("CS02*.hex"))}
FRAMES.update({p.name: read_hex(p) for p in rtds_files("*CS02*/*.HEX")})


def outcome(data: bytes, interpreted: bool):
    """What a decode gives, comparable across the two codecs (errors included)."""
    try:
        message = decode(data, interpreted=interpreted)
    except GbcsDecodeError as err:
        return ("error", err.reason, err.path, err.offset)
    return message, message.length_forms, message.layout


def length_count(data: bytes) -> int:
    stream = ParseStream(data)
    FRAME._parse(stream, None, "frame")
    return len(stream.lenlog)


def relengthed(data: bytes, rng: random.Random) -> bytes:
    """``data`` re-encoded with every length in a random form: short where it fits, 81 or 82."""
    message = decode(data)
    plan = tuple(rng.choice((0, 0, 1, 2)) for _ in range(length_count(data)))
    return encode(message.evolve(length_forms=plan))


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_every_length_form_decodes_and_encodes_as_the_interpreted_codec_does(name):
    rng = random.Random(name)
    data = FRAMES[name]
    assert outcome(data, False) == outcome(data, True)
    forms_seen = set()
    for _ in range(12):
        variant = relengthed(data, rng)
        compiled, interpreted = outcome(variant, False), outcome(variant, True)
        assert compiled == interpreted
        message, forms, layout = compiled
        forms_seen.update(forms or ())
        assert encode(message) == variant  # the recorded forms come back byte for byte
        assert encode_with_layout(message) == encode_with_layout(message, interpreted=True)
        assert (layout.length, layout.payload_end) == (len(variant), encode_with_layout(message)[1].payload_end)
    assert {1, 2} <= forms_seen  # the variants did reach the long forms


@pytest.mark.parametrize("name", sorted(FRAMES))
@pytest.mark.parametrize("style", [0, 2])
def test_typed_encode_matches_the_interpreted_builder(name, style):
    message = decode(FRAMES[name]).evolve(length_forms=None)
    compiled = encode_with_layout(message, payload_long_form_width=style)
    assert compiled == encode_with_layout(message, payload_long_form_width=style, interpreted=True)
    assert decode(compiled[0]) == message


def _certificate_spans(data: bytes) -> list[range]:
    """Offsets inside certificate contents (opaque to the codec: mutating them shows nothing)."""
    payload = decode(data).payload
    blobs = [r.certificate for r in getattr(payload, "replacements", ())]
    blobs += list(getattr(payload, "certification_path", ()))
    spans = []
    for blob in blobs:
        at = data.find(blob)
        spans.append(range(at + 4, at + len(blob)))
    return spans


BREAKERS = (0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0xFF)


@pytest.mark.parametrize("name", ["CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_RESPONSE",
                                  "CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_COMMAND",
                                  "CS02bSupplierByTransCoS_8F66_FUTURE_DATED_SUCCESS_ALERT"])
def test_every_byte_broken_and_every_cut_fails_or_decodes_as_the_interpreted_codec_does(name):
    data = FRAMES[name]
    skip = _certificate_spans(data) if "COMMAND" in name else []
    decoded = 0
    for offset in range(len(data)):
        if any(offset in span for span in skip):
            continue
        cut = data[:offset]
        assert outcome(cut, False) == outcome(cut, True), f"cut at {offset}"
        for value in (*BREAKERS, data[offset] ^ 0x01):
            if value == data[offset]:
                continue
            broken = data[:offset] + bytes((value,)) + data[offset + 1:]
            compiled = outcome(broken, False)
            assert compiled == outcome(broken, True), f"0x{value:02X} at {offset}"
            if compiled[0] != "error":
                decoded += 1
                assert encode(compiled[0]) == broken
    assert decoded  # some breakers are still valid frames: the accepting paths were compared too


def test_shared_cell_instances_keep_their_length_log():
    """A cell decoded once in the short form is shared; the same content under a long-form
    header, and a cell whose own content has a long form, still log their lengths."""
    name = "CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_RESPONSE"
    data = FRAMES[name]
    first, second = decode(data), decode(data)
    cells = [o.cell for o in first.payload.execution_outcome.outcomes]
    again = [o.cell for o in second.payload.execution_outcome.outcomes]
    assert cells == again and all(a is b for a, b in zip(cells, again, strict=True))  # shared
    count = length_count(data)
    for slot in range(count):  # one length at a time in the two-octet form
        plan = tuple(2 if index == slot else 0 for index in range(count))
        variant = encode(first.evolve(length_forms=plan))
        assert outcome(variant, False) == outcome(variant, True)
        decoded = decode(variant)
        assert decoded.length_forms[slot] == 2 and encode(decoded) == variant
