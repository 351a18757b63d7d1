"""``gbcs-rig prove`` end to end: the proof report, a non-migratable model, resume, merge."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rig.cli.main import main
from rig.gbcs import CraFlag, decode
from rig.report import journal as journal_module

from .vectors import PROJECT

EMULATED = PROJECT / "hw_configs" / "emulated.toml"


def verdicts(index: Path) -> dict[str, str]:
    text = index.read_text()
    rows = re.findall(r"<tr><td><a href='([^']+)'>([^<]+)</a></td><td>[^<]*</td><td class='\w+'>([^<]+)</td>", text)
    return {model: verdict for _, model, verdict in rows}


def test_prove_on_the_emulated_default_proves_every_model(tmp_path, capsys):
    report = tmp_path / "proof"
    assert main(["prove", "--config", str(EMULATED), "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\[\d+/\d+\] test_migration\[esme\]\s+PASSED", out)
    assert verdicts(report / "index.html") == {f"gbcs-rig emulated {t} 0.1.0": "MIGRATABLE"
                                               for t in ("ESME", "GSME", "CHF", "GPF")}
    page = (report / "proof-gbcs-rig-emulated-esme-0-1-0.html").read_text()
    assert "MIGRATABLE: all" in page
    for title in ("TCoS to ECoS migration", "Change of supplier after migration (N26)",
                  "Future-dated change of supplier (0x8F66)", "Discarded: forged signature",
                  "SRV 6.23 check mpid fails", "Anomaly detection breach (N63)"):
        assert f">{title}</a></td><td>esme</td><td>yes</td><td class='passed'>passed</td>" in page
    assert page.count("<svg") > 20 and "within target" in page
    assert "verdict: MIGRATABLE (exit 0)" in out
    records = journal_module.tests(report / "journal.jsonl")
    assert {r["outcome"] for r in records} == {"passed", "not-applicable"}
    for record in (r for r in records if r["outcome"] == "not-applicable"):
        assert record["reason"] and record.get("synthesised")  # declared by the catalogue, never run
    assert len([r for r in records if r["outcome"] == "passed"]) == 114
    assert "The rig's own DCC-side checks</h2>" in page and "not counted for the device verdict" in page
    assert re.search(r"Device conformance</h2><p>33 required scenario results counted for the verdict: 33 passed", page)
    assert "MIGRATABLE: all 33 required scenario results passed" in page
    migration = next(r for r in records if r["scenario"] == "migration" and r["rig"] == "esme")
    messages = [decode(bytes.fromhex(f["hex"])) for f in migration["frames"]]
    assert [m.message_code for m in messages if m.cra_flag == CraFlag.COMMAND] == [0x0008, 0x0008, 0x0106, 0x0008]
    assert (report / "junit.xml").exists() and "testcase" in (report / "junit.xml").read_text()


def _non_migratable_config(tmp_path: Path) -> Path:
    config = tmp_path / "rigs.toml"
    config.write_text("""
[defaults.timeouts]
response = 0.5
alert = 1
join = 1

[rigs.stubborn]
device = "ESME"
manufacturer = "ACME"
model = "NOMIGRATE-1"
firmware = "2.0"
device_id = "7E570D00000000A0"
features = ["cs02b"]
transport = { kind = "emulated", profile = "non-migratable" }
""")
    return config


def test_a_non_migratable_model_is_named_with_its_failing_scenario(tmp_path, capsys):
    report = tmp_path / "proof"
    code = main(["prove", "--config", str(_non_migratable_config(tmp_path)), "--report", str(report),
                 "-k", "read_back or migration or forged or change_of_supplier"])
    assert code == 1
    assert verdicts(report / "index.html") == {"ACME NOMIGRATE-1 2.0": "NOT MIGRATABLE"}
    page = (report / "proof-acme-nomigrate-1-2-0.html").read_text()
    assert re.search(r"NOT MIGRATABLE: failed: [^<]*TCoS to ECoS migration on stubborn", page)
    assert re.search(r"NOT MIGRATABLE: failed: .*TCoS to ECoS migration", capsys.readouterr().out)
    records = {r["scenario"]: r for r in journal_module.tests(report / "journal.jsonl")}
    assert records["initial-read-back"]["outcome"] == "passed"
    assert records["forged-signature"]["outcome"] == "passed"  # the model is conforming otherwise
    assert records["migration"]["outcome"] == "failed"


def _sent_counters(records) -> dict[tuple[str, str, str], list[int]]:
    """Originator counters sent, per (rig, originator, recipient): each rig's device keeps its own
    counters, and the wrong-recipient probe of every rig names the same absent device with that
    rig's counter, so the same counter from two rigs is no reuse."""
    sent: dict[tuple[str, str, str], list[int]] = {}
    for record in records:
        for frame in record.get("frames", []):
            if frame["direction"] != "tx":
                continue
            try:
                message = decode(bytes.fromhex(frame["hex"]))
            except ValueError:
                continue
            sent.setdefault((record["rig"], message.originator_id.hex(), message.recipient_id.hex()), []).append(
                message.originator_counter)
    return sent


