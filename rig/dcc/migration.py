"""TCoS -> ECoS migration of a device, EMEHRA-style retries, and Non-Migratable model classification.

The migration command (duis-ecos.md 1.5b, INFERRED with high confidence; RTDS
``CS02bTransCoSByTransCoS``): CS02b mode 6 ``transCoSByTransCoS`` signed with the **TCoS** key,
one replacement putting the ECoS party's DS certificate into the {transitionalCoS, DS,
management} cell, the certification path being that certificate's issuing CA, no floor changes,
and ``applyTimeBasedCPVChecks = disapply`` unless configured otherwise.

A migration succeeds only on a response the device's DS key verifies whose outcome reports the
cell replaced by the ECoS certificate (its entity id and key id). What the inventory then
believes:

* success -> ECOS (origin MIGRATED): later 6.23s are signed by the ECoS key;
* a verified answer reporting the replacement failed -> TCOS (the device checked the TCoS
  signature, so it still trusts TCoS);
* a command the transport refused -> unchanged (the device never saw it);
* anything else (silence, a bad signature, an answer that does not fit) -> UNKNOWN: the
  device may have migrated without the rig learning it. ``Dcc.read_trust_anchors`` (CS02a)
  settles it.

Anti-replay across the switch: a device keeps one counter per remote party *role*
(gbcs-cs02b.md 9), and TCoS and ECoS both act in the transitionalCoS role. So every migration
counter also becomes a floor of the ECoS party's counter for that device, whether or not the
answer arrived.

A device model is classified NON_MIGRATABLE when at least ``min_devices`` of its devices have
been attempted and no attempt on any of its devices succeeded, with every attempt as evidence;
MIGRATABLE once any attempt succeeded; UNPROVEN before any attempt (ETMAD 1.12/1.13: DCC lists
only the exceptions).
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import Encoding

from rig.crypto import Usage, certs
from rig.gbcs import RemotePartyRole, ReplacementMode
from rig.gbcs import build as b
from rig.gbcs.tables import KeyUsage

from .config import RetryPolicy
from .exchange import exchange
from .inventory import AttemptRecord, CredentialOrigin, Inventory
from .outcomes import MigrationAttempt, MigrationOutcome, interpret
from .tables import AttemptResult, CredentialStatus

if TYPE_CHECKING:
    from .facade import Dcc

_DER = Encoding.DER


def migrate_device(dcc: Dcc, device_id: bytes, transport, *, policy: RetryPolicy | None = None) -> MigrationOutcome:
    device = dcc.inventory.require(device_id)
    if device.credential_status is CredentialStatus.ECOS:
        return MigrationOutcome(device_id, device.model, True, CredentialStatus.ECOS,
                                detail="already holds the ECoS certificate; nothing sent")
    policy = policy or dcc.config.retry
    tcos, ecos = dcc.parties.tcos, dcc.parties.ecos
    ecos_certificate = dcc.keystore.certificate(ecos, Usage.DS)
    path = (dcc.issuing_ca_of(ecos_certificate).public_bytes(_DER),)
    expected = (certs.entity_id(ecos_certificate), certs.subject_key_id(ecos_certificate))
    replacement = b.replacement(ecos_certificate.public_bytes(_DER), RemotePartyRole.TRANSITIONAL_COS,
                                KeyUsage.DIGITAL_SIGNATURE)
    verify = dcc.device_signature(device_id)
    attempts: list[MigrationAttempt] = []
    status = device.credential_status
    for number in range(1, policy.attempts + 1):
        if number > 1:
            dcc.sleep(policy.interval_s)
        started_wall, started = dcc.inventory.clock(), time.monotonic()
        counter = dcc.inventory.next_counter(tcos, device_id)
        dcc.inventory.raise_floor(ecos, device_id, counter)
        message = b.cs02b_command(
            mode=ReplacementMode.TRANS_COS_BY_TRANS_COS, originator_id=tcos, recipient_id=device_id, counter=counter,
            replacements=[replacement],
            certification_path=path, disapply_time_checks=dcc.config.migration_disapply_time_checks,
            recipient_is_chf=device.device_type == "CHF")
        frame, command = dcc.authorise(message)
        result = exchange(transport, frame, command, verify=verify,
                          deadline=started + policy.response_timeout_s)
        reading = interpret(result)
        outcome_result, detail = reading.result, reading.detail
        if outcome_result is AttemptResult.SUCCESS:
            replaced = reading.outcome.outcomes[0]
            if (replaced.replacing_subject_id, replaced.replacing_key_id) != expected:
                outcome_result = AttemptResult.UNEXPECTED_RESPONSE
                detail = (f"success reported, but the cell now holds {replaced.replacing_subject_id.hex().upper()}/"
                          f"{replaced.replacing_key_id.hex().upper()}")
        attempt = MigrationAttempt(number, counter, outcome_result, frame, result.answer, reading.statuses, detail,
                                   started_wall, dcc.inventory.clock())
        attempts.append(attempt)
        dcc.inventory.record_attempt(AttemptRecord(device_id, number, counter, outcome_result, attempt.started_at,
                                                   attempt.finished_at, attempt.evidence()))
        status = _status_after(outcome_result, result.delivered, status)
        if status is CredentialStatus.ECOS:
            dcc.inventory.set_credential_status(device_id, status, origin=CredentialOrigin.MIGRATED)
        else:
            dcc.inventory.set_credential_status(device_id, status)
        if outcome_result is AttemptResult.SUCCESS or outcome_result not in policy.retry_on:
            break
    success = attempts[-1].result is AttemptResult.SUCCESS
    classify_model(dcc.inventory, device.model)
    return MigrationOutcome(device_id, device.model, success, status, tuple(attempts),
                            detail="" if success else f"{len(attempts)} attempt(s) failed: {attempts[-1].result}")


def _status_after(result: AttemptResult, delivered: bool, before: CredentialStatus) -> CredentialStatus:
    if result is AttemptResult.SUCCESS:
        return CredentialStatus.ECOS
    if result is AttemptResult.DEVICE_FAILURE:
        return CredentialStatus.TCOS
    if not delivered:
        return before
    return CredentialStatus.UNKNOWN


class ModelVerdict(enum.StrEnum):
    MIGRATABLE = "MIGRATABLE"
    NON_MIGRATABLE = "NON_MIGRATABLE"
    UNPROVEN = "UNPROVEN"


@dataclass(frozen=True)
class ModelClassification:
    model: str
    verdict: ModelVerdict
    devices: tuple[bytes, ...]  # devices of the model with at least one attempt
    evidence: tuple[AttemptRecord, ...]  # the attempts the verdict rests on


def classify_model(inventory: Inventory, model: str, *, min_devices: int = 1) -> ModelClassification:
    """Classify ``model`` from every recorded attempt on its devices, and store the verdict."""
    attempts = inventory.attempts(model=model)
    devices = tuple(dict.fromkeys(a.device_id for a in attempts))
    successes = tuple(a for a in attempts if a.result is AttemptResult.SUCCESS)
    if successes:
        verdict, evidence = ModelVerdict.MIGRATABLE, successes
    elif len(devices) >= min_devices and attempts:
        verdict, evidence = ModelVerdict.NON_MIGRATABLE, tuple(attempts)
    else:
        verdict, evidence = ModelVerdict.UNPROVEN, tuple(attempts)
    inventory.set_model_verdict(model, verdict, (
        {"device_id": a.device_id.hex().upper(), "attempt": a.attempt, "counter": a.counter, "result": a.result,
         **a.evidence} for a in evidence))
    return ModelClassification(model, verdict, devices, evidence)
