"""The rig's PKI, from its ``credentials`` section: never guessed.

Two layouts a lab really has are accepted:

* a folder written by ``gbcs-rig pki init`` (``pki.toml``, ``ca/``, ``keystore/`` ...);
* a plain key store: ``<EUI-64>[-pp]-<ds|ka>.<pem|key>`` files (the DCC test key stores' naming),
  read with ``rig.crypto.keystore``. Each remote party's role comes from its certificate's OU;
  where a role has more than one party (two suppliers, the TCoS and the ECoS party) a small
  ``parties.toml`` in the folder names them (``tcos = "<EUI-64>"``). The CA certificates come
  from ``credentials.root_certificate`` / ``issuing_ca`` / ``device_ca`` when given, else from a
  ``ca/`` folder inside the key store (the self-signed one is the root; the CA that issued the
  organisation certificates is the issuing CA, the one that issued device certificates the
  device CA). The DCC users' XML-signing certificates (which sign the SRV 6.23 requests the rig
  plays) are ``xmlsign/<label>.pem`` (and ``.key``) as in the ``pki init`` layout; negative-test
  certificates, when the lab has them, ``variants/<name>.pem``. Scenarios needing material the
  key store lacks are inconclusive, naming what is missing.

The project's published test PKI is used only when the rig has no ``credentials`` at all.
A path that is missing, unreadable or not a PKI is a ``ConfigError`` naming the config's file and
line (``rig.config.credentials``); a PKI whose files cannot be parsed is a ``CredentialsError``
naming the file.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from rig import pki as pki_module
from rig.config.credentials import check_credentials
from rig.config.model import Credentials, RigSpec
from rig.crypto import certs
from rig.crypto.keystore import KeyStore, KeyStoreError, Usage
from rig.gbcs.tables import RemotePartyRole
from rig.pki.generate import Credential, PartySpec

PARTIES_FILE = "parties.toml"
#: the labels the rig's scenarios use, per remote party role, in the order parties fill them
ROLE_LABELS: dict[RemotePartyRole, tuple[str, ...]] = {
    RemotePartyRole.RECOVERY: ("recovery",),
    RemotePartyRole.SUPPLIER: ("supplier_a", "supplier_b"),
    RemotePartyRole.NETWORK_OPERATOR: ("network_operator",),
    RemotePartyRole.ACCESS_CONTROL_BROKER: ("acb",),
    RemotePartyRole.TRANSITIONAL_COS: ("tcos", "ecos"),
    RemotePartyRole.WAN_PROVIDER: ("wan_provider",),
}


class CredentialsError(ValueError):
    """The rig's credentials cannot be used; the message names the file."""


def has_credentials(credentials: Credentials) -> bool:
    return bool(credentials.given())


def is_keystore(folder: Path) -> bool:
    """A folder holding at least one ``<EUI-64>[-pp]-<ds|ka>.<pem|key>`` file."""
    try:
        return bool(KeyStore(folder).entries())
    except (KeyStoreError, OSError):
        return False


def pki_source(spec: RigSpec) -> tuple[str, str]:
    """(where the PKI comes from, which layout) for the report."""
    credentials = spec.credentials
    if not has_credentials(credentials):
        return "built-in test PKI (the rig has no credentials section)", "test-pki"
    folder = credentials.pki or credentials.keystore
    if folder is not None and (Path(folder) / "pki.toml").exists():
        return str(folder), "pki-init"
    return str(folder), "keystore"


def pki_for(spec: RigSpec) -> pki_module.Pki:
    """The rig's PKI: its ``credentials``; the project's test PKI only when there are none."""
    from rig.provision import default_pki, load_pki

    credentials = spec.credentials
    if not has_credentials(credentials):
        return default_pki()
    check_credentials(credentials)  # a ConfigError naming the file and line
    folder = Path(credentials.pki or credentials.keystore)
    if (folder / "pki.toml").exists():
        try:
            return load_pki(folder)
        except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as err:
            raise CredentialsError(f"{folder}: not a readable gbcs-rig PKI folder: {err}") from None
    if is_keystore(folder):
        return keystore_pki(folder, credentials.root_certificate, credentials.issuing_ca, credentials.device_ca)
    raise CredentialsError(f"{folder}: neither a gbcs-rig PKI folder (pki.toml) nor a key store "
                           f"(<EUI-64>[-pp]-<ds|ka>.<pem|key> files)")


def _credential(pem: Path) -> Credential:
    try:
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
        key_path = pem.with_suffix(".key")
        key = serialization.load_pem_private_key(key_path.read_bytes(), None) if key_path.exists() else None
    except (OSError, ValueError, TypeError) as err:
        raise CredentialsError(f"{pem}: not a readable PEM certificate: {err}") from None
    return Credential(cert, key)  # type: ignore[arg-type]  # a lab's CA keys are not at hand


def _issued(ca: x509.Certificate, cert: x509.Certificate) -> bool:
    try:
        return certs.authority_key_id(cert) == certs.subject_key_id(ca)
    except Exception:
        return cert.issuer == ca.subject


