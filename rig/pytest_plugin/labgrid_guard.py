"""labgrid's own pytest plugin, next to this one in a run without pytest's terminal plugin.

Installing the labgrid extra also installs labgrid's pytest plugin (entry point ``labgrid``),
which pytest then loads in every run. Its ``pytest_cmdline_main`` reads the terminal plugin's
``-v`` option, so a run with ``-p no:terminal`` (``gbcs-rig prove``, which prints its own
progress) stops at once with "no option named 'verbose'". gbcs-rig drives labgrid through its
client API (``rig.transport.labgrid``) and needs none of that plugin's fixtures, so in such a
run it is blocked; in an ordinary pytest run it stays, for suites that use it.
"""

from __future__ import annotations

import pytest


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    manager = early_config.pluginmanager
    if manager.is_blocked("terminal") and manager.has_plugin("labgrid"):
        manager.set_blocked("labgrid")
