"""Test SMKI: a deterministic, seed-derived PKI with the RTDS certificate profiles."""

from .generate import DEFAULT_SEED, DEVICES, PARTIES, Credential, PartySpec, Pki, device_credential, generate
from .store import keystore_of, load, write

__all__ = ["DEFAULT_SEED", "DEVICES", "PARTIES", "Credential", "PartySpec", "Pki", "device_credential", "generate",
           "keystore_of", "load", "write"]
