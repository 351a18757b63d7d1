"""CS02b / CS02g Update Security Credentials on the device.

At receipt: frame variant for (mode, device type), mode against message code, model refusals,
the authorising cell the mode requires, authentication, ``[3]`` against the originator counter;
then the counter is committed and the command is executed now, scheduled (future dated) or
used to cancel pending ones (``99991231235959Z``).

At execution, for each replacement in order: target cell exists on this device type, target
role permitted by the mode, the certificate parses, path validation to the root cell (time
checks unless disapplied or the device has no reliable time), role (OU) and key usage match the
cell; then the cell is replaced. Replacement is per cell, not atomic [RTDS]. Floors [4] [5] [6]
are applied afterwards by the rules in ``counters`` and the applied ones reported in
``remotePartySeqNumberChanges``; the immediate response (or the 0x8F66/0x8F67 alert of a
future-dated command) reports every targeted cell.

A future-dated command whose execution fails in a way no rule foresaw (it was stored by an
older version, its stored frame no longer decodes, a library raised) is rolled back, reported
once with 0x8F67 (every cell ``execution_failed``) when its originator can be named, logged,
and dropped: it can never wedge ``poll``.
"""

from __future__ import annotations

import datetime as _dt

from rig.gbcs import Cs02bCommand, ExecutionOutcome, Message, ReplacementOutcome, decode
from rig.gbcs import build as b
from rig.gbcs.modes import MODE_RULES, Variant
from rig.gbcs.payloads.cs02 import TrustAnchorCellId
from rig.gbcs.tables import (
    ALERT_FUTURE_DATED_FAILURE,
    ALERT_FUTURE_DATED_SUCCESS,
    MESSAGE_CODE_MODE,
    KeyUsage,
    RemotePartyRole,
    ReplacementMode,
    StatusCode,
)

from . import counters, cpv
from .certificates import CertificateError, ParsedCertificate, parse_certificate
from .device import ACB_KA, NO_ID, EmulatedDevice, Rejected, certificate_or_none
from .device_types import DeviceType
from .device_types import cell as _cell
from .rejections import Reason
from .store import PendingCommand

UPDATE_SECURITY_CREDENTIALS = 0x8F70
_ABSENT = object()  # a cell the device does not have (``None`` is an empty cell)
CS02G_CODES = frozenset({0x0125, 0x0126})


#: frame variant -> (MACed, signed)
_VARIANT_SHAPE = {Variant.SIGNED: (False, True), Variant.MAC_ONLY: (True, False), Variant.SIGNED_AND_MACED: (True, True)}


def _authorisation(mode: ReplacementMode, is_chf: bool) -> tuple[Variant, tuple[bool, bool], RemotePartyRole | None,
                                                                   KeyUsage]:
    """What ``MODE_RULES`` says of ``mode`` on a CHF or another device: (frame variant, its
    (MACed, signed) shape, the authorising role, that role's authorising key usage)."""
    rule = MODE_RULES[mode]
    variant, role = rule.variant_for(is_chf), rule.authorising_role_for(is_chf)
    usage = KeyUsage.KEY_CERT_SIGN if role == RemotePartyRole.ROOT else KeyUsage.DIGITAL_SIGNATURE
    return variant, _VARIANT_SHAPE[variant], role, usage


#: (mode, on a CHF) -> ``_authorisation``, made once: read for every CS02b command
_AUTHORISATION = {(mode, is_chf): _authorisation(mode, is_chf) for mode in MODE_RULES for is_chf in (False, True)}
#: mode -> its name, for the event log (``Enum.name`` is a Python-level property, read per command)
_MODE_NAMES = {mode: mode.name for mode in ReplacementMode}


def _authorising_cell(device: EmulatedDevice, message: Message, command: Cs02bCommand) -> tuple[TrustAnchorCellId, bool]:
    """The cell whose key authorises this command, and whether a signature is required."""
    control = command.control
    entry = _AUTHORISATION.get((control.mode, device.device_type is DeviceType.CHF))
    if entry is None or MESSAGE_CODE_MODE.get(message.message_code) != control.mode:
        raise Rejected(Reason.MALFORMED, f"mode {int(control.mode)} does not match message code 0x{message.message_code:04X}")
    variant, shape, role, wanted_usage = entry
    macd, signed = message.mac_header is not None, message.signature is not None
    if (macd, signed) != shape:
        raise Rejected(Reason.MALFORMED, f"mode {control.mode.name} needs frame variant {variant.value}")
    if role is None:  # ACB replacing its own credentials on a non-CHF device: MAC only, no [2]
        if control.authorising_cell is not None:
            raise Rejected(Reason.MALFORMED, "accessControlBrokerByACB names an authorising cell")
        return ACB_KA, False
    cell = control.authorising_cell
    if cell is None:
        raise Rejected(Reason.MALFORMED, "authorisingRemotePartyTACellIdentifier missing")
    if cell.role != role or cell.key_usage != wanted_usage:
        raise Rejected(Reason.NOT_AUTHORISED, f"mode {control.mode.name} is not authorised by {cell}")
    return cell, True


