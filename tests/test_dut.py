"""The test-writing API (``rig.dut.Dut``, the ``dut`` fixture) and the guide's example, run as a
manufacturer would: from a folder of their own, with only the installed package (issue 15)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

from rig.dut import Dut, ExpectationError, alert_code
from rig.harness import EvidenceError, Inconclusive
from rig.transport import FrameLog, TransportTimeout

from .test_plugin import plugin_args
from .vectors import PROJECT

EXAMPLE = PROJECT / "docs" / "examples" / "test_my_meter.py"
GUIDE = PROJECT / "docs" / "writing-tests.md"


def _run(pytester: pytest.Pytester, *args: str):
    """The inner session in this process (as tests/test_plugin.py runs its own); the guide's example
    below is the one run in a new interpreter."""
    log_dir = pytester.path / "rig-logs"
    # no --rig-config: the folder has no hw_configs, so the package's emulated rigs are used
    result = pytester.runpytest(*plugin_args(), f"--rig-log-dir={log_dir}", "-p", "no:cacheprovider",
                                           "-rA", *args)
    records = [json.loads(line) for line in (log_dir / "journal.jsonl").read_text().splitlines()]
    return result, [r for r in records if r.get("type") == "test"]


@pytest.mark.slow  # the fast suite runs the guide's example in a new folder once, from the wheel (test_packaged_config)
def test_the_guides_example_passes_in_a_new_folder_with_only_the_installed_package(tmp_path):
    """The issue's Done-when, as a manufacturer does it: an empty folder, the guide's example file
    and nothing else (no conftest, no ini, no hw_configs), ``python -m pytest`` of this interpreter
    in it. The package and its pytest plugin come from the installation; the emulated rigs from the
    package's own default config."""
    folder = tmp_path / "my-meter-tests"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / EXAMPLE.name)
    # nothing of this test session leaks in: no PYTHONPATH to the checkout, no pytest or rig settings
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith(("PYTEST_", "RIG_"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert f"rootdir: {folder}" in done.stdout, done.stdout  # not the checkout's
    assert re.search(r"plugins: .*gbcs-rig-", done.stdout), done.stdout  # loaded by its entry point
    assert re.search(r"^=+ 7 passed in ", done.stdout, re.M) and done.returncode == 0, done.stdout + done.stderr
    assert {p.name for p in folder.iterdir()} - {"__pycache__"} == {"reports", EXAMPLE.name}
    records = [json.loads(line) for line in (folder / "reports" / "rig" / "journal.jsonl").read_text().splitlines()]
    tests = [r for r in records if r.get("type") == "test"]
    assert len(tests) == 7 and {r["outcome"] for r in tests} == {"passed"}
    names = {m["name"] for r in tests for m in r.get("evidence", [])}
    assert "alert 0x8F3E signed by the device under test" in names  # the negative probe's positive evidence
    assert "verified execution alert" in names and "DCC alert" in names


def test_the_guide_includes_the_example_file_verbatim():
    guide = GUIDE.read_text()
    block = re.search(r"```python\n# docs/examples/test_my_meter.py\n(.*?)```", guide, re.S)
    assert block is not None, "the guide must show docs/examples/test_my_meter.py in a python block"
    assert block.group(1) == EXAMPLE.read_text()
    for verb in ("migrate()", "change_supplier(", "send(", "expect_response(", "expect_alert(", "expect_no_response("):
        assert verb in guide


MISSES = '''
import pytest


@pytest.mark.rig_device("ESME")
def test_wrong_alert(dut):
    genuine = dut.seal(dut.change_of_supplier_command())
    dut.send(genuine[:-1] + bytes([genuine[-1] ^ 1]))
    dut.expect_alert("0x8F67", timeout=0.2)


@pytest.mark.rig_device("ESME")
def test_no_response_to_a_spoiled_command(dut):
    genuine = dut.seal(dut.change_of_supplier_command())
    dut.send(genuine[:-1] + bytes([genuine[-1] ^ 1]))
    dut.expect_response(timeout=0.2)


@pytest.mark.rig_device("ESME")
def test_wrong_dcc_alert(dut):
    dut.migrate()
    dut.change_supplier()
    dut.expect_alert("N63", timeout=0.1)
'''


def test_an_unmet_expectation_fails_naming_what_was_expected_and_what_arrived(pytester):
    pytester.makepyfile(test_misses=MISSES)
    result, records = _run(pytester)
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    assert "Traceback" not in out.split("short test summary")[-1]
    assert re.search(r"ExpectationError: expected alert 0x8F67 from ESME 7E570D00000000A0 within 0.2 s; "
                     r"received since: ALERT 0x1000 Generic Critical Alert 7E570D00000000A0->\w+ ctr \d+ "
                     r"\(alert 0x8F3E\)", out), out
    assert re.search(r"expected a response to 0x0107 \w.* counter \d+ from ESME 7E570D00000000A0 within 0.2 s; "
                     r"received since: ALERT 0x1000 .*\(alert 0x8F3E\)", out), out
    assert "expected DCC alert N63 within 0.1 s; the DCC side raised N26 in this session" in out
    assert {r["outcome"] for r in records} == {"failed"}  # the device's fault: delivery is certain in process


class _SilentLink:
    """A link that carries nothing back (a rig fault, an unplugged cable)."""

    def __init__(self):
        self.log = FrameLog()

    def send(self, frame: bytes) -> None:
        pass

    def recv(self, predicate, deadline):
        raise TransportTimeout("nothing")


def _over_a_link(fixture_pki) -> Dut:
    from rig.harness import Evidence

    device_id = bytes.fromhex("7E570D00000000A0")
    session = SimpleNamespace(evidence=Evidence(), transport=_SilentLink(), in_process=False, device_id=device_id, device_type="ESME",
                              spec=SimpleNamespace(timeouts=SimpleNamespace(response=0.05, alert=0.05)), hub=None,
                              device_public_key=lambda usage: fixture_pki.credentials[(device_id, usage)]
                              .certificate.public_key())
    return Dut(session)


def test_silence_over_a_link_is_inconclusive_never_a_meter_failure(fixture_pki):
    from .vectors import FIXTURE_SAMPLES

    dut = _over_a_link(fixture_pki)
    dut.send(bytes.fromhex((FIXTURE_SAMPLES / "CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_COMMAND.hex").read_text()))
    with pytest.raises(Inconclusive, match="no sign of delivery: not the meter's fault") as caught:
        dut.expect_response()
    assert not isinstance(caught.value, ExpectationError)
    with pytest.raises(Inconclusive, match=r"expected alert 0x8F3E .*received since: nothing"):
        dut.expect_alert("0x8F3E")


@pytest.mark.parametrize(("text", "code"), [("0x8F66", 0x8F66), ("8f66", 0x8F66), (0x8F30, 0x8F30), ("N26", "N26"),
                                            (" n63 ", "N63")])
def test_alert_codes_are_read_as_people_write_them(text, code):
    assert alert_code(text) == code


def test_a_bad_alert_code_is_a_clear_error():
    with pytest.raises(ValueError, match="not an alert code: 'BOGUS'"):
        alert_code("BOGUS")


def test_expect_before_send_and_negative_timeouts_are_usage_errors(fixture_pki):
    dut = _over_a_link(fixture_pki)
    with pytest.raises(RuntimeError, match=r"nothing was sent yet \(call dut.send"):
        dut.expect_response()
    with pytest.raises(ValueError, match="timeout must be >= 0"):
        dut.expect_alert("0x8F66", timeout=-1)


class _LinkWith:
    """A link whose device sends one alert frame."""

    def __init__(self, frame: bytes):
        from rig.transport.base import Direction, Frame

        self.log = FrameLog()
        self.frame = Frame(frame, Direction.RX)

    def recv(self, predicate, deadline):
        self.log.append(self.frame)
        if predicate(self.frame):
            return self.frame
        raise TransportTimeout("nothing else")


def test_an_alert_passes_only_when_its_signature_verifies_under_the_device_key(fixture_pki):
    from rig.crypto import Usage

    from .vectors import FIXTURE_SAMPLES

    frame = bytes.fromhex((FIXTURE_SAMPLES / "CS02bSupplierByTransCoS_8F66_FUTURE_DATED_SUCCESS_ALERT.hex").read_text())
    dut = _over_a_link(fixture_pki)
    dut.session.transport = _LinkWith(frame)
    assert dut.expect_alert("0x8F66").originator_id == dut.device_id  # the sample, signed by this ESME
    assert dut.evidence.measurements[-1].name == "alert 0x8F66 signed by the device under test"
    # the same alert checked against another device's key (a forged or misattributed alert) fails
    other = fixture_pki.credential("supplier_b", Usage.DS).certificate.public_key()
    dut.session.device_public_key = lambda usage: other
    dut.session.transport = _LinkWith(frame)
    with pytest.raises(EvidenceError, match="alert 0x8F66 signed by the device under test: got False"):
        dut.expect_alert("0x8F66")


REFUSED = '''
import pytest
from rig.scenarios.steps import der


@pytest.mark.rig_device("ESME")
def test_refused_by_the_dcc(dut):
    dut.migrate()
    unknown = dut.pki.variants["unknown_ca_supplier_b_ds"].certificate
    dut.change_supplier(ds_certificate=der(unknown))
'''


def test_a_request_the_rigs_dcc_side_refuses_is_inconclusive_not_a_meter_failure(pytester):
    pytester.makepyfile(test_refused=REFUSED)
    _, records = _run(pytester)
    assert [r["outcome"] for r in records] == ["inconclusive"]
    assert "nothing was sent to the device" in records[0]["reason"] and "REJECTED" in records[0]["reason"]


def _public_api(fixture_pki) -> set[str]:
    """Every public method, property and attribute of a ``Dut``."""
    members = {name for name in vars(Dut) if not name.startswith("_")}
    return members | {name for name in vars(_over_a_link(fixture_pki)) if not name.startswith("_")}


def _plugin_fixtures() -> set[str]:
    """The fixtures the plugin defines, read from its modules (``@pytest.fixture`` functions)."""
    import ast

    from .vectors import PROJECT

    found = set()
    for module in (PROJECT / "rig" / "pytest_plugin").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list):
                found.add(node.name)
    return found


def test_the_readme_and_the_guide_name_every_dut_member_and_every_fixture(fixture_pki):
    readme = (PROJECT / "README.md").read_text()
    pytest_rig = readme[readme.index("## The pytest rig"):readme.index("## What is here")]
    guide = GUIDE.read_text()
    api = _public_api(fixture_pki)
    fixtures = _plugin_fixtures()
    assert {"migrate", "expect_alert", "session", "last"} <= api and {"dut", "rig", "dcc", "alerts"} <= fixtures
    for text, where in ((pytest_rig, "README's pytest rig section"), (guide, "docs/writing-tests.md")):
        missing = sorted(f"dut.{name}" for name in api if f"dut.{name}" not in text)
        missing += sorted(f"fixture {name}" for name in fixtures if f"`{name}`" not in text)
        assert not missing, f"missing from {where}: {', '.join(missing)}"
    assert "(docs/writing-tests.md)" in pytest_rig
