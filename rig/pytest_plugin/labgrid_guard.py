"""labgrid's own pytest plugin, next to this one.

Installing the labgrid extra also installs labgrid's pytest plugin (entry point ``labgrid``),
which pytest then loads in every run, and it breaks two kinds of run the rig makes:

* without pytest's terminal plugin (``gbcs-rig prove``, which prints its own progress): its
  ``pytest_cmdline_main`` reads the terminal plugin's ``-v`` and the run stops at once with
  "no option named 'verbose'";
* a pytest run inside a pytest run that has it (pytester, ``gbcs-rig prove`` called from a
  test): its ``pytest_configure`` starts a process-wide step logger, which may be started only
  once, so the inner run stops with an internal error.

gbcs-rig drives labgrid through its client API (``rig.transport.labgrid``) and needs none of
that plugin's fixtures, so in those two cases it is blocked; in any other run it stays, for
suites that use labgrid's fixtures.
"""

from __future__ import annotations

import pytest


def _step_logger_started() -> bool:
    """labgrid's step logger runs already in this process: this is a run inside a run."""
    try:
        from labgrid.logging import StepLogger
    except ImportError:
        return False
    return bool(getattr(StepLogger, "_started", False))


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    manager = early_config.pluginmanager
    if manager.has_plugin("labgrid") and (manager.is_blocked("terminal") or _step_logger_started()):
        manager.set_blocked("labgrid")
