"""Emulated ESME seeded from the RTDS key store answers RTDS CS02b commands as the RTDS device did.

Responses must equal the RTDS responses in every byte but the signature (the RTDS key store
holds no device DS private key, so the emulator signs with its own and the signature must
verify with that key); future-dated commands must produce the same 0x8F66/0x8F67 alerts once
the clock passes their execution time.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from firmware_emu import ManualClock, get_profile
from rig.crypto import certs, verify_signature
from rig.gbcs import decode
from rig.provision import keystore_device

from .vectors import RTDS_CA, read_hex, rtds_files

RTDS_DEVICE_TIME = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)


def _pairs(pattern: str):
    files = rtds_files(pattern)
    if not files:
        from .vectors import rtds_params

        return rtds_params(pattern)
    return [pytest.param(p, id=p.name.replace("_COMMAND_GBCS.HEX", "")) for p in files]


def _device(rtds_keystore, first_alert_counter: int = 2000):
    z1 = certs.load_certificate((RTDS_CA / "Z1.pem").read_bytes()).public_bytes(Encoding.DER)
    profile = get_profile("rtds").with_changes(first_alert_counter=first_alert_counter)
    clock = ManualClock(RTDS_DEVICE_TIME)
    device, _ = keystore_device(rtds_keystore, "ESME", bytes.fromhex("00DB1234567890A0"), trusted_cas=[z1],
                                profile=profile, clock=clock)
    return device, clock


def _assert_equal_but_signature(produced: bytes, expected: bytes, device) -> None:
    message = decode(produced)
    end = message.layout.payload_end
    assert len(produced) == len(expected)
    assert produced[:end] == expected[:end]
    assert verify_signature(produced, message, device.identity.ds_key.public_key())


IMMEDIATE = (_pairs("6.23_*/*IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX") + _pairs("NA_CS02bTransCoSByTransCoS/*_COMMAND_GBCS.HEX")
             + _pairs("6.15.1_*/*IMMEDIATE_*_COMMAND_GBCS.HEX") + _pairs("*CS02b*/*CANCELLATION*_COMMAND_GBCS.HEX"))


@pytest.mark.parametrize("command_path", IMMEDIATE)
def test_immediate_and_cancellation_responses_match_rtds(command_path, rtds_keystore):
    device, _ = _device(rtds_keystore)
    produced = device.receive(read_hex(command_path))
    assert len(produced) == 1
    expected = read_hex(command_path.with_name(command_path.name.replace("_COMMAND_", "_RESPONSE_")))
    _assert_equal_but_signature(produced[0], expected, device)


def test_error_vector_gives_the_rtds_per_cell_status(rtds_keystore):
    path = rtds_files("6.15.1_*/*IMMEDIATE_ERROR_COMMAND_GBCS.HEX")
    if not path:
        pytest.skip("RTDS vectors absent")
    device, _ = _device(rtds_keystore)
    response = decode(device.receive(read_hex(path[0]))[0])
    statuses = [int(o.status) for o in response.payload.execution_outcome.outcomes]
    assert statuses == [0, 10, 0]  # the KA certificate comes from the unknown OCA "Z2"


FUTURE = [
    ("6.23_*/*FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX", "6.23_*/*8F66*_ALERT_GBCS.HEX", 2001),
    ("6.15.1_*/*FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX", "6.15.1_*/*8F66*_ALERT_GBCS.HEX", 2000),
    ("6.15.1_*/*FUTURE_DATED_ERROR_COMMAND_GBCS.HEX", "6.15.1_*/*8F67*_ALERT_GBCS.HEX", 2002),
]


@pytest.mark.parametrize("command_glob,alert_glob,alert_counter", FUTURE, ids=["6.23-8F66", "6.15.1-8F66", "6.15.1-8F67"])
def test_future_dated_commands_produce_the_rtds_alerts(command_glob, alert_glob, alert_counter, rtds_keystore):
    commands, alerts = rtds_files(command_glob), rtds_files(alert_glob)
    if not commands:
        pytest.skip("RTDS vectors absent")
    device, clock = _device(rtds_keystore, first_alert_counter=alert_counter - 1)
    command = read_hex(commands[0])
    produced = device.receive(command)
    _assert_equal_but_signature(produced[0], read_hex(commands[0].with_name(
        commands[0].name.replace("_COMMAND_", "_RESPONSE_"))), device)
    assert device.poll() == []  # not yet
    clock.set(decode(command).payload.execution_date_time + dt.timedelta(seconds=1))
    fired = device.poll()
    assert len(fired) == 1
    _assert_equal_but_signature(fired[0], read_hex(alerts[0]), device)
    assert device.poll() == []  # exactly once
