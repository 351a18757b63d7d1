"""The codec on the project's generated samples (meaningful without the RTDS vectors), and the
committed fixtures still being what the generators produce, bit for bit."""

from __future__ import annotations

import pytest

from rig import pki as pki_module
from rig.gbcs import decode, encode
from rig.samples import generate_samples, read_samples

from .vectors import FIXTURE_PKI, FIXTURE_SAMPLES


def sample_names() -> list[str]:
    return sorted(read_samples(FIXTURE_SAMPLES))


def test_the_sample_set_is_complete(samples):
    kinds = {name.rsplit("_", 1)[-1] for name in samples}
    assert kinds == {"COMMAND", "RESPONSE", "ALERT", "PRECOMMAND"}
    assert len(samples) >= 20


@pytest.mark.parametrize("name", sample_names())
def test_samples_round_trip_in_both_codecs(samples, name):
    data = samples[name]
    compiled, interpreted = decode(data), decode(data, interpreted=True)
    assert compiled == interpreted and compiled.length_forms == interpreted.length_forms
    assert encode(compiled) == data == encode(interpreted, interpreted=True)


def test_fixture_pki_regenerates_bit_for_bit(tmp_path):
    written = pki_module.write(pki_module.generate(pki_module.load(FIXTURE_PKI).seed), tmp_path / "pki")
    committed = {p.relative_to(FIXTURE_PKI): p.read_bytes() for p in FIXTURE_PKI.rglob("*") if p.is_file()}
    fresh = {p.relative_to(written): p.read_bytes() for p in written.rglob("*") if p.is_file()}
    assert fresh.keys() == committed.keys()
    assert [name for name in fresh if fresh[name] != committed[name]] == []


def test_samples_regenerate_bit_for_bit(fixture_pki, samples):
    assert generate_samples(fixture_pki) == samples
