"""An SMKI-like test PKI, deterministic from a seed.

Every private key is derived from ``SHA-256(seed | label)`` and every signature is RFC 6979
deterministic, so ``generate(seed)`` returns identical bytes on every run and the committed
``fixtures/pki`` can be regenerated and compared bit for bit. The keys are test keys derived
from a published seed: they protect nothing.

The parties mirror the RTDS / DCC Boxed set (recovery, ACB, transitional CoS, WAN provider,
two suppliers, network operator) plus the **ECoS party**: a second role-5 organisation with its
own entity id and key, which is what a TCoS to ECoS migration installs. Negative variants cover
the certificate failures a device must reject.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from rig.crypto.certs import key_id_method2
from rig.crypto.keystore import Usage
from rig.gbcs.tables import KeyUsage, RemotePartyRole

from . import profiles

DEFAULT_SEED = "gbcs-rig test PKI v1"
_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _utc(year: int, month: int = 1, day: int = 1, end_of_day: bool = False) -> _dt.datetime:
    if end_of_day:
        return _dt.datetime(year, month, day, 23, 59, 59, tzinfo=_dt.UTC)
    return _dt.datetime(year, month, day, tzinfo=_dt.UTC)


ROOT_VALIDITY = (_utc(2020), _utc(2060, 12, 31, True))
CA_VALIDITY = (_utc(2020), _utc(2055, 12, 31, True))
ORG_VALIDITY = (_utc(2024), _utc(2044, 12, 31, True))
EXPIRED_VALIDITY = (_utc(2014), _utc(2024, 1, 1, True))
DEVICE_NOT_BEFORE = _utc(2024)

_KU = {Usage.DS: KeyUsage.DIGITAL_SIGNATURE, Usage.KA: KeyUsage.KEY_AGREEMENT, Usage.PP_KA: KeyUsage.KEY_AGREEMENT}


@dataclass(frozen=True)
class PartySpec:
    """A remote party of the test PKI (a row of the table below)."""

    label: str
    entity_id: bytes
    role: RemotePartyRole
    usages: tuple[Usage, ...]
    common_name: str | None = None
    mpids: tuple[str, ...] = ()  # for the XML-signing certificate of a DCC user


def _eui(text: str) -> bytes:
    return bytes.fromhex(text)


#: remote parties; the "7E57" prefix keeps generated ids apart from the RTDS / DCC ones
PARTIES: tuple[PartySpec, ...] = (
    PartySpec("recovery", _eui("7E57000000000001"), RemotePartyRole.RECOVERY, (Usage.DS,), "TESTRECOVERY"),
    PartySpec("acb", _eui("7E57000000000002"), RemotePartyRole.ACCESS_CONTROL_BROKER, (Usage.DS, Usage.KA), "TESTACB"),
    PartySpec("tcos", _eui("7E57000000000004"), RemotePartyRole.TRANSITIONAL_COS, (Usage.DS,), "TESTTCOS"),
    PartySpec("ecos", _eui("7E57000000000005"), RemotePartyRole.TRANSITIONAL_COS, (Usage.DS,), "TESTECOS"),
    PartySpec("wan_provider", _eui("7E57000000000007"), RemotePartyRole.WAN_PROVIDER, (Usage.DS, Usage.KA), "TESTWANP"),
    PartySpec("supplier_a", _eui("7E57000000010000"), RemotePartyRole.SUPPLIER, (Usage.DS, Usage.KA, Usage.PP_KA),
              "TESTSUPPLIERA", ("SUPA",)),
    PartySpec("network_operator", _eui("7E57000000020000"), RemotePartyRole.NETWORK_OPERATOR, (Usage.DS, Usage.KA),
              "TESTNO", ("DNOA",)),
    PartySpec("supplier_b", _eui("7E57000000030000"), RemotePartyRole.SUPPLIER, (Usage.DS, Usage.KA, Usage.PP_KA),
              "TESTSUPPLIERB", ("SUPB", "SUPC")),
)

#: devices: label -> (device type, entity id)
DEVICES: dict[str, tuple[str, bytes]] = {
    "esme": ("ESME", _eui("7E570D00000000A0")),
    "gsme": ("GSME", _eui("7E570D00000000A1")),
    "chf": ("CHF", _eui("7E570D00000000A2")),
    "gpf": ("GPF", _eui("7E570D00000000A3")),
}


def derive_key(seed: str, label: str) -> ec.EllipticCurvePrivateKey:
    """P-256 private key from the seed and a label (scalar in [1, n-1])."""
    digest = hashlib.sha256(f"{seed}|key|{label}".encode()).digest()
    scalar = int.from_bytes(digest, "big") % (_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def derive_serial(seed: str, label: str) -> int:
    """A positive 16-byte serial number, as in the RTDS certificates."""
    digest = bytearray(hashlib.sha256(f"{seed}|serial|{label}".encode()).digest()[:16])
    digest[0] = (digest[0] & 0x7F) | 0x10
    return int.from_bytes(digest, "big")


@dataclass
class Credential:
    """One certificate and its private key."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey


