"""Shared fixtures for the project's own tests."""

from __future__ import annotations

import gc
import os

import pytest

from rig import pki as pki_module
from rig.crypto import KeyStore
from rig.samples import read_samples

from .cli_zygote import Zygote
from .vectors import FIXTURE_PKI, FIXTURE_SAMPLES, PROJECT, RTDS_ABSENT, RTDS_KEYSTORE

pytest_plugins = ["pytester"]


def _own_suite(config: pytest.Config) -> bool:
    """This project's own suite (its pyproject.toml), not a ``gbcs-rig prove`` or a pytester run
    that also loads this file with an ini file of its own."""
    return config.inipath == PROJECT / "pyproject.toml"


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
    if not _own_suite(config):
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
    # the wheel built and pip-installed once (the module's ``installed`` fixture, 4-7 s), not on two workers
    "tests/test_packaged_config.py::test_the_installed_wheel_": "packaged wheel",
    "tests/test_packaged_config.py::test_the_guides_example_": "packaged wheel",
}

#: the longest single tests of the fast suite (3-12 s each on 2 cores, mostly waiting on links,
#: emulator processes and inner runs), longest first: on xdist workers they are collected first,
#: so they start right after the groups instead of where their module falls and never make the
#: run's tail. Order only: a name that no longer matches moves nothing.
FIRST = (
    "tests/test_verdict.py::test_the_same_relay_passing_everything_proves_the_model",
    "tests/test_verdict.py::test_a_link_that_drops_the_probes_proves_nothing",
    "tests/test_prove.py::test_prove_on_the_emulated_default_proves_every_model",
    "tests/test_verdict.py::test_the_zigbee_bridge_proves_its_models_with_unroutable_probes_not_applicable",
    "tests/test_ledger.py::test_a_second_few_scenario_run_continues_its_counters",
    "tests/test_mutants.py::test_every_mutant_changes_what_its_probe_observes",
    "tests/test_verdict.py::test_a_device_that_dies_mid_run_is_inconclusive_never_failed",
    "tests/test_verdict.py::test_sigint_leaves_not_proven_and_resume_completes",
    "tests/test_plugin.py::test_xdist_workers_each_drive_their_own_emulated_rigs",
    "tests/transport/test_zigbee_ncp.py::test_a_dropped_serial_line_is_survived_by_reconnecting",
    "tests/test_verdict.py::test_k_leaves_the_rest_not_run_and_resume_completes_it_with_the_remembered_config",
    "tests/test_verdict.py::test_rig_faults_are_inconclusive_with_the_cause_on_the_console",
    "tests/test_processed_signal.py::test_a_spawned_emulator_signals_only_when_asked",
    "tests/fuzz/test_codec_fuzz.py::test_encode_writes_only_what_decode_reads_back",
    "tests/transport/test_emulate.py::test_emulate_answers_poisoned_commands_and_keeps_serving",
    "tests/transport/test_zigbee_bellows_e2e.py::test_migration_through_bellows_and_the_emulated_ncp",
    "tests/test_config_locator.py::test_every_key_is_located_on_its_line",
)


def _first_rank(nodeid: str) -> int:
    return next((rank for rank, prefix in enumerate(FIRST) if nodeid.startswith(prefix)), len(FIRST))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker of this project's suite, ``FIRST`` ahead of the rest (a stable sort: every
    worker collects the same order, as xdist requires). ``-n 0`` keeps pytest's own order, so a
    module's fixtures are set up once there."""
    if not os.environ.get("PYTEST_XDIST_WORKER") or not _own_suite(config):
        return
    items.sort(key=lambda item: _first_rank(item.nodeid))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """What importing and collecting built (modules, test items) lives until
    the end: ``gc.freeze`` takes it out of every later collection. Each full collection otherwise
    walks those ~140,000 objects again (~60 ms each; pytester's inline runs collect once at their
    end): on the EPYC host, garbage collection over the 4 workers took 12.0 s without, 5.9 s with
    (timed by ``gc.callbacks``)."""
    if _own_suite(session.config):
        gc.freeze()


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
    """Two workers per core: most of the suite's wall time is waiting on links, emulator
    processes and inner runs, but on a quiet machine a third per core only adds contention.
    Interleaved on a quiet 2-core host (this round, with ``FIRST``): 4 workers 54.2 and 54.2 s,
    6 workers 67.0, 56.1, 54.3, 55.1, 55.7, 67.6 and 51.7 s, with ~15 % more CPU, and the labgrid
    group then once missed its 30 s start-up wait. Under a load of 4-9 from other runs 6 workers
    did better (median 59.8 s against 96.7 s), but CI runs on a machine of its own."""
    cores = cores or os.cpu_count() or 1
    return 2 * cores


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
