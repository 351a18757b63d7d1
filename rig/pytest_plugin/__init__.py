"""The gbcs-rig pytest plugin: rigs from hw_configs as fixtures, markers, leases, journal and
JUnit properties. Registered under the ``pytest11`` entry point as ``rig``; disable with
``-p no:rig``."""

from .dut import dut  # noqa: F401  (the Dut API's fixture: rig/pytest_plugin/dut.py)
from .labgrid_guard import pytest_load_initial_conftests
from .options import pytest_addoption
from .plugin import (
    alerts,
    clock,
    comms_hub,
    dcc,
    environment_of,
    esme,
    frame_log,
    gsme,
    pytest_configure,
    pytest_generate_tests,
    pytest_report_header,
    pytest_runtest_makereport,
    pytest_runtest_protocol,
    pytest_sessionfinish,
    pytest_unconfigure,
    rig,
    rig_env,
)

__all__ = ["alerts", "clock", "comms_hub", "dcc", "environment_of", "esme", "frame_log", "gsme", "pytest_addoption",
           "pytest_configure", "pytest_generate_tests", "pytest_load_initial_conftests", "pytest_report_header", "pytest_runtest_makereport",
           "pytest_runtest_protocol", "pytest_sessionfinish", "pytest_unconfigure", "rig", "rig_env"]
