"""The rig's side of contract tests: signed commands to the stand-in meter, checked answers."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from rig.crypto import Usage, seal, verify_signature
from rig.gbcs import CraFlag, GbcsDecodeError, Message, decode
from rig.transport.base import Frame
from rig.transport.testing import DEFAULT_PKI_DIR, device_signing_key, keystore_for, manifest_device_id

__all__ = ["DEFAULT_PKI_DIR", "OPAQUE_CODE", "SUPPLIER", "Peer", "peer_for"]

#: the test PKI's supplier A: the originator of every contract-test command
SUPPLIER = bytes.fromhex("7E57000000010000")
#: ECS10 "Send Message to ESME": a use case the codec keeps opaque, so EchoMeter echoes the payload
OPAQUE_CODE = 0x0021


@dataclass(frozen=True)
class Peer:
    """What a test knows about the far end: its entity id and the key its responses are signed with."""

    device_id: bytes
    public_key: ec.EllipticCurvePublicKey

    def command(self, counter: int, payload: bytes = b"ping") -> bytes:
        keystore = keystore_for(DEFAULT_PKI_DIR)
        message = Message(CraFlag.COMMAND, counter, SUPPLIER, self.device_id, OPAQUE_CODE, bytes(payload))
        return seal(message, signer=keystore.private_key(SUPPLIER, Usage.DS), deterministic=True)

    def answers(self, counter: int):
        """Predicate: a frame that decodes as this device's response with ``counter``."""

        def predicate(frame: Frame) -> bool:
            try:
                message = decode(frame.data)
            except GbcsDecodeError:
                return False
            return (message.cra_flag == CraFlag.RESPONSE and message.originator_counter == counter
                    and message.originator_id == self.device_id)

        return predicate

    def genuine_answer(self, counter: int):
        """Predicate: ``answers(counter)`` and the signature verifies."""
        answers = self.answers(counter)
        return lambda frame: answers(frame) and self.verified(frame.data) is not None

    def verified(self, data: bytes) -> Message | None:
        """The decoded response when it decodes and its signature verifies, else None."""
        try:
            message = decode(bytes(data))
        except GbcsDecodeError:
            return None
        if message.originator_id != self.device_id or not verify_signature(bytes(data), message, self.public_key):
            return None
        return message

    def check(self, frame: Frame, counter: int, payload: bytes | None = None) -> Message:
        message = self.verified(frame.data)
        assert message is not None, f"response {frame.hex[:40]}... does not decode and verify"
        assert message.cra_flag == CraFlag.RESPONSE
        assert message.originator_counter == counter
        assert message.recipient_id == SUPPLIER
        assert message.message_code == OPAQUE_CODE
        if payload is not None:
            assert message.payload == payload
        return message


def peer_for(device_type: str = "ESME", entity_id: bytes | None = None) -> Peer:
    device_id = entity_id if entity_id is not None else manifest_device_id(DEFAULT_PKI_DIR, device_type)
    return Peer(device_id, device_signing_key(DEFAULT_PKI_DIR, device_id).public_key())