def _cas(folder: Path, root: Path | None, issuing: Path | None, device: Path | None,
         store: KeyStore, organisations: list, devices: list) -> tuple[Credential, Credential, Credential]:
    if root is not None and issuing is not None:
        root_c, issuing_c = _credential(root), _credential(issuing)
        return root_c, issuing_c, _credential(device) if device is not None else issuing_c
    ca_dir = folder / "ca"
    if not ca_dir.is_dir():
        raise CredentialsError(f"{folder}: a key store needs its CA certificates: a ca/ folder in it, or "
                               f"credentials.root_certificate and credentials.issuing_ca")
    found = [_credential(p) for p in sorted(ca_dir.glob("*.pem"))]
    roots = [c for c in found if c.certificate.issuer == c.certificate.subject]
    if len(roots) != 1:
        raise CredentialsError(f"{ca_dir}: expected one self-signed root certificate, found {len(roots)}")
    others = [c for c in found if c is not roots[0] and _issued(roots[0].certificate, c.certificate)]

    def issuer_of(entries: list) -> Credential | None:
        for ca in others:
            if entries and all(_issued(ca.certificate, store.certificate(e.entity_id, e.usage)) for e in entries):
                return ca
        return None

    issuing_c = issuer_of(organisations)
    if issuing_c is None:
        raise CredentialsError(f"{ca_dir}: no CA certificate there issued the key store's organisation certificates")
    return roots[0], issuing_c, issuer_of(devices) or issuing_c


def _mapping(folder: Path) -> tuple[dict[str, bytes], dict[str, tuple[str, bytes]]]:
    """``parties.toml``: ``[parties] label = "<EUI-64>"`` where a role is ambiguous, and (for a
    comms hub emulated on the key store) ``[devices] label = { type = "CHF", entity_id = "..." }``,
    the shape ``pki.toml`` uses; device certificates do not say their device type."""
    mapping_file = folder / PARTIES_FILE
    if not mapping_file.exists():
        return {}, {}
    try:
        table = tomllib.loads(mapping_file.read_text())
        parties = {label: _eui(eui) for label, eui in table.get("parties", {}).items()}
        devices = {label: (str(row["type"]).upper(), _eui(row["entity_id"]))
                   for label, row in table.get("devices", {}).items()}
    except (OSError, ValueError, KeyError, TypeError, tomllib.TOMLDecodeError) as err:
        raise CredentialsError(f"{mapping_file}: {err}") from None
    return parties, devices


def _eui(text: object) -> bytes:
    value = bytes.fromhex(str(text).replace(":", "").replace("-", ""))
    if len(value) != 8:
        raise ValueError(f"{text!r} is not an EUI-64")
    return value


def _labels(folder: Path, parties: dict[RemotePartyRole, list[bytes]], named: dict[str, bytes]) -> dict[str, bytes]:
    mapping_file = folder / PARTIES_FILE
    labels = dict(named)
    for role, entities in parties.items():
        wanted = ROLE_LABELS.get(role, ())
        unnamed = [e for e in entities if e not in named.values()]
        free = [label for label in wanted if label not in named]
        if len(unnamed) == 1 and free:
            labels[free[0]] = unnamed[0]
        elif len(unnamed) > 1:
            ids = ", ".join(e.hex().upper() for e in unnamed)
            raise CredentialsError(f"{folder}: {len(unnamed)} parties have role {role.name} ({ids}); name them in "
                                   f"{mapping_file} ([parties] with {' = , '.join(free) or 'labels'} = \"<EUI-64>\")")
    return labels


@cache
def keystore_pki(folder: Path, root: Path | None = None, issuing: Path | None = None,
                 device: Path | None = None) -> pki_module.Pki:
    """A ``Pki`` over a plain key store folder (read, never written)."""
    try:
        store = KeyStore(folder)
    except KeyStoreError as err:
        raise CredentialsError(str(err)) from None
    organisations, devices, parties = [], [], {}
    try:
        for entry in store.entries():
            if not store.has_certificate(entry.entity_id, entry.usage):
                continue
            role = certs.role(store.certificate(entry.entity_id, entry.usage))
            if role is None:
                devices.append(entry)
            else:
                organisations.append(entry)
                ids = parties.setdefault(role, [])
                if entry.entity_id not in ids:
                    ids.append(entry.entity_id)
    except (OSError, ValueError) as err:
        raise CredentialsError(f"{folder}: a key store file cannot be read: {err}") from None
    root_c, issuing_c, device_c = _cas(folder, root, issuing, device, store, organisations, devices)
    pki = pki_module.Pki(f"keystore:{folder}", root_c, issuing_c, device_c)
    named, named_devices = _mapping(folder)
    labels = _labels(folder, parties, named)
    pki.devices.update(named_devices)
    for sub, into in (("xmlsign", pki.xml_signing), ("variants", pki.variants)):
        for pem in sorted((folder / sub).glob("*.pem")) if (folder / sub).is_dir() else ():
            into[pem.stem] = _credential(pem)
    for entry in organisations + devices:
        private = store.private_key(entry.entity_id, entry.usage) \
            if store.has_private_key(entry.entity_id, entry.usage) else None
        pki.credentials[(entry.entity_id, entry.usage)] = Credential(store.certificate(entry.entity_id, entry.usage),
                                                                     private)  # type: ignore[arg-type]
    for label, entity in labels.items():
        usages = tuple(u for u in Usage if (entity, u) in pki.credentials)
        role = next((r for r, ids in parties.items() if entity in ids), RemotePartyRole.OTHER)
        pki.parties[label] = PartySpec(label, entity, role, usages)
    return pki