@dataclass
class Pki:
    """The generated PKI in memory (``rig.pki.store`` writes and reads it)."""

    seed: str
    root: Credential
    issuing_ca: Credential
    device_ca: Credential
    #: (entity id, usage) -> credential, for remote parties and devices
    credentials: dict[tuple[bytes, Usage], Credential] = field(default_factory=dict)
    #: label -> entity id (remote parties) ; device label -> (type, entity id)
    parties: dict[str, PartySpec] = field(default_factory=dict)
    devices: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    #: XML-signing certificates of DCC users (role 135), by label
    xml_signing: dict[str, Credential] = field(default_factory=dict)
    #: negative-test material, by name
    variants: dict[str, Credential] = field(default_factory=dict)
    #: issuing CA of the "unknown" hierarchy (its root is not trusted by any device)
    unknown_ca: Credential | None = None

    def entity(self, label: str) -> bytes:
        if label in self.parties:
            return self.parties[label].entity_id
        return self.devices[label][1]

    def credential(self, label: str, usage: Usage) -> Credential:
        return self.credentials[(self.entity(label), usage)]


def _issuer(credential: Credential) -> profiles.Issuer:
    return profiles.Issuer(credential.certificate.subject, credential.private_key,
                           key_id_method2(credential.private_key.public_key()))


def _org(seed: str, label: str, issuer: Credential, spec: PartySpec, usage: Usage, *,
         key_label: str | None = None, role: int | object | None = ..., key_usage: KeyUsage | None = None,
         validity: tuple[_dt.datetime, _dt.datetime] = ORG_VALIDITY) -> Credential:
    key = derive_key(seed, key_label or label)
    cert = profiles.organisation_certificate(
        key.public_key(), _issuer(issuer), entity_id=spec.entity_id,
        role=spec.role if role is ... else role, key_usage=key_usage or _KU[usage],
        serial=derive_serial(seed, label), not_before=validity[0], not_after=validity[1],
        common_name=spec.common_name if usage is Usage.DS else None,
    )
    return Credential(cert, key)


def device_credential(seed: str, device_ca: Credential, device_id: bytes, usage: Usage) -> Credential:
    """A device DS or KA credential (also used to provision fleets of emulated devices)."""
    label = f"device/{device_id.hex()}/{usage.value}"
    key = derive_key(seed, label)
    cert = profiles.device_certificate(key.public_key(), _issuer(device_ca), device_id=device_id,
                                       key_usage=_KU[usage], serial=derive_serial(seed, label),
                                       not_before=DEVICE_NOT_BEFORE)
    return Credential(cert, key)


