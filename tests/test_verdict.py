"""The verdict end to end: what a run leaves out is NOT PROVEN, a rig fault is inconclusive, a
negative probe passes only on evidence that it reached the device, credentials are never
guessed, and a resumed run completes the proof in the same folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rig.cli.main import main
from rig.report import journal as journal_module
from rig.scenarios import steps
from rig.scenarios.catalogue import CATALOGUE
from rig.transport.spawn import EmulatorProcess

from .child_signals import interruptible
from .pty_relay import PtyRelay
from .vectors import PROJECT

FIXTURE_PKI = PROJECT / "fixtures" / "pki"
REQUIRED_ESME = [s for s in CATALOGUE if s.kind == "device" and "ESME" in s.devices and not s.features]


def _config(tmp_path: Path, body: str, *, name: str = "rigs.toml", response: float = 1.0, join: float = 5) -> Path:
    path = tmp_path / name
    path.write_text(f"[defaults.timeouts]\nresponse = {response}\nalert = 5\njoin = {join}\n\n{body}")
    return path


SOLO = """
[rigs.solo]
device = "ESME"
manufacturer = "ACME"
model = "SOLO-1"
firmware = "1.0"
device_id = "7E570D00000000A0"
features = ["cs02b"]
transport = { kind = "emulated" }
credentials = { pki = "PKI" }
""".replace("PKI", str(FIXTURE_PKI))


def _records(report: Path) -> dict[str, dict]:
    return {r["scenario"]: r for r in journal_module.tests(report / "journal.jsonl")}


def _lines(report: Path) -> list[dict]:
    return [json.loads(line) for line in (report / "journal.jsonl").read_text().splitlines() if line.strip()]


def test_k_leaves_the_rest_not_run_and_resume_completes_it_with_the_remembered_config(tmp_path, capsys,
                                                                                     monkeypatch):
    config, report = _config(tmp_path, SOLO), tmp_path / "proof"
    assert main(["prove", "--config", str(config), "--report", str(report), "-k", "read_back"]) == 3
    out = capsys.readouterr().out
    assert "ACME SOLO-1 1.0" in out and "NOT PROVEN" in out and "not run: " in out
    assert "Discarded: forged signature on solo" in out and "TCoS to ECoS migration on solo" in out
    assert f"to complete it: gbcs-rig prove --resume {report}" in out
    records = _records(report)
    assert records["initial-read-back"]["outcome"] == "passed"
    assert records["migration"]["outcome"] == "not-run"
    # declared not applicable, with the catalogue's reason: not counted, not missing
    assert records["future-dated"]["outcome"] == "not-applicable" and "future_dated" in records["future-dated"]["reason"]
    page = (report / "proof-acme-solo-1-1-0.html").read_text()
    assert "NOT PROVEN" in page and f"gbcs-rig prove --resume {report}" in page

    monkeypatch.chdir(tmp_path)  # the default hw_configs/emulated.toml is not here: nothing to fall back on
    assert main(["prove", "--resume", str(report)]) == 0  # no --config: the run's own is remembered
    out = capsys.readouterr().out
    assert "ACME SOLO-1 1.0" in out and "MIGRATABLE: all" in out and "verdict: MIGRATABLE (exit 0)" in out
    records = journal_module.tests(report / "journal.jsonl")
    assert {r["rig"] for r in records} == {"solo"}
    counted = [r for r in records if r["kind"] == "device" and r["outcome"] != "not-applicable"]
    assert len(counted) == len(REQUIRED_ESME) and all(r["outcome"] == "passed" for r in counted)
    junit = (report / "junit.xml").read_text()
    assert list(report.glob("junit*.xml")) == [report / "junit.xml"]  # one JUnit file per folder
    assert junit.count("<testcase ") == len(records)
    sessions = [r for r in _lines(report) if r["type"] == "session"]
    assert len(sessions) == 2 and all(s["options"]["config"] == str(config) for s in sessions)
    # a resume against another config is a usage error, not a silent mix
    assert main(["prove", "--resume", str(report), "--config", str(PROJECT / "hw_configs" / "emulated.toml")]) == 2
    capsys.readouterr()


def test_sigint_leaves_not_proven_and_resume_completes(tmp_path):
    config, report = _config(tmp_path, SOLO), tmp_path / "proof"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    command = [sys.executable, "-m", "rig.cli.main", "prove", "--config", str(config), "--report", str(report)]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=interruptible)
    journal = report / "journal.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if journal.exists() and journal.read_text().count('"type":"test"') >= 3:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 3, out[-2000:] + err[-2000:]
    assert "NOT PROVEN" in out and "not run: " in out and "interrupted" in out
    records = journal_module.tests(journal)
    assert any(r["outcome"] == "not-run" for r in records) and not any(r["outcome"] == "failed" for r in records)
    end = [r for r in _lines(report) if r["type"] == "end"][-1]
    assert end["complete"] is False and end["ended"]
    assert "interrupted (Ctrl-C)" in (report / "proof-acme-solo-1-1-0.html").read_text()
    resumed = subprocess.run([*command[:3], "prove", "--resume", str(report)], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert "MIGRATABLE: all" in resumed.stdout


def test_a_killed_run_merges_to_not_proven_naming_what_is_missing(tmp_path, capsys):
    """A report merged from a killed run never says MIGRATABLE for what it did not run."""
    config, report = _config(tmp_path, SOLO), tmp_path / "proof"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    process = subprocess.Popen([sys.executable, "-m", "rig.cli.main", "prove", "--config", str(config), "--report",
                                str(report)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    journal = report / "journal.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if journal.exists() and journal.read_text().count('"type":"test"') >= 3:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    concluded = journal.read_text().count('"type":"test"')
    assert 3 <= concluded < len(REQUIRED_ESME)
    assert main(["report", "merge", str(report), "--out", str(tmp_path / "merged")]) == 3
    out = capsys.readouterr().out
    assert "NOT PROVEN" in out and "not run: " in out
    page = (tmp_path / "merged" / "proof-acme-solo-1-1-0.html").read_text()
    assert "interrupted: the last run wrote no end record" in page


def test_rig_faults_are_inconclusive_with_the_cause_on_the_console(tmp_path, capsys):
    """An unreachable port and a device that never answers its read-back: inconclusive, the
    cause printed inline, never failed, never a bare Python exception text."""
    config = _config(tmp_path, """
