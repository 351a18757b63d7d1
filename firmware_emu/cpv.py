"""Certification path validation of replacement certificates, as a GBCS device does it.

RFC 5280 style over the GBCS profile (``docs/reference/gbcs-cs02b.md`` section 8 step 9): chain
the replacement certificate through ``certificationPathCertificates`` by issuer name and
AKI/SKI to a trust anchor (the root cell, or extra anchors a replay trusts), verify every
signature (ECDSA P-256 / SHA-256), require an issuing CA between the root and an organisation
certificate (one the root signed itself is a bad certificate: GBCS organisation certificates
come from the OCA), require CA certificates to be CAs with keyCertSign within
their path length, require certificatePolicies to be present and critical, and check validity
periods unless time-based checks are disapplied (or the device has no reliable time).
Trust anchors themselves are not time-checked (RFC 5280 treats them as name and key).
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from rig.gbcs.tables import RemotePartyRole

from .certificates import ParsedCertificate

_ECDSA = ec.ECDSA(hashes.SHA256())
MAX_DEPTH = 4


class CpvFailure(enum.Enum):
    NO_CHAIN = "no_chain"
    NO_ISSUING_CA = "no_issuing_ca"  # an organisation certificate issued by the root itself
    BAD_SIGNATURE = "bad_signature"
    NOT_A_CA = "not_a_ca"
    POLICY = "policy"
    EXPIRED = "expired"
    BAD_KEY = "bad_key"

    @property
    def status_key(self) -> str:
        """Which ``ModelProfile.statuses`` entry reports this failure."""
        return {CpvFailure.NO_CHAIN: "no_chain", CpvFailure.BAD_SIGNATURE: "bad_signature"}.get(self, "bad_certificate")


def _is_root(cert: ParsedCertificate) -> bool:
    """A root certificate: self-issued, or carrying the root role (OU 00)."""
    return cert.subject_name == cert.issuer_name or cert.role == RemotePartyRole.ROOT


def _issued_by(child: ParsedCertificate, issuer: ParsedCertificate) -> bool:
    if child.issuer_name != issuer.subject_name:
        return False
    return child.authority_key_id is None or child.authority_key_id == issuer.key_id


Verified = dict[tuple[int, int], bool]


def _signature_ok(child: ParsedCertificate, issuer: ParsedCertificate, verified: Verified | None) -> bool:
    """ECDSA check of ``child`` by ``issuer``; ``verified`` memoises within one command, so a CA
    shared by several replacement certificates is checked against the root once."""
    key = (id(child), id(issuer))
    if verified is not None and key in verified:
        return verified[key]
    ok = issuer.public_key is not None and child.ecdsa_sha256
    if ok:
        try:
            issuer.public_key.verify(child.signature, child.tbs, _ECDSA)
        except InvalidSignature:
            ok = False
    if verified is not None:
        verified[key] = ok
    return ok


def _profile_ok(cert: ParsedCertificate, at: _dt.datetime | None) -> CpvFailure | None:
    if cert.public_key is None:
        return CpvFailure.BAD_KEY
    if not cert.policies_critical:
        return CpvFailure.POLICY
    if at is not None and not cert.valid_at(at):
        return CpvFailure.EXPIRED
    return None


def validate(leaf: ParsedCertificate, path: Sequence[ParsedCertificate], anchors: Sequence[ParsedCertificate],
             at: _dt.datetime | None, verified: Verified | None = None) -> CpvFailure | None:
    """None when ``leaf`` chains to one of ``anchors``; else why not. ``at=None``: no time checks.

    Pass the same ``verified`` dict for every replacement certificate of one command.
    """
    problem = _profile_ok(leaf, at)
    if problem:
        return problem
    needs_issuing_ca = leaf.role != RemotePartyRole.ROOT  # a replacement root is judged by the root cell
    current = leaf
    below_ca = 0  # CA certificates between the leaf and the one being checked
    for _ in range(MAX_DEPTH):
        # plain loops, not ``next(generator)``: this runs for every replacement of every command
        anchor = None
        for candidate in anchors:
            if _issued_by(current, candidate):
                anchor = candidate
                break
        if anchor is not None:
            if current is leaf and needs_issuing_ca and _is_root(anchor):
                return CpvFailure.NO_ISSUING_CA
            return None if _signature_ok(current, anchor, verified) else CpvFailure.BAD_SIGNATURE
        issuer = None
        for candidate in path:
            if candidate is not current and _issued_by(current, candidate):
                issuer = candidate
                break
        if issuer is None:
            return CpvFailure.NO_CHAIN
        if current is leaf and needs_issuing_ca and _is_root(issuer):
            return CpvFailure.NO_ISSUING_CA
        if not _signature_ok(current, issuer, verified):
            return CpvFailure.BAD_SIGNATURE
        if not issuer.signs_certificates:  # a CA (basicConstraints) with keyCertSign
            return CpvFailure.NOT_A_CA
        if issuer.path_length is not None and below_ca > issuer.path_length:
            return CpvFailure.NOT_A_CA
        problem = _profile_ok(issuer, at)
        if problem:
            return problem
        current = issuer
        below_ca += 1
    return CpvFailure.NO_CHAIN