def handle(device: EmulatedDevice, raw: bytes, message: Message) -> list[bytes]:
    command = message.payload
    if not isinstance(command, Cs02bCommand):
        raise Rejected(Reason.MALFORMED, "payload is not an UpdateSecurityCredentials command")
    if message.supplementary is not None:
        raise Rejected(Reason.MALFORMED, "CS02b other-information carries the message code only")
    cell, signed = _authorising_cell(device, message, command)
    problem = counters.control_problem(command.control, _RolesHeld(device.state.cells))
    if problem:
        raise Rejected(Reason.MALFORMED, problem)
    profile = device.profile
    refused = command.control.mode in profile.refuse_modes
    if refused and profile.refusal == "discard":
        raise Rejected(Reason.MODE_REFUSED, command.control.mode.name)
    device.authenticate(raw, message, cell, signed=signed)
    if profile.require_seq_number_equals_counter and command.control.seq_number != message.originator_counter:
        raise Rejected(Reason.MALFORMED, f"[3] {command.control.seq_number} != originator counter "
                                          f"{message.originator_counter}")
    counters.commit(device.state, cell.role, message.originator_counter)
    if command.is_cancellation:
        cancelled = _cancel(device, int(cell.role))
        device.log(UPDATE_SECURITY_CREDENTIALS, f"counter {message.originator_counter}: cancelled {cancelled} "
                                                f"pending command(s)")
        outcome = None
    elif command.is_future_dated:
        device.state.pending.append(PendingCommand(raw, command.execution_date_time, int(cell.role)))
        device.log(UPDATE_SECURITY_CREDENTIALS, f"counter {message.originator_counter}: scheduled for "
                                                f"{command.execution_date_time.isoformat()}")
        outcome = None
    else:
        outcome = execute(device, message, command, refused=refused)
    response = b.cs02b_response(message, outcome, device_id=device.entity_id,
                                date_time=device.date_time() if profile.response_date_time else None)
    frame = device.sign(response)
    device.save()  # after everything that could fail, before the frame leaves
    return [frame]


def _cancel(device: EmulatedDevice, role: int) -> int:
    keep = [p for p in device.state.pending if device.profile.cancel_same_role_only and p.authorising_role != role]
    cancelled = len(device.state.pending) - len(keep)
    device.state.pending = keep
    return cancelled


def _cell_status(device: EmulatedDevice, target_roles: frozenset, target: TrustAnchorCellId, on_device: bool,
                 certificate: bytes, path: list | None, anchors: list, at: _dt.datetime | None,
                 verified: dict) -> tuple[StatusCode, ParsedCertificate | None]:
    """The cell's status and, on success, the parsed replacement certificate (parsed once).
    ``target_roles``: the roles the command's mode may replace (looked up once per command);
    ``on_device``: whether the device has the target cell at all."""
    statuses = device.profile.statuses
    if not on_device:
        return statuses["target_not_on_device"], None
    if target.role not in target_roles:
        return statuses["target_not_permitted"], None
    try:
        leaf = parse_certificate(certificate)
    except CertificateError:
        return statuses["bad_certificate"], None
    if path is None:
        return statuses["bad_certificate"], None
    failure = cpv.validate(leaf, path, anchors, at, verified)
    if failure is not None:
        return statuses[failure.status_key], None
    if leaf.role != target.role:
        return statuses["bad_certificate"], None
    wanted = target.key_usage
    if target.role == RemotePartyRole.ROOT:
        if KeyUsage.KEY_CERT_SIGN not in leaf.key_usage:
            return statuses["bad_certificate"], None
    elif leaf.key_usage != wanted:
        return statuses["bad_certificate"], None
    return StatusCode.SUCCESS, leaf


def _control_cell(device: EmulatedDevice, role: int) -> TrustAnchorCellId:
    """The cell whose key authorises ``role``'s commands: its DS cell, else (ACB) its KA cell."""
    cells = _ROLE_CELLS.get(role)
    if cells is None:
        cells = (TrustAnchorCellId(RemotePartyRole(role), KeyUsage.DIGITAL_SIGNATURE),
                 TrustAnchorCellId(RemotePartyRole(role), KeyUsage.KEY_AGREEMENT))
    ds, ka = cells
    return ds if ds in device.state.cells else ka


