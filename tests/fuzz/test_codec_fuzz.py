"""Decoder fuzzing with the round-trip invariant, bounded and derandomized for CI.

Two directions:

* typed messages over the whole representable range (years 1-9999, counters to 2^64 and past
  it, negative and huge floors, any certificate blob, odd header fields): ``encode`` either
  refuses with ``GbcsEncodeError`` or writes bytes that decode (both codecs) to the same
  message and re-encode to the same bytes;
* mutated frames (real RTDS vectors, the fixture samples and frames the emulator writes):
  ``decode`` gives a message that re-encodes to the input, or ``GbcsDecodeError``.
"""

from __future__ import annotations

import datetime as dt

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from rig.gbcs import (
    AuthorisingControl,
    CellUsage,
    CraFlag,
    Cs02bAlert,
    Cs02bCommand,
    Cs02bResponse,
    ExecutionOutcome,
    GbcsDecodeError,
    GbcsEncodeError,
    KeyUsage,
    MacHeader,
    Message,
    Replacement,
    ReplacementOutcome,
    SeqNumberChange,
    SpecialistSeqNumber,
    Supplementary,
    TrustAnchorCellId,
    decode,
    encode,
)
from rig.gbcs.message import CosemDateTime

from ..vectors import FIXTURE_SAMPLES, read_hex, rtds_files

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

integers = st.one_of(st.integers(0, 300), st.integers(-(2**70), 2**70),
                     st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -1]))


def mostly(valid, invalid):
    """``valid`` nine times in ten: the frame must usually encode for the payload to be reached."""
    return st.integers(0, 9).flatmap(lambda n: invalid if n == 9 else valid)  # shrinks towards valid


counters = mostly(st.integers(0, 2**64 - 1), st.sampled_from([-1, 2**64]))
ids = mostly(st.binary(min_size=8, max_size=8), st.binary(max_size=10))
roles = st.one_of(st.integers(0, 8), st.integers(-5, 300))
key_usages = st.sampled_from([KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_AGREEMENT, KeyUsage.KEY_CERT_SIGN,
                              KeyUsage(0), KeyUsage(0x1FF)])
cells = st.builds(TrustAnchorCellId, roles, key_usages, st.one_of(st.sampled_from(list(CellUsage)), st.integers(-2, 5)))
times = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59),
                     timezones=st.just(dt.UTC)).map(lambda t: t.replace(microsecond=0))


def _element(body: bytes, tag: int = 0x30) -> bytes:
    n = len(body)
    return bytes((tag,)) + (bytes((n,)) if n < 128 else b"\x82" + n.to_bytes(2, "big")) + body


#: certificate blobs: whole elements, and the truncated / padded / mistagged ones encode must refuse
blobs = st.one_of(st.binary(max_size=200).map(_element), st.binary(max_size=40),
                  st.binary(min_size=1, max_size=60).map(lambda b: _element(b)[:-1]),
                  st.binary(max_size=60).map(lambda b: _element(b) + b"\x00"),
                  st.binary(max_size=60).map(lambda b: _element(b, 0x31)))
specialists = st.lists(st.builds(SpecialistSeqNumber, st.integers(-1, 2), integers), max_size=2).map(tuple)
changes = st.lists(st.builds(SeqNumberChange, roles, integers, st.none() | specialists), max_size=3).map(tuple)
controls = st.builds(AuthorisingControl, st.integers(-1, 12), integers, st.none() | cells, st.none() | st.integers(-1, 3),
                     st.none() | st.binary(max_size=20), st.none() | integers, st.none() | specialists,
                     st.none() | changes)
commands = st.builds(Cs02bCommand, controls, st.lists(st.builds(Replacement, blobs, cells), max_size=3).map(tuple),
                     st.lists(blobs, max_size=2).map(tuple), st.none() | times)
outcomes = st.builds(ExecutionOutcome, integers, st.integers(0, 11), changes,
                     st.lists(st.builds(ReplacementOutcome, cells, st.integers(-1, 200), ids, ids, ids, ids),
                              max_size=2).map(tuple))
