"""Every RTDS CS02a-g command with a response, replayed with ``gbcs-rig replay``, answered like the RTDS device.

The measure of issue 12: each COMMAND in ``../shared/rtds/RTDS-4.5.0`` of a CS02a-g folder that
has a RESPONSE is replayed on the device type its recipient is (``--keystore`` the RTDS key
store, ``--trust-ca`` its Z1 issuing CA, ``--at 2020-01-01T00:00:00Z``, ``--profile rtds``), and
the response (and, for a future-dated command, the 0x8F66/0x8F67 alert) must equal the RTDS
frame byte for byte except the signature, the MAC, the grouping header date-time and the
alert's own originator counter (our device cannot sign with the RTDS device's key, and its
clock and alert counter are its own). A CS02c response's certification request is signed as
well: its signature is blanked the same way (the RTDS key store has no private key for the
device's generated key pair).
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace

import pytest

from rig.cli.main import main
from rig.gbcs import CraFlag, Cs02cResponse, decode, encode

from .vectors import FIXTURE_SAMPLES, RTDS_ABSENT, RTDS_CA, RTDS_KEYSTORE, read_hex, rtds_files

#: RTDS test devices by recipient id (``docs/reference/gbcs-cs02b.md`` section 1, deduced there
#: from which use cases RTDS sends to which device; A6 is an ESME hosting a load controller)
DEVICE_TYPES = {"00DB1234567890A0": "ESME", "00DB1234567890A1": "GSME", "00DB1234567890A2": "CHF",
                "00DB1234567890A3": "GPF", "00DB1234567890A6": "ESME"}
FOLDERS = ("6.15.1_CS02b*", "6.15.2_CS02d", "6.17_CS02c", "6.23_CS02b*", "6.24.1_CS02aMAC", "6.24.1_CS02fMAC",
           "6.24.2_CS02e", "NA_CS02aSignature", "NA_CS02bTransCoSByTransCoS", "NA_CS02fSignature")
AT = "2020-01-01T00:00:00Z"


def _commands() -> list:
    found = []
    for folder in FOLDERS:
        for path in rtds_files(f"{folder}/*_COMMAND_GBCS.HEX"):
            if path.with_name(path.name.replace("_COMMAND_", "_RESPONSE_")).exists():
                found.append(path)
    return found


COMMANDS = _commands()


def _tlv_end(data: bytes, start: int) -> int:
    """End offset of the DER element at ``start``."""
    first = data[start + 1]
    if first < 0x80:
        return start + 2 + first
    width = first & 0x7F
    return start + 2 + width + int.from_bytes(data[start + 2:start + 2 + width], "big")


def _blank_request_signature(message):
    """A CS02c response with its certification request's own signature replaced by a fixed-size
    placeholder (it is a signature too, and an ECDSA DER signature's length varies with r and s)."""
    request = message.payload.request
    body = 4 if request[1] == 0x82 else 3 if request[1] == 0x81 else 2
    info_end = _tlv_end(request, body)
    algorithm_end = _tlv_end(request, info_end)
    content = request[body:algorithm_end] + bytes.fromhex("0349") + bytes(73)
    placeholder = bytes([0x30, 0x82]) + len(content).to_bytes(2, "big") + content
    return encode(replace(message, payload=Cs02cResponse(request=placeholder)))


def normalised(frame: bytes) -> bytes:
    """The frame with what may differ blanked: date-time, signature, MAC, and an alert's own counter."""
    message = decode(frame)
    if isinstance(message.payload, Cs02cResponse) and message.payload.request:
        frame = _blank_request_signature(message)
        message = decode(frame)
    layout = message.layout
    out = bytearray(frame[:layout.payload_end])
    g = layout.grouping_start
    if message.cra_flag == CraFlag.ALERT:
        out[g + 3:g + 11] = bytes(8)
    if out[g + 29] == 0x0C:
        out[g + 30:g + 42] = bytes(12)
    return bytes(out) + bytes([frame[layout.payload_end]]) + bytes(layout.length - layout.payload_end - 1)


def _expected_alert(command_path) -> bytes | None:
    """The RTDS 8F66/8F67 alert of a future-dated command (same folder, SUCCESS -> 8F66, ERROR -> 8F67)."""
    name = command_path.name
    if "FUTURE_DATED" not in name:
        return None
    variant = "SUCCESS" if "FUTURE_DATED_SUCCESS" in name else "ERROR"
    code = "8F66" if variant == "SUCCESS" else "8F67"
    alerts = sorted(command_path.parent.glob(f"*_{code}_FUTURE_DATED_{variant}_ALERT_GBCS.HEX"))
    return read_hex(alerts[0]) if alerts else None


@functools.cache
def replay(command_path) -> tuple[bool, str]:
    """Replay one command through the CLI; (matches, why not)."""
    import contextlib
    import io

    recipient = decode(read_hex(command_path)).recipient_id.hex().upper()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["replay", str(command_path), "--device-type", DEVICE_TYPES[recipient],
                     "--keystore", str(RTDS_KEYSTORE), "--trust-ca", str(RTDS_CA / "Z1.pem"), "--at", AT,
                     "--profile", "rtds", "--json"])
    if code != 0:
        return False, f"exit {code}: {err.getvalue().strip()}"
    result = json.loads(out.getvalue())
    expected = read_hex(command_path.with_name(command_path.name.replace("_COMMAND_", "_RESPONSE_")))
    if result["response"] is None:
        events = [e["detail"] for e in result["events"]]
        return False, f"no response; events {events}"
    response = bytes.fromhex(result["response"])
    if normalised(response) != normalised(expected):
        return False, f"response differs:\n  got      {normalised(response).hex().upper()}\n" \
                      f"  expected {normalised(expected).hex().upper()}"
    alert = _expected_alert(command_path)
    if alert is not None:
        produced = [bytes.fromhex(a) for a in result["alerts"]]
        if [normalised(a) for a in produced] != [normalised(alert)]:
            return False, f"alerts differ: got {[a.hex().upper() for a in produced]}, expected {alert.hex().upper()}"
    return True, ""


@pytest.mark.skipif(not COMMANDS, reason=RTDS_ABSENT)
@pytest.mark.parametrize("command_path", COMMANDS, ids=[p.name.replace("_COMMAND_GBCS.HEX", "") for p in COMMANDS])
def test_rtds_cs02_command_is_answered_like_the_rtds_device(command_path):
    matches, why = replay(command_path)
    assert matches, why


@pytest.mark.skipif(not COMMANDS, reason=RTDS_ABSENT)
def test_rtds_cs02_match_count(capsys):
    matched = [p.name for p in COMMANDS if replay(p)[0]]
    with capsys.disabled():
        print(f"\nRTDS CS02a-g replay: {len(matched)} of {len(COMMANDS)} commands answered like the RTDS device")
    assert len(COMMANDS) == 23  # the RTDS 4.5.0 CS02a-g commands that have a response
    assert len(matched) == len(COMMANDS)


def test_normalised_blanks_only_what_may_differ():
    """The comparison is not vacuous: a flipped payload byte still differs after normalising, a
    different signature does not (a fixture frame, so this runs without ../shared)."""
    frame = (FIXTURE_SAMPLES / "CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_RESPONSE.hex").read_text().strip()
    frame = bytes.fromhex(frame)
    layout = decode(frame).layout
    flipped = bytearray(frame)
    flipped[layout.payload_end - 1] ^= 0x01
    assert normalised(bytes(flipped)) != normalised(frame)
    resigned = bytearray(frame)
    resigned[layout.payload_end + 1] ^= 0xFF
    assert normalised(bytes(resigned)) == normalised(frame)
