"""Certificate profiles of the GB SMKI, as the RTDS certificates show them.

* Organisation certificate: subject ``[CN] OU=<role hex> x500UniqueIdentifier=<entity id>``,
  issuer ``OU=07 CN=<OCA>``; keyUsage critical (exactly one of digitalSignature or
  keyAgreement); SKI (8 bytes, RFC 5280 method 2); certificatePolicies critical; AKI.
* Issuing CA (OCA) and root: ``OU=07`` / ``OU=00``; keyCertSign|cRLSign; basicConstraints
  critical (the OCA with pathLen 0).
* Device certificate: empty subject; subjectAltName critical ``hardwareModuleName`` whose
  hwSerialNum is the device id; notAfter 9999-12-31 23:59:59 (no expiry).

Signatures use deterministic ECDSA (RFC 6979) so a PKI generated from a seed is identical on
every run; that is what lets ``fixtures/pki`` be regenerated and checked bit for bit.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from rig.crypto.certs import DEVICE_POLICY, HARDWARE_MODULE_NAME, ORGANISATION_POLICY, key_id_method2
from rig.gbcs.tables import KeyUsage

#: hwType OID of the device certificates' hardwareModuleName [RTDS]
DEVICE_HW_TYPE = "1.2.826.0.1.8641679.1.2.2.1"
NO_EXPIRY = _dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=_dt.UTC)
#: MPIDs go in organizationIdentifier attributes (UNCONFIRMED where live certificates hold them)
MPID_PREFIX = "MPID:"


@dataclass(frozen=True)
class Issuer:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey
    key_id: bytes


def _ku(flags: KeyUsage) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=KeyUsage.DIGITAL_SIGNATURE in flags,
        content_commitment=KeyUsage.NON_REPUDIATION in flags,
        key_encipherment=KeyUsage.KEY_ENCIPHERMENT in flags,
        data_encipherment=KeyUsage.DATA_ENCIPHERMENT in flags,
        key_agreement=KeyUsage.KEY_AGREEMENT in flags,
        key_cert_sign=KeyUsage.KEY_CERT_SIGN in flags,
        crl_sign=KeyUsage.CRL_SIGN in flags,
        encipher_only=False,
        decipher_only=False,
    )


def ca_name(role_hex: str, common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role_hex, _type=_ASN1Type.PrintableString),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name, _type=_ASN1Type.PrintableString),
    ])


def organisation_name(entity_id: bytes, role: int | None, common_name: str | None = None,
                      mpids: tuple[str, ...] = ()) -> x509.Name:
    attributes = []
    if common_name:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    if role is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"{int(role):02X}"))
    attributes.extend(x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, MPID_PREFIX + mpid) for mpid in mpids)
    attributes.append(x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, b"\x00" + bytes(entity_id),
                                         _type=_ASN1Type.BitString))
    return x509.Name(attributes)


def _builder(subject: x509.Name, issuer: Issuer | None, public_key: ec.EllipticCurvePublicKey,
             serial: int, not_before: _dt.datetime, not_after: _dt.datetime) -> x509.CertificateBuilder:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.name if issuer else subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    return builder


def _sign(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)


def root_certificate(key: ec.EllipticCurvePrivateKey, common_name: str, serial: int,
                     not_before: _dt.datetime, not_after: _dt.datetime) -> x509.Certificate:
    name = ca_name("00", common_name)
    public = key.public_key()
    builder = (
        _builder(name, None, public, serial, not_before, not_after)
        .add_extension(_ku(KeyUsage.KEY_CERT_SIGN | KeyUsage.CRL_SIGN), critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.CertificatePolicies([x509.PolicyInformation(ORGANISATION_POLICY, None)]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(key_id_method2(public)), critical=False)
    )
    return _sign(builder, key)


def ca_certificate(key: ec.EllipticCurvePrivateKey, issuer: Issuer, role_hex: str, common_name: str,
                   serial: int, not_before: _dt.datetime, not_after: _dt.datetime,
                   policy: x509.ObjectIdentifier = ORGANISATION_POLICY) -> x509.Certificate:
    public = key.public_key()
    builder = (
        _builder(ca_name(role_hex, common_name), issuer, public, serial, not_before, not_after)
        .add_extension(_ku(KeyUsage.KEY_CERT_SIGN | KeyUsage.CRL_SIGN), critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.CertificatePolicies([x509.PolicyInformation(policy, None)]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(key_id_method2(public)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(issuer.key_id, None, None), critical=False)
    )
    return _sign(builder, issuer.key)


def organisation_certificate(public: ec.EllipticCurvePublicKey, issuer: Issuer, *, entity_id: bytes,
                             role: int | None, key_usage: KeyUsage, serial: int,
                             not_before: _dt.datetime, not_after: _dt.datetime,
                             common_name: str | None = None, mpids: tuple[str, ...] = ()) -> x509.Certificate:
    builder = (
        _builder(organisation_name(entity_id, role, common_name, mpids), issuer, public, serial,
                 not_before, not_after)
        .add_extension(_ku(key_usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(key_id_method2(public)), critical=False)
        .add_extension(x509.CertificatePolicies([x509.PolicyInformation(ORGANISATION_POLICY, None)]), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier(issuer.key_id, None, None), critical=False)
    )
    return _sign(builder, issuer.key)


def _hardware_module_name(device_id: bytes) -> bytes:
    oid = x509.ObjectIdentifier(DEVICE_HW_TYPE)
    # DER of HardwareModuleName ::= SEQUENCE { hwType OID, hwSerialNum OCTET STRING }
    parts = [int(p) for p in oid.dotted_string.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body += bytes(reversed(chunk))
    oid_der = bytes((0x06, len(body))) + body
    serial_der = bytes((0x04, len(device_id))) + bytes(device_id)
    content = oid_der + serial_der
    return bytes((0x30, len(content))) + content


def device_certificate(public: ec.EllipticCurvePublicKey, issuer: Issuer, *, device_id: bytes,
                       key_usage: KeyUsage, serial: int, not_before: _dt.datetime) -> x509.Certificate:
    san = x509.SubjectAlternativeName([x509.OtherName(HARDWARE_MODULE_NAME, _hardware_module_name(device_id))])
    builder = (
        _builder(x509.Name([]), issuer, public, serial, not_before, NO_EXPIRY)
        .add_extension(_ku(key_usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(key_id_method2(public)), critical=False)
        .add_extension(san, critical=True)
        .add_extension(x509.CertificatePolicies([x509.PolicyInformation(DEVICE_POLICY, None)]), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier(issuer.key_id, None, None), critical=False)
    )
    return _sign(builder, issuer.key)


def mpids(cert: x509.Certificate) -> tuple[str, ...]:
    """MPIDs carried by an XML-signing certificate (project convention, see ``MPID_PREFIX``)."""
    values = []
    for attribute in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER):
        text = str(attribute.value)
        if text.startswith(MPID_PREFIX):
            values.append(text[len(MPID_PREFIX):])
    return tuple(values)
