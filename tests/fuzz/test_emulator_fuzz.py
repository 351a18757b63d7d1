"""Re-signed payload fuzzing of the emulated meter, bounded for CI (``tools/fuzz_emulator.py``
runs the long campaign). Hypothesis drives the campaign's random choices, derandomized, so a
failure reproduces and shrinks to a short sequence of inputs."""

from __future__ import annotations

import random
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from tools.fuzz_emulator import Campaign, Material, Violation, run

STEPS = 25
FUZZ = settings(max_examples=30, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def material(fixture_pki) -> Material:
    return Material.load(fixture_pki)


def _campaign(material: Material, rng: random.Random, state_dir: Path | None) -> Campaign:
    campaign = Campaign(material, rng, state_dir)
    for _ in range(STEPS):
        campaign.step()  # raises Violation when an invariant fails
    return campaign


@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_resigned_payload_fuzzing_in_memory(material, rng):
    campaign = _campaign(material, rng, None)
    assert campaign.counts["steps"] == STEPS


@settings(FUZZ, max_examples=8)
@given(rng=st.randoms(use_true_random=False))
def test_resigned_payload_fuzzing_with_persistence_and_restarts(material, tmp_path_factory, rng):
    campaign = _campaign(material, rng, tmp_path_factory.mktemp("fuzz"))
    assert campaign.counts["steps"] == STEPS


def test_the_campaign_reaches_the_logic_and_accepts_commands(material):
    """Guard against a fuzzer that only ever bounces off the crypto: with a fixed seed it must
    get commands of several kinds accepted, replays rejected, and future-dated alerts out."""
    totals = run(400, seed=7, per_device=200, persist=False, material=material)
    accepted = {key for key, value in totals.items() if key.endswith(":accepted") and value}
    assert {"mode-6:accepted", "mode-7:accepted", "mode-2:accepted", "cs02a:accepted"} <= accepted
    assert totals["replay:rejected"] > 0 and totals["alerts"] > 0


def test_the_invariant_checker_catches_a_replay_window(material, monkeypatch):
    """Plant the issue-10 bug (floors written as requested) and watch the campaign catch it."""
    from firmware_emu import counters

    monkeypatch.setattr(counters, "AS_REQUESTED", counters.STRICT)  # the default profile now writes floors as given
    with pytest.raises(Violation):
        run(3000, seed=1, per_device=300, persist=False, material=material)


def test_the_campaign_command_prints_its_counts(capsys):
    from tools.fuzz_emulator import main

    assert main(["--count", "60", "--seed", "3", "--in-memory", "--per-device", "30"]) == 0
    out = capsys.readouterr().out
    assert "steps                    60" in out and "devices                  2" in out
    assert out.rstrip().endswith("invariants held")
