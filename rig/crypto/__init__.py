"""GBCS cryptography on ``cryptography``: ECDSA r||s, the GBCS KDF and GMAC, key stores,
certificate profile helpers. Imports ``rig.gbcs`` and nothing else of ours."""

from .ecdsa import sign_raw, verify_raw
from .frames import (
    compute_mac,
    seal,
    seal_and_decode,
    seal_in_mac_header,
    signed_bytes,
    verify_mac,
    verify_signature,
)
from .keystore import KeyStore, KeyStoreError, Usage
from .mac import ECDH_CACHE, EcdhCache, derive_key, gmac

__all__ = [
    "ECDH_CACHE", "EcdhCache", "KeyStore", "KeyStoreError", "Usage", "compute_mac", "derive_key",
    "gmac", "seal", "seal_and_decode", "seal_in_mac_header", "sign_raw", "signed_bytes", "verify_mac", "verify_raw",
    "verify_signature",
]
