"""Reading the GBCS certificate profile (SMKI organisation, OCA/root and device certificates).

Organisation certificates carry the entity id in ``x500UniqueIdentifier`` (a BIT STRING) and
the remote party role as two hex digits in ``OU``; device certificates carry the device id as
``hwSerialNum`` in a ``hardwareModuleName`` subjectAltName. Key identifiers are 8 bytes
(RFC 5280 method 2).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID

from rig.gbcs.tables import KeyUsage, RemotePartyRole

HARDWARE_MODULE_NAME = x509.ObjectIdentifier("1.3.6.1.5.5.7.8.4")
ORGANISATION_POLICY = x509.ObjectIdentifier("1.2.826.0.1.8641679.1.2.1.4")
DEVICE_POLICY = x509.ObjectIdentifier("1.2.826.0.1.1800000.1.2.1.4")
NO_ENTITY = bytes(8)


def load_certificate(data: bytes) -> x509.Certificate:
    """DER or PEM."""
    if data.lstrip().startswith(b"-----"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def key_id_method2(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """RFC 5280 4.2.1.2 method 2: 0100b || low 60 bits of SHA-1(uncompressed point)."""
    point = public_key.public_bytes(serialization.Encoding.X962,
                                    serialization.PublicFormat.UncompressedPoint)
    digest = bytearray(hashlib.sha1(point).digest()[-8:])
    digest[0] = 0x40 | (digest[0] & 0x0F)
    return bytes(digest)


def _hw_serial(other_name_value: bytes) -> bytes | None:
    """hwSerialNum from a DER ``HardwareModuleName ::= SEQUENCE { hwType OID, hwSerialNum OCTET STRING }``."""
    data = other_name_value
    try:
        if data[0] != 0x30:
            return None
        pos = 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)
        if data[pos] != 0x06:
            return None
        pos += 2 + data[pos + 1]
        if data[pos] != 0x04:
            return None
        size = data[pos + 1]
        return bytes(data[pos + 2 : pos + 2 + size])
    except IndexError:
        return None


def entity_id(cert: x509.Certificate) -> bytes:
    """The 8-byte entity id: organisation x500UniqueIdentifier or device hwSerialNum; zeros if none."""
    for attribute in cert.subject.get_attributes_for_oid(NameOID.X500_UNIQUE_IDENTIFIER):
        value = attribute.value
        if isinstance(value, bytes) and len(value) == 9:
            return value[1:]
        if isinstance(value, bytes) and len(value) == 8:
            return value
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return NO_ENTITY
    for name in san.get_values_for_type(x509.OtherName):
        if name.type_id == HARDWARE_MODULE_NAME:
            serial = _hw_serial(name.value)
            if serial:
                return serial
    return NO_ENTITY


def role(cert: x509.Certificate) -> RemotePartyRole | None:
    """Remote party role from the OU (two hex digits), or None when the OU is missing or odd."""
    units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    if not units:
        return None
    try:
        return RemotePartyRole(int(str(units[0].value), 16))
    except ValueError:
        return None


def subject_key_id(cert: x509.Certificate) -> bytes:
    try:
        return cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER).value.digest
    except x509.ExtensionNotFound:
        return key_id_method2(cert.public_key())


def authority_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value.key_identifier
    except x509.ExtensionNotFound:
        return None


_KU_BITS = (
    ("digital_signature", KeyUsage.DIGITAL_SIGNATURE), ("content_commitment", KeyUsage.NON_REPUDIATION),
    ("key_encipherment", KeyUsage.KEY_ENCIPHERMENT), ("data_encipherment", KeyUsage.DATA_ENCIPHERMENT),
    ("key_agreement", KeyUsage.KEY_AGREEMENT), ("key_cert_sign", KeyUsage.KEY_CERT_SIGN),
    ("crl_sign", KeyUsage.CRL_SIGN),
)


def key_usage(cert: x509.Certificate) -> KeyUsage:
    try:
        ku = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
    except x509.ExtensionNotFound:
        return KeyUsage(0)
    flags = KeyUsage(0)
    for attribute, flag in _KU_BITS:
        if getattr(ku, attribute):
            flags |= flag
    return flags


def common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


@dataclass(frozen=True)
class CertificateSummary:
    """What a lab engineer wants to see of a certificate in a decode or a report."""

    entity_id: bytes
    role: RemotePartyRole | None
    common_name: str | None
    key_usage: KeyUsage
    subject_key_id: bytes
    authority_key_id: bytes | None
    issuer: str
    not_before: str
    not_after: str
    serial: int

    def __str__(self) -> str:
        role_text = self.role.name.lower() if self.role is not None else "no role"
        cn = f" CN={self.common_name}" if self.common_name else ""
        return (f"{self.entity_id.hex().upper()} ({role_text}{cn}) SKI {self.subject_key_id.hex().upper()} "
                f"issued by {self.issuer}, valid {self.not_before}..{self.not_after}")


def summarise(cert: x509.Certificate | bytes) -> CertificateSummary:
    if isinstance(cert, (bytes, bytearray)):
        cert = load_certificate(bytes(cert))
    return CertificateSummary(
        entity_id=entity_id(cert), role=role(cert), common_name=common_name(cert),
        key_usage=key_usage(cert), subject_key_id=subject_key_id(cert),
        authority_key_id=authority_key_id(cert), issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc.strftime("%Y-%m-%d"),
        not_after=cert.not_valid_after_utc.strftime("%Y-%m-%d"), serial=cert.serial_number,
    )
