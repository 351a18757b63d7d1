"""CS02a-g payloads: typed values and their DER schemas.

The ASN.1 follows ``docs/reference/gbcs-cs02b.md`` sections 5 and 15 (checked against RTDS 4.5.0).
Tagging is implicit: ``[2] TrustAnchorCellIdentifier`` is ``A2 ...``, ``[3] SeqNumber`` is ``83 ...``.

Every dataclass is frozen so values can be dictionary keys (trust anchor cells) and compared.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from ..compiling import fast_init
from ..der import (
    DerChoice,
    DerDefault,
    DerEnumerated,
    DerGeneralizedTime,
    DerInteger,
    DerNamedBits,
    DerNull,
    DerOctetString,
    DerOptional,
    DerRaw,
    DerSequence,
    DerSequenceOf,
)
from ..tables import (
    CellUsage,
    Cs02cError,
    Cs02dStatus,
    Cs02eError,
    KeyUsage,
    RemotePartyRole,
    ReplacementMode,
    SeqNumberUsage,
    StatusCode,
    TimeBasedChecks,
)

# --------------------------------------------------------------------------------------------
# common types


@fast_init
@dataclass(frozen=True)
class TrustAnchorCellId:
    """TrustAnchorCellIdentifier: (role, keyUsage, cellUsage DEFAULT management)."""

    role: RemotePartyRole
    key_usage: KeyUsage
    cell_usage: CellUsage = CellUsage.MANAGEMENT

    def __hash__(self) -> int:
        # cells key every device's trust anchor table, looked up several times per command: hash
        # the values as ints (an Enum member hashes its name in Python; equal cells, equal
        # hashes), once per object (kept outside the fields: eq, repr and asdict never see it)
        try:
            return self.__dict__["_hash"]
        except KeyError:
            value = hash((int(self.role), int(self.key_usage), int(self.cell_usage)))
            object.__setattr__(self, "_hash", value)
            return value

    @staticmethod
    def canonical(cell: TrustAnchorCellId) -> TrustAnchorCellId:
        """The one shared instance equal to ``cell``. Why: cells key every device's trust anchor
        table, and a dict lookup with the very key object skips the dataclass ``__eq__``; the
        compiled decoder and the emulator's cell tables both hand out these instances (about
        18 comparisons per CS02b command otherwise). Bounded: past ``_CANONICAL_MAX`` distinct
        cells (only malformed traffic names so many) ``cell`` itself is returned."""
        found = _CANONICAL.get(cell)
        if found is None:
            if len(_CANONICAL) >= _CANONICAL_MAX:
                return cell
            found = _CANONICAL.setdefault(cell, cell)
        return found

    def __str__(self) -> str:
        from ..tables import key_usage_label

        text = f"{RemotePartyRole(self.role).name.lower()}/{key_usage_label(self.key_usage)}"
        if self.cell_usage != CellUsage.MANAGEMENT:
            text += f"/{CellUsage(self.cell_usage).name.lower()}"
        return text


#: equal cell -> its shared instance (``TrustAnchorCellId.canonical``)
_CANONICAL: dict[TrustAnchorCellId, TrustAnchorCellId] = {}
_CANONICAL_MAX = 1024


@fast_init
@dataclass(frozen=True)
class SpecialistSeqNumber:
    usage: SeqNumberUsage
    seq_number: int


@fast_init
@dataclass(frozen=True)
class SeqNumberChange:
    """RemotePartySeqNumberChange: a role's new floor and specialist floors."""

    role: RemotePartyRole
    floor_seq_number: int
    specialist_floor_seq_numbers: tuple[SpecialistSeqNumber, ...] | None = None


ROLE = DerInteger(cls=RemotePartyRole)
KEY_USAGE = DerNamedBits(KeyUsage)
CELL_USAGE = DerDefault(DerInteger(cls=CellUsage), CellUsage.MANAGEMENT)
SEQ_NUMBER = DerInteger()
ENTITY_ID = DerOctetString(size=8)
KEY_ID = DerOctetString(size=8)
CERTIFICATE = DerRaw(0x30, "Certificate")


def cell_id(tag: int = 0x30) -> DerSequence:
    return DerSequence(
        TrustAnchorCellId,
        ("role", ROLE),
        ("key_usage", KEY_USAGE),
        ("cell_usage", CELL_USAGE),
        tag=tag,
        what="TrustAnchorCellIdentifier",
    )


SPECIALIST_SEQ_NUMBER = DerSequence(
    SpecialistSeqNumber,
    ("usage", DerInteger(cls=SeqNumberUsage)),
    ("seq_number", SEQ_NUMBER),
)
SEQ_NUMBER_CHANGE = DerSequence(
    SeqNumberChange,
    ("role", ROLE),
    ("floor_seq_number", SEQ_NUMBER),
    ("specialist_floor_seq_numbers", DerOptional(DerSequenceOf(SPECIALIST_SEQ_NUMBER))),
    what="RemotePartySeqNumberChange",
    memo=True,
)