def generate(seed: str = DEFAULT_SEED) -> Pki:
    """The whole test PKI from ``seed``."""
    root_key = derive_key(seed, "root")
    root = Credential(profiles.root_certificate(root_key, "TROOT", derive_serial(seed, "root"), *ROOT_VALIDITY),
                      root_key)

    def ca(label: str, role_hex: str, cn: str, parent: Credential, policy=None) -> Credential:
        key = derive_key(seed, label)
        kwargs = {"policy": policy} if policy is not None else {}
        cert = profiles.ca_certificate(key, _issuer(parent), role_hex, cn, derive_serial(seed, label),
                                       *CA_VALIDITY, **kwargs)
        return Credential(cert, key)

    from rig.crypto.certs import DEVICE_POLICY

    pki = Pki(seed, root, ca("issuing-ca", "07", "T1", root), ca("device-ca", "07", "TD1", root, DEVICE_POLICY))
    for spec in PARTIES:
        pki.parties[spec.label] = spec
        for usage in spec.usages:
            pki.credentials[(spec.entity_id, usage)] = _org(seed, f"{spec.label}/{usage.value}", pki.issuing_ca,
                                                            spec, usage)
        if spec.mpids:
            key = derive_key(seed, f"{spec.label}/xmlsign")
            pki.xml_signing[spec.label] = Credential(profiles.organisation_certificate(
                key.public_key(), _issuer(pki.issuing_ca), entity_id=spec.entity_id,
                role=RemotePartyRole.XML_SIGN, key_usage=KeyUsage.DIGITAL_SIGNATURE,
                serial=derive_serial(seed, f"{spec.label}/xmlsign"), not_before=ORG_VALIDITY[0],
                not_after=ORG_VALIDITY[1], common_name=spec.common_name, mpids=spec.mpids,
            ), key)
    for label, (device_type, device_id) in DEVICES.items():
        pki.devices[label] = (device_type, device_id)
        for usage in (Usage.DS, Usage.KA):
            pki.credentials[(device_id, usage)] = device_credential(seed, pki.device_ca, device_id, usage)
    _variants(pki)
    return pki


def _variants(pki: Pki) -> None:
    """Negative-test certificates (each named for what is wrong with it)."""
    seed = pki.seed
    specs = pki.parties
    tcos = specs["tcos"]
    supplier_b = specs["supplier_b"]
    variants = pki.variants
    # the TCoS certificate past its notAfter, same key and entity id as the valid one
    variants["tcos_expired"] = _org(seed, "variant/tcos_expired", pki.issuing_ca, tcos, Usage.DS,
                                    key_label="tcos/ds", validity=EXPIRED_VALIDITY)
    # a different hierarchy: its root is in no device's root cell
    unknown_root_key = derive_key(seed, "unknown-root")
    unknown_root = Credential(profiles.root_certificate(unknown_root_key, "TROOTX", derive_serial(seed, "unknown-root"),
                                                        *ROOT_VALIDITY), unknown_root_key)
    unknown_ca_key = derive_key(seed, "unknown-ca")
    pki.unknown_ca = Credential(profiles.ca_certificate(unknown_ca_key, _issuer(unknown_root), "07", "T2",
                                                        derive_serial(seed, "unknown-ca"), *CA_VALIDITY), unknown_ca_key)
    variants["unknown_ca_supplier_b_ds"] = _org(seed, "variant/unknown_ca", pki.unknown_ca, supplier_b, Usage.DS,
                                                key_label="supplier_b/ds")
    # supplier B's DS key certified for key agreement: wrong key usage for a DS cell
    variants["wrong_key_usage_supplier_b_ds"] = _org(seed, "variant/wrong_ku", pki.issuing_ca, supplier_b, Usage.DS,
                                                     key_label="supplier_b/ds", key_usage=KeyUsage.KEY_AGREEMENT)
    # supplier B's DS key with the network operator role in its OU
    variants["wrong_role_supplier_b_ds"] = _org(seed, "variant/wrong_role", pki.issuing_ca, supplier_b, Usage.DS,
                                                key_label="supplier_b/ds", role=RemotePartyRole.NETWORK_OPERATOR)
    # supplier B's DS key with no OU at all
    variants["missing_ou_supplier_b_ds"] = _org(seed, "variant/missing_ou", pki.issuing_ca, supplier_b, Usage.DS,
                                                key_label="supplier_b/ds", role=None)
    # a supplier B DS certificate that expired (time-based checks apply / disapply)
    variants["expired_supplier_b_ds"] = _org(seed, "variant/expired_supplier_b", pki.issuing_ca, supplier_b,
                                             Usage.DS, key_label="supplier_b/ds", validity=EXPIRED_VALIDITY)
