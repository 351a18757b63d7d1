"""Replacement certificates that must fail certification path validation, built from the rig's PKI.

A device that never verifies certificate signatures, or skips a profile check, installs whatever
it is sent. Each scenario here sends a change of supplier whose supplier DS certificate is the
gaining supplier's own (same subject, same key) with exactly one thing wrong, and checks that the
device reports that cell failed (never SUCCESS) and the CS02a read-back still shows the old
holder; the other two cells, valid, are replaced (replacement is per cell).

What each needs: the forged CA signature needs no CA key (a key that is not the issuing CA's
signs it), so it runs on any rig; the others need the root's or the issuing CA's private key,
which the project's test PKI and a ``gbcs-rig pki init`` folder hold, or a lab variant
certificate (``variants/<name>.pem``). Without either the scenario is inconclusive, naming what
is missing.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from rig.crypto import Usage
from rig.gbcs import StatusCode
from rig.harness import Inconclusive, RigSession

from . import steps

#: what a device may report for a certificate whose chain does not verify or breaks the profile:
#: noTrustAnchor (no chain can be built) or badCertificate; never SUCCESS
PATH_FAILURES = (StatusCode.NO_TRUST_ANCHOR, StatusCode.BAD_CERTIFICATE)


def reissue(cert: x509.Certificate, signer, *, issuer: x509.Certificate | None = None,
            validity: tuple[_dt.datetime, _dt.datetime] | None = None,
            policies_critical: bool | None = None) -> x509.Certificate:
    """``cert`` again (subject, key, serial, extensions) signed by ``signer``: under another
    ``issuer`` (its name and key id), another ``validity``, or certificatePolicies of another
    criticality; everything else as it was."""
    not_before, not_after = validity or (cert.not_valid_before_utc, cert.not_valid_after_utc)
    builder = (x509.CertificateBuilder().subject_name(cert.subject)
               .issuer_name(issuer.subject if issuer is not None else cert.issuer)
               .public_key(cert.public_key()).serial_number(cert.serial_number)
               .not_valid_before(not_before).not_valid_after(not_after))
    for extension in cert.extensions:
        value, critical = extension.value, extension.critical
        if isinstance(value, x509.CertificatePolicies) and policies_critical is not None:
            critical = policies_critical
        if isinstance(value, x509.AuthorityKeyIdentifier) and issuer is not None:
            ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            value = x509.AuthorityKeyIdentifier(ski.digest, None, None)
        builder = builder.add_extension(value, critical)
    return builder.sign(signer, hashes.SHA256())


def _ca_key(rig: RigSession, which: str, variant: str):
    credential = getattr(rig.pki, which, None)
    key = getattr(credential, "private_key", None)
    if key is None:
        raise Inconclusive(f"set-up: building this certificate needs the {which.replace('_', ' ')}'s private key, "
                           f"which the rig's key store lacks; or put the certificate in variants/{variant}.pem")
    return key


def _gaining_ds(rig: RigSession) -> x509.Certificate:
    return rig.pki.credential(rig.GAINING, Usage.DS).certificate


def forged_ca_signature(rig: RigSession) -> x509.Certificate:
    """Signed by a key that is not the issuing CA's (issuer name and key id unchanged)."""
    return reissue(_gaining_ds(rig), ec.generate_private_key(ec.SECP256R1()))


def root_signed(rig: RigSession) -> x509.Certificate:
    """An organisation certificate the root signed itself (GBCS: only the issuing CA does)."""
    variant = rig.pki.variants.get("root_signed_supplier_b_ds")
    if variant is not None:
        return variant.certificate
    return reissue(_gaining_ds(rig), _ca_key(rig, "root", "root_signed_supplier_b_ds"), issuer=rig.pki.root.certificate)


def non_critical_policies(rig: RigSession) -> x509.Certificate:
    """certificatePolicies present but not critical (the GBCS profile makes it critical)."""
    variant = rig.pki.variants.get("non_critical_policies_supplier_b_ds")
    if variant is not None:
        return variant.certificate
    return reissue(_gaining_ds(rig), _ca_key(rig, "issuing_ca", "non_critical_policies_supplier_b_ds"),
                   policies_critical=False)


def expired(rig: RigSession) -> x509.Certificate:
    """Past its notAfter, sent with time-based checks applied."""
    variant = rig.pki.variants.get("expired_supplier_b_ds")
    if variant is not None:
        return variant.certificate
    now = rig.now()
    return reissue(_gaining_ds(rig), _ca_key(rig, "issuing_ca", "expired_supplier_b_ds"),
                   validity=(now - _dt.timedelta(days=3650), now - _dt.timedelta(days=30)))


def failing_replacement(build: Callable[[RigSession], x509.Certificate], what: str, *,
                        expected: tuple[StatusCode, ...] = PATH_FAILURES):
    def run(rig: RigSession) -> None:
        steps.ensure_state(rig, "tcos")
        before = steps.supplier_cell_holders(rig)
        certificate = build(rig)
        if build is expired:
            rig.evidence.check("set-up: the certificate has expired at the device's time",
                               certificate.not_valid_after_utc < rig.now(), True)
        message, signer = steps.change_of_supplier_command(rig, replacements=steps.supplier_replacements(rig,
                                                                                                      ds=certificate))
        rig.evidence.check("time-based checks applied", message.payload.control.disapplies_time_checks, False)
        statuses = steps.expect_answered(rig, steps.seal_command(rig, message, signer), what=what)
        rig.evidence.check("supplier DS cell status", statuses[:1], [s.name for s in expected],
                           ok=statuses[:1] and statuses[0] in {s.name for s in expected})
        rig.evidence.check("the valid cells replaced (per cell)", statuses[1:], ["SUCCESS", "SUCCESS"])
        holders = steps.supplier_cell_holders(rig)
        rig.evidence.check("supplier DS cell read back unchanged", holders[:1], before[:1])
    run.__doc__ = (f"A change of supplier whose supplier DS certificate is {what}: that cell fails path "
                   f"validation (noTrustAnchor or badCertificate, never SUCCESS) and reads back unchanged.")
    return run


forged_signature_certificate = failing_replacement(forged_ca_signature, "signed by a key that is not the issuing CA's")
root_signed_certificate = failing_replacement(root_signed, "issued by the root itself, not by an issuing CA")
non_critical_policies_certificate = failing_replacement(non_critical_policies,
                                                        "carrying non-critical certificatePolicies")
expired_certificate = failing_replacement(expired, "expired, with time-based checks applied")