[rigs.unreachable]
device = "ESME"
manufacturer = "ACME"
model = "PORT"
firmware = "1"
device_id = "7E570D00000000A0"
transport = { kind = "serial", url = "socket://127.0.0.1:9", framing = "length-prefixed" }

[rigs.mute]
device = "ESME"
manufacturer = "ACME"
model = "MUTE"
firmware = "1"
device_id = "7E570D00000000A0"
transport = { kind = "emulated", profile = "mute" }
""", response=0.2, join=1)
    report = tmp_path / "proof"
    assert main(["prove", "--config", str(config), "--report", str(report), "-k", "read_back or forged"]) == 3
    out = capsys.readouterr().out
    assert re.search(r"test_initial_read_back\[unreachable\]\s+INCONCLUSIVE", out)
    assert "inconclusive: link lost: serial:unreachable: could not open socket://127.0.0.1:9 within 1.0s" in out
    assert "Connection refused" in out
    assert re.search(r"test_initial_read_back\[mute\]\s+INCONCLUSIVE", out)
    assert "inconclusive: no answer to the CS02a read-back" in out
    records = journal_module.tests(report / "journal.jsonl")
    ran = [r for r in records if r["outcome"] not in ("not-run", "not-applicable")]
    # two rigs: read-back, forged-signature, forged-ca-signature, forged-signature-migration
    assert len(ran) == 8 and all(r["outcome"] == "inconclusive" for r in ran)
    for record in ran:
        assert "Traceback" not in record["reason"] and "IndexError" not in record["reason"]
        assert record["reason"].startswith(("link lost", "rig unreachable is broken: link lost", "no answer"))
    assert "NOT MIGRATABLE" not in out


def test_a_device_that_dies_mid_run_is_inconclusive_never_failed(tmp_path, capsys):
    # the emulator's processed signal (declared: processed_signal) ends the waits of the scenarios
    # before the kill at the signal instead of the response timeout (about 3.5 s of this test);
    # after the kill no signal can come, and the link is lost as before
    emulator = EmulatorProcess("ESME", framing="length-prefixed", pki_dir=FIXTURE_PKI, signal_processed=True)
    url = emulator.start()
    config = _config(tmp_path, f"""
