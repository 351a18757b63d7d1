"""Shared fixtures for the project's own tests."""

from __future__ import annotations

import os

import pytest

from rig import pki as pki_module
from rig.crypto import KeyStore
from rig.samples import read_samples

from .cli_zygote import Zygote
from .vectors import FIXTURE_PKI, FIXTURE_SAMPLES, PROJECT, RTDS_ABSENT, RTDS_KEYSTORE

pytest_plugins = ["pytester"]


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """``pytest`` alone runs in parallel, two pytest-xdist workers per core (``workers``), as CI
    does. (A pty number freed by one test's emulator is never reopened by another's link:
    ``rig.transport.serial_link`` treats a closed pty as lost.)

    Only when nothing was said: ``-n N`` (``-n 0`` for one process), ``-p no:xdist``, ``--pdb``
    and ``--collect-only`` keep their meaning, and an xdist worker never starts workers of its own.
    Only for this project's own suite (its pyproject.toml): pytest also loads this file for a
    ``gbcs-rig prove`` started in the checkout, whose scenario run has an ini file of its own.
    """
    option = config.option
    if config.inipath is None or config.inipath != PROJECT / "pyproject.toml":
        return
    if os.environ.get("PYTEST_XDIST_WORKER") or not hasattr(option, "numprocesses"):
        return
    if option.numprocesses is None and not (option.usepdb or option.collectonly) and option.dist == "no":
        option.numprocesses = workers()


#: node id prefix -> group: a group's tests run one after the other on one xdist worker, as they
#: share a module-scoped fixture too costly to build on every worker (the labgrid lab: a
#: coordinator, an exporter, emulators; the two whole proves over one served meter)
GROUPS = {
    "tests/test_labgrid.py::TestLab::": "labgrid lab",
    "tests/test_ledger.py::test_a_second_run_on_a_stateful_meter_": "ledger two_runs",
    "tests/test_ledger.py::test_the_second_run_is_not_proven_": "ledger two_runs",
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist load`` (what ``pytest`` alone gets), except that each of ``GROUPS`` is one unit
    of work, scheduled first (the largest units: they must not be the run's tail). Every other
    test is a unit of its own, and a worker is given two at a time, so the work stays balanced.
    (pytest-xdist's ``--dist loadgroup`` would do this from ``xdist_group`` marks, but on pytest 9
    it groups nothing: it renames node ids, which pytest 9 no longer lets it do.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupedLoadScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return next((group for prefix, group in GROUPS.items() if nodeid.startswith(prefix)), nodeid)

    return GroupedLoadScheduling(config, log)


def workers(cores: int | None = None) -> int:
    """Two workers per core, at most cores + 4: part of the suite waits on links and emulator
    processes, not on the CPU (on 2 cores, one machine, load 4-6: 207 s with 4 workers, 304 s
    with 3, 265 s with 2)."""
    cores = cores or os.cpu_count() or 1
    return min(2 * cores, cores + 4)


@pytest.fixture(scope="session")
def fixture_pki():
    return pki_module.load(FIXTURE_PKI)


@pytest.fixture(scope="session")
def fixture_keystore():
    return KeyStore(FIXTURE_PKI / "keystore")


@pytest.fixture(scope="session")
def samples() -> dict[str, bytes]:
    return read_samples(FIXTURE_SAMPLES)


@pytest.fixture(scope="session")
def rtds_keystore():
    if not RTDS_KEYSTORE.is_dir():
        pytest.skip(RTDS_ABSENT)
    return KeyStore(RTDS_KEYSTORE)


@pytest.fixture(autouse=True, scope="session")
def _private_state_dir(tmp_path_factory):
    """The tests (and the runs they start) never touch the user's counter ledger or leases.

    Session-scoped, so module-scoped fixtures that start runs see it too. A ``prove`` run in the
    test's process runs this fixture again in its own pytest session (with its own base temp):
    it keeps the outer test's folder, so both see the same ledger and leases.
    """
    if os.environ.get("GBCS_RIG_TEST_STATE_HOME"):
        yield
        return
    state = str(tmp_path_factory.getbasetemp() / "xdg-state")
    saved = {key: os.environ.get(key) for key in ("XDG_STATE_HOME", "GBCS_RIG_TEST_STATE_HOME")}
    os.environ.update(XDG_STATE_HOME=state, GBCS_RIG_TEST_STATE_HOME=state)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# -- gbcs-rig as real processes, forked from one pre-imported interpreter (tests/cli_zygote.py) --

@pytest.fixture(scope="module")
def zygote():
    """One zygote per test module (and xdist worker)."""
    with Zygote() as forks:
        yield forks


@pytest.fixture
def gbcs_rig(zygote):
    """``gbcs-rig ARGS`` as a process forked from the zygote, in the checkout unless ``cwd`` says."""
    return zygote.runner(PROJECT)