#: (DS cell, KA cell) of every role, made once (cell ids are immutable)
_ROLE_CELLS = {int(role): (_cell(role, KeyUsage.DIGITAL_SIGNATURE), _cell(role, KeyUsage.KEY_AGREEMENT))
               for role in RemotePartyRole}


class _RolesHeld:
    """The roles the device holds a trust anchor cell for, as ``counters.control_problem`` asks
    about them: only for the roles [6] names (most commands name none, a change of supplier one),
    each answered from the role's DS and KA cells first instead of a set made of every cell."""

    __slots__ = ("_cells",)

    def __init__(self, cells: dict[TrustAnchorCellId, bytes | None]):
        self._cells = cells

    def __contains__(self, role: object) -> bool:
        pair = _ROLE_CELLS.get(role)  # type: ignore[call-overload]
        if pair is not None and (pair[0] in self._cells or pair[1] in self._cells):
            return True
        return any(int(c.role) == role for c in self._cells)


def _key_id(cert: ParsedCertificate) -> bytes:
    """The key's own identifier (method 2 over the point), not the certificate's SKI claim."""
    return cert.own_key_id if cert.own_key_id is not None else cert.key_id


def _same_key(old: ParsedCertificate | None, new: ParsedCertificate) -> bool:
    if old is None or old.point is None or new.point is None:
        return False
    return old.point == new.point


#: (cell, status, the four ids) -> one shared ``ReplacementOutcome``. Why: a fleet's commands
#: produce the same outcomes again and again, and the response builder appends the element it
#: wrote for an instance when the same instance comes again (``memo`` in ``rig.gbcs.payloads``).
#: Outcomes are frozen, so sharing one changes nothing a caller can see; emptied when full.
_OUTCOMES: dict[tuple, ReplacementOutcome] = {}
_OUTCOMES_MAX = 4096


def _outcome(cell: TrustAnchorCellId, status: StatusCode, old_id: bytes, old_key: bytes, new_id: bytes,
             new_key: bytes) -> ReplacementOutcome:
    key = (cell, status, old_id, old_key, new_id, new_key)
    found = _OUTCOMES.get(key)
    if found is None:
        if len(_OUTCOMES) >= _OUTCOMES_MAX:
            _OUTCOMES.clear()
        found = _OUTCOMES[key] = ReplacementOutcome(cell, status, old_id, old_key, new_id, new_key)
    return found


def execute(device: EmulatedDevice, message: Message, command: Cs02bCommand, *, refused: bool = False) -> ExecutionOutcome:
    """Replace the targeted cells and apply the floors; returns the execution outcome."""
    control = command.control
    profile = device.profile
    rule = MODE_RULES[control.mode]
    at = None if (control.disapplies_time_checks or not profile.reliable_time) else device.now()
    try:
        path = [parse_certificate(der) for der in command.certification_path]
    except CertificateError:
        path = None
    outcomes = []
    verified: dict = {}  # signatures checked during this command's path validations
    anchors = device.anchors()  # as they stand before this command replaces anything
    replaced: dict[int, bytes | None] = {}  # role -> its new control key's id after a change of control
    control_cells: dict[int, TrustAnchorCellId] = {}  # role -> _control_cell (the cells' keys stay put here)
    succeeded = 0
    cells = device.state.cells
    for replacement in command.replacements:
        target = replacement.target_cell
        der = cells.get(target, _ABSENT)  # one lookup for "on the device" and the certificate it holds
        existing = None if der is _ABSENT else certificate_or_none(der)
        if refused:
            status, new = profile.statuses["refused"], None
        else:
            status, new = _cell_status(device, rule.target_roles, target, der is not _ABSENT, replacement.certificate,
                                       path, anchors, at, verified)
        old_id, old_key = (existing.subject_id, existing.key_id) if existing else (NO_ID, NO_ID)
        if status == StatusCode.SUCCESS:
            if new is None:  # a profile that reports a failed check as success: installed all the same
                new = parse_certificate(replacement.certificate)
            device.state.cells[target] = new.der
            new_id, new_key = new.subject_id, new.key_id
            role = int(target.role)
            replaced.setdefault(role, None)
            control_cell = control_cells.get(role)
            if control_cell is None:
                control_cell = control_cells[role] = _control_cell(device, role)
            if (target is control_cell or target == control_cell) and not _same_key(existing, new):  # a change of control
                new_key_id = _key_id(new)
                counters.change_control(device.state, role, _key_id(existing) if existing else None, new_key_id)
                replaced[role] = new_key_id
            succeeded += 1
        else:
            new_id, new_key = old_id, old_key
        outcomes.append(_outcome(target, status, old_id, old_key, new_id, new_key))
    role = rule.authorising_role or RemotePartyRole.ACCESS_CONTROL_BROKER
    changes = counters.apply_floors(device.state, counters.requested(control, role), rules=profile.floor_rules,
                                    authorising_role=role, frame_counter=message.originator_counter,
                                    replaced=replaced)
    mode = control.mode
    device.log(UPDATE_SECURITY_CREDENTIALS, f"mode {_MODE_NAMES.get(mode) or ReplacementMode(mode).name} counter "
                                            f"{control.seq_number}: {succeeded}/{len(outcomes)} cell(s) replaced")
    return ExecutionOutcome(control.seq_number, mode if mode.__class__ is ReplacementMode else ReplacementMode(mode),
                            changes, tuple(outcomes))


