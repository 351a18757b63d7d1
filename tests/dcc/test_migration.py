"""TCoS -> ECoS migration: mode 6 signed by TCoS, retries, inventory status, model verdicts, ECOSMIG-007."""

from __future__ import annotations

import datetime as dt

import pytest

from rig.crypto import Usage, certs
from rig.dcc import (
    AttemptResult,
    CredentialOrigin,
    CredentialStatus,
    DccConfig,
    ModelVerdict,
    RetryPolicy,
)
from rig.gbcs import RemotePartyRole, ReplacementMode, TimeBasedChecks, decode
from rig.gbcs import build as b

from .conftest import MODEL, esme_record
from .fake_meter import Behaviour, FakeMeter, link

TRANSCOS_DS = b.ds_cell(RemotePartyRole.TRANSITIONAL_COS)
EVER = (dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))


def test_successful_migration(fixture_pki, dcc, meter, transport):
    esme = fixture_pki.entity("esme")
    outcome = dcc.migrate(esme, transport)
    assert outcome.success and outcome.credential_status is CredentialStatus.ECOS
    [attempt] = outcome.attempts
    assert attempt.result is AttemptResult.SUCCESS
    command = decode(attempt.command)
    assert command.originator_id == dcc.parties.tcos and command.message_code == 0x0106
    control = command.payload.control
    assert control.mode == ReplacementMode.TRANS_COS_BY_TRANS_COS
    assert control.time_based_checks == TimeBasedChecks.DISAPPLY and control.other_seq_number_changes is None
    [replacement] = command.payload.replacements
    ecos_ds = fixture_pki.credential("ecos", Usage.DS).certificate
    assert replacement.target_cell == TRANSCOS_DS and certs.load_certificate(replacement.certificate) == ecos_ds
    assert certs.load_certificate(command.payload.certification_path[0]) == fixture_pki.issuing_ca.certificate
    assert meter.cells[TRANSCOS_DS] == ecos_ds  # the device really holds the ECoS certificate now
    record = dcc.inventory.device(esme)
    assert record.credential_status is CredentialStatus.ECOS and record.credential_origin is CredentialOrigin.MIGRATED
    [stored] = dcc.inventory.attempts(device_id=esme)
    assert stored.result is AttemptResult.SUCCESS and stored.evidence["command"] == attempt.command.hex().upper()
    assert dcc.inventory.counter_state(dcc.parties.ecos, esme)[1] == attempt.counter
    assert dcc.classify_model(MODEL).verdict is ModelVerdict.MIGRATABLE


def test_time_checks_can_be_applied(fixture_pki, inventory, transport):
    from rig.dcc import Dcc

    inventory.add_device(esme_record(fixture_pki))
    config = DccConfig().with_overrides({"migration": {"disapply_time_checks": False}})
    dcc = Dcc.from_pki(fixture_pki, inventory, config=config)
    outcome = dcc.migrate(fixture_pki.entity("esme"), transport)
    assert decode(outcome.attempts[0].command).payload.control.time_based_checks is None


def test_a_device_that_never_answers_is_retried_per_policy(fixture_pki, dcc, sleeps):
    meter = FakeMeter(fixture_pki, behaviour=Behaviour.SILENT)
    esme = fixture_pki.entity("esme")
    with link(meter) as transport:
        outcome = dcc.migrate(esme, transport)
    assert not outcome.success
    assert [a.result for a in outcome.attempts] == [AttemptResult.NO_RESPONSE] * 3
    assert sleeps == [60.0, 60.0]  # interval between attempts, none before the first
    counters = [a.counter for a in outcome.attempts]
    assert counters == sorted(set(counters)) and len(meter.received) == 3
    assert [r.result for r in dcc.inventory.attempts(device_id=esme)] == [AttemptResult.NO_RESPONSE] * 3
    # the device may have acted on a command whose answer was lost: the rig cannot claim TCOS
    assert outcome.credential_status is CredentialStatus.UNKNOWN
    assert dcc.inventory.device(esme).credential_status is CredentialStatus.UNKNOWN


