"""Building CS02 messages from typed values (not only round-tripping captured ones).

The builders return unsealed ``Message`` values: ``rig.crypto.seal`` encodes, signs and MACs
them. Defaults follow GBCS and the RTDS vectors (see ``modes.MODE_RULES``), so a call names only
what differs from the normal case.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable

from .message import CosemDateTime, MacHeader, Message
from .modes import MODE_RULES, Variant
from .payloads.cs02 import (
    AuthorisingControl,
    Cs02aCommand,
    Cs02aResponse,
    Cs02bAlert,
    Cs02bCommand,
    Cs02bResponse,
    ExecutionOutcome,
    RemotePartyDetails,
    Replacement,
    SeqNumberChange,
    SpecialistSeqNumber,
    TrustAnchorCellId,
)
from .tables import (
    ALERT_FUTURE_DATED_FAILURE,
    ALERT_FUTURE_DATED_SUCCESS,
    MODE_MESSAGE_CODE,
    CellUsage,
    CraFlag,
    KeyUsage,
    RemotePartyRole,
    ReplacementMode,
    TimeBasedChecks,
)

#: GBCS executionDateTime that cancels a pending future-dated command [RTDS]
CANCELLATION_TIME = _dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=_dt.UTC)
CS02B_ALERT_CODE = 0x00CB
CS02G_ALERT_CODE = 0x0124

_DEFAULT = object()


def ds_cell(role: RemotePartyRole) -> TrustAnchorCellId:
    return TrustAnchorCellId(role, KeyUsage.DIGITAL_SIGNATURE)


def ka_cell(role: RemotePartyRole, prepayment: bool = False) -> TrustAnchorCellId:
    usage = CellUsage.PREPAYMENT_TOP_UP if prepayment else CellUsage.MANAGEMENT
    return TrustAnchorCellId(role, KeyUsage.KEY_AGREEMENT, usage)


def replacement(certificate: bytes, role: RemotePartyRole, key_usage: KeyUsage,
                cell_usage: CellUsage = CellUsage.MANAGEMENT) -> Replacement:
    return Replacement(bytes(certificate), TrustAnchorCellId(role, key_usage, cell_usage))


def supplier_floor(floor: int = 0, prepayment_floor: int | None = 0) -> SeqNumberChange:
    """``otherRemotePartySeqNumberChanges`` entry a CoS party sets for the incoming supplier."""
    specialist = None
    if prepayment_floor is not None:
        specialist = (SpecialistSeqNumber(0, prepayment_floor),)
    return SeqNumberChange(RemotePartyRole.SUPPLIER, floor, specialist)


def cs02b_command(
    *,
    mode: ReplacementMode,
    originator_id: bytes,
    recipient_id: bytes,
    counter: int,
    replacements: Iterable[Replacement],
    certification_path: Iterable[bytes],
    execution_time: _dt.datetime | None = None,
    disapply_time_checks: bool = False,
    authorising_cell: TrustAnchorCellId | object | None = _DEFAULT,
    new_floor: int | None = None,
    new_specialist_floors: tuple[SpecialistSeqNumber, ...] | None = None,
    other_changes: tuple[SeqNumberChange, ...] | None = None,
    plaintext_symmetric_key: bytes | None = None,
    recipient_is_chf: bool = False,
    seq_number: int | None = None,
) -> Message:
    """A CS02b (or CS02g) command; the frame variant follows the mode and the recipient type."""
    mode = ReplacementMode(mode)
    rule = MODE_RULES[mode]
    if authorising_cell is _DEFAULT:
        role = rule.authorising_role_for(recipient_is_chf)
        if role is None:
            authorising_cell = None
        elif role == RemotePartyRole.ROOT:
            authorising_cell = TrustAnchorCellId(role, KeyUsage.KEY_CERT_SIGN)
        else:
            authorising_cell = ds_cell(role)
    control = AuthorisingControl(
        mode=mode,
        seq_number=counter if seq_number is None else seq_number,
        authorising_cell=authorising_cell,
        time_based_checks=TimeBasedChecks.DISAPPLY if disapply_time_checks else None,
        plaintext_symmetric_key=plaintext_symmetric_key,
        new_floor_seq_number=new_floor,
        new_specialist_floor_seq_numbers=new_specialist_floors,
        other_seq_number_changes=other_changes,
    )
    payload = Cs02bCommand(control, tuple(replacements), tuple(bytes(c) for c in certification_path),
                           execution_time)
    variant = rule.variant_for(recipient_is_chf)
    return Message(
        cra_flag=CraFlag.COMMAND,
        originator_counter=counter,
        originator_id=bytes(originator_id),
        recipient_id=bytes(recipient_id),
        message_code=MODE_MESSAGE_CODE[mode],
        payload=payload,
        mac_header=None if variant is Variant.SIGNED else MacHeader(),
    )


def cs02b_response(command: Message, outcome: ExecutionOutcome | None, *,
                   date_time: CosemDateTime | None = None, device_id: bytes | None = None) -> Message:
    """The device's response: echoes counter and message code, addressed to the originator.

    Built on every command the emulator answers: positional arguments (``Message``'s field
    order), and an id already ``bytes`` is not copied again."""
    originator = device_id if device_id is not None else command.recipient_id
    return Message(_RESPONSE, command.originator_counter,
                   originator if originator.__class__ is bytes else bytes(originator),
                   command.originator_id, command.message_code, Cs02bResponse(outcome), date_time)


_RESPONSE = CraFlag.RESPONSE


def cs02b_alert(*, device_id: bytes, recipient_id: bytes, alert_counter: int,
                execution_time: _dt.datetime, outcome: ExecutionOutcome,
                alert_code: int | None = None, message_code: int = CS02B_ALERT_CODE) -> Message:
    """Future-dated execution alert: 0x8F66 when every cell succeeded, else 0x8F67."""
    if alert_code is None:
        alert_code = ALERT_FUTURE_DATED_SUCCESS if outcome.all_succeeded else ALERT_FUTURE_DATED_FAILURE
    return Message(
        cra_flag=CraFlag.ALERT,
        originator_counter=alert_counter,
        originator_id=bytes(device_id),
        recipient_id=bytes(recipient_id),
        message_code=message_code,
        payload=Cs02bAlert(alert_code, execution_time, outcome),
    )


def cs02a_command(*, originator_id: bytes, recipient_id: bytes, counter: int,
                  authorising_cell: TrustAnchorCellId, roles: Iterable[RemotePartyRole],
                  macd: bool = True, code: int = 0x0008) -> Message:
    """CS02a (or CS02f with ``code=0x011B``) read of trust anchor details."""
    return Message(
        cra_flag=CraFlag.COMMAND,
        originator_counter=counter,
        originator_id=bytes(originator_id),
        recipient_id=bytes(recipient_id),
        message_code=code,
        payload=Cs02aCommand(authorising_cell, tuple(RemotePartyRole(r) for r in roles)),
        mac_header=MacHeader() if macd else None,
    )


def cs02a_response(command: Message, details: Iterable[RemotePartyDetails], *,
                   device_id: bytes | None = None, macd: bool | None = None) -> Message:
    return Message(
        cra_flag=CraFlag.RESPONSE,
        originator_counter=command.originator_counter,
        originator_id=bytes(device_id if device_id is not None else command.recipient_id),
        recipient_id=command.originator_id,
        message_code=command.message_code,
        payload=Cs02aResponse(tuple(details)),
        mac_header=MacHeader() if (command.is_macd if macd is None else macd) else None,
    )
