"""SRV 6.23 end to end against the fake meter: routing, signing, device answers, N26, timing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rig.crypto import Usage, seal, verify_mac
from rig.dcc import (
    ChangeOfSupplier,
    CosAuthorisationError,
    CredentialStatus,
    Dcc,
    DeviceChangeOfSupplier,
    ServiceStatus,
    eui_text,
)
from rig.dcc.examples import FUTURE, example_request
from rig.dcc.request import DUIS_CANCELLATION, to_cs02b
from rig.gbcs import RemotePartyRole, decode
from rig.gbcs import build as b
from rig.transport.base import QueueTransport, deadline_in

from .conftest import TEST_CONFIG, esme_record
from .fake_meter import Behaviour, FakeMeter, link


def test_immediate_cos_on_a_tcos_device_is_signed_by_tcos(fixture_pki, dcc, meter, transport):
    request = example_request(fixture_pki)
    outcome = dcc.submit_623(request, transport)
    assert outcome.status is ServiceStatus.COMPLETED and outcome.response_code == "I0"
    assert outcome.signer == dcc.parties.tcos
    command = decode(outcome.command)
    assert command.originator_id == dcc.parties.tcos and command.message_code == 0x0107
    assert command.originator_counter == outcome.counter == 1
    assert meter.accepted[0].originator_counter == outcome.counter
    assert outcome.execution_outcome.all_succeeded and len(outcome.statuses) == 3
    supplier_b = fixture_pki.entity("supplier_b")
    assert meter.cell_subject(b.ds_cell(RemotePartyRole.SUPPLIER)) == supplier_b
    assert dcc.inventory.device(request.device_id).supplier_id == supplier_b


def test_completed_cos_raises_n26_to_the_losing_supplier(fixture_pki, dcc, transport):
    outcome = dcc.submit_623(example_request(fixture_pki), transport)
    [alert] = outcome.alerts
    assert alert.code == "N26" and alert.recipient == eui_text(fixture_pki.entity("supplier_a"))
    assert alert.body == DeviceChangeOfSupplier(fixture_pki.entity("esme"), "ESME", "1300000000017")
    assert dcc.alerts.wait_for("N26", deadline_in(1.0)) == alert


def test_after_migration_the_ecos_key_signs(fixture_pki, dcc, meter, transport):
    assert dcc.migrate(fixture_pki.entity("esme"), transport).success
    outcome = dcc.submit_623(example_request(fixture_pki), transport)
    assert outcome.status is ServiceStatus.COMPLETED and outcome.signer == dcc.parties.ecos
    assert decode(outcome.command).originator_id == dcc.parties.ecos
    # the device's transitionalCoS counter runs on: the ECoS counter starts above the migration's
    assert outcome.counter > meter.accepted[0].originator_counter


def test_a_tcos_signed_command_to_a_migrated_device_goes_unanswered(fixture_pki, dcc, meter, transport):
    """Evidence that routing matters: the inventory wrongly says TCOS, the device ignores the command."""
    dcc.migrate(fixture_pki.entity("esme"), transport)
    dcc.inventory.set_credential_status(fixture_pki.entity("esme"), CredentialStatus.TCOS)
    outcome = dcc.submit_623(example_request(fixture_pki), transport)
    assert outcome.status is ServiceStatus.NO_RESPONSE and outcome.signer == dcc.parties.tcos
    assert isinstance(outcome.alerts[0].body, ChangeOfSupplier)
    assert outcome.alerts[0].body.ecos_error_code == "NRS"


def test_unknown_credential_status_is_not_routed(fixture_pki, dcc, meter, transport):
    dcc.inventory.set_credential_status(fixture_pki.entity("esme"), CredentialStatus.UNKNOWN)
    outcome = dcc.submit_623(example_request(fixture_pki), transport)
    assert outcome.status is ServiceStatus.UNROUTABLE and meter.received == []
    routed = Dcc(dcc.inventory, dcc.keystore, dcc.parties, ca_certificates=dcc.ca_certificates,
                 config=TEST_CONFIG.with_overrides({"routing": {"UNKNOWN": "tcos"}}))
    assert routed.submit_623(example_request(fixture_pki), transport).status is ServiceStatus.COMPLETED


@pytest.mark.parametrize("behaviour,status,code", [
    (Behaviour.SILENT, ServiceStatus.NO_RESPONSE, "NRS"),
    (Behaviour.BAD_SIGNATURE, ServiceStatus.BAD_SIGNATURE, "SIG"),
    (Behaviour.FAIL_REPLACEMENT, ServiceStatus.FAILED, "DEV"),
])
def test_cos_not_completed_raises_n26_to_the_user(behaviour, status, code, fixture_pki, dcc):
    meter = FakeMeter(fixture_pki, behaviour=behaviour)
    request = example_request(fixture_pki)
    with link(meter) as transport:
        outcome = dcc.submit_623(request, transport)
    assert outcome.status is status and outcome.sent
    [alert] = outcome.alerts
    assert alert.code == "N26" and alert.recipient == eui_text(request.user_id)
    assert alert.body == ChangeOfSupplier(str(request.request_id), code)
    assert dcc.inventory.device(request.device_id).supplier_id == fixture_pki.entity("supplier_a")  # unchanged
    assert outcome.response_code == ("I0" if behaviour is Behaviour.FAIL_REPLACEMENT else None)


def test_bad_device_signature_is_evidence_not_an_outcome(fixture_pki, dcc):
    meter = FakeMeter(fixture_pki, behaviour=Behaviour.BAD_SIGNATURE)
    with link(meter) as transport:
        outcome = dcc.submit_623(example_request(fixture_pki), transport)
    assert outcome.status is ServiceStatus.BAD_SIGNATURE
    assert outcome.response is not None and outcome.execution_outcome is None


def test_future_dated_cos_then_the_execution_alert(fixture_pki, dcc, meter, transport):
    outcome = dcc.submit_623(example_request(fixture_pki, execution=FUTURE), transport)
    assert outcome.status is ServiceStatus.ACCEPTED and outcome.execution_outcome is None
    assert dcc.inventory.device(fixture_pki.entity("esme")).supplier_id == fixture_pki.entity("supplier_a")
    meter.execute_pending()
    done = dcc.collect_execution_alert(outcome, transport, deadline_in(2.0))
    assert done.status is ServiceStatus.COMPLETED and done.execution_outcome.all_succeeded
    assert decode(done.response).payload.alert_code == 0x8F66
    assert dcc.inventory.device(fixture_pki.entity("esme")).supplier_id == fixture_pki.entity("supplier_b")
    assert [a.code for a in done.alerts] == ["N26"]


def test_no_execution_alert_in_time(fixture_pki, dcc, transport):
    outcome = dcc.submit_623(example_request(fixture_pki, execution=FUTURE), transport)
    late = dcc.collect_execution_alert(outcome, transport, deadline_in(0.05))
    assert late.status is ServiceStatus.NO_RESPONSE
    with pytest.raises(ValueError):
        dcc.collect_execution_alert(late, transport, deadline_in(0.05))


def test_cancellation(fixture_pki, dcc, meter, transport):
    dcc.submit_623(example_request(fixture_pki, counter=1, execution=FUTURE), transport)
    outcome = dcc.submit_623(example_request(fixture_pki, counter=2, execution=DUIS_CANCELLATION), transport)
    assert outcome.status is ServiceStatus.CANCELLED and outcome.alerts == ()
    command = decode(outcome.command).payload
    assert command.is_cancellation and command.control.other_seq_number_changes is None
    assert meter.pending == []


def test_timing_is_measured_against_the_target(fixture_pki, dcc, transport):
    outcome = dcc.submit_623(example_request(fixture_pki), transport)
    assert outcome.timing.target_s == 35.0 and outcome.timing.generation == "SMETS2"
    assert outcome.timing.elapsed_s >= 0
    dcc.inventory.add_device(esme_record(fixture_pki, generation="SMETS1"), replace=True)
    smets1 = dcc.submit_623(example_request(fixture_pki, counter=2), transport)
    assert smets1.timing.target_s == 21.0
    rejected = dcc.submit_623(replace(example_request(fixture_pki), import_mpxn="9"), transport)
    assert rejected.timing is not None and rejected.timing.target_s == 21.0


class _ClosedLink(QueueTransport):
    name = "closed"

    def _send(self, frame: bytes) -> None:  # pragma: no cover - never reached, the link is closed
        raise AssertionError


def test_a_lost_link_is_reported_and_the_counter_is_not_reused(fixture_pki, dcc, meter, transport):
    outcome = dcc.submit_623(example_request(fixture_pki), _ClosedLink())
    assert outcome.status is ServiceStatus.LINK_LOST and outcome.alerts[0].body.ecos_error_code == "LNK"
    again = dcc.submit_623(example_request(fixture_pki, counter=2), transport)
    assert again.counter == outcome.counter + 1 and again.status is ServiceStatus.COMPLETED


def test_dsp_rejects_a_precommand_the_cos_party_did_not_sign(fixture_pki, dcc):
    message = to_cs02b(example_request(fixture_pki), cos_party_id=dcc.parties.ecos, counter=1)
    forged = seal(replace(message, mac_header=None), signer=fixture_pki.credential("tcos", Usage.DS).private_key)
    with pytest.raises(CosAuthorisationError, match="signature"):
        dcc.dsp.check_authorisation(forged, message)
    genuine = dcc.cos_party.sign(message)
    other = to_cs02b(example_request(fixture_pki), cos_party_id=dcc.parties.ecos, counter=2)
    with pytest.raises(CosAuthorisationError, match="differs"):
        dcc.dsp.check_authorisation(genuine, other)
    assert dcc.dsp.check_authorisation(genuine, message).originator_counter == 1


def test_the_dsp_wraps_the_checked_precommand_byte_for_byte_as_a_fresh_encode(fixture_pki, dcc):
    """``to_command`` with the pre-command's bytes wraps them instead of encoding again: the
    frame must be exactly the one the encoder gives, MAC included, and the device must take it."""
    message = to_cs02b(example_request(fixture_pki), cos_party_id=dcc.parties.ecos, counter=5)
    precommand = dcc.cos_party.sign(message)
    checked = dcc.dsp.check_authorisation(precommand, message)
    wrapped = dcc.dsp.to_command(checked, precommand)
    assert wrapped == dcc.dsp.to_command(checked)
    decoded = decode(wrapped)
    assert decoded.mac_header is not None and decoded.signature == checked.signature
    acb = dcc.keystore.private_key(dcc.parties.acb, Usage.KA)
    device_ka = dcc.keystore.public_key(message.recipient_id, Usage.KA)
    assert verify_mac(wrapped, decoded, acb, device_ka)
    tampered = wrapped[:-1] + bytes((wrapped[-1] ^ 1,))
    assert not verify_mac(tampered, decode(tampered), acb, device_ka)
