"""ECDSA P-256 / SHA-256 in the GBCS wire form: raw ``r || s``, 32 bytes each (IEEE P1363)."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

_ECDSA = ec.ECDSA(hashes.SHA256())
#: RFC 6979: the same key and data always give the same signature (reproducible fixtures)
_ECDSA_DETERMINISTIC = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256 group order


def sign_raw(private_key: ec.EllipticCurvePrivateKey, data: bytes, deterministic: bool = False) -> bytes:
    """Sign ``data`` and return the 64-byte ``r || s`` (RFC 6979 when ``deterministic``)."""
    r, s = decode_dss_signature(private_key.sign(data, _ECDSA_DETERMINISTIC if deterministic else _ECDSA))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_raw(public_key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` (64-byte ``r || s``) is valid for ``data``."""
    if signature is None or len(signature) != 64:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < _N and 0 < s < _N):
        return False
    try:
        public_key.verify(encode_dss_signature(r, s), data, _ECDSA)
    except InvalidSignature:
        return False
    return True
