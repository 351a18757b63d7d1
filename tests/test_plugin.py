"""The gbcs-rig pytest plugin, exercised with pytester: options, markers, leases, broken rigs,
journal and JUnit contents."""

from __future__ import annotations

import importlib.metadata
import json
import xml.etree.ElementTree as ET

import pytest

from rig.pytest_plugin.leases import Lease, LeaseTimeout, resource_key

from .vectors import PROJECT

EMULATED = PROJECT / "hw_configs" / "emulated.toml"


def plugin_args() -> list[str]:
    """The rig plugin for an inner run, and neither hypothesis's nor labgrid's: the inner runs use
    neither, and pytester restores ``sys.modules`` after every in-process run, so each would import
    (and assertion-rewrite) all of hypothesis (its terminal summary) or labgrid again, over a
    second of CPU a run."""
    loaded = any(ep.name == "rig" for ep in importlib.metadata.entry_points(group="pytest11"))
    return ["-p", "no:hypothesispytest", "-p", "no:labgrid", *([] if loaded else ["-p", "rig.pytest_plugin"])]


def run(pytester: pytest.Pytester, source: str, *args: str, config=EMULATED):
    pytester.makepyfile(test_inner=source)
    log_dir = pytester.path / "rig-logs"
    # option=value tokens: a bare path token would make pytest take its folder as the rootdir
    result = pytester.runpytest(*plugin_args(), f"--rig-config={config}", f"--rig-log-dir={log_dir}",
                                "-p", "no:cacheprovider", *args)
    return result, log_dir


def journal(log_dir) -> list[dict]:
    return [json.loads(line) for line in (log_dir / "journal.jsonl").read_text().splitlines()]


def test_tests_are_parametrised_over_matching_rigs(pytester):
    result, _ = run(pytester, """
import pytest

def test_any(rig):
    assert rig.device_id == rig.pki.entity(rig.rig_id)

@pytest.mark.rig_device("GSME", "GPF")
def test_gas(rig):
    assert rig.device_type in ("GSME", "GPF")

def test_esme_fixture(esme):
    assert esme.device_type == "ESME"

@pytest.mark.rig_feature("future_dated")
def test_feature(rig):
    assert "future_dated" in rig.spec.features

@pytest.mark.hardware_only
def test_hardware(rig):
    raise AssertionError("must not run on emulated rigs")

@pytest.mark.emulated_only
def test_clock(rig, clock):
    assert clock.now().year == 2026
""", "-v")
    result.assert_outcomes(passed=4 + 2 + 1 + 3 + 4, skipped=1 + 4)
    assert "test_any[chf]" in result.stdout.str() and "test_gas[gsme]" in result.stdout.str()
    assert "lacks feature(s) future_dated" in result.stdout.str() or "test_feature[chf] SKIPPED" in result.stdout.str()


def test_option_precedence_cli_env_ini(pytester, monkeypatch):
    pytester.makeini("[pytest]\nrig_mode = hardware\n")
    source = "def test_mode(rig_env):\n    print('MODE', rig_env.mode)\n"
    result, _ = run(pytester, source, "-s")
    assert "MODE hardware" in result.stdout.str()  # ini
    monkeypatch.setenv("RIG_MODE", "emulated")
    result, _ = run(pytester, source, "-s")
    assert "MODE emulated" in result.stdout.str()  # env beats ini
    result, _ = run(pytester, source, "-s", "--rig-mode", "auto")
    assert "MODE auto" in result.stdout.str()  # command line beats env


def test_rig_selection_and_unknown_ids(pytester):
    result, _ = run(pytester, "def test_x(rig):\n    assert rig.rig_id == 'gpf'\n", "--rig", "gpf")
    result.assert_outcomes(passed=1)
    result, _ = run(pytester, "def test_x(rig):\n    pass\n", "--rig", "gfp")
    assert "did you mean 'gpf'" in result.stderr.str() + result.stdout.str()


def test_hardware_mode_without_hardware_rigs_skips_with_reason(pytester):
    result, _ = run(pytester, "def test_x(rig):\n    pass\n", "--rig-mode", "hardware", "-rs")
    result.assert_outcomes(skipped=1)
    assert "no rig in" in result.stdout.str() and "mode hardware" in result.stdout.str()


def test_broken_rig_skips_later_tests_with_the_root_cause(pytester):
    config = pytester.path / "rigs.toml"
    config.write_text(
        '[rigs.good]\ndevice = "ESME"\ndevice_id = "7E570D00000000A0"\ntransport = { kind = "emulated" }\n\n'
        '[rigs.gone]\ndevice = "ESME"\ndevice_id = "7E570D00000000A0"\n'
        'transport = { kind = "emulated", profile = "no-such-profile" }\n')
    result, log_dir = run(pytester, "def test_one(rig):\n    pass\n\ndef test_two(rig):\n    pass\n", "-rs",
                          config=config)
    result.assert_outcomes(passed=2, errors=1, skipped=1)
    assert "rig gone is broken: rig error (ValueError): unknown model profile 'no-such-profile'" in result.stdout.str()
    records = [r for r in journal(log_dir) if r["type"] == "test" and r.get("rig") == "gone"]
    assert [r["outcome"] for r in records] == ["inconclusive", "inconclusive"]  # a rig fault, never the meter's
    assert all("unknown model profile" in r["reason"] and "Traceback" not in r["reason"] for r in records)


