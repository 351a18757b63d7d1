"""``gbcs-rig replay``: a captured command fed to an emulated meter seeded from a key store."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric import ec

from rig.cli.main import main
from rig.crypto import KeyStore, Usage, verify_signature
from rig.gbcs import decode

from .vectors import FIXTURE_PKI, FIXTURE_SAMPLES, RTDS_CA, RTDS_KEYSTORE, needs_rtds, read_hex, rtds_files


def replay(capsys, *argv) -> dict:
    assert main(["replay", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@needs_rtds
def test_replay_of_the_rtds_623_command(capsys):
    command = rtds_files("6.23_*/*IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")[0]
    result = replay(capsys, str(command), "--keystore", str(RTDS_KEYSTORE), "--trust-ca", str(RTDS_CA / "Z1.pem"),
                    "--at", "2015-01-01T00:00:00+00:00", "--profile", "rtds")
    response = bytes.fromhex(result["response"])
    message = decode(response)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes.fromhex(result["device_public_key"]))
    assert verify_signature(response, message, key)
    expected = read_hex(command.with_name(command.name.replace("_COMMAND_", "_RESPONSE_")))
    assert response[:message.layout.payload_end] == expected[:message.layout.payload_end]
    assert any("--trust-ca" in note for note in result["notes"])
    assert result["alerts"] == [] and result["events"][-1]["code"] == 0x8F70


@needs_rtds
def test_replay_at_todays_date_reports_the_expired_rtds_certificates(capsys):
    command = rtds_files("6.23_*/*IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")[0]
    result = replay(capsys, str(command), "--keystore", str(RTDS_KEYSTORE), "--trust-ca", str(RTDS_CA / "Z1.pem"),
                    "--profile", "default")
    outcome = decode(bytes.fromhex(result["response"])).payload.execution_outcome
    assert {int(o.status) for o in outcome.outcomes} == {5}  # badCertificate: expired 2025-12-22
    assert any("RTDS-style" in note and "profile default" in note for note in result["notes"])


@needs_rtds
def test_replay_detects_the_rtds_key_store_and_its_trust_anchor(capsys):
    """No --profile, no --trust-ca: the RTDS shape is detected, rtds and ca/Z1.pem are used, and said why."""
    command = rtds_files("6.23_*/*FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX")[0]
    result = replay(capsys, str(command), "--keystore", str(RTDS_KEYSTORE), "--at", "2020-01-01T00:00:00Z")
    assert result["profile"] == "rtds"
    assert any(n.startswith("profile rtds chosen") and "DS private key" in n for n in result["notes"])
    assert any("trust anchors: Z1.pem" in n for n in result["notes"])
    (alert,) = [decode(bytes.fromhex(a)).payload for a in result["alerts"]]
    assert alert.alert_code == 0x8F66
    # the same command on the default profile: the note says why every cell fails at the execution time
    result = replay(capsys, str(command), "--keystore", str(RTDS_KEYSTORE), "--at", "2020-01-01T00:00:00Z",
                    "--profile", "default")
    (alert,) = [decode(bytes.fromhex(a)).payload for a in result["alerts"]]
    assert alert.alert_code == 0x8F67
    assert any("have expired" in n for n in result["notes"])
    # each refused cell says it was judged at the execution time, which --at does not move
    assert [r["status"] for r in result["refusals"]] == ["BAD_CERTIFICATE"] * 3
    for refusal in result["refusals"]:
        assert "valid 2015-12-23..2025-12-22 and the device clock was 2030-01-02T00:00:00+00:00" in refusal["reason"]
        assert refusal["fix"].startswith("--profile rtds") and "--at cannot change it" in refusal["fix"]


@needs_rtds
def test_replay_says_which_key_was_missing(capsys, tmp_path):
    """A GSME whose key store entry is removed: the MAC cannot be computed and the note names the key."""
    import shutil

    keystore = tmp_path / "keystore"
    shutil.copytree(RTDS_KEYSTORE, keystore)
    (keystore / "90b3d51f30000002-ka.key").unlink()
    command = rtds_files("6.24.1_CS02aMAC/*ERROR_COMMAND_GBCS.HEX")[0]
    result = replay(capsys, str(command), "--keystore", str(keystore), "--device-type", "GSME",
                    "--trust-ca", str(RTDS_CA / "Z1.pem"))
    assert result["response"] is None
    assert any("the device answered nothing" in n and "access control broker's (90B3D51F30000002)" in n
               for n in result["notes"])


def test_replay_of_a_generated_future_dated_command_shows_the_alert(capsys):
    command = FIXTURE_SAMPLES / "CS02bSupplierByTransCoS_FUTURE_DATED_SUCCESS_COMMAND.hex"
    # before migration the fixture ESME's CoS cell holds TCoS: an ECoS-signed command is discarded
    result = replay(capsys, str(command), "--keystore", str(FIXTURE_PKI / "keystore"),
                    "--trust-ca", str(FIXTURE_PKI / "ca" / "issuing-ca.pem"))
    assert result["response"] is None
    assert [e["code"] for e in result["events"]] == [0x8F30]
    migration = FIXTURE_SAMPLES / "CS02bTransCoSByTransCoS_SUCCESS_COMMAND.hex"
    result = replay(capsys, str(migration), "--keystore", str(FIXTURE_PKI / "keystore"),
                    "--trust-ca", str(FIXTURE_PKI / "ca" / "issuing-ca.pem"))
    response = bytes.fromhex(result["response"])
    keystore = KeyStore(FIXTURE_PKI / "keystore")
    message = decode(response)
    assert verify_signature(response, message, keystore.public_key(message.originator_id, Usage.DS))
    assert message.payload.execution_outcome.all_succeeded


def test_replay_text_output_and_bad_input(capsys):
    migration = FIXTURE_SAMPLES / "CS02bTransCoSByTransCoS_SUCCESS_COMMAND.hex"
    assert main(["replay", str(migration), "--keystore", str(FIXTURE_PKI / "keystore"),
                 "--trust-ca", str(FIXTURE_PKI / "ca" / "issuing-ca.pem")]) == 0
    out = capsys.readouterr().out
    assert "cell transitional_cos/digital_signature: SUCCESS" in out and "response (" in out
    assert main(["replay", "DF09", "--keystore", str(FIXTURE_PKI / "keystore")]) == 2
    assert "error" in capsys.readouterr().err


def test_replay_of_commands_carrying_unloadable_certificates(capsys, fixture_pki):
    import datetime as dt

    from .attack_helpers import poisoned_change_of_supplier

    keystore = ["--keystore", str(FIXTURE_PKI / "keystore"), "--trust-ca", str(FIXTURE_PKI / "ca" / "issuing-ca.pem"),
                "--at", "2026-03-01T12:00:00+00:00"]
    result = replay(capsys, poisoned_change_of_supplier(fixture_pki).hex(), *keystore)
    outcome = decode(bytes.fromhex(result["response"])).payload.execution_outcome
    assert [int(o.status) for o in outcome.outcomes] == [5, 0, 0]  # badCertificate, then the other cells
    when = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    result = replay(capsys, poisoned_change_of_supplier(fixture_pki, poison="version", when=when).hex(), *keystore)
    (alert,) = [decode(bytes.fromhex(a)).payload for a in result["alerts"]]
    assert alert.alert_code == 0x8F67 and int(alert.execution_outcome.outcomes[0].status) == 5
    assert main(["replay", poisoned_change_of_supplier(fixture_pki, poison="key-type").hex(), *keystore]) == 0
    out = capsys.readouterr()
    assert "BAD_CERTIFICATE" in out.out and "Traceback" not in out.out + out.err


# -- what replay says about its set-up and about each refused certificate (issue 15) ----------

def _text(capsys, *argv) -> str:
    assert main(["replay", *argv]) == 0
    return capsys.readouterr().out


def _keystore_alone(tmp_path, source):
    """A copy of a key store with no ``ca`` folder next to it: no trust anchor is found."""
    import shutil

    keystore = tmp_path / "keystore"
    shutil.copytree(source, keystore)
    return keystore


@needs_rtds
def test_replay_of_an_rtds_vector_without_options_says_which_profile_and_anchors_it_used(capsys):
    command = rtds_files("6.23_*/*IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")[0]
    out = _text(capsys, str(command), "--keystore", str(RTDS_KEYSTORE), "--at", "2020-01-01T00:00:00Z")
    assert "note: profile rtds chosen for the key store: " in out and "without the device's DS private key" in out
    assert "note: trust anchors: Z1.pem from the ca folder next to the key store" in out
    assert "trust anchors: CN=Z1,OU=07\n" in out and "(ESME, profile rtds)" in out
    assert "why:" not in out and out.count(": SUCCESS ") == 3


@needs_rtds
def test_replay_says_why_today_refuses_the_rtds_certificates_and_what_changes_it(capsys):
    command = rtds_files("6.23_*/*IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")[0]
    result = replay(capsys, str(command), "--keystore", str(RTDS_KEYSTORE), "--profile", "default",
                    "--at", "2026-06-01T00:00:00Z")
    assert [r["status"] for r in result["refusals"]] == ["BAD_CERTIFICATE"] * 3
    for refusal in result["refusals"]:
        assert "valid 2015-12-23..2025-12-22 and the device clock was 2026-06-01" in refusal["reason"]
        assert "--at" in refusal["fix"] and "--profile rtds" in refusal["fix"]
    # the fix it names works: the same command inside the validity period
    assert replay(capsys, str(command), "--keystore", str(RTDS_KEYSTORE), "--profile", "default",
                  "--at", "2020-01-01T00:00:00Z")["refusals"] == []


@needs_rtds
def test_replay_without_the_rtds_trust_anchor_says_to_give_it(capsys, tmp_path):
    command = rtds_files("6.23_*/*IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")[0]
    keystore = _keystore_alone(tmp_path, RTDS_KEYSTORE)
    result = replay(capsys, str(command), "--keystore", str(keystore), "--at", "2020-01-01T00:00:00Z")
    assert any("no trust anchor for CN=Z1,OU=07" in n and "--trust-ca" in n for n in result["notes"])
    assert [r["status"] for r in result["refusals"]] == ["NO_TRUST_ANCHOR"] * 3
    assert all("issuer CN=Z1,OU=07 does not chain" in r["reason"] and r["fix"].startswith("--trust-ca")
               for r in result["refusals"])
    assert replay(capsys, str(command), "--keystore", str(keystore), "--at", "2020-01-01T00:00:00Z",
                  "--trust-ca", str(RTDS_CA / "Z1.pem"))["refusals"] == []


FIXTURE_CA = FIXTURE_PKI / "ca" / "issuing-ca.pem"
MIGRATION = FIXTURE_SAMPLES / "CS02bTransCoSByTransCoS_SUCCESS_COMMAND.hex"
SUPPLIER_CHANGE = FIXTURE_SAMPLES / "CS02bSupplierBySupplier_IMMEDIATE_SUCCESS_COMMAND.hex"


def test_replay_without_a_trust_anchor_names_the_issuer_and_trust_ca(capsys, tmp_path):
    """Works without ../shared: the fixture key store, copied without its ca folder."""
    keystore = _keystore_alone(tmp_path, FIXTURE_PKI / "keystore")
    out = _text(capsys, str(MIGRATION), "--keystore", str(keystore))
    assert "profile default chosen for the key store" in out and "trust anchors: none\n" in out
    assert ("why: cell transitional_cos/digital_signature refused (NO_TRUST_ANCHOR): its issuer CN=T1,OU=07 does "
            "not chain to a trust anchor of the device (anchors: none (the root cell is empty)); --trust-ca") in out
    fixed = _text(capsys, str(MIGRATION), "--keystore", str(keystore), "--trust-ca", str(FIXTURE_CA))
    assert "trust anchors: CN=T1,OU=07\n" in fixed and "why:" not in fixed
    assert "cell transitional_cos/digital_signature: SUCCESS" in fixed


def test_replay_at_a_clock_outside_the_validity_says_so_and_names_at_and_the_rtds_profile(capsys):
    result = replay(capsys, str(SUPPLIER_CHANGE), "--keystore", str(FIXTURE_PKI / "keystore"),
                    "--at", "2000-01-01T00:00:00Z")
    assert [(r["cell"], r["status"]) for r in result["refusals"]] == [
        ("supplier/digital_signature", "BAD_CERTIFICATE"), ("supplier/key_agreement", "BAD_CERTIFICATE"),
        ("supplier/key_agreement/prepayment_top_up", "BAD_CERTIFICATE")]
    first = result["refusals"][0]
    assert first["reason"].startswith("7E57000000030000 ") and "CN=TESTSUPPLIERB" in first["reason"]
    assert "valid 2024-01-01..2044-12-31 and the device clock was 2000-01-01T00:00:00+00:00" in first["reason"]
    assert "profile default checks validity" in first["reason"]
    assert first["fix"] == "--at a time inside that period, or --profile rtds (the RTDS test devices check no times)"
    # either fix it names changes the answer
    for fix in (("--at", "2030-01-01T00:00:00Z"), ("--at", "2000-01-01T00:00:00Z", "--profile", "rtds")):
        assert replay(capsys, str(SUPPLIER_CHANGE), "--keystore", str(FIXTURE_PKI / "keystore"),
                      *fix)["refusals"] == []


def test_replay_says_a_profile_refusing_the_mode_is_the_reason(capsys):
    result = replay(capsys, str(MIGRATION), "--keystore", str(FIXTURE_PKI / "keystore"), "--profile", "fails-cells")
    (refusal,) = result["refusals"]
    assert refusal["status"] == "OTHER" and "profile fails-cells models a meter that cannot process" in refusal["reason"]
    assert refusal["fix"] == "--profile default models one that can"


def test_replay_says_no_option_changes_an_unloadable_certificate(capsys, fixture_pki):
    from rig.cli.refusals import NO_OPTION

    from .attack_helpers import poisoned_change_of_supplier

    result = replay(capsys, poisoned_change_of_supplier(fixture_pki).hex(), "--keystore", str(FIXTURE_PKI / "keystore"),
                    "--at", "2026-03-01T12:00:00+00:00")
    (refusal,) = result["refusals"]  # the other two cells were replaced
    assert refusal["cell"] == "supplier/digital_signature" and refusal["status"] == "BAD_CERTIFICATE"
    assert refusal["reason"].startswith("a certificate of the command does not load") and refusal["fix"] == NO_OPTION
