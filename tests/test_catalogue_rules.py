"""The rules issue 11's scenarios rest on, each checked where it can fail: the hub routes by the
grouping header and forwards link-addressed probes; only the device under test's alerts count,
with increasing counters; forged replacement certificates are what they claim; a power cycle
restarts the device from what it persisted; the rig's DCC self-check refuses a DCC that trusts
an unverified answer."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from firmware_emu.hub import routing_recipient
from rig.config import load_config
from rig.crypto import Usage, verify_signature
from rig.harness import EvidenceError, RigSession, selfcheck
from rig.scenarios import forgery, steps
from rig.scenarios.device import NEGATIVES
from rig.transport import deadline_in

from .vectors import PROJECT

EMULATED = load_config(PROJECT / "hw_configs" / "emulated.toml")


@pytest.fixture
def esme(tmp_path):
    session = RigSession(EMULATED.rigs["esme"], run_dir=tmp_path / "esme").open()
    yield session
    session.close()


def _genuine(rig: RigSession) -> bytes:
    message, signer = steps.change_of_supplier_command(rig)
    return steps.seal_command(rig, message, signer)


def test_the_hub_routes_a_broken_frame_by_its_grouping_header(esme):
    frame = _genuine(esme)
    assert routing_recipient(frame) == esme.device_id
    assert routing_recipient(frame[:-40]) == esme.device_id
    assert routing_recipient(b"\xdd" + bytes(6)) is None and routing_recipient(b"") is None
    # the truncated frame reaches the meter behind the hub: the alert is the meter's, not the CHF's
    alerts = esme.hub.receive(frame[:-40])
    assert [steps.decode(a).originator_id for a in alerts] == [esme.device_id]


def test_a_link_addressed_probe_meets_the_devices_own_recipient_check(esme):
    spoil, _alert = NEGATIVES["wrong-recipient"]
    probe = spoil(esme, _genuine(esme))
    events = len(esme.device.events)
    assert esme.hub.receive(probe) == [] and len(esme.device.events) == events  # the hub drops it
    assert steps.expect_discarded(esme, probe, None, what="wrong recipient", address_to_device=True).response is None
    assert "wrong recipient" in esme.device.events[-1].detail  # the device saw it and discarded it


def test_alerts_count_only_from_the_device_under_test_with_increasing_counters(esme):
    spoil, _alert = NEGATIVES["forged-signature"]
    frame = spoil(esme, _genuine(esme))
    first = steps.send_probe(esme, frame)
    assert steps._alerts_from_device(esme, first)[0] == [0x8F3D]
    # the same alert again: its counter does not increase, the scenario fails
    with pytest.raises(EvidenceError, match="alert counter increases"):
        steps._alerts_from_device(esme, first)
    # the comms hub's own alert is not the device's
    hub_alerts = esme.hub.chf.receive(b"\x00garbage")
    exchange = steps.Exchange(None, b"", alerts=[steps.decode(a) for a in hub_alerts], alert_frames=hub_alerts)
    verified, rejected = steps._alerts_from_device(esme, exchange)
    assert verified == [] and "not the device under test" in rejected[0]


def test_forged_certificates_are_what_they_claim(esme):
    genuine = esme.pki.credential(esme.GAINING, Usage.DS).certificate
    issuing = esme.pki.issuing_ca.certificate
    forged = forgery.forged_ca_signature(esme)
    assert (forged.subject, forged.issuer, forged.public_key()) == (genuine.subject, genuine.issuer,
                                                                   genuine.public_key())
    with pytest.raises(InvalidSignature):
        forged.verify_directly_issued_by(issuing)
    genuine.verify_directly_issued_by(issuing)
    root_signed = forgery.root_signed(esme)
    root_signed.verify_directly_issued_by(esme.pki.root.certificate)
    policies = forgery.non_critical_policies(esme)
    policies.verify_directly_issued_by(issuing)
    assert not policies.extensions.get_extension_for_class(x509.CertificatePolicies).critical
    assert genuine.extensions.get_extension_for_class(x509.CertificatePolicies).critical
    assert forgery.expired(esme).not_valid_after_utc < esme.now()


def test_a_power_cycle_restarts_the_device_from_its_store(esme):
    steps.expect_accepted(esme, steps.seal_command(esme, steps.migration_command(esme), "tcos"), what="migration")
    before = esme.device
    esme.power_cycle()
    assert esme.device is not before and (esme.state_dir / "device" / "device-state.json").exists()
    steps.expect_cos_holder(esme, "ecos")
    esme.reset()
    steps.expect_cos_holder(esme, "tcos")  # a reset is factory-fresh, on disk too


def test_the_self_check_refuses_a_dcc_that_counts_an_unverified_answer(esme, monkeypatch):
    dcc = esme.dcc  # the real DCC passed the self-check when it was made
    esme.register()
    selfcheck.check_dcc_verifies_answers(esme._make_dcc(dcc.inventory), "ESME", esme.device_id, esme.pki)

    class Trusting:
        def migrate(self, device_id, transport):
            return type("Outcome", (), {"success": True})()

    with pytest.raises(selfcheck.RigSelfCheckError, match="does not verify"):
        selfcheck.check_dcc_verifies_answers(Trusting(), "ESME", esme.device_id, esme.pki)
    # the forging link really re-signs: the response no longer verifies under the device's key
    link = selfcheck._ForgingLink(esme.device)
    link.open()
    link.send(steps.seal_command(esme, steps.migration_command(esme), "tcos"))
    answer = link.recv(None, deadline_in(1.0)).data
    assert steps.decode(answer).originator_id == esme.device_id
    assert not verify_signature(answer, steps.decode(answer), esme.device_public_key(Usage.DS))