def test_outcomes_only_evidence_fails_a_scenario(pytester):
    """EvidenceError is ``failed``; any other exception of a scenario or the rig is
    ``inconclusive`` with a one-line cause; a declared NotApplicable is a skip."""
    result, log_dir = run(pytester, """
import pytest
from rig.harness import Inconclusive, NotApplicable
from rig.transport.base import LinkLost, TransportTimeout

def _s(name):
    return pytest.mark.scenario(name, title=name)

@_s("evidence")
@pytest.mark.rig_device("ESME")
def test_evidence(rig):
    rig.evidence.check("cell status", "BAD_CERTIFICATE", "SUCCESS")

@_s("index")
@pytest.mark.rig_device("ESME")
def test_index(rig):
    [][0]

@_s("assertion")
@pytest.mark.rig_device("ESME")
def test_assertion(rig):
    assert rig.device_id == b"", "a rig bug, not a meter fault"

@_s("timeout")
@pytest.mark.rig_device("ESME")
def test_timeout(rig):
    raise TransportTimeout("no frame before the deadline")

@_s("typed")
@pytest.mark.rig_device("ESME")
def test_typed(rig):
    raise Inconclusive("set-up: the device already holds ECoS")

@_s("na")
@pytest.mark.rig_device("ESME")
def test_na(rig):
    raise NotApplicable("needs an in-process device")

@_s("link")
@pytest.mark.rig_device("ESME")
def test_link(rig):
    raise LinkLost("socket://127.0.0.1:9 lost: Connection refused")

@_s("after-link-lost")
@pytest.mark.rig_device("ESME")
def test_z_after(rig):
    pass
""")
    records = {r["scenario"]: r for r in journal(log_dir) if r["type"] == "test"}
    assert records["evidence"]["outcome"] == "failed" and "cell status" in records["evidence"]["reason"]
    for name in ("index", "assertion", "link", "timeout", "typed"):
        assert records[name]["outcome"] == "inconclusive", name
        assert "\n" not in records[name]["reason"] and "Traceback" not in records[name]["reason"], name
    assert records["index"]["reason"] == "rig error (IndexError): list index out of range"
    assert records["link"]["reason"] == "link lost: socket://127.0.0.1:9 lost: Connection refused"
    assert records["timeout"]["reason"].startswith("no answer before the deadline (the link shows no sign of delivery)")
    assert records["typed"]["reason"] == "set-up: the device already holds ECoS"
    assert records["na"]["outcome"] == "not-applicable" and records["na"]["reason"] == "needs an in-process device"
    # a lost link marks the rig broken: what follows is inconclusive at once, with the cause
    assert records["after-link-lost"]["outcome"] == "inconclusive"
    assert "rig esme is broken: link lost: socket://127.0.0.1:9" in records["after-link-lost"]["reason"]
    result.assert_outcomes(failed=6, skipped=2)


def test_journal_and_junit_properties(pytester):
    junit = pytester.path / "junit.xml"
    result, log_dir = run(pytester, """
import pytest

@pytest.mark.scenario("demo", title="A demo scenario", required=True)
@pytest.mark.rig_device("ESME")
def test_demo(rig):
    exchange_frames = rig.dcc.read_trust_anchors(rig.device_id, rig.transport)
    rig.evidence.check("read", exchange_frames.credential_status.value, "TCOS")
    rig.evidence.alert_codes.append("N99")

@pytest.mark.rig_device("ESME")
def test_fails(rig):
    rig.evidence.check("impossible", 1, 2)
""", f"--junitxml={junit}", "--rig-capture", "failed")
    result.assert_outcomes(passed=1, failed=1)
    records = {r["nodeid"].split("::")[-1]: r for r in journal(log_dir) if r["type"] == "test"}
    demo = records["test_demo[esme]"]
    assert demo["scenario"] == "demo" and demo["title"] == "A demo scenario" and demo["outcome"] == "passed"
    assert (demo["rig"], demo["device"], demo["transport"]) == ("esme", "ESME", "emulated")
    assert demo["evidence"][0] == {"name": "read", "value": "TCOS", "expected": "TCOS", "ok": True}
    assert [f["direction"] for f in demo["frames"]] == ["tx", "rx"] and "CS02a" in demo["frames"][0]["summary"]
    assert "trace" not in demo  # kept for failures only
    failed = records["test_fails[esme]"]
    assert failed["outcome"] == "failed" and "impossible" in failed["reason"]
    assert (log_dir / failed["trace"]).exists()
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    properties = {p.get("name"): p.get("value") for p in cases["test_demo[esme]"].iter("property")}
    assert properties["rig"] == "esme" and properties["device"] == "ESME" and properties["alert_codes"] == "N99"
    assert properties["transport"] == "emulated" and "latency" in properties
    kinds = [r["type"] for r in journal(log_dir)]
    assert kinds[0] == "session" and kinds[-1] == "end"
    session, end = journal(log_dir)[0], journal(log_dir)[-1]
    assert {e["rig"] for e in session["expected"]} == {"esme", "gsme", "chf", "gpf"}
    assert session["attribution"]["rigs"]["esme"]["rig_kind"] == "EMULATED in-process"
    assert session["attribution"]["rigs"]["esme"]["pki"]["test_pki"] is True
    assert end["complete"] is True and end["ended"] and "exit_status" in end