octet = mostly(st.integers(0, 255), st.integers(-1, 300))
cosem = st.builds(CosemDateTime, mostly(st.integers(0, 65535), st.integers(-1, 70000)), octet, octet, octet, octet,
                  octet, octet, octet, mostly(st.integers(-32768, 32767), st.integers(-40000, 40000)), octet)
eight = st.binary(min_size=8, max_size=8)
supplementary = st.one_of(
    st.one_of(st.builds(Supplementary, eight), st.builds(Supplementary, eight, counters),
              st.builds(Supplementary, eight, counters, counters),
              st.builds(Supplementary, eight, counters, st.none(), st.binary(min_size=9, max_size=40))),
    st.builds(Supplementary, st.none() | ids, st.none() | counters, st.none() | counters,
              st.none() | st.binary(max_size=30)))
mac_headers = st.builds(MacHeader, octet, mostly(st.integers(0, 2**32 - 1), st.integers(-1, 2**32)),
                        mostly(st.just(bytes(6)), st.binary(min_size=5, max_size=7)))
payloads = st.one_of(
    st.tuples(st.just(CraFlag.COMMAND), st.integers(0x0100, 0x0109), commands),
    st.tuples(st.just(CraFlag.RESPONSE), st.integers(0x0100, 0x0109), st.builds(Cs02bResponse, st.none() | outcomes)),
    st.tuples(st.just(CraFlag.ALERT), st.just(0x00CB), st.builds(Cs02bAlert, integers, times, outcomes)),
    st.tuples(st.sampled_from(list(CraFlag)), st.sampled_from([0x0019, 0x0021, 0x0102, 0x00CB]),
              st.binary(max_size=40)),
)


@st.composite
def messages(draw) -> Message:
    cra, code, payload = draw(payloads)
    macd = draw(st.booleans())
    return Message(cra, draw(counters), draw(ids), draw(ids), code, payload,
                   date_time=draw(st.none() | cosem), supplementary=draw(st.none() | supplementary),
                   mac_header=draw(mac_headers) if macd else None,
                   signature=draw(mostly(st.none() | st.just(bytes(range(64))), st.binary(max_size=70))),
                   mac=bytes(12) if macd else None)


@FUZZ
@given(messages(), st.sampled_from([0, 2]))
def test_encode_writes_only_what_decode_reads_back(message, long_form):
    try:
        data = encode(message, payload_long_form_width=long_form)
    except GbcsEncodeError:
        return
    decoded = decode(data)  # never GbcsDecodeError: encode refuses what decode would reject
    assert decode(data, interpreted=True) == decoded
    assert encode(decoded) == data
    if not isinstance(message.payload, bytes):
        assert decoded == message


CORPUS = ([read_hex(p) for p in rtds_files("*CS02*/*.HEX")][:60]
          + [read_hex(p) for p in sorted(FIXTURE_SAMPLES.glob("*.hex"))])


@FUZZ
@given(st.integers(0, len(CORPUS) - 1), st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 255)),
                                                min_size=1, max_size=4))
def test_mutated_frames_decode_and_round_trip_or_fail_typed(index, edits):
    data = bytearray(CORPUS[index])
    for offset, value in edits:
        data[offset % len(data)] = value
    for interpreted in (False, True):
        try:
            message = decode(bytes(data), interpreted=interpreted)
        except GbcsDecodeError:
            continue
        assert encode(message) == bytes(data)


def _outcome(data: bytes, interpreted: bool):
    try:
        message = decode(data, interpreted=interpreted)
    except GbcsDecodeError:
        return None
    return message, message.length_forms, message.layout


@FUZZ
@given(st.integers(0, len(CORPUS) - 1), st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 255)),
                                                min_size=1, max_size=4))
def test_the_compiled_fast_paths_accept_exactly_what_the_interpreted_codec_accepts(index, edits):
    """The compiled codec reads the usual MAC header, grouping header and DER lengths on fast
    paths; on any frame it must give what the interpreted schema gives, or fail as it does."""
    data = bytearray(CORPUS[index])
    for offset, value in edits:
        data[offset % len(data)] = value
    assert _outcome(bytes(data), False) == _outcome(bytes(data), True)
