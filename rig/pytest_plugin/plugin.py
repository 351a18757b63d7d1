"""Hooks and fixtures of the gbcs-rig pytest plugin (registered under the ``pytest11`` entry point).

* Tests that use ``rig`` (or ``esme``, ``gsme``, ``comms_hub``) are parametrised over the rigs
  of the config that match their markers: ``rig_device(...)`` filters, ``rig_feature(...)``
  skips rigs lacking a feature, ``emulated_only`` / ``hardware_only`` skip the other kind.
* A rig whose setup fails is marked broken: later tests on it skip with the root cause.
* Every test writes a JSON-lines journal record as it finishes (outcome, rig, model, codes,
  latency, evidence, frames) and JUnit properties (``junit_family = xunit1``); frame traces are
  kept per ``--rig-capture``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from firmware_emu.alerts import message_alert_code
from rig.dcc.tables import TARGET_RESPONSE_S
from rig.harness import Evidence, EvidenceError, Inconclusive, NotApplicable, RigSession, cause_of
from rig.harness.outcomes import FAILED, INCONCLUSIVE, NOT_APPLICABLE, PASSED
from rig.transport import FrameLog, TransportTimeout
from rig.transport.base import Direction, LinkLost, summarise

from .environment import RigEnvironment

ENV_KEY = pytest.StashKey[RigEnvironment]()
REPORTS_KEY = pytest.StashKey[dict]()
RECORD_KEY = pytest.StashKey[dict]()

MARKERS = (
    "rig_device(*types): run only on rigs of these device types (ESME, GSME, CHF, GPF)",
    "rig_feature(*features): skip on rigs that lack any of these features",
    "emulated_only: skip on hardware rigs",
    "hardware_only: skip on emulated rigs",
    "scenario(id, title='', required=True, description=''): a scenario of the migration proof",
)
#: fixtures that imply a device type filter
DEVICE_FIXTURES = {"esme": ("ESME",), "gsme": ("GSME",), "comms_hub": ("CHF",)}
#: a skip reason with this prefix is ``not-applicable``; any other skip of a rig test is ``inconclusive``
NA_PREFIX = "not applicable: "


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)


def environment_of(config: pytest.Config) -> RigEnvironment:
    """The session's rig environment, created on first use: a pytest run that touches no rig
    (a project's own unit tests) loads no config and writes no journal."""
    environment = config.stash.get(ENV_KEY, None)
    if environment is None:
        environment = RigEnvironment(config)
        config.stash[ENV_KEY] = environment
        environment.start()
    return environment


def pytest_unconfigure(config: pytest.Config) -> None:
    environment = config.stash.get(ENV_KEY, None)
    if environment is not None:
        environment.finish(getattr(config, "_rig_exitstatus", 0))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._rig_exitstatus = int(exitstatus)  # type: ignore[attr-defined]


def pytest_report_header(config: pytest.Config) -> list[str]:
    environment = config.stash.get(ENV_KEY, None)
    if environment is None:
        return []
    return [f"gbcs-rig: config {environment.config.path}, mode {environment.mode}, "
            f"rigs {', '.join(environment.rigs) or 'none'}, journal {environment.journal.path}"]


def _wanted_devices(metafunc: pytest.Metafunc) -> set[str] | None:
    wanted: set[str] | None = None
    for marker in metafunc.definition.iter_markers("rig_device"):
        types = {str(t).upper() for t in marker.args}
        wanted = types if wanted is None else wanted & types
    for name, types in DEVICE_FIXTURES.items():
        if name in metafunc.fixturenames:
            wanted = set(types) if wanted is None else wanted & set(types)
    return wanted


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "rig" not in metafunc.fixturenames:
        return
    environment = environment_of(metafunc.config)
    wanted = _wanted_devices(metafunc)
    features = {f for m in metafunc.definition.iter_markers("rig_feature") for f in m.args}
    params = []
    for rig_id, spec in environment.rigs.items():
        if wanted is not None and str(spec.device) not in wanted:
            continue
        marks = []
        missing = features - set(spec.features)
        if missing:
            marks.append(pytest.mark.skip(reason=f"{NA_PREFIX}rig {rig_id} lacks feature(s) "
                                                 f"{', '.join(sorted(missing))}"))
        if metafunc.definition.get_closest_marker("emulated_only") and not spec.emulated:
            marks.append(pytest.mark.skip(reason=f"{NA_PREFIX}rig {rig_id} is hardware; the test is emulated only"))
        if metafunc.definition.get_closest_marker("hardware_only") and spec.emulated:
            marks.append(pytest.mark.skip(reason=f"{NA_PREFIX}rig {rig_id} is emulated; the test needs hardware"))
        params.append(pytest.param(rig_id, id=rig_id, marks=marks))
    if not params:
        what = f"device {'/'.join(sorted(wanted))}" if wanted else "any device"
        reason = f"no rig in {environment.config.path} (mode {environment.mode}) for {what}"
        params = [pytest.param(None, id="no-rig", marks=pytest.mark.skip(reason=reason))]
    metafunc.parametrize("rig", params, indirect=True)


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rig_env(request: pytest.FixtureRequest) -> RigEnvironment:
    """The loaded rig config and everything the plugin tracks for this session."""
    return environment_of(request.config)


@pytest.fixture
def rig(request: pytest.FixtureRequest, rig_env: RigEnvironment) -> Iterator[RigSession]:
    """A lease on one rig matching the test's markers, reset when emulated in-process."""
    rig_id = getattr(request, "param", None)
    if rig_id is None:
        pytest.skip("no rig selected for this test")
    session = rig_env.session(rig_id)
    try:
        if session.in_process:
            session.reset()
    except Exception as err:
        rig_env.mark_broken(rig_id, err)
        raise
    session.evidence = Evidence()  # fresh evidence for this test
    mark = session.transport.log.mark()
    request.node.stash[RECORD_KEY] = {"rig": rig_id, "session": session, "mark": mark}
    yield session
    _finish_rig_test(rig_env, request.node, session, mark)


def _finish_rig_test(environment: RigEnvironment, item: pytest.Item, session: RigSession, mark: int) -> None:
    """At the test's teardown (before its teardown report): trace file and JUnit properties."""
    call = item.stash.get(REPORTS_KEY, {}).get("call")
    failed = call is not None and call.failed
    info = item.stash[RECORD_KEY]
    if environment.capture == "all" or (environment.capture == "failed" and failed):
        path = session.transport.log.dump(environment.log_dir / "traces" / f"{_safe(item.nodeid)}.txt", mark)
        info["trace"] = str(path.relative_to(environment.log_dir))
    spec = session.spec
    evidence = session.evidence
    item.user_properties.extend([
        ("rig", spec.id), ("device", str(spec.device)), ("model", spec.model.model or ""),
        ("firmware", spec.model.firmware or ""), ("transport", str(spec.transport.kind)),
        ("response_codes", " ".join(evidence.response_codes)), ("alert_codes", " ".join(evidence.alert_codes)),
        ("latency", "" if evidence.latency is None else f"{evidence.latency:.3f}"),
        ("trace", info.get("trace", "")),
    ])


@pytest.fixture
def esme(rig: RigSession) -> RigSession:
    """The ``rig`` fixture limited to ESME rigs: the test runs once per ESME of the config."""
    return rig


@pytest.fixture
def gsme(rig: RigSession) -> RigSession:
    """The ``rig`` fixture limited to GSME rigs: the test runs once per GSME of the config."""
    return rig


@pytest.fixture
def comms_hub(rig: RigSession) -> RigSession:
    """The ``rig`` fixture limited to comms hub (CHF) rigs."""
    return rig


@pytest.fixture
def clock(rig: RigSession):
    """The device clock of an in-process emulated rig; skips on hardware."""
    if rig.clock is None:
        pytest.skip(f"rig {rig.rig_id}: the device clock is not under the rig's control")
    return rig.clock


@pytest.fixture
def frame_log(rig: RigSession) -> FrameLog:
    """Every frame of the rig's link (``Frame``: data, direction, timestamp), in order;
    ``frame_log.mark()`` then ``frame_log.since(mark)`` gives a test's own frames."""
    return rig.transport.log


@pytest.fixture
def dcc(rig: RigSession):
    """The DCC / ECoS side bound to the rig's inventory (``rig.dcc``)."""
    return rig.dcc


class AlertNotSeen(AssertionError):
    """The awaited alert did not arrive in time; the message names it and lists what did."""


class DeviceAlerts:
    """Waits for alerts: device alert codes (0x8F66, 0x8F3D ...) arriving on the rig's link, or
    DCC alert codes ("N26", "N63", "N65") raised by the rig's DCC side."""

    def __init__(self, session: RigSession):
        self.session = session

    code_of = staticmethod(message_alert_code)

    def wait_for(self, code: int | str, timeout: float | None = None, *, deadline: float | None = None):
        """The first alert with ``code`` within ``timeout`` seconds from now (default: the rig's
        alert timeout); ``deadline`` (absolute ``time.monotonic()``) instead, for a shared limit.

        Raises ``AlertNotSeen`` naming the alert waited for and listing what arrived instead
        (decoded one-liners), so a failing test says what the device did."""
        if deadline is None:
            deadline = time.monotonic() + (self.session.spec.timeouts.alert if timeout is None else timeout)
        waited = f"{max(deadline - time.monotonic(), 0.0):.1f} s"
        if isinstance(code, str):
            from rig.dcc.alert_sink import AlertTimeout

            try:
                return self.session.dcc.alerts.wait_for(code, deadline)
            except AlertTimeout:
                queued = ", ".join(a.code for a in self.session.dcc.alerts.pending()) or "none"
                raise AlertNotSeen(f"no DCC alert {code} within {waited} on rig {self.session.rig_id}; "
                                   f"DCC alerts queued: {queued}") from None
        mark = self.session.transport.log.mark()
        try:
            return self.session.wait_for_alert(lambda m: self.code_of(m) == code,
                                               max(deadline - time.monotonic(), 0.0))
        except TransportTimeout:
            arrived = [f"  {summarise(f.data)}" for f in self.session.transport.log.since(max(mark - 20, 0))
                       if f.direction is Direction.RX]
            raise AlertNotSeen(f"no device alert 0x{code:04X} within {waited} on rig {self.session.rig_id}; "
                               f"frames received lately: " + ("\n" + "\n".join(arrived) if arrived else "none")
                               ) from None


@pytest.fixture
def alerts(rig: RigSession) -> DeviceAlerts:
    """Wait for an alert by code: ``alerts.wait_for(0x8F66, timeout=5)`` (a device alert on the
    rig's link) or ``alerts.wait_for("N26")`` (raised by the rig's DCC side)."""
    return DeviceAlerts(rig)


# -- reporting -----------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    item.stash.setdefault(REPORTS_KEY, {})[report.when] = report
    if _is_rig_test(item):
        _classify(item, call, report)
    return report


def _is_rig_test(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and bool(callspec.params.get("rig"))


def _classify(item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> None:
    """The scenario outcome of one phase, on the report (``rig_outcome``, ``rig_reason``).

    Only an ``EvidenceError`` (or, in a project's own rig test, a plain ``assert``) is
    ``failed``; a skip is ``not-applicable`` when declared so, else ``inconclusive``; every other
    exception is ``inconclusive`` with a one-line cause. A declared ``NotApplicable`` is turned
    into a pytest skip, so plain pytest shows it as one.
    """
    if report.passed:
        outcome, reason = PASSED, ""
    elif report.skipped:
        text = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        text = text.removeprefix("Skipped: ")
        if text.startswith(NA_PREFIX) or text.startswith(NA_PREFIX.rstrip(": ")):
            outcome, reason = NOT_APPLICABLE, text.split(":", 1)[-1].strip()
        else:
            outcome, reason = INCONCLUSIVE, text
    else:
        err = call.excinfo.value if call.excinfo is not None else None
        scenario = item.get_closest_marker("scenario") is not None
        if isinstance(err, NotApplicable):
            outcome, reason = NOT_APPLICABLE, err.reason
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0, f"{NA_PREFIX}{err.reason}")
        elif report.when == "call" and (isinstance(err, EvidenceError)
                                        or (not scenario and isinstance(err, AssertionError))):
            outcome, reason = FAILED, _short(report.longreprtext)
        elif isinstance(err, Inconclusive):
            outcome, reason = INCONCLUSIVE, err.reason
        elif err is not None:
            outcome, reason = INCONCLUSIVE, cause_of(err)
            environment = item.config.stash.get(ENV_KEY, None)
            if isinstance(err, LinkLost) and environment is not None:
                environment.mark_broken(item.callspec.params["rig"], err)  # later tests: inconclusive at once
        else:
            outcome, reason = INCONCLUSIVE, _short(report.longreprtext)
    report.rig_outcome = outcome  # type: ignore[attr-defined]
    report.rig_reason = reason  # type: ignore[attr-defined]


def _outcome(reports: dict) -> tuple[str, str]:
    """The test's outcome over its phases: the first phase that did not pass decides."""
    for when in ("setup", "call", "teardown"):
        report = reports.get(when)
        if report is None:
            continue
        outcome = getattr(report, "rig_outcome", None)
        if outcome is None:  # not a rig test
            outcome = PASSED if report.passed else FAILED if report.failed else INCONCLUSIVE
        if outcome != PASSED:
            if when == "teardown" and outcome == FAILED:
                outcome = INCONCLUSIVE  # a teardown error is the rig's, never the meter's
            return outcome, getattr(report, "rig_reason", "") or _short(report.longreprtext)
    return PASSED, ""


def _short(text: str, limit: int = 2000) -> str:
    lines = [line for line in text.splitlines() if line.startswith("E ")] or text.splitlines()[-5:]
    return "\n".join(lines)[:limit]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:150]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    """After a test's three phases: append its journal record (rig tests and scenarios only)."""
    result = yield
    environment = item.config.stash.get(ENV_KEY, None)
    if environment is not None and _is_rig_test(item):
        _journal(environment, item)  # a test on a rig (not the "no rig matches" placeholder)
    return result


def _journal(environment: RigEnvironment, item: pytest.Item) -> None:
    reports = item.stash.get(REPORTS_KEY, {})
    outcome, reason = _outcome(reports)
    info = item.stash.get(RECORD_KEY, None)
    scenario = item.get_closest_marker("scenario")
    record = {
        "type": "test", "nodeid": item.nodeid, "outcome": outcome, "reason": reason,
        "duration": sum(r.duration for r in reports.values()),
        "scenario": (scenario.args[0] if scenario and scenario.args else item.originalname),
        "title": scenario.kwargs.get("title", "") if scenario else "",
        "description": scenario.kwargs.get("description", "") if scenario else "",
        "required": scenario.kwargs.get("required", True) if scenario else False,
        "kind": scenario.kwargs.get("kind", "device") if scenario else "test",
        "order": scenario.kwargs.get("order", 0) if scenario else 0,
        "worker": environment.worker,
    }
    rig_id = getattr(getattr(item, "callspec", None), "params", {}).get("rig")
    spec = environment.rigs.get(rig_id) if rig_id else None
    if spec is not None:
        record.update({"rig": rig_id, "device": str(spec.device), "manufacturer": spec.model.manufacturer,
                       "model": spec.model.model, "firmware": spec.model.firmware,
                       "transport": str(spec.transport.kind), "device_id": spec.device_id})
    if info is not None:
        session: RigSession = info["session"]
        evidence = session.evidence
        frames = session.transport.log.since(info["mark"])
        first = frames[0].timestamp if frames else 0.0
        record.update({
            "evidence": evidence.to_json(), "response_codes": evidence.response_codes,
            "alert_codes": evidence.alert_codes, "latency": evidence.latency, "delivery": evidence.delivery,
            "target_response_time": TARGET_RESPONSE_S["SMETS2"],
            "device_id": session.device_id.hex().upper(),
            "frames": [{"time": time.strftime("%H:%M:%S", time.gmtime(f.timestamp)) + f".{int(f.timestamp % 1 * 1000):03d}",
                        "offset": f.timestamp - first, "direction": f.direction.value, "hex": f.hex,
                        "summary": summarise(f.data)} for f in frames],
        })
        if info.get("trace"):
            record["trace"] = info["trace"]
    environment.journal.append(record)
