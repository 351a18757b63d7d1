"""``gbcs-rig decode`` as a lab engineer uses it."""

from __future__ import annotations

import base64
import json

import pytest

from rig.cli.main import main

from .vectors import FIXTURE_PKI, FIXTURE_SAMPLES, RTDS_KEYSTORE, needs_rtds, rtds_files


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@needs_rtds
def test_decode_rtds_623_command_with_keystore(capsys):
    path = rtds_files("6.23_*/*IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")[0]
    code, out, _ = run(capsys, "decode", str(path), "--keystore", str(RTDS_KEYSTORE))
    assert code == 0
    assert "SUPPLIER_BY_TRANS_COS (7)" in out  # replacement mode
    assert out.count("target_cell") == 3 and "PREPAYMENT_TOP_UP" in out  # target cells
    assert "CN=GITTESTSUPPLIER2" in out and "CN=Z1" in out  # certificate subjects
    assert "signature: VALID" in out and "mac: VALID" in out


def test_decode_sample_file_and_json(capsys):
    path = FIXTURE_SAMPLES / "CS02bTransCoSByTransCoS_SUCCESS_COMMAND.hex"
    code, out, _ = run(capsys, "decode", str(path), "--keystore", str(FIXTURE_PKI / "keystore"), "--json")
    assert code == 0
    document = json.loads(out)
    assert document["checks"]["signature"]["verdict"] == "VALID"
    assert document["checks"]["mac"]["verdict"] == "VALID"
    assert document["message"]["payload"]["control"]["mode"] == "TRANS_COS_BY_TRANS_COS"
    assert any("TESTECOS" in field["meaning"] for field in document["fields"])


def test_decode_accepts_hex_and_base64_arguments(capsys):
    data = bytes.fromhex((FIXTURE_SAMPLES / "CS02c_ERROR_RESPONSE.hex").read_text().strip())
    for argument in (data.hex(), data.hex(" "), base64.b64encode(data).decode()):
        code, out, _ = run(capsys, "decode", argument)
        assert code == 0 and "RESPONSE CS02c" in out and "INVALID_KEY_USAGE" in out


def test_tampered_frame_is_reported_invalid(capsys):
    data = bytearray(bytes.fromhex((FIXTURE_SAMPLES / "CS02e_SUCCESS_COMMAND.hex").read_text().strip()))
    data[-20] ^= 0xFF  # inside the signature
    code, out, _ = run(capsys, "decode", data.hex(), "--keystore", str(FIXTURE_PKI / "keystore"))
    assert code == 1 and "signature: INVALID" in out and "mac: INVALID" in out


@pytest.mark.parametrize("argument", ["DF0901", "not hex or base64 ###", "00" * 40])
def test_garbage_prints_the_error_without_a_traceback(capsys, argument):
    code, out, err = run(capsys, "decode", argument)
    assert code == 2
    assert "Traceback" not in out + err
    assert "error" in err


@pytest.mark.parametrize("poison", ["version", "curve", "key-type"])
def test_certificates_cryptography_cannot_load_are_reported_not_raised(capsys, fixture_pki, poison):
    from .attack_helpers import poisoned_change_of_supplier

    frame = poisoned_change_of_supplier(fixture_pki, poison=poison)
    for extra in ((), ("--json",)):
        code, out, err = run(capsys, "decode", frame.hex(), "--keystore", str(FIXTURE_PKI / "keystore"), *extra)
        assert code == 0 and "Traceback" not in out + err
        assert ("unreadable certificate: InvalidVersion" if poison == "version"
                else "public key unusable: UnsupportedAlgorithm") in out
        assert "signature: VALID" in out or '"VALID"' in out


def test_a_frame_with_a_key_information_octet_is_a_decode_error(capsys):
    data = bytearray(bytes.fromhex((FIXTURE_SAMPLES / "CS02bTransCoSByTransCoS_SUCCESS_COMMAND.hex").read_text()))
    data[6] = 0x01
    code, out, err = run(capsys, "decode", data.hex())
    assert code == 2 and "key-info" in err and "Traceback" not in out + err
