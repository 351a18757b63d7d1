"""House style: ruff clean (part of the README test command, so CI enforces it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .vectors import PROJECT


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the test extra: pip install '.[test]')")
    result = subprocess.run([ruff, "check", "rig", "firmware_emu", "tests", "bench"], cwd=PROJECT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_layering_rig_gbcs_imports_nothing_of_ours():
    """design.md: rig.gbcs imports nothing of ours; firmware_emu only rig.gbcs, rig.crypto and stdlib."""
    code = ("import sys, rig.gbcs; "
            "print(sorted(m for m in sys.modules if m.startswith(('rig.', 'firmware_emu')) and not m.startswith('rig.gbcs')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
