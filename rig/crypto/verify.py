"""Checking a captured frame's signature and MAC against a key store.

Used by ``gbcs-rig decode --keystore`` and by tests. The MAC key pair is not named in the frame:
a command is MACed by the access control broker (ACB) for the recipient device, a response or
alert by the device for its recipient. Each plausible pair for which the key store holds one
private key is tried; the result names the pair that verified.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rig.gbcs import CraFlag, Message, RemotePartyRole

from . import certs
from .frames import verify_mac, verify_signature
from .keystore import KeyStore, KeyStoreError, Usage


class Verdict(enum.Enum):
    VALID = "VALID"
    INVALID = "INVALID"
    ABSENT = "ABSENT"  # the frame carries none
    NO_KEY = "NO KEY"  # the key store cannot check it


@dataclass(frozen=True)
class Check:
    verdict: Verdict
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.verdict.value}{f' ({self.detail})' if self.detail else ''}"


def access_control_brokers(keystore: KeyStore) -> list[bytes]:
    """Entity ids whose KA certificate carries the ACB role (OU 04)."""
    found = []
    for entry in keystore.entries():
        if entry.usage is Usage.KA and keystore.has_certificate(entry.entity_id, Usage.KA):
            if certs.role(keystore.certificate(entry.entity_id, Usage.KA)) == RemotePartyRole.ACCESS_CONTROL_BROKER:
                found.append(entry.entity_id)
    return found


def check_signature(frame: bytes, message: Message, keystore: KeyStore) -> Check:
    if message.signature is None:
        return Check(Verdict.ABSENT)
    try:
        key = keystore.public_key(message.originator_id, Usage.DS)
    except KeyStoreError as err:
        return Check(Verdict.NO_KEY, str(err))
    ok = verify_signature(frame, message, key)
    detail = f"{message.originator_id.hex().upper()} DS"
    return Check(Verdict.VALID if ok else Verdict.INVALID, detail)


def _mac_pairs(message: Message, keystore: KeyStore) -> list[tuple[bytes, bytes]]:
    if message.cra_flag == CraFlag.COMMAND:
        pairs = [(acb, message.recipient_id) for acb in access_control_brokers(keystore)]
        pairs.append((message.originator_id, message.recipient_id))
    else:
        pairs = [(message.originator_id, message.recipient_id)]
        pairs += [(message.originator_id, acb) for acb in access_control_brokers(keystore)]
    return pairs


def check_mac(frame: bytes, message: Message, keystore: KeyStore) -> Check:
    if message.mac is None:
        return Check(Verdict.ABSENT)
    tried = False
    for a, b in _mac_pairs(message, keystore):
        for own, peer in ((a, b), (b, a)):
            if keystore.has_private_key(own, Usage.KA):
                try:
                    peer_key = keystore.public_key(peer, Usage.KA)
                except KeyStoreError:
                    continue
                tried = True
                if verify_mac(frame, message, keystore.private_key(own, Usage.KA), peer_key):
                    return Check(Verdict.VALID, f"KA {a.hex().upper()} / {b.hex().upper()}")
                break
    if not tried:
        return Check(Verdict.NO_KEY, "no KA private key for either party")
    return Check(Verdict.INVALID)
