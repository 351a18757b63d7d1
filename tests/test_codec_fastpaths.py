"""The compiled codec's inline fast paths against the interpreted codec, form by form.

The compiled codec reads and writes the usual forms in place (short lengths, ``81 ll`` and
``82 hh ll``, one-octet and minimal multi-octet INTEGERs, fixed-size OCTET STRINGs, certificates,
the usual frame and grouping header, shared trust anchor cell instances) and hands everything
else to the helpers both codecs share. These tests drive every length of real CS02 frames through
short, one-octet and two-octet forms, and every byte of a response and a command through values
that break the usual forms, and require the compiled codec to give exactly what the interpreted
one gives: the same message, length log and layout, or the same error. Encoding without a plan
(the plan-free builders, the usual-frame builder, the cell element cache, the one-call
date-time) is held to the interpreted builder the same way, bytes, layout or error.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from rig.gbcs import (
    CellUsage,
    CosemDateTime,
    CraFlag,
    Cs02bResponse,
    GbcsDecodeError,
    GbcsEncodeError,
    KeyUsage,
    MacHeader,
    Message,
    RemotePartyRole,
    ReplacementOutcome,
    Supplementary,
    TrustAnchorCellId,
    decode,
    encode,
)
from rig.gbcs import frame as frame_module
from rig.gbcs.codec import FRAME, encode_with_layout
from rig.gbcs.fields import date_time_from_octets, date_time_octets
from rig.gbcs.payloads.cs02 import REPLACEMENT_OUTCOME
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



def test_memoised_replacements_and_path_are_shared_and_keep_their_length_log():
    """The replacements and certification path of a command decoded again are the very tuples
    of the first decode; the same content with a length in another form inside it (which sets
    the frame's non-minimal flag) or around it still logs every length and re-encodes byte for
    byte, and a later usual decode is unaffected."""
    name = "CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_COMMAND"
    data = FRAMES[name]
    first, second = decode(data), decode(data)
    assert first == second == decode(data, interpreted=True)
    for attribute in ("replacements", "certification_path"):
        assert getattr(first.payload, attribute) is getattr(second.payload, attribute)  # shared
    count = length_count(data)
    for slot in range(count):  # one length at a time in the two-octet form, then minimal again
        plan = tuple(2 if index == slot else 0 for index in range(count))
        variant = encode(first.evolve(length_forms=plan))
        for _ in range(2):  # the second decode meets whatever the first one left in the caches
            assert outcome(variant, False) == outcome(variant, True)
            assert encode(decode(variant)) == variant
    assert decode(data).length_forms is None and encode(decode(data)) == data


def test_memoised_outcomes_are_written_from_the_cache_as_they_were_built():
    """Replacement outcomes and floors are written once per instance and appended from the cache
    when the same instance comes again (the emulator hands out shared ones); equal distinct
    instances, a subclass's instances and more instances than the cache holds are all written
    as the interpreted builder writes them."""
    message = _response()
    outcome_ = message.payload.execution_outcome

    class Outcome(ReplacementOutcome):
        pass

    def with_outcomes(outcomes) -> Message:
        return message.evolve(payload=Cs02bResponse(dataclasses.replace(outcome_, outcomes=tuple(outcomes))))

    first = encoded_or_error(message)
    assert encoded_or_error(message) == first == encoded_or_error(message, interpreted=True)
    held = REPLACEMENT_OUTCOME._encodings
    assert all(held[id(o)][0] is o for o in outcome_.outcomes)  # the cache did take them
    variants = [with_outcomes(dataclasses.replace(o) for o in outcome_.outcomes),
                with_outcomes(Outcome(**{f.name: getattr(o, f.name) for f in dataclasses.fields(o)})
                              for o in outcome_.outcomes)]
    variants += [with_outcomes(dataclasses.replace(o, existing_key_id=n.to_bytes(8, "big")) for o in outcome_.outcomes)
                 for n in range(300)]  # past the cache's bound: it is emptied and refilled
    for variant in variants + variants[:5]:
        assert same_result(encoded_or_error(variant), encoded_or_error(variant, interpreted=True))


# -- encoding without a plan: the plan-free builders, the usual-frame builder, the cell cache ---


def encoded_or_error(message, style: int = 0, interpreted: bool = False):
    """What ``encode_with_layout`` gives, comparable across the two codecs (errors included)."""
    try:
        return encode_with_layout(message, payload_long_form_width=style, interpreted=interpreted)
    except GbcsEncodeError as err:
        return ("error", str(err))


@pytest.mark.parametrize("name", sorted(FRAMES))
@pytest.mark.parametrize("style", [1, 3])
def test_plan_free_builders_widen_every_style_as_the_interpreted_builder(name, style):
    """Styles 0 and 2 are above; one-octet and three-octet long forms reach the plan-free
    builders' other branches (``81 ll`` for every length >= 128, ``length_at_slot`` for 3)."""
    message = decode(FRAMES[name]).evolve(length_forms=None)
    assert same_result(encoded_or_error(message, style), encoded_or_error(message, style, interpreted=True))


def _response() -> Message:
    return decode(FRAMES["CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_RESPONSE"]).evolve(length_forms=None)


def _unusual_frames(message: Message) -> list[Message]:
    """Variants of a usual signed frame that the usual-frame builder must hand to the shared
    one (each condition it checks, failing once), well-formed and malformed alike."""
    outcome_ = message.payload.execution_outcome
    return [
        message,
        message.evolve(signature=None),
        message.evolve(signature=bytes(range(64))),
        message.evolve(signature=bytearray(64)),
        message.evolve(signature=bytes(63)),
        message.evolve(precommand=True, signature=None),
        message.evolve(precommand=True),
        message.evolve(mac_header=MacHeader()),
        message.evolve(mac_header=MacHeader(), mac=bytes(range(12))),
        message.evolve(mac=bytes(12)),
        message.evolve(supplementary=Supplementary(bytes(8))),
        message.evolve(cra_flag=int(message.cra_flag)),
        message.evolve(cra_flag=CraFlag(9)),
        message.evolve(cra_flag=CraFlag.ALERT),
        message.evolve(message_code=0x10000),
        message.evolve(message_code=-1),
        message.evolve(message_code=0x0999),
        message.evolve(originator_counter=1 << 64),
        message.evolve(originator_counter=-1),
        message.evolve(originator_counter=True),
        message.evolve(originator_id=bytearray(message.originator_id)),
        message.evolve(originator_id=bytes(7)),
        message.evolve(recipient_id=bytes(9)),
        message.evolve(recipient_id="12345678"),
        message.evolve(date_time=None),
        message.evolve(date_time=CosemDateTime(70000, 1, 1)),
        message.evolve(date_time=CosemDateTime(2026, 256, 1)),
        message.evolve(date_time="now"),
        message.evolve(payload=b"\x30\x00"),
        message.evolve(payload=outcome_),
        message.evolve(payload=Cs02bResponse(None)),
        message.evolve(payload=Cs02bResponse(dataclasses.replace(outcome_, seq_number=-5))),
        message.evolve(payload=Cs02bResponse(dataclasses.replace(outcome_, seq_number=1 << 2000))),
        message.evolve(payload=Cs02bResponse(dataclasses.replace(outcome_, mode=1.5))),
        message.evolve(payload=Cs02bResponse(dataclasses.replace(outcome_, outcomes=outcome_.outcomes * 5))),
        message.evolve(length_forms=(2,) * 60),
        message.evolve(length_forms=()),
        message.evolve(payload=b"\x01\x02", message_code=0x0999),
        message.evolve(payload=bytearray(b"\x01\x02"), message_code=0x0999),
        message.evolve(payload=bytes(300), message_code=0x0999, cra_flag=CraFlag(200)),
        message.evolve(payload=b"", message_code=0x0999, cra_flag=CraFlag(300)),
        message.evolve(payload=bytes(70000), message_code=0x0999),
        message.evolve(mac_header=MacHeader(0x10)),
        message.evolve(mac_header=MacHeader(0x111)),
        message.evolve(mac_header=MacHeader(True)),
        message.evolve(mac_header=MacHeader(invocation_counter=7)),
        message.evolve(mac_header=MacHeader(invocation_counter=1 << 32)),
        message.evolve(mac_header=MacHeader(fields=bytes(5) + b"\x01")),
        message.evolve(mac_header=MacHeader(fields=bytearray(6))),
        message.evolve(mac_header=MacHeader(fields=bytes(7))),
        message.evolve(mac_header=MacHeader(), mac=bytearray(12)),
        message.evolve(mac_header=MacHeader(), mac=bytes(11)),
        message.evolve(mac_header=MacHeader(), signature=None),
        message.evolve(mac_header=MacHeader(), date_time=None),
        message.evolve(mac_header=MacHeader(), payload=b"\x30\x00"),
        message.evolve(mac_header=MacHeader(), payload=bytes(40), message_code=0x0999),
        message.evolve(mac_header=MacHeader(), payload=bytes(300), message_code=0x0999),
        message.evolve(mac_header=MacHeader(), payload=bytes(70000), message_code=0x0999),
        message.evolve(mac_header=MacHeader(), payload=Cs02bResponse(None)),
        message.evolve(mac_header=MacHeader(), precommand=True, signature=None),
        message.evolve(mac_header=MacHeader(), supplementary=Supplementary(bytes(8))),
        message.evolve(mac_header=MacHeader(),
                       payload=Cs02bResponse(dataclasses.replace(outcome_, outcomes=outcome_.outcomes * 5))),
    ]


def same_result(compiled, interpreted) -> bool:
    """The same bytes and layout, or both an error (the interpreted one names the field path)."""
    if compiled[0] == "error" or interpreted[0] == "error":
        return compiled[0] == interpreted[0]
    return compiled == interpreted


@pytest.mark.parametrize("style", [0, 2])
def test_usual_frame_builder_takes_only_what_the_shared_builder_writes_the_same(style, monkeypatch):
    variants = _unusual_frames(_response()) + [decode(data) for data in FRAMES.values()] \
        + [decode(data).evolve(length_forms=None) for data in FRAMES.values()]
    fast = [encoded_or_error(v, style) for v in variants]
    for variant, result in zip(variants, fast, strict=True):
        assert same_result(result, encoded_or_error(variant, style, interpreted=True)), variant
    # without the usual-frame builder, the compiled codec's shared flow: the very same results,
    # error messages included
    monkeypatch.setattr(frame_module, "build_frame_fast", frame_module.build_frame)
    assert [encoded_or_error(v, style) for v in variants] == fast
    assert sum(result[0] != "error" for result in fast) >= 20  # the accepting paths were compared too


def test_shared_cells_are_written_from_the_cache_as_they_were_built():
    """The plan-free builder keeps a cell's element per instance: a second encode, a distinct
    equal instance, an instance of a subclass, and more instances than the cache holds all
    write what the interpreted builder writes."""
    message = _response()
    outcome_ = message.payload.execution_outcome

    class Cell(TrustAnchorCellId):
        pass

    def with_cells(cells) -> Message:
        outcomes = tuple(dataclasses.replace(o, cell=c) for o, c in zip(outcome_.outcomes, cells, strict=False))
        return message.evolve(payload=Cs02bResponse(dataclasses.replace(outcome_, outcomes=outcomes)))

    cells = [o.cell for o in outcome_.outcomes]
    variants = [message, message, with_cells([TrustAnchorCellId(c.role, c.key_usage, c.cell_usage) for c in cells]),
                with_cells([Cell(c.role, c.key_usage, c.cell_usage) for c in cells]),
                with_cells([TrustAnchorCellId(RemotePartyRole(7), KeyUsage.KEY_AGREEMENT, CellUsage.PREPAYMENT_TOP_UP)] * 3)]
    variants += [with_cells([TrustAnchorCellId(RemotePartyRole(n % 120), KeyUsage.DIGITAL_SIGNATURE)] * 3)
                 for n in range(300)]  # past the cache's bound: it is emptied and refilled
    for variant in variants:
        assert same_result(encoded_or_error(variant), encoded_or_error(variant, interpreted=True))
    again = with_cells([TrustAnchorCellId(RemotePartyRole(n), KeyUsage.DIGITAL_SIGNATURE) for n in (3, 4, 5)])
    first = encoded_or_error(again)
    assert encoded_or_error(again) == first == encoded_or_error(again, interpreted=True)


@pytest.mark.parametrize("value", [
    None, CosemDateTime(2026, 1, 1), CosemDateTime(0, 0, 0, 0, 0, 0, 0, 0, -0x8000, 0),
    CosemDateTime(0xFFFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7FFF, 0xFF),
    CosemDateTime(0x10000, 1, 1), CosemDateTime(-1, 1, 1), CosemDateTime(2026, 256, 1),
    CosemDateTime(2026, -1, 1), CosemDateTime(2026, 1, 1, deviation=0x8000), CosemDateTime(2026, 1, 1.0),
    CosemDateTime(True, 1, 1), CosemDateTime(2026, 1, 1, deviation=False), CosemDateTime(2026.0, 1, 1),
    CosemDateTime(2026, 1, 1, clock_status=None),
])
def test_date_time_octets_in_one_struct_call_as_by_conversions(value):
    def conversions(value):
        if value is None:
            return b"\x00"
        return (b"\x0c" + value.year.to_bytes(2, "big") + bytes((value.month, value.day, value.day_of_week,
                value.hour, value.minute, value.second, value.hundredths))
                + value.deviation.to_bytes(2, "big", signed=True) + bytes((value.clock_status,)))

    def result(function):
        try:
            return function(value)
        except Exception as err:
            return type(err), str(err)

    assert result(date_time_octets) == result(conversions)
    if value is not None and result(conversions).__class__ is bytes:
        assert date_time_from_octets(conversions(value)[1:]) == value
