"""The PKCS#10 certification request a device returns for CS02c, built as the RTDS device builds it.

Layout [RTDS 6.17 CS02c SUCCESS response]: version 0, an empty subject, the P-256 public key,
one extensionRequest attribute holding keyUsage (critical: digitalSignature, or keyAgreement)
and subjectAltName (critical: otherName hardwareModuleName {hwType 1.2.826.0.1.8797700.1.2.2.1,
hwSerialNum = the device's entity id}), signed ecdsa-with-SHA256. Written with a few DER helpers
here rather than ``cryptography``'s builder, because a replayed real device knows the public key
it generated but not always the private key: then the request is signed with another key (the
replay says so in its notes) and no builder allows that.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from rig.gbcs.tables import KeyUsage

_OID_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")
_OID_P256 = bytes.fromhex("06082a8648ce3d030107")
_OID_EXTENSION_REQUEST = bytes.fromhex("06092a864886f70d01090e")
_OID_KEY_USAGE = bytes.fromhex("0603551d0f")
_OID_SUBJECT_ALT_NAME = bytes.fromhex("0603551d11")
_OID_HARDWARE_MODULE_NAME = bytes.fromhex("06082b06010505070804")
_OID_GBCS_HW_TYPE = bytes.fromhex("060d2a863a0001848fb90f01020201")  # 1.2.826.0.1.8797700.1.2.2.1
_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
_CRITICAL = bytes.fromhex("0101ff")
#: keyUsage BIT STRING contents per usage (unused bits, bits): digitalSignature = bit 0, keyAgreement = bit 4
_KEY_USAGE_BITS = {KeyUsage.DIGITAL_SIGNATURE: bytes.fromhex("0780"), KeyUsage.KEY_AGREEMENT: bytes.fromhex("0308")}


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        body = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(body)]) + body
    return bytes([tag]) + length + content


def request_info(public_point: bytes, key_usage: KeyUsage, entity_id: bytes) -> bytes:
    """The CertificationRequestInfo (the signed part)."""
    spki = _tlv(0x30, _tlv(0x30, _OID_EC_PUBLIC_KEY + _OID_P256) + _tlv(0x03, b"\x00" + public_point))
    key_usage_ext = _tlv(0x30, _OID_KEY_USAGE + _CRITICAL + _tlv(0x04, _tlv(0x03, _KEY_USAGE_BITS[key_usage])))
    hw_name = _tlv(0x30, _OID_GBCS_HW_TYPE + _tlv(0x04, bytes(entity_id)))
    other_name = _tlv(0xA0, _OID_HARDWARE_MODULE_NAME + _tlv(0xA0, hw_name))
    san_ext = _tlv(0x30, _OID_SUBJECT_ALT_NAME + _CRITICAL + _tlv(0x04, _tlv(0x30, other_name)))
    attribute = _tlv(0x30, _OID_EXTENSION_REQUEST + _tlv(0x31, _tlv(0x30, key_usage_ext + san_ext)))
    return _tlv(0x30, bytes.fromhex("020100") + _tlv(0x30, b"") + spki + _tlv(0xA0, attribute))


def certification_request(public_point: bytes, key_usage: KeyUsage, entity_id: bytes,
                          signer: ec.EllipticCurvePrivateKey) -> bytes:
    """The DER request for ``public_point``, signed by ``signer`` (the generated key when known)."""
    info = request_info(public_point, key_usage, entity_id)
    signature = signer.sign(info, ec.ECDSA(hashes.SHA256()))
    return _tlv(0x30, info + _ECDSA_SHA256 + _tlv(0x03, b"\x00" + signature))


def point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
