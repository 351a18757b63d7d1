"""Property tests: nothing but GbcsDecodeError on any input; generated CS02b messages round-trip."""

from __future__ import annotations

import datetime as dt

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from rig.gbcs import (
    AuthorisingControl,
    CellUsage,
    CraFlag,
    Cs02bCommand,
    GbcsDecodeError,
    KeyUsage,
    MacHeader,
    Message,
    Replacement,
    SeqNumberChange,
    SpecialistSeqNumber,
    TrustAnchorCellId,
    decode,
    encode,
)

from .vectors import FIXTURE_SAMPLES, read_hex, rtds_files

CORPUS = [read_hex(p) for p in rtds_files("*CS02*/*.HEX")] + [read_hex(p) for p in sorted(FIXTURE_SAMPLES.glob("*.hex"))]
#: derandomized like tests/fuzz (a CI failure reproduces, no example database to write) and 200
#: examples: random inputs past the first few hundred kept finding nothing new, and the
#: mutated-frame and round-trip properties are fuzzed further in tests/fuzz
SETTINGS = settings(max_examples=200, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def decodes_or_raises_typed(data: bytes) -> None:
    for interpreted in (False, True):
        try:
            message = decode(data, interpreted=interpreted)
        except GbcsDecodeError as err:
            assert err.offset is None or 0 <= err.offset <= len(data)
            continue
        # anything that decodes must re-encode to the same bytes
        assert encode(message) == data


@SETTINGS
@given(st.binary(max_size=600))
def test_random_bytes(data):
    decodes_or_raises_typed(data)


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_behind_a_grouping_header_prefix(tail):
    decodes_or_raises_typed(bytes.fromhex("DF0901") + tail)


mutation = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 4000)),
    st.tuples(st.just("extend"), st.binary(min_size=1, max_size=20)),
    st.tuples(st.just("flip"), st.integers(0, 4000), st.integers(1, 255)),
    st.tuples(st.just("splice"), st.integers(0, 4000), st.integers(0, 4000), st.integers(0, len(CORPUS) - 1)),
    st.tuples(st.just("delete"), st.integers(0, 4000), st.integers(1, 8)),
)


def mutate(data: bytes, op) -> bytes:
    kind = op[0]
    if kind == "truncate":
        return data[: op[1] % (len(data) + 1)]
    if kind == "extend":
        return data + op[1]
    if kind == "flip":
        index = op[1] % len(data)
        return data[:index] + bytes((data[index] ^ op[2],)) + data[index + 1:]
    if kind == "delete":
        index = op[1] % len(data)
        return data[:index] + data[index + op[2]:]
    other = CORPUS[op[3]]
    return data[: op[1] % len(data)] + other[op[2] % len(other):]


@SETTINGS
@given(st.integers(0, len(CORPUS) - 1), st.lists(mutation, min_size=1, max_size=3))
def test_mutated_frames(index, operations):
    data = CORPUS[index]
    for op in operations:
        data = mutate(data, op) or b"\x00"
    decodes_or_raises_typed(data)


def test_every_truncation_of_a_maced_command_is_a_typed_error():
    # (a DF-only frame cut exactly after its payload is a valid DUIS pre-command, so use a MACed one)
    data = next(frame for frame in CORPUS if frame[0] == 0xDD and len(frame) > 1000)
    for end in range(len(data)):
        with pytest.raises(GbcsDecodeError):
            decode(data[:end])


# ---- generated valid CS02b messages ---------------------------------------------------------

seq = st.integers(0, 2**63 - 1)
ids = st.binary(min_size=8, max_size=8)
roles = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 8])
cells = st.builds(TrustAnchorCellId, roles,
                  st.sampled_from([KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_AGREEMENT, KeyUsage.KEY_CERT_SIGN]),
                  st.sampled_from([CellUsage.MANAGEMENT, CellUsage.PREPAYMENT_TOP_UP]))
specialist = st.lists(st.builds(SpecialistSeqNumber, st.just(0), seq), max_size=2).map(tuple)
changes = st.lists(st.builds(SeqNumberChange, roles, seq, st.none() | specialist), max_size=3).map(tuple)
fake_cert = st.binary(min_size=1, max_size=300).map(lambda body: b"\x30" + _len(len(body)) + body)
times = st.none() | st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(9999, 12, 31),
                                 timezones=st.just(dt.UTC)).map(lambda t: t.replace(microsecond=0))


def _len(n: int) -> bytes:
    return bytes((n,)) if n < 128 else bytes((0x82,)) + n.to_bytes(2, "big")


controls = st.builds(
    AuthorisingControl, st.integers(0, 11), seq, st.none() | cells, st.none() | st.just(1),
    st.none() | st.binary(max_size=32), st.none() | seq, st.none() | specialist, st.none() | changes)
commands = st.builds(Cs02bCommand, controls, st.lists(st.builds(Replacement, fake_cert, cells), max_size=3).map(tuple),
                     st.lists(fake_cert, max_size=2).map(tuple), times)


@SETTINGS
@given(commands, seq, ids, ids, st.booleans(), st.sampled_from([0, 2]))
def test_generated_cs02b_commands_round_trip(payload, counter, originator, recipient, macd, long_form):
    message = Message(CraFlag.COMMAND, counter, originator, recipient, 0x0100 + payload.control.mode % 10, payload,
                      mac_header=MacHeader() if macd else None, signature=bytes(range(64)),
                      mac=bytes(12) if macd else None)
    data = encode(message, payload_long_form_width=long_form)
    decoded = decode(data)
    assert decoded == message
    assert decode(data, interpreted=True) == decoded
    assert encode(decoded) == data
