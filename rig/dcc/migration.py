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

Cost per device (issue 14): constant, whatever the inventory holds. The verdict after each
migration comes from per-model counters the attempts update as they are appended
(``Inventory.record_attempts``); nothing re-reads a model's attempts, and evidence is never
rewritten: the attempts are the evidence, read by ``classify_model`` when a report asks.

Fleets: ``migrate_devices`` takes many devices through one DCC in the order given (a hub's
device log order for ``Dcc.migrate_fleet``), in batches. Per batch and attempt round: one
transaction commits every counter of the batch (and the ECoS floors) **before** the first frame
of the batch leaves; the frames are exchanged; one transaction records the attempts, the
credential statuses and the model counters. Retries follow the policy: devices whose attempt
failed with a retryable result get their next attempt in the next round, after
``policy.interval_s``. A crash after the counter commit loses counters, never reuses one; a
crash between a send and the batch's record leaves those devices at their old status, and the
next migration's command (a fresh counter) or a CS02a read settles them.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import Encoding

from rig.crypto import Usage, certs
from rig.gbcs import RemotePartyRole, ReplacementMode
from rig.gbcs import build as b
from rig.gbcs.tables import KeyUsage

from .config import RetryPolicy
from .exchange import exchange
from .inventory import AttemptRecord, CredentialOrigin, DeviceRecord, Inventory
from .outcomes import MigrationAttempt, MigrationOutcome, interpret
from .tables import AttemptResult, CredentialStatus

if TYPE_CHECKING:
    from .facade import Dcc

_DER = Encoding.DER
#: devices per batch: one counter commit and one record commit per batch and attempt round (each
#: commit an fsync, about 4 ms here: 1,024 devices make it about 8 us per device, 256 made it 30)
BATCH_SIZE = 1024

#: ``progress(done, total)``: devices concluded (migrated, failed for good, or skipped) so far
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class _Plan:
    """What every migration command of one DCC shares (computed once per call, not per device)."""

    tcos: bytes
    ecos: bytes
    path: tuple[bytes, ...]
    expected: tuple[bytes, bytes]  # (entity id, key id) the replaced cell must report
    replacement: object


def _plan(dcc: Dcc) -> _Plan:
    ecos_certificate = dcc.keystore.certificate(dcc.parties.ecos, Usage.DS)
    return _Plan(dcc.parties.tcos, dcc.parties.ecos, (dcc.issuing_ca_of(ecos_certificate).public_bytes(_DER),),
                 (certs.entity_id(ecos_certificate), certs.subject_key_id(ecos_certificate)),
                 b.replacement(ecos_certificate.public_bytes(_DER), RemotePartyRole.TRANSITIONAL_COS,
                               KeyUsage.DIGITAL_SIGNATURE))


@dataclass
class _Job:
    device: DeviceRecord
    transport: object
    status: CredentialStatus
    attempts: list[MigrationAttempt] = field(default_factory=list)

    @property
    def device_id(self) -> bytes:
        return self.device.device_id


def migrate_device(dcc: Dcc, device_id: bytes, transport, *, policy: RetryPolicy | None = None) -> MigrationOutcome:
    [outcome] = migrate_devices(dcc, [(device_id, transport)], policy=policy)
    return outcome


