"""TEST DOUBLE: a fake meter that answers CS02b and CS02a the way a conforming device would.

This is *not* the project's emulator (``firmware_emu`` is the lead's): it implements only what
the ``rig.dcc`` tests need, after gbcs-cs02b.md section 8, so the DCC side can be tested against
a far end that actually checks what it gets:

* the ACB MAC (device KA private key, ACB KA public key), else silence;
* the authorising cell must hold the originator's certificate and its key must verify the
  signature (so a TCoS-signed command fails once the cell holds the ECoS certificate), else
  silence;
* anti-replay per remote party role: the counter must exceed the last one, else silence;
* each replacement: certification path up to the root, OU role and key usage of the target
  cell; per-cell outcome, floors from ``otherRemotePartySeqNumberChanges``;
* future-dated commands answer ``commandAccepted`` and execute on ``execute_pending()``, which
  queues the 0x00CB alert for ``poll()``.

Behaviours select the faults the tests need. It plugs into ``EmulatedTransport`` because it has
the ``Endpoint`` shape (``receive``, ``poll``).
"""

from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass, field

from cryptography import x509

from rig.crypto import Usage, certs, seal, verify_mac, verify_signature
from rig.dcc.checks import issued_by
from rig.gbcs import (
    CellContents,
    CosemDateTime,
    CraFlag,
    Cs02aCommand,
    Cs02bCommand,
    ExecutionOutcome,
    GbcsDecodeError,
    Message,
    RemotePartyDetails,
    RemotePartyRole,
    ReplacementOutcome,
    SeqNumberChange,
    StatusCode,
    TrustAnchorCellId,
    decode,
)
from rig.gbcs import build as b
from rig.transport.emulated import EmulatedTransport

DEVICE_TIME = CosemDateTime.from_datetime(_dt.datetime(2026, 3, 1, 12, 0, tzinfo=_dt.UTC))


class Behaviour(enum.Enum):
    CONFORMING = "conforming"
    SILENT = "silent"  # never answers anything
    BAD_SIGNATURE = "bad_signature"  # answers, signed with a key that is not the device's
    FAIL_REPLACEMENT = "fail_replacement"  # answers, every cell reports failure, nothing replaced
    EXECUTE_SILENTLY = "execute_silently"  # acts on commands but never answers


