"""Parsed certificates, shared process-wide by their DER bytes.

Thousands of emulated devices hold the same remote party certificates; parsing each one once
and sharing the ``cryptography`` key object keeps memory flat and lets the ECDH cache
(keyed by key objects) hit across devices.
"""

from __future__ import annotations

import datetime as _dt
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from rig.crypto import certs
from rig.gbcs.tables import KeyUsage, RemotePartyRole


class CertificateError(ValueError):
    """Bytes that are not a usable GBCS certificate (the only exception ``parse_certificate`` raises)."""


@dataclass(frozen=True, eq=False)
class ParsedCertificate:
    der: bytes
    certificate: x509.Certificate
    public_key: ec.EllipticCurvePublicKey | None  # None when not a P-256 EC key
    subject_id: bytes
    key_id: bytes
    authority_key_id: bytes | None
    role: RemotePartyRole | None
    key_usage: KeyUsage
    is_ca: bool
    path_length: int | None
    policies_critical: bool
    ecdsa_sha256: bool
    not_before: _dt.datetime
    not_after: _dt.datetime
    #: DER of the subject and issuer names: chaining compares bytes, not Name objects
    subject_name: bytes
    issuer_name: bytes
    #: the public key's uncompressed point and its RFC 5280 method-2 key id (None without a
    #: P-256 key), computed once: changes of control compare keys by them on every command
    point: bytes | None = None
    own_key_id: bytes | None = None
    #: the signature and the signed TBS bytes, taken once: ``cryptography`` builds new bytes on
    #: every access, and path validation checks the same certificates on every command
    signature: bytes = b""
    tbs: bytes = b""
    #: a CA certificate whose key may sign certificates (basicConstraints cA and keyCertSign),
    #: decided once: path validation asks it of the issuing CA of every replacement certificate
    signs_certificates: bool = False

    def valid_at(self, when: _dt.datetime) -> bool:
        return self.not_before <= when <= self.not_after


def _parse(der: bytes) -> ParsedCertificate:
    try:
        cert = x509.load_der_x509_certificate(der)
        key = cert.public_key()
        public = key if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1) else None
        try:
            constraints = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
            is_ca, path_length = constraints.ca, constraints.path_length
        except x509.ExtensionNotFound:
            is_ca, path_length = False, None
        try:
            policies_critical = cert.extensions.get_extension_for_oid(ExtensionOID.CERTIFICATE_POLICIES).critical
        except x509.ExtensionNotFound:
            policies_critical = False
        usage = certs.key_usage(cert)
        return ParsedCertificate(
            der=der, certificate=cert, public_key=public, subject_id=certs.entity_id(cert),
            key_id=certs.subject_key_id(cert), authority_key_id=certs.authority_key_id(cert),
            role=certs.role(cert), key_usage=usage, is_ca=is_ca, path_length=path_length,
            policies_critical=policies_critical,
            ecdsa_sha256=cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256,
            not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
            subject_name=cert.subject.public_bytes(), issuer_name=cert.issuer.public_bytes(),
            point=None if public is None else public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint),
            own_key_id=None if public is None else certs.key_id_method2(public),
            signature=cert.signature, tbs=cert.tbs_certificate_bytes,
            signs_certificates=bool(is_ca and KeyUsage.KEY_CERT_SIGN in usage),
        )
    except Exception as err:
        # whatever ``cryptography`` raises for bytes it cannot load (ValueError, InvalidVersion,
        # UnsupportedAlgorithm, DuplicateExtension, ...): to a device it is a bad certificate
        raise CertificateError(f"unreadable certificate: {type(err).__name__}: {err}") from None


class CertificateCache:
    """Bounded cache of parsed certificates keyed by DER, oldest entry evicted first.

    Why not LRU: a hit (about ten per CS02b command) is then one dict lookup and nothing else;
    an evicted certificate still in use costs one parse when it comes back, never a wrong answer.
    """

    def __init__(self, capacity: int = 4096):
        self.capacity = capacity
        self._entries: dict[bytes, ParsedCertificate] = {}
        self._lock = threading.Lock()

    def parse(self, der: bytes) -> ParsedCertificate:
        if der.__class__ is not bytes:
            der = bytes(der)
        parsed = self._entries.get(der)  # the common case, a hit: one lookup (atomic), no lock
        if parsed is not None:
            return parsed
        parsed = _parse(der)
        with self._lock:
            parsed = self._entries.setdefault(der, parsed)
            while len(self._entries) > self.capacity:
                del self._entries[next(iter(self._entries))]
        return parsed


CERTIFICATES = CertificateCache()


#: the process-wide parse, bound once (it runs about ten times per CS02b command)
parse_certificate = CERTIFICATES.parse