[rigs.dies]
device = "ESME"
manufacturer = "ACME"
model = "DIES"
firmware = "1"
device_id = "7E570D00000000A0"
features = ["cs02b", "processed_signal"]
transport = {{ kind = "serial", url = "{url}", framing = "length-prefixed" }}
""", join=1)
    report = tmp_path / "proof"

    def kill_after_three() -> None:
        journal = report / "journal.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if journal.exists() and journal.read_text().count('"type":"test"') >= 3:
                break
            time.sleep(0.02)
        emulator.process.kill()

    killer = threading.Thread(target=kill_after_three)
    killer.start()
    try:
        code = main(["prove", "--config", str(config), "--report", str(report)])
    finally:
        killer.join()
        emulator.stop()
    out = capsys.readouterr().out
    assert code == 3, out[-3000:]
    records = journal_module.tests(report / "journal.jsonl")
    outcomes = [r["outcome"] for r in records]
    assert "failed" not in outcomes, [(r["scenario"], r["reason"]) for r in records if r["outcome"] == "failed"]
    assert outcomes.count("passed") >= 3 and outcomes.count("inconclusive") >= 3
    assert "inconclusive: " in out and "NOT PROVEN" in out


# -- negative probes over a real link -------------------------------------------------------------------

NEGATIVE = "read_back or forged or bad_mac or wrong_recipient or truncated or oversized or replayed"
PROBES_WITH_ALERTS = ("forged-signature", "bad-mac", "truncated-frame", "oversized-length", "replayed-counter")


def _relay_config(tmp_path: Path, url: str, *, response: float = 1.0) -> Path:
    return _config(tmp_path, f"""
