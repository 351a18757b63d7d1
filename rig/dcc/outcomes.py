"""What a 6.23 or a migration came to, with the evidence a report needs.

``interpret`` reads a verified CS02b answer against the command that asked for it: the outcome
must echo the command's counter and mode and report the cells it targeted; every cell must say
success for the command to have succeeded (GBCS replaces cell by cell, so partial success is a
failure with evidence, not a success).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from rig.gbcs import Cs02bAlert, Cs02bCommand, Cs02bResponse, ExecutionOutcome, Message, StatusCode

from .adt import AnomalyVerdict
from .alerts import DccAlert
from .checks import CheckFailure
from .exchange import Exchange
from .tables import AttemptResult, CredentialStatus


def cell_statuses(outcome: ExecutionOutcome | None) -> tuple[str, ...]:
    """``cell=status`` per replacement outcome, for evidence."""
    if outcome is None:
        return ()
    return tuple(_cell_status(o.cell, o.status) for o in outcome.outcomes)


def _cell_status(cell, status: int) -> str:
    """``cell=status`` text, made once per (cell, status): a fleet's answers repeat a handful."""
    key = (cell, status)
    text = _CELL_STATUS.get(key)
    if text is None:
        text = f"{cell}={StatusCode(status).name}"
        if len(_CELL_STATUS) < 4096:  # bounded: a fuzzer's odd cells and codes are not all kept
            _CELL_STATUS[key] = text
    return text


_CELL_STATUS: dict[tuple, str] = {}


@dataclass(frozen=True)
class Interpretation:
    result: AttemptResult
    outcome: ExecutionOutcome | None = None
    #: commandAccepted without an outcome (future-dated or cancellation), as expected
    accepted_only: bool = False
    detail: str = ""

    @property
    def statuses(self) -> tuple[str, ...]:
        return cell_statuses(self.outcome)


def interpret(exchange: Exchange) -> Interpretation:
    """The result of a CS02b exchange (response or 0x00CB alert)."""
    if exchange.failure is not None:
        return Interpretation(exchange.failure, detail=exchange.error or "")
    command: Cs02bCommand = exchange.command_message.payload
    payload = exchange.answer_message.payload
    if isinstance(payload, Cs02bAlert):
        outcome = payload.execution_outcome
    elif isinstance(payload, Cs02bResponse):
        outcome = payload.execution_outcome
    else:
        return Interpretation(AttemptResult.UNEXPECTED_RESPONSE, detail=f"answer payload is {type(payload).__name__}")
    if outcome is None:
        if command.execution_date_time is not None and isinstance(payload, Cs02bResponse):
            return Interpretation(AttemptResult.SUCCESS, accepted_only=True, detail="commandAccepted")
        return Interpretation(AttemptResult.UNEXPECTED_RESPONSE,
                              detail="commandAccepted without executionOutcome for an immediate command")
    expected_cells = [r.target_cell for r in command.replacements]
    reported = [o.cell for o in outcome.outcomes]
    if outcome.seq_number != command.control.seq_number or outcome.mode != command.control.mode:
        return Interpretation(AttemptResult.UNEXPECTED_RESPONSE, outcome,
                              detail=f"outcome echoes counter {outcome.seq_number} mode {int(outcome.mode)}")
    if reported != expected_cells:
        return Interpretation(AttemptResult.UNEXPECTED_RESPONSE, outcome,
                              detail=f"outcome reports cells {[str(c) for c in reported]}")
    if not outcome.all_succeeded:
        return Interpretation(AttemptResult.DEVICE_FAILURE, outcome, detail="a replacement failed")
    return Interpretation(AttemptResult.SUCCESS, outcome)


@dataclass(frozen=True)
class Timing:
    """A 6.23's end-to-end time against its target response time [SEED-000 3.1]."""

    elapsed_s: float
    target_s: float
    generation: str

    @property
    def within_target(self) -> bool:
        return self.elapsed_s <= self.target_s


class ServiceStatus(enum.StrEnum):
    COMPLETED = "COMPLETED"  # verified response, every cell replaced
    FAILED = "FAILED"  # verified response reporting a failed cell
    ACCEPTED = "ACCEPTED"  # future-dated: commandAccepted, execution alert to follow
    CANCELLED = "CANCELLED"  # cancellation accepted
    REJECTED = "REJECTED"  # a DSP check failed: nothing built or sent
    STOPPED = "STOPPED"  # CoS-party anomaly detection: nothing sent, N63 to the User
    UNROUTABLE = "UNROUTABLE"  # no CoS key for the device's credential status: nothing sent
    NO_RESPONSE = "NO_RESPONSE"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    UNEXPECTED_RESPONSE = "UNEXPECTED_RESPONSE"
    LINK_LOST = "LINK_LOST"


#: ServiceStatus of a sent command by exchange result
SENT_STATUS: dict[AttemptResult, ServiceStatus] = {
    AttemptResult.SUCCESS: ServiceStatus.COMPLETED,
    AttemptResult.DEVICE_FAILURE: ServiceStatus.FAILED,
    AttemptResult.NO_RESPONSE: ServiceStatus.NO_RESPONSE,
    AttemptResult.BAD_SIGNATURE: ServiceStatus.BAD_SIGNATURE,
    AttemptResult.UNEXPECTED_RESPONSE: ServiceStatus.UNEXPECTED_RESPONSE,
    AttemptResult.LINK_LOST: ServiceStatus.LINK_LOST,
}


@dataclass(frozen=True)
class ServiceOutcome:
    """What a 6.23 came to: status, DUIS response code, evidence, alerts, timing."""

    request_id: str
    device_id: bytes
    status: ServiceStatus
    response_code: str | None = None
    check_failures: tuple[CheckFailure, ...] = ()
    signer: bytes | None = None  # the CoS party whose key signed the command
    counter: int | None = None
    command: bytes | None = None
    command_message: Message | None = field(default=None, repr=False)
    response: bytes | None = None
    execution_outcome: ExecutionOutcome | None = None
    detail: str = ""
    anomaly: AnomalyVerdict | None = None
    alerts: tuple[DccAlert, ...] = ()
    timing: Timing | None = None

    @property
    def sent(self) -> bool:
        return self.command is not None

    @property
    def statuses(self) -> tuple[str, ...]:
        return cell_statuses(self.execution_outcome)


@dataclass(frozen=True)
class MigrationAttempt:
    """One mode 6 attempt and its evidence."""

    attempt: int
    counter: int | None
    result: AttemptResult
    command: bytes | None
    response: bytes | None
    statuses: tuple[str, ...]
    detail: str
    started_at: float
    finished_at: float

    def evidence(self) -> dict:
        return {"command": self.command.hex().upper() if self.command else None,
                "response": self.response.hex().upper() if self.response else None,
                "statuses": list(self.statuses), "detail": self.detail}


@dataclass(frozen=True)
class MigrationOutcome:
    device_id: bytes
    model: str
    success: bool
    credential_status: CredentialStatus  # after the attempts
    attempts: tuple[MigrationAttempt, ...] = ()
    detail: str = ""