def test_dcc_and_alerts_fixtures(pytester):
    result, _ = run(pytester, """
import datetime as dt
import time
import pytest
from rig.dcc.examples import example_request
from rig.dcc.request import RequestId

@pytest.mark.rig_device("ESME")
def test_change_of_supplier_alerts(rig, dcc, alerts, clock):
    assert dcc.migrate(rig.device_id, rig.transport).success
    when = clock.now() + dt.timedelta(hours=1)
    request = example_request(rig.pki, request_id=RequestId.of(rig.pki.entity("supplier_b"), rig.device_id, 7),
                              execution=when.replace(microsecond=0))
    assert dcc.submit_623(request, rig.transport).status.value == "ACCEPTED"
    clock.set(when + dt.timedelta(seconds=1))
    alert = alerts.wait_for(0x8F66, timeout=2)
    assert alert.payload.execution_outcome.all_succeeded
    with pytest.raises(AssertionError, match="no DCC alert N65 within 0.1 s on rig esme; DCC alerts queued"):
        alerts.wait_for("N65", 0.1)
    with pytest.raises(AssertionError, match=r"(?s)no device alert 0x8F67 within 0[.]2 s on rig esme; frames received "
                                             r"lately: .*ALERT"):
        alerts.wait_for(0x8F67, deadline=time.monotonic() + 0.2)
""")
    result.assert_outcomes(passed=1)


def test_xdist_workers_each_drive_their_own_emulated_rigs(pytester):
    pytest.importorskip("xdist", reason="pytest-xdist comes with the test extra")
    pytester.makepyfile(test_inner="from rig.scenarios.test_catalogue import *  # noqa: F403\n")
    log_dir = pytester.path / "rig-logs"
    result = pytester.runpytest_subprocess(*plugin_args(), f"--rig-config={EMULATED}", f"--rig-log-dir={log_dir}",
                                           "-p", "no:cacheprovider", "-n", "2", "-k", "migration or read_back")
    # read-back, migration, expired-TCoS, CoS-before-migration, forged-signature-migration,
    # old-holder-after-migration, power-cut-during-migration
    result.assert_outcomes(passed=4 + 4 + 3 + 3 + 3 + 3 + 3)
    records = [r for r in journal(log_dir) if r["type"] == "test"]
    assert {r["worker"] for r in records} == {"gw0", "gw1"}
    assert all(r["outcome"] == "passed" for r in records)
    folders = {p.name for p in (log_dir / "rigs").iterdir()}
    assert all(name.rsplit("-", 1)[-1] in ("gw0", "gw1") for name in folders)  # no inventory shared


def test_plugin_is_inert_for_tests_without_rigs(pytester):
    result, log_dir = run(pytester, "def test_plain():\n    assert len(\"rig\") == 3\n")
    result.assert_outcomes(passed=1)
    assert not (log_dir / "journal.jsonl").exists()


def test_leases_are_exclusive_and_time_out(tmp_path):
    first = Lease("serial:/dev/ttyUSB7", tmp_path).acquire(timeout=1)
    with pytest.raises(LeaseTimeout):
        Lease("serial:/dev/ttyUSB7", tmp_path).acquire(timeout=0.2)
    other = Lease("serial:/dev/ttyUSB8", tmp_path).acquire(timeout=0.2)  # another meter is free
    first.release()
    again = Lease("serial:/dev/ttyUSB7", tmp_path).acquire(timeout=0.2)
    again.release()
    other.release()


def test_resource_keys(tmp_path):
    from rig.config import parse_config

    config = parse_config(
        '[rigs.emu]\ndevice = "ESME"\ntransport = { kind = "emulated" }\n'
        '[rigs.lab]\ndevice = "ESME"\ntransport = { kind = "serial", url = "/dev/ttyUSB0" }\n'
        '[rigs.lab2]\ndevice = "GSME"\ntransport = { kind = "serial", url = "/dev/ttyUSB0", baudrate = 9600 }\n')
    assert resource_key(config.rigs["emu"]) is None
    assert resource_key(config.rigs["lab"]) == resource_key(config.rigs["lab2"]) is not None
