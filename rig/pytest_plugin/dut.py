"""The ``dut`` fixture: the high-level test-writing API (``rig.dut.Dut``) on the rig under test.

Kept out of ``plugin.py`` so the API can grow without touching the plugin's hooks; the plugin
package imports this one fixture.
"""

from __future__ import annotations

import pytest

from rig.dut import Dut
from rig.harness import RigSession


@pytest.fixture
def dut(rig: RigSession) -> Dut:
    """The device under test of the leased ``rig`` (reset to factory state when emulated in
    process): ``dut.migrate()``, ``dut.change_supplier(...)``, ``dut.send(command)``,
    ``dut.expect_response(...)``, ``dut.expect_alert("0x8F66", timeout=...)``. Parametrised
    over the config's rigs like ``rig``; filter with ``@pytest.mark.rig_device("ESME")``.
    Guide: docs/writing-tests.md."""
    return Dut(rig)