@pytest.mark.slow  # two subprocess runs of every rig; the fast suite resumes after SIGINT (tests/test_verdict.py)
def test_resume_after_a_killed_run_never_reuses_a_counter(tmp_path):
    report = tmp_path / "proof"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    command = [sys.executable, "-m", "rig.cli.main", "prove", "--config", str(EMULATED), "--report", str(report)]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal = report / "journal.jsonl"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if journal.exists() and sum('"type":"test"' in line for line in journal.read_text().splitlines()) >= 12:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)  # power loss: no clean-up of any kind
    finally:
        process.wait(timeout=30)
    first = [r for r in journal_module.tests(journal) if not r.get("synthesised")]
    assert 12 <= len(first) < 114, "the run must be interrupted part way"
    assert not any(json.loads(line)["type"] == "end" for line in journal.read_text().splitlines() if line.strip())
    first_counters = _sent_counters(first)

    resumed = subprocess.run([*command[:3], "prove", "--config", str(EMULATED), "--resume", str(report)], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert f"{len(first)} scenario result(s) already concluded" in resumed.stdout
    assert "MIGRATABLE: all" in resumed.stdout and "NOT PROVEN" not in resumed.stdout
    records = [r for r in journal_module.read(journal) if r.get("type") == "test"]
    keys = [(r["scenario"], r["rig"]) for r in records]
    assert len(keys) == len(set(keys)), "a concluded scenario ran again"
    second = [r for r in records if (r["scenario"], r["rig"]) not in {(f["scenario"], f["rig"]) for f in first}]
    for pair, counters in _sent_counters(second).items():
        if pair in first_counters:
            assert min(counters) > max(first_counters[pair]), f"counter reused for {pair}"
    assert len({(r["scenario"], r["rig"]) for r in records}) == 114


def test_report_merge_joins_runs(tmp_path, capsys):
    """Each run judges the whole config; the merge judges the union and names what is missing."""
    first, second, merged = tmp_path / "a", tmp_path / "b", tmp_path / "merged"
    assert main(["prove", "--config", str(EMULATED), "--report", str(first), "--rig", "chf"]) == 3
    out = capsys.readouterr().out
    assert f"--resume {first} --rig esme --rig gpf --rig gsme" in out  # --rig left them out
    assert main(["prove", "--config", str(EMULATED), "--report", str(second), "--rig", "gpf",
                 "-k", "read_back or migration"]) == 3
    assert main(["report", "merge", str(first), str(second), "--out", str(merged)]) == 3
    from rig.report.manifest import verify

    sealed = verify(merged)
    assert sealed.ok and sealed.verdicts["gbcs-rig emulated GPF 0.1.0"].startswith("NOT PROVEN")
    found = verdicts(merged / "index.html")
    chf_page = (merged / "proof-gbcs-rig-emulated-chf-0-1-0.html").read_text()
    assert "<h2>Attribution</h2>" in chf_page and "rig chf" in chf_page  # the merged page says what was measured
    assert found["gbcs-rig emulated CHF 0.1.0"] == "MIGRATABLE"
    assert found["gbcs-rig emulated GPF 0.1.0"] == "NOT PROVEN"  # only read-back and migration ran on it
    assert found["gbcs-rig emulated ESME 0.1.0"] == "NOT PROVEN"  # never ran
    records = journal_module.tests(merged / "journal.jsonl")
    gpf = {r["scenario"]: r["outcome"] for r in records if r["rig"] == "gpf"}
    assert gpf["migration"] == "passed" and gpf["forged-signature"] == "not-run"
    suites = (merged / "junit.xml").read_text()
    assert suites.count("<testsuite ") == 1 and suites.count("<testcase ") == len(records)
    assert main(["report", "merge", str(tmp_path / "nothing"), "--out", str(merged)]) == 2
    capsys.readouterr()


def _prove_over_a_real_pty(tmp_path: Path, *options: str) -> tuple[int, list[dict], str]:
    """``gbcs-rig prove`` on the shipped HDLC pty rig: the emulated meter runs in another process
    behind a pseudo-terminal (``gbcs-rig emulate``). Exit code, journal records, ESME proof page."""
    report = tmp_path / "serial"
    text = (PROJECT / "hw_configs" / "emulated-serial.toml").read_text()
    config = tmp_path / "hdlc.toml"  # the shipped file's HDLC rig alone, its relative PKI path made absolute
    config.write_text(text[:text.index("[rigs.esme-pty-lp]")].replace("../fixtures/pki", str(PROJECT / "fixtures" / "pki")))
    code = main(["prove", "--config", str(config), "--report", str(report), *options])
    records = journal_module.tests(report / "journal.jsonl")
    assert {r["rig"] for r in records} == {"esme-pty-hdlc"}
    assert {r["transport"] for r in records} == {"serial"}
    migration = [r for r in records if r["scenario"] == "migration"]
    assert migration and all(m["outcome"] == "passed" for m in migration)
    probes = [r for r in records if r["scenario"] in ("forged-signature", "bad-mac", "replayed-counter")]
    assert len(probes) == 3 and all(r["delivery"] == "device alert" for r in probes)  # alerts checked over serial too
    page = (report / "proof-gbcs-rig-emulated-esme-0-1-0.html").read_text()
    assert ">TCoS to ECoS migration</a></td><td>esme-pty-hdlc</td>" in page
    assert "emulated over a real link" in page
    return code, records, (report / "index.html")


def test_prove_over_a_real_pty_with_hdlc_checks_alerts_over_serial(tmp_path, capsys):
    """The migration and the three probes whose evidence is a device alert, over the pty (the
    whole catalogue: below, under slow); what was left out is not run, so NOT PROVEN."""
    code, records, index = _prove_over_a_real_pty(
        tmp_path, "-k", "(migration and not before and not after and not expired and not power) or "
                        "forged-signature or bad-mac or replayed-counter")
    capsys.readouterr()
    assert code == 3 and verdicts(index) == {"gbcs-rig emulated ESME 0.1.0": "NOT PROVEN"}
    ran = {r["scenario"]: r["outcome"] for r in records if not r.get("synthesised")}
    assert ran == dict.fromkeys(("migration", "forged-signature", "forged-signature-migration", "bad-mac",
                                 "replayed-counter"), "passed")


@pytest.mark.slow  # the whole catalogue over the pty; fast: the migration and the alert probes (above)
def test_prove_over_a_real_pty_with_hdlc(tmp_path, capsys):
    """(Length-prefixed framing over a real pty proves the model MIGRATABLE through a relay in
    ``tests/test_verdict.py``; one full pass per framing.)"""
    code, _records, index = _prove_over_a_real_pty(tmp_path)
    capsys.readouterr()
    assert code == 0
    assert verdicts(index) == {"gbcs-rig emulated ESME 0.1.0": "MIGRATABLE"}


def test_prove_seals_its_folder_with_the_configured_key(tmp_path, capsys):
    """The manifest is written last and signed with ``--sign-key``: the folder verifies against
    that key, shows the verdicts, and one flipped byte in the proof page breaks it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from rig.report.manifest import verify

    key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "seal.key"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    report = tmp_path / "proof"
    code = main(["prove", "--config", str(EMULATED), "--rig", "chf", "--report", str(report),
                 "--sign-key", str(pem)])
    assert code == 3  # only the CHF ran: the others are not run, so NOT PROVEN
    assert "sealed:" in capsys.readouterr().out
    result = verify(report, public_key=key.public_key())
    assert result.ok and result.signed and result.signer_pinned, result.problems
    assert result.verdicts["gbcs-rig emulated CHF 0.1.0"].startswith("MIGRATABLE")
    assert result.verdicts["gbcs-rig emulated ESME 0.1.0"].startswith("NOT PROVEN")
    page = report / "proof-gbcs-rig-emulated-chf-0-1-0.html"
    data = bytearray(page.read_bytes())
    data[len(data) // 2] ^= 0x01
    page.write_bytes(bytes(data))
    assert not verify(report, public_key=key.public_key()).ok


def test_a_signing_key_that_is_not_p256_is_a_configuration_error(tmp_path, capsys):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = tmp_path / "p384.key"
    pem.write_bytes(ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    report = tmp_path / "proof"
    assert main(["prove", "--config", str(EMULATED), "--report", str(report), "--sign-key", str(pem)]) == 2
    assert "configuration error" in capsys.readouterr().err
    assert not (report / "journal.jsonl").exists()  # nothing ran