def test_retry_policy_comes_from_config_or_the_call(fixture_pki, dcc, sleeps):
    meter = FakeMeter(fixture_pki, behaviour=Behaviour.FAIL_REPLACEMENT)
    policy = RetryPolicy(attempts=5, interval_s=1.5, response_timeout_s=0.2,
                         retry_on=frozenset({AttemptResult.NO_RESPONSE}))
    with link(meter) as transport:
        outcome = dcc.migrate(fixture_pki.entity("esme"), transport, policy=policy)
    [attempt] = outcome.attempts  # a device failure is not retried under this policy
    assert attempt.result is AttemptResult.DEVICE_FAILURE and sleeps == []
    assert attempt.statuses == ("transitional_cos/digital_signature=OTHER",)
    # the device verified the TCoS signature and said no: it still trusts TCoS
    assert outcome.credential_status is CredentialStatus.TCOS


def test_bad_device_signature_is_rejected(fixture_pki, dcc):
    meter = FakeMeter(fixture_pki, behaviour=Behaviour.BAD_SIGNATURE)
    with link(meter) as transport:
        outcome = dcc.migrate(fixture_pki.entity("esme"), transport,
                              policy=RetryPolicy(attempts=1, response_timeout_s=0.2))
    [attempt] = outcome.attempts
    assert attempt.result is AttemptResult.BAD_SIGNATURE and attempt.response is not None
    assert not outcome.success and outcome.credential_status is not CredentialStatus.ECOS
    assert meter.cells[TRANSCOS_DS] == fixture_pki.credential("ecos", Usage.DS).certificate  # it did migrate...
    assert dcc.inventory.device(fixture_pki.entity("esme")).credential_status is CredentialStatus.UNKNOWN


def test_cs02a_settles_an_unknown_status_and_teaches_the_floor(fixture_pki, dcc):
    esme = fixture_pki.entity("esme")
    meter = FakeMeter(fixture_pki, behaviour=Behaviour.EXECUTE_SILENTLY)
    with link(meter) as transport:
        dcc.migrate(esme, transport, policy=RetryPolicy(attempts=1, response_timeout_s=0.1))
        assert dcc.inventory.device(esme).credential_status is CredentialStatus.UNKNOWN
        meter.behaviour = Behaviour.CONFORMING
        meter.counters[int(RemotePartyRole.TRANSITIONAL_COS)] = 500  # another head end was busy
        reading = dcc.read_trust_anchors(esme, transport)
    assert reading.ok and reading.credential_status is CredentialStatus.ECOS
    assert reading.floors == {dcc.parties.tcos: 500, dcc.parties.ecos: 500}
    record = dcc.inventory.device(esme)
    assert record.credential_status is CredentialStatus.ECOS and record.credential_origin is CredentialOrigin.MIGRATED
    assert dcc.inventory.next_counter(dcc.parties.ecos, esme) == 501


def test_already_migrated_device_gets_nothing(fixture_pki, dcc, meter, transport):
    dcc.inventory.set_credential_status(fixture_pki.entity("esme"), CredentialStatus.ECOS)
    outcome = dcc.migrate(fixture_pki.entity("esme"), transport)
    assert outcome.success and outcome.attempts == () and meter.received == []


def _add_gsme(dcc, pki, model=MODEL):
    dcc.inventory.add_device(esme_record(pki, device_id=pki.entity("gsme"), device_type="GSME", model=model))


