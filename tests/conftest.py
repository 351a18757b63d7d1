"""Shared fixtures for the project's own tests."""

from __future__ import annotations

import os

import pytest

from rig import pki as pki_module
from rig.crypto import KeyStore
from rig.samples import read_samples

from .vectors import FIXTURE_PKI, FIXTURE_SAMPLES, RTDS_ABSENT, RTDS_KEYSTORE

pytest_plugins = ["pytester"]


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
