"""The codec against every real RTDS 4.5.0 vector: byte-exact round trip, both schemas agree."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rig.gbcs import Cs02bCommand, Cs02bResponse, decode, encode

from .vectors import read_hex, rtds_params


@pytest.mark.parametrize("path", rtds_params())
def test_every_rtds_vector_round_trips(path):
    data = read_hex(path)
    message = decode(data)
    assert encode(message) == data


@pytest.mark.parametrize("path", rtds_params())
def test_compiled_and_interpreted_codecs_agree(path):
    data = read_hex(path)
    compiled = decode(data)
    interpreted = decode(data, interpreted=True)
    assert compiled == interpreted
    assert compiled.length_forms == interpreted.length_forms
    assert compiled.layout == interpreted.layout
    assert encode(compiled) == encode(interpreted, interpreted=True) == data


@pytest.mark.parametrize("path", rtds_params("*CS02b*/*RESPONSE_GBCS.HEX"))
def test_device_responses_keep_their_non_minimal_lengths(path):
    data = read_hex(path)
    message = decode(data)
    assert isinstance(message.payload, Cs02bResponse)
    if message.layout.payload_end - message.layout.payload_start >= 128:
        # RTDS devices write 82 hh ll for every payload length >= 128; the codec records that
        assert message.length_forms is not None and 2 in message.length_forms
        unplanned = replace(message, length_forms=None)
        assert encode(unplanned) != data  # minimal DER differs
        assert encode(unplanned, payload_long_form_width=2) == data  # the device style reproduces it
    assert encode(message) == data


@pytest.mark.parametrize("path", rtds_params("6.23_CS02bSupplierByTransCoS/*IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"))
def test_623_command_fields(path):
    message = decode(read_hex(path))
    assert message.message_code == 0x0107 and message.originator_counter == 6001
    assert message.originator_id.hex().upper() == "90B3D51F30000004"
    assert message.recipient_id.hex().upper() == "00DB1234567890A0"
    payload = message.payload
    assert isinstance(payload, Cs02bCommand)
    assert payload.control.mode == 7 and payload.control.seq_number == 6001
    assert payload.control.authorising_cell.role == 5
    assert [r.target_cell.role for r in payload.replacements] == [2, 2, 2]
    assert payload.replacements[2].target_cell.cell_usage == 1
    assert payload.execution_date_time is None and len(payload.certification_path) == 1
    assert message.mac is not None and len(message.signature) == 64
    assert message.layout.payload_end == 1808 and message.layout.grouping_start == 15