@dataclass
class FakeMeter:
    pki: object
    label: str = "esme"
    behaviour: Behaviour = Behaviour.CONFORMING
    cos_party: str = "tcos"  # whose certificate the transitionalCoS cell holds at start
    supplier: str = "supplier_a"
    cells: dict[TrustAnchorCellId, x509.Certificate] = field(default_factory=dict)
    counters: dict[int, int] = field(default_factory=dict)
    #: every command that passed MAC, signature and anti-replay checks
    accepted: list[Message] = field(default_factory=list)
    #: every frame received, whatever became of it
    received: list[bytes] = field(default_factory=list)
    pending: list[Message] = field(default_factory=list)
    alerts: list[bytes] = field(default_factory=list)
    alert_counter: int = 2000

    def __post_init__(self) -> None:
        pki = self.pki
        self.device_id = pki.entity(self.label)
        self.ds_key = pki.credential(self.label, Usage.DS).private_key
        self.ka_key = pki.credential(self.label, Usage.KA).private_key
        self.acb_ka = pki.credential("acb", Usage.KA).certificate.public_key()
        self.wrong_key = pki.credential("gpf" if self.label != "gpf" else "gsme", Usage.DS).private_key
        if not self.cells:
            self.cells = {
                b.ds_cell(RemotePartyRole.TRANSITIONAL_COS): pki.credential(self.cos_party, Usage.DS).certificate,
                b.ka_cell(RemotePartyRole.ACCESS_CONTROL_BROKER): pki.credential("acb", Usage.KA).certificate,
                b.ds_cell(RemotePartyRole.SUPPLIER): pki.credential(self.supplier, Usage.DS).certificate,
                b.ka_cell(RemotePartyRole.SUPPLIER): pki.credential(self.supplier, Usage.KA).certificate,
                b.ka_cell(RemotePartyRole.SUPPLIER, True): pki.credential(self.supplier, Usage.PP_KA).certificate,
            }

    # -- Endpoint ------------------------------------------------------------------------------
    def receive(self, frame: bytes) -> list[bytes]:
        self.received.append(frame)
        try:
            message = decode(frame)
        except GbcsDecodeError:
            return []
        if message.cra_flag != CraFlag.COMMAND or message.recipient_id != self.device_id:
            return []
        if not verify_mac(frame, message, self.ka_key, self.acb_ka):
            return []
        if isinstance(message.payload, Cs02bCommand):
            reply = self._cs02b(frame, message)
        elif isinstance(message.payload, Cs02aCommand):
            reply = self._cs02a(message)
        else:
            return []
        if reply is None or self.behaviour in (Behaviour.SILENT, Behaviour.EXECUTE_SILENTLY):
            return []
        return [reply]

    def poll(self) -> list[bytes]:
        out, self.alerts = self.alerts, []
        return out

    # -- helpers the tests use ------------------------------------------------------------------
    def cell_subject(self, cell: TrustAnchorCellId) -> bytes:
        return certs.entity_id(self.cells[cell])

    def execute_pending(self) -> None:
        """Run every stored future-dated command now and queue its 0x00CB alert."""
        for message in self.pending:
            outcome = self._execute(message)
            alert = b.cs02b_alert(device_id=self.device_id, recipient_id=message.originator_id,
                                  alert_counter=self._next_alert(), execution_time=message.payload.execution_date_time,
                                  outcome=outcome)
            self.alerts.append(self._sign(alert))
        self.pending = []

    # -- CS02b -----------------------------------------------------------------------------------
    def _authorised(self, frame: bytes, message: Message, cell: TrustAnchorCellId | None) -> bool:
        holder = self.cells.get(cell) if cell is not None else None
        if holder is None or certs.entity_id(holder) != message.originator_id:
            return False
        if not verify_signature(frame, message, holder.public_key()):
            return False
        role = int(cell.role)
        if message.originator_counter <= self.counters.get(role, 0):
            return False
        self.counters[role] = message.originator_counter
        return True

    def _cs02b(self, frame: bytes, message: Message) -> bytes | None:
        command: Cs02bCommand = message.payload
        if not self._authorised(frame, message, command.control.authorising_cell):
            return None
        self.accepted.append(message)
        if command.is_cancellation:
            self.pending = []
            return self._sign(b.cs02b_response(message, None, date_time=DEVICE_TIME))
        if command.is_future_dated:
            self.pending.append(message)
            return self._sign(b.cs02b_response(message, None, date_time=DEVICE_TIME))
        return self._sign(b.cs02b_response(message, self._execute(message), date_time=DEVICE_TIME))

    def _execute(self, message: Message) -> ExecutionOutcome:
        command: Cs02bCommand = message.payload
        outcomes = []
        for replacement in command.replacements:
            cell = replacement.target_cell
            existing = self.cells.get(cell)
            status = self._validate(replacement.certificate, cell, command.certification_path)
            if self.behaviour is Behaviour.FAIL_REPLACEMENT:
                status = StatusCode.OTHER
            new = certs.load_certificate(replacement.certificate) if status == StatusCode.SUCCESS else existing
            old_id = certs.entity_id(existing) if existing is not None else bytes(8)
            old_key = certs.subject_key_id(existing) if existing is not None else bytes(8)
            if status == StatusCode.SUCCESS:
                self.cells[cell] = new
            outcomes.append(ReplacementOutcome(cell, status, old_id, old_key,
                                               certs.entity_id(new) if new is not None else bytes(8),
                                               certs.subject_key_id(new) if new is not None else bytes(8)))
        changes = command.control.other_seq_number_changes or ()
        for change in changes:
            self.counters[int(change.role)] = change.floor_seq_number
        return ExecutionOutcome(command.control.seq_number, command.control.mode,
                                tuple(SeqNumberChange(c.role, c.floor_seq_number, c.specialist_floor_seq_numbers)
                                      for c in changes), tuple(outcomes))

    def _validate(self, der: bytes, cell: TrustAnchorCellId, path: tuple[bytes, ...]) -> StatusCode:
        try:
            cert = certs.load_certificate(der)
            chain = [certs.load_certificate(c) for c in path]
        except ValueError:
            return StatusCode.BAD_CERTIFICATE
        if cell not in self.cells:
            return StatusCode.TRUST_ANCHOR_NOT_FOUND
        if not any(issued_by(cert, ca) and issued_by(ca, self.pki.root.certificate) for ca in chain):
            return StatusCode.NO_TRUST_ANCHOR
        if certs.role(cert) != cell.role or certs.key_usage(cert) != cell.key_usage:
            return StatusCode.BAD_CERTIFICATE
        return StatusCode.SUCCESS

    # -- CS02a -----------------------------------------------------------------------------------
    def _cs02a(self, message: Message) -> bytes | None:
        role = int(RemotePartyRole.ACCESS_CONTROL_BROKER)
        if message.originator_counter <= self.counters.get(role, 0):
            return None
        self.counters[role] = message.originator_counter
        self.accepted.append(message)
        details = []
        for wanted in message.payload.roles:
            cells = tuple(CellContents(cell.key_usage, certs.entity_id(cert), certs.subject_key_id(cert),
                                       cell.cell_usage)
                          for cell, cert in self.cells.items() if cell.role == wanted)
            if cells:
                details.append(RemotePartyDetails(wanted, StatusCode.SUCCESS, self.counters.get(int(wanted), 0), cells))
            else:
                details.append(RemotePartyDetails(wanted, StatusCode.TRUST_ANCHOR_NOT_FOUND))
        response = b.cs02a_response(message, details)
        return seal(response, mac_private_key=self.ka_key, mac_peer=self.acb_ka)

    # -- signing ---------------------------------------------------------------------------------
    def _sign(self, message: Message) -> bytes:
        key = self.wrong_key if self.behaviour is Behaviour.BAD_SIGNATURE else self.ds_key
        return seal(message, signer=key, payload_long_form_width=2)

    def _next_alert(self) -> int:
        self.alert_counter += 1
        return self.alert_counter


def link(meter: FakeMeter) -> EmulatedTransport:
    """An open ``EmulatedTransport`` to the fake meter (the rig's own in-process transport)."""
    transport = EmulatedTransport(meter, name=f"fake-{meter.label}")
    transport.open()
    return transport
