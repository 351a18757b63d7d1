"""Material a test house attacks an emulated meter with: certificates ``cryptography`` cannot
load, an organisation certificate the root signed directly, and views of a device's trust
state (what a rejected command must leave untouched, in memory and on disk)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from firmware_emu import EmulatedDevice
from firmware_emu.store import STATE_FILE
from rig.crypto import Usage
from rig.crypto.certs import key_id_method2
from rig.gbcs import RemotePartyRole
from rig.pki import Pki
from rig.pki import profiles as pki_profiles

#: in-place byte edits that keep every DER length, each making the certificate unloadable
POISONS = {
    # X.509 version field v3 (2) -> 5: cryptography raises InvalidVersion
    "version": (bytes.fromhex("a003020102"), bytes.fromhex("a003020105")),
    # named curve prime256v1 -> an unknown arc: UnsupportedAlgorithm
    "curve": (bytes.fromhex("06082a8648ce3d030107"), bytes.fromhex("06082a8648ce3d030163")),
    # public key algorithm id-ecPublicKey -> an unknown arc: UnsupportedAlgorithm
    "key-type": (bytes.fromhex("06072a8648ce3d0201"), bytes.fromhex("06072a8648ce3d0263")),
}


def poisoned(certificate: bytes, poison: str) -> bytes:
    old, new = POISONS[poison]
    assert old in certificate, poison
    return certificate.replace(old, new, 1)


def der(cert) -> bytes:
    return cert.public_bytes(Encoding.DER)


def signed_by_root(pki: Pki, label: str = "supplier_b", usage: Usage = Usage.DS) -> bytes:
    """``label``'s certificate re-issued by the root itself, bypassing the issuing CA."""
    credential = pki.credential(label, usage)
    root = pki.root
    issuer = pki_profiles.Issuer(root.certificate.subject, root.private_key, key_id_method2(root.private_key.public_key()))
    spec = pki.parties[label]
    cert = pki_profiles.organisation_certificate(
        credential.private_key.public_key(), issuer, entity_id=spec.entity_id, role=int(spec.role),
        key_usage=credential_key_usage(usage), serial=0x5EED_0001,
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), not_after=dt.datetime(2040, 1, 1, tzinfo=dt.UTC))
    return der(cert)


def credential_key_usage(usage: Usage):
    from rig.gbcs import KeyUsage

    return KeyUsage.DIGITAL_SIGNATURE if usage is Usage.DS else KeyUsage.KEY_AGREEMENT


def _trust(document: dict) -> dict:
    """The part of a state document a rejected command must not change: everything but the
    security log and the alert counter (a rejection's own GBCS-defined effects)."""
    return {k: v for k, v in document.items() if k not in ("events", "alert_counter")}


def trust_state(device: EmulatedDevice) -> dict:
    return _trust(device.state.to_json())


def disk_trust_state(folder: Path) -> dict:
    return _trust(json.loads((Path(folder) / STATE_FILE).read_text()))


TCOS = RemotePartyRole.TRANSITIONAL_COS
SUPPLIER = RemotePartyRole.SUPPLIER


def poisoned_change_of_supplier(pki: Pki, *, poison: str = "curve", when: dt.datetime | None = None,
                                counter: int = 20_001) -> bytes:
    """A TCoS-signed, ACB-MACed change of supplier for the fixture ESME whose supplier DS
    replacement certificate ``cryptography`` cannot load (immediate, or future dated)."""
    from dataclasses import replace

    from .emu_helpers import new_device

    _device, head, _clock = new_device(pki)
    replacements = head.supplier_replacements()
    replacements[0] = replace(replacements[0], certificate=poisoned(replacements[0].certificate, poison))
    command = head.change_of_supplier(signer_label="tcos", replacements=replacements, when=when, counter=counter)
    return head.seal(command, "tcos")
