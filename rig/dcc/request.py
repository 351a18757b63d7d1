"""SRV 6.23 ``UpdateSecurityCredentialsCoS`` as a typed value, and its mapping onto GBCS CS02b.

The fields follow the DUIS schema (duis-ecos.md 8.1); the schema's own limits (floors in
0 .. 2^63-1, 1-3 certification path certificates, MPxN 1-13 characters, Command Variant 1) are
enforced on construction because a file breaking them would fail DUIS schema validation before
any SRPD check runs. Everything the SRPD checks decide is left to ``rig.dcc.checks``.

The mapping to CS02b mode 7 is the one the RTDS vectors and the DUIS templates show together
(duis-ecos.md 8.3): supplier floors go in ``otherRemotePartySeqNumberChanges``, DUIS
``ApplyTimeBasedCPVChecks=false`` becomes ``disapply``, and the DUIS cancellation date
3000-12-31T00:00:00Z becomes GBCS 9999-12-31T23:59:59Z with no floor changes.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from rig.crypto.certs import load_certificate
from rig.gbcs import Message, ReplacementMode
from rig.gbcs import build as b

from .ids import EuiLike, eui, eui_text
from .tables import ELEMENT_CELLS, Element

SERVICE_REFERENCE = "6.23"
MAX_SEQ_NUMBER = 2**63 - 1
#: DUIS ExecutionDateTime that cancels a pending future-dated 6.23 [TPL]
DUIS_CANCELLATION = _dt.datetime(3000, 12, 31, tzinfo=_dt.UTC)


class RequestError(ValueError):
    """A 6.23 request that breaks the DUIS schema (or a RequestID that is not one)."""


@dataclass(frozen=True)
class RequestId:
    """DUIS RequestID ``UserID:DeviceID:counter`` (EUI-64s, counter an unsigned 64-bit decimal)."""

    user_id: bytes
    device_id: bytes
    counter: int

    def __post_init__(self) -> None:
        if not 0 <= self.counter < 2**64:
            raise RequestError(f"RequestID counter {self.counter} is not an unsigned 64-bit value")

    @classmethod
    def of(cls, user_id: EuiLike, device_id: EuiLike, counter: int) -> RequestId:
        return cls(eui(user_id), eui(device_id), counter)

    @classmethod
    def parse(cls, text: str) -> RequestId:
        parts = text.strip().split(":")
        if len(parts) != 3 or not parts[2].isdigit():
            raise RequestError(f"not a DUIS RequestID: {text!r}")
        try:
            return cls(eui(parts[0]), eui(parts[1]), int(parts[2]))
        except ValueError as err:
            raise RequestError(f"not a DUIS RequestID: {text!r} ({err})") from None

    def __str__(self) -> str:
        return f"{eui_text(self.user_id)}:{eui_text(self.device_id)}:{self.counter}"


@dataclass(frozen=True)
class XmlSigner:
    """Who signed the request: the certificate (DER) when known, and the KeyInfo reference.

    XML signature verification is out of scope: the rig records the certificate so checks E65,
    (i) and (ii) can read its role, entity id and MPIDs.
    """

    certificate: bytes | None = None
    issuer: str | None = None
    serial: int | None = None

    @classmethod
    def of(cls, certificate: bytes | x509.Certificate) -> XmlSigner:
        """The signer of a certificate, with the issuer (RFC 4514) and serial a KeyInfo names."""
        cert = certificate if isinstance(certificate, x509.Certificate) else load_certificate(certificate)
        return cls(cert.public_bytes(Encoding.DER), cert.issuer.rfc4514_string(), cert.serial_number)


@dataclass(frozen=True)
class UpdateSecurityCredentialsCoS:
    """One SRV 6.23 Service Request (Command Variant 1)."""

    request_id: RequestId
    supplier_floor: int
    ds_certificate: bytes
    certification_path: tuple[bytes, ...]
    import_mpxn: str
    apply_time_based_checks: bool = True
    prepayment_floor: int | None = None
    ka_certificate: bytes | None = None
    ka_top_up_certificate: bytes | None = None
    execution_datetime: _dt.datetime | None = None
    signer: XmlSigner | None = None
    command_variant: int = 1

    def __post_init__(self) -> None:
        for name in ("supplier_floor", "prepayment_floor"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_SEQ_NUMBER:
                raise RequestError(f"{name} {value} is outside 0 .. 2^63-1")
        if not 1 <= len(self.certification_path) <= 3:
            raise RequestError(f"{len(self.certification_path)} certification path certificates (DUIS allows 1-3)")
        if not 1 <= len(self.import_mpxn) <= 13:
            raise RequestError(f"ImportMPxN {self.import_mpxn!r} must have 1-13 characters")
        if self.command_variant != 1:
            raise RequestError("6.23 has Command Variant 1 only since DUIS 5.1")
        if not self.ds_certificate:
            raise RequestError("DigitalSigningCertificate is mandatory")
        when = self.execution_datetime
        if when is not None and when.tzinfo is None:
            raise RequestError("ExecutionDateTime needs a time zone (DUIS uses UTC)")
        object.__setattr__(self, "certification_path", tuple(bytes(c) for c in self.certification_path))

    # -- derived ---------------------------------------------------------------------------
    @property
    def user_id(self) -> bytes:
        return self.request_id.user_id

    @property
    def device_id(self) -> bytes:
        return self.request_id.device_id

    @property
    def signing_certificate(self) -> bytes | None:
        return self.signer.certificate if self.signer else None

    @property
    def is_cancellation(self) -> bool:
        return self.execution_datetime is not None and self.execution_datetime == DUIS_CANCELLATION

    @property
    def is_future_dated(self) -> bool:
        return self.execution_datetime is not None and not self.is_cancellation

    def elements(self) -> dict[Element, bytes]:
        """The replacement certificates present, by DUIS element, in GBCS replacement order."""
        present = {Element.DS: self.ds_certificate, Element.KA: self.ka_certificate,
                   Element.KA_TOP_UP: self.ka_top_up_certificate}
        return {element: cert for element, cert in present.items() if cert is not None}

    def gbcs_execution_time(self) -> _dt.datetime | None:
        if self.is_cancellation:
            return b.CANCELLATION_TIME
        return self.execution_datetime


def to_cs02b(request: UpdateSecurityCredentialsCoS, *, cos_party_id: bytes, counter: int,
             recipient_is_chf: bool = False) -> Message:
    """The unsealed CS02b ``supplierByTransCoS`` command the CoS party signs for ``request``."""
    replacements = [b.replacement(cert, *ELEMENT_CELLS[element]) for element, cert in request.elements().items()]
    changes = None
    if not request.is_cancellation:
        changes = (b.supplier_floor(request.supplier_floor, request.prepayment_floor),)
    return b.cs02b_command(
        mode=ReplacementMode.SUPPLIER_BY_TRANS_COS, originator_id=cos_party_id, recipient_id=request.device_id,
        counter=counter, replacements=replacements, certification_path=request.certification_path,
        execution_time=request.gbcs_execution_time(), disapply_time_checks=not request.apply_time_based_checks,
        other_changes=changes, recipient_is_chf=recipient_is_chf,
    )
