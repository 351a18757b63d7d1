"""Where the test data lives: the RTDS vectors (optional) and the project's own fixtures.

RTDS 4.5.0 vectors are read from ``../shared/rtds`` next to the project (or ``$GBCS_RIG_RTDS``)
and never copied into the repository; tests that need them skip with a clear reason when the
folder is absent. ``fixtures/`` holds the generated PKI and sample frames every run has.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
FIXTURES = PROJECT / "fixtures"
FIXTURE_PKI = FIXTURES / "pki"
FIXTURE_SAMPLES = FIXTURES / "samples"
RTDS = Path(os.environ.get("GBCS_RIG_RTDS", PROJECT.parent / "shared" / "rtds"))
RTDS_VECTORS = RTDS / "RTDS-4.5.0"
RTDS_KEYSTORE = RTDS / "keystore"
RTDS_CA = RTDS / "ca"
RTDS_ABSENT = f"RTDS vectors not found at {RTDS} (set GBCS_RIG_RTDS to their folder)"

needs_rtds = pytest.mark.skipif(not RTDS_VECTORS.is_dir(), reason=RTDS_ABSENT)


def rtds_files(pattern: str = "*/*.HEX") -> list[Path]:
    return sorted(RTDS_VECTORS.glob(pattern)) if RTDS_VECTORS.is_dir() else []


def rtds_params(pattern: str = "*/*.HEX") -> list:
    """pytest params for RTDS files, or one skipped param saying why there are none."""
    files = rtds_files(pattern)
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=RTDS_ABSENT), id="rtds-absent")]
    return [pytest.param(path, id=path.name.replace("_GBCS.HEX", "")) for path in files]


def read_hex(path: Path) -> bytes:
    return bytes.fromhex(path.read_text().strip())
