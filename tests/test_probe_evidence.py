"""What counts as evidence that a negative probe reached the device: an alert from the device
under test whose signature verifies under its DS key; nothing else."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rig.config import load_config
from rig.harness import Inconclusive, RigSession
from rig.scenarios import steps
from rig.scenarios.catalogue import BY_ID, expected_for
from rig.scenarios.device import NEGATIVES

from .vectors import PROJECT

EMULATED = load_config(PROJECT / "hw_configs" / "emulated.toml")


@pytest.fixture
def esme(tmp_path):
    session = RigSession(EMULATED.rigs["esme"], run_dir=tmp_path / "esme").open()
    yield session
    session.close()


def _forged_probe(rig: RigSession):
    message, signer = steps.change_of_supplier_command(rig)
    frame = steps.seal_command(rig, message, signer)
    spoil, _alert = NEGATIVES["forged-signature"]
    return steps.send_probe(rig, spoil(rig, frame))


def test_only_a_verified_alert_from_the_device_under_test_counts(esme, tmp_path):
    exchange = _forged_probe(esme)
    verified, rejected = steps._alerts_from_device(esme, exchange)
    assert verified == [0x8F3D] and rejected == []
    # the same alert judged for another device: another originator, not counted
    other = RigSession(EMULATED.rigs["gsme"], run_dir=tmp_path / "gsme")
    other.hub = None
    verified, rejected = steps._alerts_from_device(other, exchange)
    assert verified == [] and "not the device under test" in rejected[0]
    # one flipped bit in the signed alert payload: not counted
    frame = bytearray(exchange.alert_frames[0])
    frame[exchange.alerts[0].layout.payload_start + 3] ^= 0x01
    tampered = replace(exchange, alert_frames=[bytes(frame)])
    verified, rejected = steps._alerts_from_device(esme, tampered)
    assert verified == [] and "does not verify" in rejected[0]


def test_silence_over_a_link_is_inconclusive(esme, monkeypatch):
    """A probe with an alert defined that drew none is never passed: over a link that does not
    confirm delivery it is inconclusive (in-process, where delivery is certain, a failure)."""
    message, signer = steps.change_of_supplier_command(esme)
    frame = steps.seal_command(esme, message, signer)
    silent = steps.Exchange(None, frame)
    monkeypatch.setattr(steps, "send_probe", lambda rig, probe: silent)
    monkeypatch.setattr(RigSession, "in_process", property(lambda self: False))
    esme.evidence = type(esme.evidence)()
    with pytest.raises(Inconclusive, match="may not have reached the device"):
        steps.expect_discarded(esme, frame, 0x8F3D, what="forged-signature")
    monkeypatch.setattr(RigSession, "in_process", property(lambda self: True))
    with pytest.raises(AssertionError, match="verified device alert"):
        steps.expect_discarded(esme, frame, 0x8F3D, what="forged-signature")


def test_required_means_required():
    """No scenario is optional: where a rig cannot set one up it is not applicable, with why."""
    assert all(s.required for s in BY_ID.values())
    serial = load_config(PROJECT / "hw_configs" / "emulated-serial.toml").rigs["esme-pty-lp"]
    zigbee = next(iter(load_config(PROJECT / "hw_configs" / "emulated-zigbee.toml").rigs.values()))
    for scenario in ("migration-expired-tcos", "n65-join-after-switchover"):
        assert BY_ID[scenario].not_applicable(EMULATED.rigs["esme"]) is None
        assert "in the rig's process" in BY_ID[scenario].not_applicable(serial)
    assert BY_ID["future-dated"].not_applicable(EMULATED.rigs["chf"]) is not None
    assert BY_ID["cos-before-migration"].not_applicable(EMULATED.rigs["chf"]).startswith("not for a CHF")
    expected = expected_for([serial])
    assert {e["scenario"] for e in expected if not e["applicable"]} == {"migration-expired-tcos",
                                                                         "n65-join-after-switchover",
                                                                         "power-cut-during-migration",
                                                                         "garbled-header"}  # CHF only
    assert zigbee.transport.kind == "zigbee"
    for probe in ("wrong-recipient", "truncated-frame", "oversized-length"):
        assert "routes each frame by its GBCS header" in BY_ID[probe].not_applicable(zigbee)
        assert BY_ID[probe].not_applicable(serial) is None
    assert BY_ID["forged-signature"].not_applicable(zigbee) is None