def test_non_migratable_model_with_evidence(fixture_pki, dcc):
    _add_gsme(dcc, fixture_pki)
    for label in ("esme", "gsme"):
        with link(FakeMeter(fixture_pki, label, behaviour=Behaviour.SILENT)) as transport:
            dcc.migrate(fixture_pki.entity(label), transport)
    verdict = dcc.classify_model(MODEL)
    assert verdict.verdict is ModelVerdict.NON_MIGRATABLE
    assert set(verdict.devices) == {fixture_pki.entity("esme"), fixture_pki.entity("gsme")}
    assert len(verdict.evidence) == 6 and all(a.result is AttemptResult.NO_RESPONSE for a in verdict.evidence)
    assert all(a.evidence["command"] for a in verdict.evidence)
    assert dcc.inventory.model_verdict(MODEL) == ModelVerdict.NON_MIGRATABLE
    assert dcc.classify_model(MODEL, min_devices=3).verdict is ModelVerdict.UNPROVEN


def test_one_success_makes_a_model_migratable(fixture_pki, dcc):
    _add_gsme(dcc, fixture_pki)
    with link(FakeMeter(fixture_pki, "esme", behaviour=Behaviour.SILENT)) as transport:
        dcc.migrate(fixture_pki.entity("esme"), transport)
    assert dcc.classify_model(MODEL).verdict is ModelVerdict.NON_MIGRATABLE
    with link(FakeMeter(fixture_pki, "gsme")) as transport:
        assert dcc.migrate(fixture_pki.entity("gsme"), transport).success
    assert dcc.classify_model(MODEL).verdict is ModelVerdict.MIGRATABLE
    assert dcc.classify_model("NEVER-TRIED").verdict is ModelVerdict.UNPROVEN


def test_ecosmig_007_layout_and_counts(fixture_pki, dcc):
    _add_gsme(dcc, fixture_pki, model="TESTMODEL-G1")
    dcc.inventory.add_device(esme_record(fixture_pki, device_id=fixture_pki.entity("gpf"), device_type="GPF",
                                         model="TESTMODEL-P1", credential_status=CredentialStatus.ECOS))
    with link(FakeMeter(fixture_pki, "esme")) as transport:
        dcc.migrate(fixture_pki.entity("esme"), transport)
    with link(FakeMeter(fixture_pki, "gsme", behaviour=Behaviour.SILENT)) as transport:
        dcc.migrate(fixture_pki.entity("gsme"), transport)
    created = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)
    report = dcc.ecosmig_007(recipient="SUPB01", sequence=12, start=EVER[0], end=EVER[1], created=created)
    lines = report.render().splitlines()
    assert lines == [
        "00,ECOSMIG-007,SUPB01,12,Summary Report: ECoS Total Counts,20261201T060000,20000101T000000,"
        "21000101T000000,DCC Controlled",
        "10,1,3,1,1,1",  # 1 migrated; 3 failed attempts; gpf installed ECoS; gsme left, non-migratable
        "99,3,DCC Controlled",
    ]
    only_before = dcc.ecosmig_007(recipient="SUPB01", sequence=13, start=EVER[0],
                                  end=dt.datetime(2001, 1, 1, tzinfo=dt.UTC), created=created)
    assert only_before.records()[1][1:3] == ["0", "0"]  # attempts are counted in the period only
    with pytest.raises(ValueError, match="Report Recipient"):
        dcc.ecosmig_007(recipient="TOO-LONG", sequence=1, start=EVER[0], end=EVER[1]).render()
    with pytest.raises(ValueError, match="Sequence"):
        dcc.ecosmig_007(recipient="SUPB01", sequence=10**6, start=EVER[0], end=EVER[1]).render()


def test_ecosmig_rows_count_and_delimiter_are_lab_options(fixture_pki, inventory):
    from rig.dcc import Dcc

    config = DccConfig().with_overrides({"ecosmig": {"rows_count": "detail", "delimiter": "|"}})
    dcc = Dcc.from_pki(fixture_pki, inventory, config=config)
    text = dcc.ecosmig_007(recipient="SUPB01", sequence=1, start=EVER[0], end=EVER[1]).render()
    assert text.splitlines()[2] == "99|1|DCC Controlled"
    assert text.splitlines()[1] == "10|0|0|0|0|0"