[rigs.relayed]
device = "ESME"
manufacturer = "ACME"
model = "RELAYED"
firmware = "1"
device_id = "7E570D00000000A0"
features = ["cs02b", "future_dated", "processed_signal"]
credentials = {{ pki = "{FIXTURE_PKI}" }}
transport = {{ kind = "serial", url = "{url}", framing = "length-prefixed", inter_byte_timeout = 0.05 }}
""", response=response)


@pytest.fixture
def relay():
    """``gbcs-rig emulate`` behind the relay, sending its processed signal; the rig's config
    declares it (``processed_signal``), as nothing else tells the rig what is at the far end."""
    with EmulatorProcess("ESME", framing="length-prefixed", pki_dir=FIXTURE_PKI, signal_processed=True) as emulator:
        with PtyRelay(emulator.url) as relay:
            yield relay


def test_a_link_that_drops_the_probes_proves_nothing(tmp_path, capsys, monkeypatch, relay):
    """Silence is never a pass: each probe GBCS defines an alert for is inconclusive when the
    link drops it; the wrong-recipient probe (no alert) passes on liveness, marked inferred."""
    original = steps.send_probe

    def dropped(rig, frame):
        relay.dropping.set()
        try:
            return original(rig, frame)
        finally:
            time.sleep(0.05)
            relay.dropping.clear()

    monkeypatch.setattr(steps, "send_probe", dropped)
    report = tmp_path / "proof"
    # a dropped probe is waited out to the response timeout (nothing can arrive, so no signal
    # either): a shorter one than the relay's other test, still ample for the emulator's answers
    config = _relay_config(tmp_path, relay.url, response=0.5)
    assert main(["prove", "--config", str(config), "--report", str(report),
                 "-k", NEGATIVE]) == 3
    out = capsys.readouterr().out
    assert relay.dropped > 0
    records = _records(report)
    for name in PROBES_WITH_ALERTS:
        assert records[name]["outcome"] == "inconclusive", (name, records[name]["reason"])
        assert "may not have reached the device" in records[name]["reason"]
        assert f"inconclusive: {name}" in out or "inconclusive: replay" in out
    assert records["wrong-recipient"]["outcome"] == "passed"
    assert records["wrong-recipient"]["delivery"] == "delivery inferred"
    assert "failed" not in {r["outcome"] for r in records.values()}


def test_the_same_relay_passing_everything_proves_the_model(tmp_path, capsys, relay):
    report = tmp_path / "proof"
    code = main(["prove", "--config", str(_relay_config(tmp_path, relay.url)), "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    assert "ACME RELAYED 1" in out and "MIGRATABLE: all" in out
    records = _records(report)
    for name in PROBES_WITH_ALERTS:
        assert records[name]["outcome"] == "passed" and records[name]["delivery"] == "device alert"
        assert any(m["name"].endswith("verified device alert") and m["ok"] for m in records[name]["evidence"])
    assert records["wrong-recipient"]["delivery"] == "delivery inferred"
    page = (report / "proof-acme-relayed-1.html").read_text()
    assert "(delivery inferred)" in page and "HARDWARE" in page  # a real link: the rig cannot tell


# -- credentials ------------------------------------------------------------------------------------


def test_credentials_that_are_not_a_pki_are_config_errors_naming_the_line(tmp_path, capsys):
    for folder, message in ((tmp_path / "nowhere", "does not exist"), (Path("/etc"), "is not a PKI")):
        config = _config(tmp_path, SOLO.replace(str(FIXTURE_PKI), str(folder)))
        report = tmp_path / f"proof-{folder.name}"
        assert main(["prove", "--config", str(config), "--report", str(report)]) == 2
        err = capsys.readouterr().err
        assert f"{config}:" in err and "rigs.solo.credentials.pki" in err and message in err
        line = int(err.split(f"{config}:")[1].split(":")[0])
        assert "credentials" in config.read_text().splitlines()[line - 1]
        assert not (report / "journal.jsonl").exists()  # nothing ran on a guessed PKI


def _bare_keystore(tmp_path: Path) -> Path:
    """A lab-style key store: <EUI-64>-<ds|ka>.<pem|key> files, ca/, xmlsign/, parties.toml."""
    store = tmp_path / "lab-keys"
    shutil.copytree(FIXTURE_PKI / "keystore", store)
    (store / "ca").mkdir()
    for name in ("root", "issuing-ca", "device-ca"):
        shutil.copy(FIXTURE_PKI / "ca" / f"{name}.pem", store / "ca" / f"{name}.pem")
    shutil.copytree(FIXTURE_PKI / "xmlsign", store / "xmlsign")
    (store / "parties.toml").write_text(
        '[parties]\ntcos = "7E57000000000004"\necos = "7E57000000000005"\n'
        'supplier_a = "7E57000000010000"\nsupplier_b = "7E57000000030000"\n\n[devices]\n'
        'esme = { type = "ESME", entity_id = "7E570D00000000A0" }\n'
        'chf = { type = "CHF", entity_id = "7E570D00000000A2" }\n'
        'gpf = { type = "GPF", entity_id = "7E570D00000000A3" }\n')
    return store


def test_a_bare_key_store_works_and_the_report_shows_its_fingerprints(tmp_path, capsys):
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    store = _bare_keystore(tmp_path)
    config = _config(tmp_path, SOLO.replace(str(FIXTURE_PKI), str(store)))
    report = tmp_path / "proof"
    assert main(["prove", "--config", str(config), "--report", str(report), "-k", "read_back or migration"]) == 3
    capsys.readouterr()
    records = _records(report)
    assert records["initial-read-back"]["outcome"] == "passed" and records["migration"]["outcome"] == "passed"
    pki = _lines(report)[0]["attribution"]["rigs"]["solo"]["pki"]
    expected = {name: hashlib.sha256(x509.load_pem_x509_certificate((store / "ca" / f"{name}.pem").read_bytes())
                                     .public_bytes(Encoding.DER)).hexdigest().upper()
                for name in ("root", "issuing-ca")}
    assert (pki["root_sha256"], pki["issuing_ca_sha256"]) == (expected["root"], expected["issuing-ca"])
    assert pki["layout"] == "keystore" and pki["source"] == str(store)
    page = (report / "proof-acme-solo-1-1-0.html").read_text()
    assert expected["root"] in page and expected["issuing-ca"] in page
    # the key store holds the project's published test keys: the report says so, prominently
    assert pki["test_pki"] is True and "published test PKI: not a lab credential" in page


def test_an_ambiguous_key_store_is_a_clear_error(tmp_path, capsys):
    store = _bare_keystore(tmp_path)
    (store / "parties.toml").unlink()
    config = _config(tmp_path, SOLO.replace(str(FIXTURE_PKI), str(store)))
    assert main(["prove", "--config", str(config), "--report", str(tmp_path / "proof")]) == 2
    err = capsys.readouterr().err
    assert "parties have role" in err and "parties.toml" in err


def test_attribution_in_the_first_record(tmp_path, capsys):
    config, report = _config(tmp_path, SOLO), tmp_path / "proof"
    main(["prove", "--config", str(config), "--report", str(report), "-k", "read_back"])
    capsys.readouterr()
    first = _lines(report)[0]
    assert first["type"] == "session"
    attribution = first["attribution"]
    assert set(attribution) >= {"gbcs_rig_version", "source_revision", "catalogue_version", "started", "config", "rigs"}
    assert re.fullmatch(r"[0-9a-f]{64}", attribution["catalogue_version"])
    solo = attribution["rigs"]["solo"]
    assert (solo["device_type"], solo["manufacturer"], solo["model"], solo["firmware"], solo["eui64"]) == \
        ("ESME", "ACME", "SOLO-1", "1.0", "7E570D00000000A0")
    assert solo["rig_kind"] == "EMULATED in-process" and solo["transport_configured"]["kind"] == "emulated"
    assert solo["pki"]["layout"] == "pki-init" and solo["pki"]["test_pki"] is True
    assert {e["rig"] for e in first["expected"]} == {"solo"}
    assert len(first["expected"]) == len(CATALOGUE)
    rig_record = next(r for r in _lines(report) if r["type"] == "rig")
    assert rig_record["transport_resolved"] == {"kind": "emulated", "in_process": True}


def test_exit_codes_are_documented_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["prove", "--help"])
    out = capsys.readouterr().out
    for verdict, code in (("MIGRATABLE", 0), ("NOT MIGRATABLE", 1), ("NOT PROVEN", 3)):
        assert re.search(rf"{verdict}\s.*exit {code}", out), verdict
    assert "exit 2" in out and "gbcs-rig prove --resume DIR" in out
    docs = (PROJECT / "docs" / "verdict.md").read_text()
    assert all(word in docs for word in ("inconclusive", "not-applicable", "not-run", "NOT PROVEN", "| 3 |"))


def test_a_rig_left_out_needs_no_credentials_on_this_host(tmp_path, capsys):
    """Multi-host: the rigs this host does not run may name keys that live elsewhere; they are
    reported not run (and their credentials problem recorded), the selected rig is judged."""
    other = SOLO.replace("[rigs.solo]", "[rigs.elsewhere]").replace(str(FIXTURE_PKI), str(tmp_path / "not-here"))
    config, report = _config(tmp_path, SOLO + other), tmp_path / "proof"
    assert main(["prove", "--config", str(config), "--report", str(report), "--rig", "solo", "-k", "read_back"]) == 3
    assert "--rig elsewhere" in capsys.readouterr().out
    rigs = _lines(report)[0]["attribution"]["rigs"]
    assert rigs["solo"]["pki"]["test_pki"] is True and "does not exist" in rigs["elsewhere"]["pki"]["error"]
    assert main(["prove", "--config", str(config), "--report", str(tmp_path / "all")]) == 2  # selected: an error
    assert "rigs.elsewhere.credentials.pki" in capsys.readouterr().err


def test_the_zigbee_bridge_proves_its_models_with_unroutable_probes_not_applicable(tmp_path, capsys):
    report = tmp_path / "zigbee"
    assert main(["prove", "--config", str(PROJECT / "hw_configs" / "emulated-zigbee.toml"), "--report", str(report)]) == 0
    assert "verdict: MIGRATABLE (exit 0)" in capsys.readouterr().out
    records = {(r["scenario"], r["rig"]): r for r in journal_module.tests(report / "journal.jsonl")}
    for probe in ("wrong-recipient", "truncated-frame", "oversized-length"):
        record = records[(probe, "esme-zigbee")]
        assert record["outcome"] == "not-applicable" and "routes each frame by its GBCS header" in record["reason"]
    forged = records[("forged-signature", "esme-zigbee")]
    assert forged["outcome"] == "passed" and forged["delivery"] == "device alert"


def test_a_port_found_by_udev_match_is_attributed_with_its_properties(tmp_path, monkeypatch):
    from rig.config import load_config
    from rig.discovery import search
    from rig.discovery.records import DeviceRecord
    from rig.harness import transports

    config = _config(tmp_path, """
