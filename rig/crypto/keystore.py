"""Keys and certificates by entity id and usage, from a folder of PEM files.

File names follow the RTDS / DCC Boxed convention ``<EUI-64 hex>[-pp]-<ds|ka>.<pem|key>``:
``.pem`` an X.509 certificate (or a bare public key), ``.key`` a PKCS#8 private key; ``ds`` digital signing, ``ka``
key agreement, ``-pp-ka`` the prepayment top-up key agreement key. The folder is read, never
written; key objects are loaded once and shared (thousands of emulated devices use the same
remote party keys).
"""

from __future__ import annotations

import enum
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from . import certs


class Usage(enum.Enum):
    """Key usage as the key store names it."""

    DS = "ds"  # digital signing
    KA = "ka"  # key agreement
    PP_KA = "pp-ka"  # prepayment top-up key agreement


_NAME = re.compile(r"^(?P<eui>[0-9a-fA-F]{16})-(?P<usage>pp-ka|ds|ka)\.(?P<kind>pem|key)$")


class KeyStoreError(LookupError):
    """A key or certificate the caller needs is not in the key store."""


@dataclass(frozen=True)
class Entry:
    entity_id: bytes
    usage: Usage


class KeyStore:
    """Read-only view of a key folder (or of keys added in memory by the test PKI)."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else None
        self._cert_paths: dict[Entry, Path] = {}
        self._public_paths: dict[Entry, Path] = {}
        self._key_paths: dict[Entry, Path] = {}
        self._certs: dict[Entry, x509.Certificate] = {}
        self._keys: dict[Entry, ec.EllipticCurvePrivateKey] = {}
        self._public: dict[Entry, ec.EllipticCurvePublicKey] = {}
        self._lock = threading.Lock()
        if self.directory is not None:
            if not self.directory.is_dir():
                raise KeyStoreError(f"key store folder {self.directory} does not exist")
            for path in sorted(self.directory.iterdir()):
                match = _NAME.match(path.name)
                if not match:
                    continue
                entry = Entry(bytes.fromhex(match["eui"]), Usage(match["usage"]))
                if match["kind"] == "key":
                    self._key_paths[entry] = path
                elif b"PUBLIC KEY" in path.read_bytes()[:64]:
                    self._public_paths[entry] = path
                else:
                    self._cert_paths[entry] = path

    # -- adding in memory ------------------------------------------------------------------
    def add(self, entity_id: bytes, usage: Usage, certificate: x509.Certificate | None = None,
            private_key: ec.EllipticCurvePrivateKey | None = None) -> None:
        entry = Entry(bytes(entity_id), usage)
        with self._lock:
            if certificate is not None:
                self._certs[entry] = certificate
            if private_key is not None:
                self._keys[entry] = private_key
            self._public.pop(entry, None)

    # -- lookups ---------------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        found = (set(self._cert_paths) | set(self._key_paths) | set(self._public_paths)
                 | set(self._certs) | set(self._keys))
        return sorted(found, key=lambda e: (e.entity_id, e.usage.value))

    def has_certificate(self, entity_id: bytes, usage: Usage) -> bool:
        entry = Entry(bytes(entity_id), usage)
        return entry in self._certs or entry in self._cert_paths

    def has_private_key(self, entity_id: bytes, usage: Usage) -> bool:
        entry = Entry(bytes(entity_id), usage)
        return entry in self._keys or entry in self._key_paths

    def certificate(self, entity_id: bytes, usage: Usage) -> x509.Certificate:
        entry = Entry(bytes(entity_id), usage)
        cert = self._certs.get(entry)
        if cert is None:
            path = self._cert_paths.get(entry)
            if path is None:
                raise KeyStoreError(f"no {usage.value} certificate for {entity_id.hex().upper()}")
            cert = certs.load_certificate(path.read_bytes())
            with self._lock:
                cert = self._certs.setdefault(entry, cert)
        return cert

    def private_key(self, entity_id: bytes, usage: Usage) -> ec.EllipticCurvePrivateKey:
        entry = Entry(bytes(entity_id), usage)
        key = self._keys.get(entry)
        if key is None:
            path = self._key_paths.get(entry)
            if path is None:
                raise KeyStoreError(f"no {usage.value} private key for {entity_id.hex().upper()}")
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise KeyStoreError(f"{path.name} is not an EC private key")
            with self._lock:
                key = self._keys.setdefault(entry, loaded)
        return key

    def public_key(self, entity_id: bytes, usage: Usage) -> ec.EllipticCurvePublicKey:
        """From the certificate, else from the private key; one shared object per entry."""
        entry = Entry(bytes(entity_id), usage)
        key = self._public.get(entry)
        if key is None:
            if self.has_certificate(entity_id, usage):
                key = self.certificate(entity_id, usage).public_key()
            elif entry in self._public_paths:
                loaded = serialization.load_pem_public_key(self._public_paths[entry].read_bytes())
                if not isinstance(loaded, ec.EllipticCurvePublicKey):
                    raise KeyStoreError(f"{self._public_paths[entry].name} is not an EC public key")
                key = loaded
            else:
                key = self.private_key(entity_id, usage).public_key()
            with self._lock:
                key = self._public.setdefault(entry, key)
        return key

    def organisation_entries(self) -> list[Entry]:
        """Entries whose certificate has a remote party role in its OU."""
        out = []
        for entry in self.entries():
            if self.has_certificate(entry.entity_id, entry.usage):
                if certs.role(self.certificate(entry.entity_id, entry.usage)) is not None:
                    out.append(entry)
        return out