def migrate_devices(dcc: Dcc, devices: Iterable[tuple[bytes | DeviceRecord, object]], *,
                    policy: RetryPolicy | None = None, batch_size: int = BATCH_SIZE,
                    progress: Progress | None = None,
                    on_outcome: Callable[[MigrationOutcome], None] | None = None) -> list[MigrationOutcome]:
    """Migrate ``(device, transport)`` pairs in the order given; one outcome per pair, in order.

    A device is its id (looked up in the inventory) or its inventory record as just read. With
    ``on_outcome`` each outcome is handed over as its device concludes and none is kept (the
    list returned is empty): a fleet of millions does not hold every frame in memory, the
    inventory has them as evidence.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    policy = policy or dcc.config.retry
    pairs = list(devices)
    outcomes: dict[int, MigrationOutcome] = {}
    concluded = 0
    jobs: list[tuple[int, _Job]] = []

    def conclude(index: int, outcome: MigrationOutcome) -> None:
        nonlocal concluded
        concluded += 1
        if on_outcome is None:
            outcomes[index] = outcome
        else:
            on_outcome(outcome)

    for index, (device_id, transport) in enumerate(pairs):
        device = device_id if isinstance(device_id, DeviceRecord) else dcc.inventory.require(device_id)
        if device.credential_status is CredentialStatus.ECOS:
            conclude(index, MigrationOutcome(device.device_id, device.model, True, CredentialStatus.ECOS,
                                             detail="already holds the ECoS certificate; nothing sent"))
        else:
            jobs.append((index, _Job(device, transport, device.credential_status)))
    total = len(pairs)
    if progress is not None and concluded:
        progress(concluded, total)
    plan = _plan(dcc) if jobs else None
    for number in range(1, policy.attempts + 1):
        if not jobs:
            break
        if number > 1:
            dcc.sleep(policy.interval_s)
        retry: list[tuple[int, _Job]] = []
        for first in range(0, len(jobs), batch_size):
            batch = jobs[first:first + batch_size]
            _attempt_batch(dcc, plan, [job for _, job in batch], number, policy)
            for index, job in batch:
                result = job.attempts[-1].result
                if result is not AttemptResult.SUCCESS and result in policy.retry_on and number < policy.attempts:
                    retry.append((index, job))
                else:
                    conclude(index, _outcome(job))
            if progress is not None:
                progress(concluded, total)
        jobs = retry
    return [outcomes[index] for index in range(total)] if on_outcome is None else []


def _attempt_batch(dcc: Dcc, plan: _Plan, jobs: Sequence[_Job], number: int, policy: RetryPolicy) -> None:
    """One attempt for each job: counters committed, frames exchanged, results recorded."""
    inventory = dcc.inventory
    with inventory.db.transaction():  # every counter of the batch durable before any frame leaves
        counters = inventory.next_counters(plan.tcos, [job.device_id for job in jobs])
        inventory.raise_floors(plan.ecos, [(job.device_id, counter) for job, counter in zip(jobs, counters, strict=True)])
    records: list[AttemptRecord] = []
    done: list[_Job] = []
    try:
        for job, counter in zip(jobs, counters, strict=True):
            attempt, delivered = _exchange(dcc, plan, job, number, counter, policy)
            job.attempts.append(attempt)
            job.status = _status_after(attempt.result, delivered, job.status)
            records.append(AttemptRecord(job.device_id, number, counter, attempt.result, attempt.started_at,
                                         attempt.finished_at, attempt.evidence()))
            done.append(job)
    finally:  # an unexpected error on one device still records what the others' frames did
        _record(inventory, records, done)


def _record(inventory: Inventory, records: Sequence[AttemptRecord], jobs: Sequence[_Job]) -> None:
    if not records:
        return
    with inventory.db.transaction():
        inventory.record_attempts(records)
        inventory.set_credential_statuses(
            (job.device_id, job.status, CredentialOrigin.MIGRATED if job.status is CredentialStatus.ECOS else None)
            for job in jobs)
        for model in dict.fromkeys(job.device.model for job in jobs):
            _update_verdict(inventory, model)


def _exchange(dcc: Dcc, plan: _Plan, job: _Job, number: int, counter: int,
              policy: RetryPolicy) -> tuple[MigrationAttempt, bool]:
    """One attempt, and whether the transport took the command (False: the device never saw it)."""
    device = job.device
    started_wall, started = dcc.inventory.clock(), time.monotonic()
    message = b.cs02b_command(
        mode=ReplacementMode.TRANS_COS_BY_TRANS_COS, originator_id=plan.tcos, recipient_id=device.device_id,
        counter=counter, replacements=[plan.replacement], certification_path=plan.path,
        disapply_time_checks=dcc.config.migration_disapply_time_checks, recipient_is_chf=device.device_type == "CHF")
    frame, command = dcc.authorise(message, decoded=False)
    result = exchange(job.transport, frame, command, verify=dcc.device_signature(device.device_id),
                      deadline=started + policy.response_timeout_s)
    reading = interpret(result)
    outcome_result, detail = reading.result, reading.detail
    if outcome_result is AttemptResult.SUCCESS:
        replaced = reading.outcome.outcomes[0]
        if (replaced.replacing_subject_id, replaced.replacing_key_id) != plan.expected:
            outcome_result = AttemptResult.UNEXPECTED_RESPONSE
            detail = (f"success reported, but the cell now holds {replaced.replacing_subject_id.hex().upper()}/"
                      f"{replaced.replacing_key_id.hex().upper()}")
    return (MigrationAttempt(number, counter, outcome_result, frame, result.answer, reading.statuses, detail,
                             started_wall, dcc.inventory.clock()), result.delivered)


def _outcome(job: _Job) -> MigrationOutcome:
    attempts = tuple(job.attempts)
    success = attempts[-1].result is AttemptResult.SUCCESS
    return MigrationOutcome(job.device_id, job.device.model, success, job.status, attempts,
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


def verdict_of(devices: int, attempts: int, successes: int, *, min_devices: int = 1) -> ModelVerdict:
    """The classification rule on a model's counts (module docstring)."""
    if successes:
        return ModelVerdict.MIGRATABLE
    if attempts and devices >= min_devices:
        return ModelVerdict.NON_MIGRATABLE
    return ModelVerdict.UNPROVEN


def _update_verdict(inventory: Inventory, model: str, *, min_devices: int = 1) -> ModelVerdict:
    """Store the verdict ``model``'s counters give (constant cost: one row read, one written)."""
    devices, attempts, successes = inventory.model_stats(model)
    verdict = verdict_of(devices, attempts, successes, min_devices=min_devices)
    inventory.set_model_verdict(model, verdict, {"devices": devices, "attempts": attempts, "successes": successes,
                                                 "min_devices": min_devices, "evidence": "migration_attempts"})
    return verdict


@dataclass(frozen=True)
class ModelClassification:
    model: str
    verdict: ModelVerdict
    devices: tuple[bytes, ...]  # devices of the model with at least one attempt
    evidence: tuple[AttemptRecord, ...]  # the attempts the verdict rests on


def classify_model(inventory: Inventory, model: str, *, min_devices: int = 1) -> ModelClassification:
    """Classify ``model`` and store the verdict; the evidence is read from the recorded attempts.

    For reports: this reads every attempt of the model (migrations never call it; they update
    the verdict from the model's counters).
    """
    attempts = inventory.attempts(model=model)
    devices = tuple(dict.fromkeys(a.device_id for a in attempts))
    successes = tuple(a for a in attempts if a.result is AttemptResult.SUCCESS)
    verdict = verdict_of(len(devices), len(attempts), len(successes), min_devices=min_devices)
    inventory.set_model_verdict(model, verdict, {"devices": len(devices), "attempts": len(attempts),
                                                 "successes": len(successes), "min_devices": min_devices,
                                                 "evidence": "migration_attempts"})
    return ModelClassification(model, verdict, devices, successes if successes else tuple(attempts))