[rigs.lab]
device = "ESME"
device_id = "7E570D00000000A0"
transport = { kind = "serial", framing = "hdlc", match = { ID_SERIAL_SHORT = "A10K3XYZ" } }
""")
    spec = load_config(config).rigs["lab"]
    seen = {}

    def wait_for(match, deadline, backend=None, **kwargs):
        seen["match"] = dict(match)
        return DeviceRecord.make("/dev/ttyUSB7", "tty", {"ID_SERIAL_SHORT": "A10K3XYZ", "ID_VENDOR_ID": "0403"})

    monkeypatch.setattr(search, "wait_for", wait_for)
    url, udev = transports._resolve(spec.transport, time.monotonic() + 1)
    assert url == "/dev/ttyUSB7" and seen["match"] == {"ID_SERIAL_SHORT": "A10K3XYZ"}
    assert udev == {"ID_SERIAL_SHORT": "A10K3XYZ", "ID_VENDOR_ID": "0403"}
    from rig.harness.attribution import HARDWARE, rig_attribution

    attributed = rig_attribution(spec)
    assert attributed["rig_kind"] == HARDWARE and attributed["transport_configured"]["match"] == seen["match"]
    assert attributed["pki"]["layout"] == "test-pki" and "no credentials section" in attributed["pki"]["source"]
