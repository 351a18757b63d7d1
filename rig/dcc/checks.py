"""The DSP's checks on a 6.23 before anything is built: SRPD clause 8 (i)-(vii), G(i)/G(ii), E65.

The list ``CHECKS`` is the table: each row names the check, the clause it comes from and the
function that applies it; the response code of a failure comes from the configuration
(``rig.dcc.tables.RESPONSE_CODES``, overridable). All checks run so the outcome carries every
failure as evidence; the DUIS response code is that of the first failure in table order.

Certificates are parsed once (``_Context``); a certificate that does not parse fails
``certificates_decode`` and is left out of the checks that need its contents, so each defect is
reported by exactly one check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from rig.crypto import certs
from rig.gbcs.tables import KeyUsage, RemotePartyRole
from rig.pki.profiles import mpids

from .config import DccConfig
from .ids import eui_text
from .inventory import DeviceRecord
from .request import UpdateSecurityCredentialsCoS
from .tables import ELEMENT_CELLS, RowStatus


@dataclass(frozen=True)
class CheckFailure:
    """One failed check, with the DUIS response code the configuration gives it."""

    check: str
    response_code: str
    detail: str
    status: RowStatus


@dataclass(frozen=True)
class CheckReport:
    failures: tuple[CheckFailure, ...]
    passed: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def response_code(self) -> str | None:
        """The code DUIS would return: the first failure's, None when everything passed."""
        return self.failures[0].response_code if self.failures else None

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(failure.check for failure in self.failures)


class _Context:
    """The request with its certificates parsed once."""

    def __init__(self, request: UpdateSecurityCredentialsCoS, device: DeviceRecord | None, config: DccConfig):
        self.request = request
        self.device = device
        self.config = config
        self.undecodable: list[str] = []
        signing = request.signing_certificate
        self.signing = self._parse(signing, "signing certificate") if signing else None
        self.replacements = {}
        for element, der in request.elements().items():
            cert = self._parse(der, f"{element} replacement certificate")
            if cert is not None:
                self.replacements[element] = cert
        self.path = [cert for index, der in enumerate(request.certification_path)
                     if (cert := self._parse(der, f"certification path certificate {index + 1}")) is not None]

    def _parse(self, der: bytes, what: str) -> x509.Certificate | None:
        try:
            cert = certs.load_certificate(der)
            cert.subject  # noqa: B018  (force the lazy parse of the name)
            return cert
        except ValueError as err:
            self.undecodable.append(f"{what}: {err}")
            return None

    @cached_property
    def issuers(self) -> dict[str, x509.Certificate | None]:
        """Replacement element -> the included CA that issued it (name and signature), or None."""
        return {element: next((ca for ca in self.path if issued_by(cert, ca)), None)
                for element, cert in self.replacements.items()}


def issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """True when ``ca``'s name and key issued ``cert`` (name chaining and signature)."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# --------------------------------------------------------------------------------------------
# the checks: each returns None when it passes, else what is wrong


def _certificates_decode(ctx: _Context) -> str | None:
    return "; ".join(ctx.undecodable) or None


def _xml_sign_role(ctx: _Context) -> str | None:
    if ctx.signing is None:
        return "no signing certificate is known for the request"
    role = certs.role(ctx.signing)
    if role != RemotePartyRole.XML_SIGN:
        return f"signing certificate role is {role!r}, not xmlSign"
    return None


def _user_id(ctx: _Context) -> str | None:
    if ctx.signing is None:
        return "no signing certificate to compare the User ID with"
    signer = certs.entity_id(ctx.signing)
    if signer != ctx.request.user_id:
        return f"User ID {eui_text(ctx.request.user_id)} but the signing certificate is {eui_text(signer)}"
    return None


def _mpid(ctx: _Context) -> str | None:
    if ctx.device is None or not ctx.device.supplier_mpid:
        return "no registration data (MPID) for the device"
    held = mpids(ctx.signing) if ctx.signing is not None else ()
    if not held:
        return "the signing certificate carries no MPID (outcome M)"
    if ctx.device.supplier_mpid not in held:
        return f"registration data MPID {ctx.device.supplier_mpid} not in {list(held)} (outcome I)"
    return None


def _mpxn(ctx: _Context) -> str | None:
    if ctx.device is None:
        return "the device is not in the inventory"
    if ctx.device.mpxn != ctx.request.import_mpxn:
        return f"ImportMPxN {ctx.request.import_mpxn} but the inventory holds {ctx.device.mpxn}"
    return None


def _certificate_count(ctx: _Context) -> str | None:
    if ctx.device is None:
        return "the device is not in the inventory"
    required = ctx.config.replacement_elements.get(ctx.device.device_type)
    if required is None:
        return f"device type {ctx.device.device_type} takes no 6.23"
    supplied = tuple(ctx.request.elements())
    if set(supplied) != set(required):
        return f"{ctx.device.device_type} needs {[str(e) for e in required]}, got {[str(e) for e in supplied]}"
    return None


def _supplier_role(ctx: _Context) -> str | None:
    wrong = [f"{element} has role {certs.role(cert)!r}" for element, cert in ctx.replacements.items()
             if certs.role(cert) != RemotePartyRole.SUPPLIER]
    return "; ".join(wrong) or None


def _key_usage(ctx: _Context) -> str | None:
    wrong = []
    for element, cert in ctx.replacements.items():
        expected = ELEMENT_CELLS[element][1]
        actual = certs.key_usage(cert)
        if actual != expected:
            wrong.append(f"{element} has keyUsage {KeyUsage(actual)!r}, its cell needs {expected!r}")
    return "; ".join(wrong) or None


def _prepayment_floor(ctx: _Context) -> str | None:
    if ctx.request.ka_top_up_certificate is not None and ctx.request.prepayment_floor is None:
        return "KeyAgreementTopUpCertificate without SupplierPrepaymentTopUpFloorSeqNumber"
    return None


def _issuing_ca_included(ctx: _Context) -> str | None:
    missing = [f"{element} (issuer {cert.issuer.rfc4514_string()})"
               for element, cert in ctx.replacements.items() if ctx.issuers[element] is None]
    return ("issuing CA not included for " + ", ".join(missing)) if missing else None


def _included_ca_used(ctx: _Context) -> str | None:
    used = {id(ca) for ca in ctx.issuers.values() if ca is not None}
    unused = [ca.subject.rfc4514_string() for ca in ctx.path if id(ca) not in used]
    return ("included CA issued none of the certificates: " + ", ".join(unused)) if unused else None


@dataclass(frozen=True)
class CheckSpec:
    key: str
    clause: str
    title: str
    apply: Callable[[_Context], str | None]


#: the DSP's 6.23 checks in the order DUIS reports them [SEED-000 3.3, MP104, generic checks]
CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("xml_sign_role", "MP104 / DUIS 2.5.3", "signing certificate role is xmlSign", _xml_sign_role),
    CheckSpec("certificates_decode", "DUIS 3.10.2", "every certificate in the SR decodes", _certificates_decode),
    CheckSpec("user_id", "SRPD 8 (i)", "User ID equals the signing certificate's entity id", _user_id),
    CheckSpec("mpid", "SRPD 8 (ii)", "an MPID of the signing certificate matches registration data", _mpid),
    CheckSpec("mpxn", "SRPD 8 (iii)", "ImportMPxN equals the inventory's MPxN", _mpxn),
    CheckSpec("certificate_count", "SRPD 8 (iv)", "replacement certificates required for the device type",
              _certificate_count),
    CheckSpec("supplier_role", "SRPD 8 (v)", "every replacement certificate has the supplier role", _supplier_role),
    CheckSpec("key_usage", "SRPD 8 (vi)", "key usage fits the target cell", _key_usage),
    CheckSpec("prepayment_floor", "SRPD 8 (vii)", "prepayment floor present when the top-up key is replaced",
              _prepayment_floor),
    CheckSpec("issuing_ca_included", "generic G(i)", "each certificate's issuing CA is included",
              _issuing_ca_included),
    CheckSpec("included_ca_used", "generic G(ii)", "each included CA issued a certificate", _included_ca_used),
)


def run_checks(request: UpdateSecurityCredentialsCoS, device: DeviceRecord | None,
               config: DccConfig | None = None) -> CheckReport:
    """Apply every check in ``CHECKS`` to ``request`` against the inventory record ``device``."""
    config = config or DccConfig()
    ctx = _Context(request, device, config)
    failures, passed = [], []
    for spec in CHECKS:
        detail = spec.apply(ctx)
        if detail is None:
            passed.append(spec.key)
        else:
            row = config.response_code(spec.key)
            failures.append(CheckFailure(spec.key, row.code, detail, row.status))
    return CheckReport(tuple(failures), tuple(passed))