# --------------------------------------------------------------------------------------------
# CS02b / CS02g Update Security Credentials


@fast_init
@dataclass(frozen=True)
class AuthorisingControl:
    """AuthorisingRemotePartyControl."""

    mode: ReplacementMode
    seq_number: int  # [3] authorisingRemotePartySeqNumber (equals the originator counter)
    authorising_cell: TrustAnchorCellId | None = None  # [2]
    time_based_checks: TimeBasedChecks | None = None  # [1]; None (absent) means apply
    plaintext_symmetric_key: bytes | None = None  # [0], anyByContingency only
    new_floor_seq_number: int | None = None  # [4]
    new_specialist_floor_seq_numbers: tuple[SpecialistSeqNumber, ...] | None = None  # [5]
    other_seq_number_changes: tuple[SeqNumberChange, ...] | None = None  # [6]

    @property
    def disapplies_time_checks(self) -> bool:
        return self.time_based_checks == TimeBasedChecks.DISAPPLY


@fast_init
@dataclass(frozen=True)
class Replacement:
    """TrustAnchorReplacement: a certificate (DER) and the cell it goes to."""

    certificate: bytes
    target_cell: TrustAnchorCellId


@fast_init
@dataclass(frozen=True)
class Cs02bCommand:
    """UpdateSecurityCredentials command payload."""

    control: AuthorisingControl
    replacements: tuple[Replacement, ...]
    certification_path: tuple[bytes, ...]
    execution_date_time: _dt.datetime | None = None  # None = immediate

    @property
    def is_cancellation(self) -> bool:
        return self.execution_date_time is not None and self.execution_date_time.year == 9999

    @property
    def is_future_dated(self) -> bool:
        return self.execution_date_time is not None and not self.is_cancellation


@fast_init
@dataclass(frozen=True)
class ReplacementOutcome:
    cell: TrustAnchorCellId
    status: StatusCode
    existing_subject_id: bytes
    existing_key_id: bytes
    replacing_subject_id: bytes
    replacing_key_id: bytes


@fast_init
@dataclass(frozen=True)
class ExecutionOutcome:
    seq_number: int
    mode: ReplacementMode
    seq_number_changes: tuple[SeqNumberChange, ...]
    outcomes: tuple[ReplacementOutcome, ...]

    @property
    def all_succeeded(self) -> bool:
        return all(outcome.status == StatusCode.SUCCESS for outcome in self.outcomes)


@fast_init
@dataclass(frozen=True)
class Cs02bResponse:
    """commandAccepted NULL plus, for immediate commands, the execution outcome."""

    execution_outcome: ExecutionOutcome | None = None


@fast_init
@dataclass(frozen=True)
class Cs02bAlert:
    """Future-dated execution alert (message code 0x00CB; 0x8F66 success, 0x8F67 failure)."""

    alert_code: int
    execution_date_time: _dt.datetime
    execution_outcome: ExecutionOutcome


AUTHORISING_CONTROL = DerSequence(
    AuthorisingControl,
    ("mode", DerInteger(cls=ReplacementMode)),
    ("plaintext_symmetric_key", DerOptional(DerOctetString(tag=0x80))),
    ("time_based_checks", DerOptional(DerInteger(tag=0x81, cls=TimeBasedChecks))),
    ("authorising_cell", DerOptional(cell_id(0xA2))),
    ("seq_number", DerInteger(tag=0x83)),
    ("new_floor_seq_number", DerOptional(DerInteger(tag=0x84))),
    ("new_specialist_floor_seq_numbers", DerOptional(DerSequenceOf(SPECIALIST_SEQ_NUMBER, tag=0xA5, memo=True))),
    ("other_seq_number_changes", DerOptional(DerSequenceOf(SEQ_NUMBER_CHANGE, tag=0xA6, memo=True))),
    what="AuthorisingRemotePartyControl",
)
REPLACEMENT = DerSequence(
    Replacement,
    ("certificate", CERTIFICATE),
    ("target_cell", cell_id()),
    what="TrustAnchorReplacement",
)
CS02B_COMMAND = DerSequence(
    Cs02bCommand,
    ("control", AUTHORISING_CONTROL),
    ("replacements", DerSequenceOf(REPLACEMENT, what="replacements", memo=True)),
    ("certification_path", DerSequenceOf(CERTIFICATE, what="certificationPathCertificates", memo=True)),
    ("execution_date_time", DerOptional(DerGeneralizedTime())),
    what="UpdateSecurityCredentials command",
)
REPLACEMENT_OUTCOME = DerSequence(
    ReplacementOutcome,
    ("cell", cell_id()),
    ("status", DerEnumerated(cls=StatusCode)),
    ("existing_subject_id", ENTITY_ID),
    ("existing_key_id", KEY_ID),
    ("replacing_subject_id", ENTITY_ID),
    ("replacing_key_id", KEY_ID),
    memo=True,
)
EXECUTION_OUTCOME = DerSequence(
    ExecutionOutcome,
    ("seq_number", SEQ_NUMBER),
    ("mode", DerInteger(cls=ReplacementMode)),
    ("seq_number_changes", DerSequenceOf(SEQ_NUMBER_CHANGE, what="remotePartySeqNumberChanges")),
    ("outcomes", DerSequenceOf(REPLACEMENT_OUTCOME, what="replacementOutcomes")),
)
CS02B_RESPONSE = DerSequence(
    Cs02bResponse,
    (None, DerNull()),
    ("execution_outcome", DerOptional(EXECUTION_OUTCOME)),
    what="UpdateSecurityCredentials response",
)
CS02B_ALERT = DerSequence(
    Cs02bAlert,
    ("alert_code", DerInteger()),
    ("execution_date_time", DerGeneralizedTime()),
    ("execution_outcome", EXECUTION_OUTCOME),
    what="UpdateSecurityCredentials alert",
)

