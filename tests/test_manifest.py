"""The report manifest: any edited byte, missing or added file, or foreign signature fails verify."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from rig.cli.main import main
from rig.report import Journal, write_reports
from rig.report import manifest as m

VERDICTS = {"ACME M1 1": "MIGRATABLE: all 2 required scenario results passed"}


def _pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _public_pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
def keys(tmp_path):
    """Two P-256 key pairs as PEM files: the signer's and someone else's."""
    out = {}
    for name in ("signer", "other"):
        key = ec.generate_private_key(ec.SECP256R1())
        (tmp_path / f"{name}.key").write_bytes(_pem(key))
        (tmp_path / f"{name}.pub").write_bytes(_public_pem(key))
        out[name] = tmp_path / f"{name}.key"
        out[name + "_pub"] = tmp_path / f"{name}.pub"
    return out


def _report_folder(path):
    """A folder like the one prove writes: journal, JUnit, HTML pages, a trace in a subfolder."""
    journal = Journal(path / "journal.jsonl")
    for scenario in ("migrate", "read-back"):
        journal.append({"type": "test", "scenario": scenario, "title": scenario, "outcome": "passed",
                        "required": True, "kind": "device", "manufacturer": "ACME", "model": "M1", "firmware": "1",
                        "rig": "r1", "device": "ESME"})
    (path / "junit.xml").write_text("<testsuite name='pytest' tests='2'/>\n")
    (path / "traces").mkdir()
    (path / "traces" / "r1-migrate.log").write_bytes(b"\x00\x01frame trace\n")
    from rig.report import tests as journal_tests
    write_reports(journal_tests(path / "journal.jsonl"), path)
    return path


@pytest.fixture(params=["signed", "unsigned"])
def sealed(request, tmp_path, keys):
    folder = _report_folder(tmp_path / "report")
    key = keys["signer"] if request.param == "signed" else None
    m.write_manifest(folder, key, verdicts=VERDICTS)
    return folder, request.param == "signed"


def _artefacts(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_clean_folder_verifies(sealed, keys):
    folder, signed = sealed
    result = m.verify(folder)
    assert result.ok, result.problems
    assert result.signed is signed and result.verdicts == VERDICTS
    assert set(result.files) == set(_artefacts(folder)) - set(m.SEAL_FILES)
    assert {"journal.jsonl", "junit.xml", "index.html", "traces/r1-migrate.log"} <= set(result.files)
    manifest = json.loads((folder / m.MANIFEST_NAME).read_text())
    if signed:
        assert result.signer_sha256 == manifest["signature"]["public_key_sha256"]
        assert m.verify(folder, public_key=keys["signer_pub"]).signer_pinned
    else:
        assert manifest["signature"] is None and "unsigned" in manifest["unsigned"]


def test_flipping_one_byte_of_any_file_fails(sealed):
    folder, _ = sealed
    for name in _artefacts(folder):
        path = folder / name
        original = path.read_bytes()
        for position in (0, len(original) // 2, len(original) - 1):
            flipped = bytearray(original)
            flipped[position] ^= 0x01
            path.write_bytes(bytes(flipped))
            try:
                result = m.verify(folder)
            except m.ManifestError:  # the manifest itself no longer parses: also a failure
                assert name == m.MANIFEST_NAME
                continue
            finally:
                path.write_bytes(original)
            assert not result.ok, f"byte {position} of {name} flipped, still verifies"
            if name not in m.SEAL_FILES:
                assert result.problem_for(name).kind == "edited"
        assert m.verify(folder).ok


def test_a_deleted_or_added_file_fails(sealed):
    folder, _ = sealed
    (folder / "junit.xml").unlink()
    (folder / "traces" / "planted.log").write_text("evidence\n")
    result = m.verify(folder)
    assert not result.ok
    assert result.problem_for("junit.xml").kind == "missing"
    assert result.problem_for("traces/planted.log").kind == "added"


def test_a_deleted_seal_fails(sealed):
    folder, signed = sealed
    (folder / (m.SIGNATURE_NAME if signed else m.DIGEST_NAME)).unlink()
    result = m.verify(folder)
    assert not result.ok and result.problems[0].kind == "signature"


def test_an_edited_manifest_fails(sealed):
    folder, _ = sealed
    path = folder / m.MANIFEST_NAME
    manifest = json.loads(path.read_text())
    manifest["verdicts"] = {"ACME M1 1": "MIGRATABLE: edited by hand"}
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    result = m.verify(folder)
    assert not result.ok and any(p.kind == "signature" for p in result.problems)


def test_a_rehashed_manifest_signed_by_another_key_fails_when_the_signer_is_pinned(tmp_path, keys):
    folder = _report_folder(tmp_path / "report")
    m.write_manifest(folder, keys["signer"], verdicts=VERDICTS)
    (folder / "junit.xml").write_text("<testsuite name='pytest' tests='0'/>\n")
    m.write_manifest(folder, keys["other"], verdicts=VERDICTS)  # a forger reseals with a key of their own
    assert m.verify(folder).ok  # consistent in itself ...
    pinned = m.verify(folder, public_key=keys["signer_pub"])
    assert not pinned.ok and "another key" in pinned.problems[0].detail  # ... but not by the lab's key
    m.write_manifest(folder, None, verdicts=VERDICTS)  # or downgrades to unsigned
    assert not m.verify(folder, public_key=keys["signer_pub"]).ok


def test_a_signature_swapped_from_another_key_fails(tmp_path, keys):
    folder = _report_folder(tmp_path / "report")
    m.write_manifest(folder, keys["other"])
    foreign = (folder / m.SIGNATURE_NAME).read_bytes()
    m.write_manifest(folder, keys["signer"])
    (folder / m.SIGNATURE_NAME).write_bytes(foreign)
    result = m.verify(folder)
    assert not result.ok and result.problems[0].path == m.SIGNATURE_NAME


def test_signing_keys_that_are_not_p256_are_typed_errors(tmp_path):
    folder = _report_folder(tmp_path / "report")
    p384 = tmp_path / "p384.key"
    p384.write_bytes(_pem(ec.generate_private_key(ec.SECP384R1())))
    rsa_key = tmp_path / "rsa.key"
    rsa_key.write_bytes(_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    for path, words in ((p384, "not P-256"), (rsa_key, "not an EC"), (garbage, "not a PEM private key"),
                        (tmp_path / "absent.key", "absent.key")):
        with pytest.raises(m.SigningKeyError, match=words):
            m.write_manifest(folder, path)
    assert not (folder / m.MANIFEST_NAME).exists()  # a bad key leaves the folder unsealed, not half-sealed


def test_malformed_manifests_are_manifest_errors(tmp_path):
    folder = _report_folder(tmp_path / "report")
    with pytest.raises(m.ManifestError, match="never sealed"):
        m.verify(folder)
    for text in ("{", "[]", '{"format": "gbcs-rig report manifest 1", "files": 3}',
                 '{"format": "gbcs-rig report manifest 1", "files": [{"path": "../x", "size": 1, "sha256": ""}]}'):
        (folder / m.MANIFEST_NAME).write_text(text)
        with pytest.raises(m.ManifestError):
            m.verify(folder)


# -- gbcs-rig report verify ------------------------------------------------------------------


def test_cli_verify_ok_and_tampered(tmp_path, keys, capsys):
    folder = _report_folder(tmp_path / "report")
    m.write_manifest(folder, keys["signer"], verdicts=VERDICTS)
    assert main(["report", "verify", str(folder), "--key", str(keys["signer_pub"]), "-v"]) == 0
    out = capsys.readouterr().out
    count = len(m.verify(folder).files)
    assert "OK      junit.xml" in out and f"OK      {count} of {count} sealed file(s) unchanged" in out
    assert "FAILED" not in out and "VERIFIED" in out and "MIGRATABLE: all 2 required" in out
    assert "the key given with --key" in out
    assert main(["report", "verify", str(folder), "--key", str(keys["other_pub"])]) == 1
    assert "signed by another key" in capsys.readouterr().out
    page = folder / "index.html"
    page.write_bytes(page.read_bytes().replace(b"MIGRATABLE", b"MIGRATABLX", 1))
    assert main(["report", "verify", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "FAILED  edited: index.html" in out and out.rstrip().endswith("NOT VERIFIED")
    assert f"OK      {count - 1} of {count} sealed file(s) unchanged" in out and "OK      junit.xml" not in out
    assert "NOT protected" in out


def test_cli_verify_unsigned_warns(tmp_path, keys, capsys):
    folder = _report_folder(tmp_path / "report")
    m.write_manifest(folder, None, verdicts=VERDICTS)
    assert main(["report", "verify", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "WARNING unsigned" in out and "VERIFIED (unsigned" in out
    assert main(["report", "verify", str(folder), "--key", str(keys["signer_pub"])]) == 1


def test_cli_verify_bad_input_is_one_line_without_traceback(tmp_path, keys, capsys):
    folder = _report_folder(tmp_path / "report")
    cases = [([str(tmp_path / "absent")], 2), ([str(folder)], 1)]  # no folder; no manifest
    for argv, code in cases:
        assert main(["report", "verify", *argv]) == code
    m.write_manifest(folder, keys["signer"])
    (folder / m.MANIFEST_NAME).write_text('{"format": ')
    assert main(["report", "verify", str(folder)]) == 1
    assert main(["report", "verify", str(folder), "--key", str(tmp_path / "absent.pem")]) == 2
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    assert "does not exist" in text and "never sealed" in text and "not valid JSON" in text
    assert "absent.pem" in text


def test_the_signer_can_be_pinned_by_certificate_or_key_file(tmp_path, fixture_pki, keys):
    """A lab signs with a key it holds a certificate for; verify takes the certificate PEM."""
    credential = fixture_pki.root
    key_path, cert_path = tmp_path / "root.key", tmp_path / "root.pem"
    key_path.write_bytes(_pem(credential.private_key))
    cert_path.write_bytes(credential.certificate.public_bytes(serialization.Encoding.PEM))
    folder = _report_folder(tmp_path / "report")
    m.write_manifest(folder, key_path, verdicts=VERDICTS)
    for pin in (cert_path, key_path, credential.private_key.public_key()):
        result = m.verify(folder, public_key=pin)
        assert result.ok and result.signer_pinned, pin
    assert m.describe_signing(key_path).endswith(result.signer_sha256)
    assert not m.verify(folder, public_key=keys["other_pub"]).ok
    with pytest.raises(m.SigningKeyError):
        m.verify(folder, public_key=tmp_path / "report" / "junit.xml")  # not a key at all
