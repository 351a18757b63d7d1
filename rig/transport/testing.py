"""Test doubles for the transport layer: an echoing meter and a hub in front of several.

``EchoMeter`` is **not an emulator**. It implements the ``Endpoint`` protocol just far enough
to make transport tests meaningful end to end: it decodes each inbound GBCS frame with
``rig.gbcs.decode``, checks the command's signature against the originator's key, and answers
with a signed response that echoes the counter and message code (and, for use cases the codec
keeps opaque, the payload itself, so a 2 KB command comes back as a 2 KB response). Anything
else (undecodable bytes, a bad signature, another recipient, a response or alert) gets no
answer and is counted, which is how tests see that a corrupted frame was never taken as
valid. The real device models (ESME, GSME, CHF, GPF) live in ``firmware_emu`` and are built
by ``rig.provision``; ``rig.transport.serve.make_endpoint`` picks them when available.

Fleet members get the entity ids ``rig.provision.fleet_ids`` gives (``7E5710`` + a 1-based
index in five octets) and signing keys derived from the test PKI's seed and device CA
(``rig.pki.device_credential``), so a test can derive the same public key to verify their
responses, and a fleet means the same devices whichever factory built it.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from rig.crypto import KeyStore, KeyStoreError, Usage, seal, verify_signature
from rig.gbcs import CraFlag, Cs02bResponse, GbcsDecodeError, Message, decode
from rig.gbcs.registry import schema_for
from rig.gbcs.tables import MODE_MESSAGE_CODE
from rig.provision import fixture_pki_dir, load_pki

#: the project's generated test PKI (``fixtures/pki`` in a checkout, a generated copy otherwise)
DEFAULT_PKI_DIR = fixture_pki_dir()
#: entity-id prefix of fleet members (as ``rig.provision.fleet_ids``)
FLEET_PREFIX = bytes.fromhex("7E5710")
#: CS02b message codes: the stand-in answers them with a bare commandAccepted response
_CS02B_CODES = frozenset(MODE_MESSAGE_CODE.values())


def fleet_entity_id(index: int) -> bytes:
    """Entity id of fleet member ``index`` (0-based)."""
    return FLEET_PREFIX + (index + 1).to_bytes(8 - len(FLEET_PREFIX), "big")


def manifest_device_id(pki_dir: Path, device_type: str) -> bytes:
    """Entity id of the first device of ``device_type`` in a test PKI manifest (``pki.toml``)."""
    manifest = tomllib.loads((pki_dir / "pki.toml").read_text())
    for row in manifest.get("devices", {}).values():
        if row["type"].upper() == device_type.upper():
            return bytes.fromhex(row["entity_id"])
    raise KeyStoreError(f"no {device_type} device in {pki_dir / 'pki.toml'}")


def device_signing_key(pki_dir: Path, device_id: bytes) -> ec.EllipticCurvePrivateKey:
    """The DS key of a device: from the key store when listed there, else derived for a fleet member."""
    keystore = keystore_for(pki_dir)
    if keystore.has_private_key(device_id, Usage.DS):
        return keystore.private_key(device_id, Usage.DS)
    from rig.pki import device_credential

    loaded = load_pki(pki_dir)
    return device_credential(loaded.seed, loaded.device_ca, device_id, Usage.DS).private_key


@cache
def keystore_for(pki_dir: Path) -> KeyStore:
    return KeyStore(pki_dir / "keystore")


@dataclass
class EchoMeter:
    """Test double answering signed GBCS commands with signed echo responses (see module doc)."""

    device_id: bytes
    signer: ec.EllipticCurvePrivateKey
    #: originators' DS keys for checking command signatures; None accepts any signature
    keystore: KeyStore | None = None
    device_type: str = "ESME"
    counts: Counter[str] = field(default_factory=Counter)
    #: frames ``poll`` hands out (tests queue unsolicited frames here)
    outbox: list[bytes] = field(default_factory=list)

    @classmethod
    def from_pki(cls, device_type: str = "ESME", pki_dir: str | Path | None = None, *,
                 entity_id: bytes | None = None) -> EchoMeter:
        root = Path(pki_dir) if pki_dir is not None else DEFAULT_PKI_DIR
        device_id = entity_id if entity_id is not None else manifest_device_id(root, device_type)
        return cls(device_id, device_signing_key(root, device_id), keystore_for(root), device_type.upper())

    def receive(self, frame: bytes) -> list[bytes]:
        try:
            command = decode(bytes(frame))
        except GbcsDecodeError:
            self.counts["undecodable"] += 1
            return []
        if command.cra_flag != CraFlag.COMMAND or command.recipient_id != self.device_id:
            self.counts["not_for_me"] += 1
            return []
        if not self._signature_ok(frame, command):
            self.counts["bad_signature"] += 1
            return []
        payload = self._response_payload(command)
        if payload is None:
            self.counts["unsupported"] += 1
            return []
        response = Message(CraFlag.RESPONSE, command.originator_counter, self.device_id, command.originator_id,
                           command.message_code, payload)
        self.counts["answered"] += 1
        return [seal(response, signer=self.signer, deterministic=True)]

    def poll(self) -> list[bytes]:
        out, self.outbox = self.outbox, []
        return out

    def _signature_ok(self, frame: bytes, command: Message) -> bool:
        if self.keystore is None:
            return True
        if command.signature is None:
            return False
        try:
            key = self.keystore.public_key(command.originator_id, Usage.DS)
        except KeyStoreError:
            return False
        return verify_signature(bytes(frame), command, key)

    @staticmethod
    def _response_payload(command: Message):
        if command.message_code in _CS02B_CODES:
            return Cs02bResponse(None)
        if schema_for(CraFlag.RESPONSE, command.message_code) is None and isinstance(command.payload, bytes):
            return command.payload  # opaque use case: echo it
        return None


@dataclass
class EchoHub:
    """Test double of a comms hub: routes by the grouping header's recipient id to its meters."""

    devices: list[EchoMeter]
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._by_id = {device.device_id: device for device in self.devices}

    def receive(self, frame: bytes) -> list[bytes]:
        try:
            recipient = decode(bytes(frame)).recipient_id
        except GbcsDecodeError:
            self.counts["undecodable"] += 1
            return []
        device = self._by_id.get(recipient)
        if device is None:
            self.counts["unknown_recipient"] += 1
            return []
        return device.receive(frame)

    def poll(self) -> list[bytes]:
        return [frame for device in self.devices for frame in device.poll()]


def make_stand_in(device_type: str = "ESME", pki_dir: str | Path | None = None, fleet: int = 0):
    """One ``EchoMeter``, or an ``EchoHub`` over ``fleet`` of them (ids from ``fleet_entity_id``)."""
    if fleet <= 0:
        return EchoMeter.from_pki(device_type, pki_dir)
    return EchoHub([EchoMeter.from_pki(device_type, pki_dir, entity_id=fleet_entity_id(i))
                    for i in range(fleet)])