# --------------------------------------------------------------------------------------------
# CS02a / CS02f Provide Security Credential Details


@fast_init
@dataclass(frozen=True)
class Cs02aCommand:
    authorising_cell: TrustAnchorCellId
    roles: tuple[RemotePartyRole, ...]


@fast_init
@dataclass(frozen=True)
class CellContents:
    """TrustAnchorCellContents: what a device reports about one cell."""

    key_usage: KeyUsage
    subject_id: bytes
    key_id: bytes
    cell_usage: CellUsage = CellUsage.MANAGEMENT


@fast_init
@dataclass(frozen=True)
class RemotePartyDetails:
    role: RemotePartyRole
    status: StatusCode
    current_seq_number: int | None = None
    cells: tuple[CellContents, ...] | None = None


@fast_init
@dataclass(frozen=True)
class Cs02aResponse:
    details: tuple[RemotePartyDetails, ...]


CS02A_COMMAND = DerSequence(
    Cs02aCommand,
    ("authorising_cell", cell_id()),
    ("roles", DerSequenceOf(ROLE, what="remotePartyRolesCredentialsRequired")),
    what="ProvideSecurityCredentialDetails command",
)
CELL_CONTENTS = DerSequence(
    CellContents,
    ("key_usage", KEY_USAGE),
    ("cell_usage", CELL_USAGE),
    ("subject_id", ENTITY_ID),
    ("key_id", KEY_ID),
    what="TrustAnchorCellContents",
)
REMOTE_PARTY_DETAILS = DerSequence(
    RemotePartyDetails,
    ("role", ROLE),
    ("status", DerEnumerated(cls=StatusCode)),
    ("current_seq_number", DerOptional(SEQ_NUMBER)),
    ("cells", DerOptional(DerSequenceOf(CELL_CONTENTS, what="trustAnchorCellDetails"))),
)
CS02A_RESPONSE = DerSequenceOf(
    REMOTE_PARTY_DETAILS,
    what="ProvideSecurityCredentialDetails response",
    into=(Cs02aResponse, "details"),
)

# --------------------------------------------------------------------------------------------
# CS02c Issue Security Credentials, CS02d Update Device Certificates, CS02e Provide Device
# Certificates


@fast_init
@dataclass(frozen=True)
class KeyUsageRequest:
    """CS02c and CS02e command: the key usage concerned."""

    key_usage: KeyUsage


@fast_init
@dataclass(frozen=True)
class Cs02cResponse:
    """A PKCS#10 certification request (DER) or an error code."""

    request: bytes | None = None
    error: Cs02cError | None = None


@fast_init
@dataclass(frozen=True)
class Cs02dCommand:
    certificate: bytes


@fast_init
@dataclass(frozen=True)
class Cs02dResponse:
    status: Cs02dStatus


@fast_init
@dataclass(frozen=True)
class Cs02eResponse:
    """The device certificate (DER) or an error code."""

    certificate: bytes | None = None
    error: Cs02eError | None = None


KEY_USAGE_REQUEST = DerSequence(KeyUsageRequest, ("key_usage", KEY_USAGE))
CS02C_RESPONSE = DerChoice(
    Cs02cResponse,
    ("request", DerRaw(0x30, "CertificationRequest")),
    ("error", DerInteger(cls=Cs02cError)),
)
CS02D_COMMAND = DerChoice(Cs02dCommand, ("certificate", CERTIFICATE))
CS02D_RESPONSE = DerChoice(Cs02dResponse, ("status", DerInteger(cls=Cs02dStatus)))
CS02E_RESPONSE = DerChoice(
    Cs02eResponse,
    ("certificate", CERTIFICATE),
    ("error", DerInteger(cls=Cs02eError)),
)