def _alert(device: EmulatedDevice, message: Message, command: Cs02bCommand, outcome: ExecutionOutcome,
           code: int) -> bytes:
    alert = b.cs02b_alert(device_id=device.entity_id, recipient_id=message.originator_id,
                          alert_counter=device.next_alert_counter(), execution_time=command.execution_date_time,
                          outcome=outcome, alert_code=code,
                          message_code=b.CS02G_ALERT_CODE if message.message_code in CS02G_CODES
                          else b.CS02B_ALERT_CODE)
    return device.sign(alert)


def _execute_pending(device: EmulatedDevice, pending: PendingCommand) -> bytes:
    message = decode(pending.frame)
    command = message.payload
    if not isinstance(command, Cs02bCommand) or not command.is_future_dated:
        raise ValueError("the stored frame is not a future-dated CS02b command")
    refused = command.control.mode in device.profile.refuse_modes
    outcome = execute(device, message, command, refused=refused)
    code = ALERT_FUTURE_DATED_SUCCESS if outcome.all_succeeded else ALERT_FUTURE_DATED_FAILURE
    if device.profile.wrong_alert:
        code = ALERT_FUTURE_DATED_FAILURE if code == ALERT_FUTURE_DATED_SUCCESS else ALERT_FUTURE_DATED_SUCCESS
    device.log(code, f"future-dated command {command.control.seq_number} executed")
    return _alert(device, message, command, outcome, code)


def _failed_pending(device: EmulatedDevice, pending: PendingCommand, error: Exception) -> bytes | None:
    """0x8F67 for a pending command whose execution failed unexpectedly (state already rolled back)."""
    reason = f"{type(error).__name__}: {error}"
    try:
        message = decode(pending.frame)
        command = message.payload
        if not isinstance(command, Cs02bCommand) or command.execution_date_time is None:
            raise ValueError("not a future-dated CS02b command")
    except Exception:
        device.log(ALERT_FUTURE_DATED_FAILURE, f"future-dated command due {pending.execute_at.isoformat()} dropped: "
                                               f"{reason}; its originator cannot be named, no alert")
        return None
    status = device.profile.statuses["execution_failed"]
    outcomes = []
    for replacement in command.replacements:
        existing = device.cell_certificate(replacement.target_cell)
        ids = (existing.subject_id, existing.key_id) if existing else (NO_ID, NO_ID)
        outcomes.append(ReplacementOutcome(replacement.target_cell, status, *ids, *ids))
    outcome = ExecutionOutcome(command.control.seq_number, ReplacementMode(command.control.mode), (), tuple(outcomes))
    device.log(ALERT_FUTURE_DATED_FAILURE, f"future-dated command {command.control.seq_number} failed: {reason}")
    try:
        return _alert(device, message, command, outcome, ALERT_FUTURE_DATED_FAILURE)
    except Exception:
        return None


def execute_due(device: EmulatedDevice) -> list[bytes]:
    """Execute the future-dated commands whose time has passed; one alert each, once."""
    if not device.state.pending:
        return []
    now = device.now()
    due = [p for p in device.state.pending if p.execute_at <= now]
    if not due:
        return []
    device.state.pending = [p for p in device.state.pending if p.execute_at > now]
    frames = []
    for pending in sorted(due, key=lambda p: p.execute_at):
        snapshot = device.state.snapshot()
        try:
            frames.append(_execute_pending(device, pending))
        except Exception as error:  # never wedge poll: roll back, report once, drop
            device.state.restore(snapshot)
            frame = _failed_pending(device, pending, error)
            if frame is not None:
                frames.append(frame)
    device.save()
    return frames
