"""The CoS party signs CS02b pre-commands; the DSP checks them (SRPD 8.4) and adds the ACB MAC.

Who signs what (duis-ecos.md 1.4): the CoS party signs the grouping header and payload with the
key of the transitionalCoS trust anchor the device holds, as the Known Remote Party; the DSP,
acting as access control broker, wraps the signed pre-command in the MAC header and appends the
12-byte GMAC computed from the ACB key agreement private key and the device's key agreement
public key (from the device certificate). Keeping the two steps apart lets the DSP check that
the CoS party signed exactly the command that was asked for before anything is MACed.

The ECoS party holds both keys during migration (the TCoS key transferred to it, SEED-002
POC 2): ``CosParty.sign`` takes the signer's entity id, which routing chooses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rig.crypto import KeyStore, Usage, seal, seal_in_mac_header, verify_signature
from rig.gbcs import GbcsDecodeError, MacHeader, Message, decode

from .ids import EuiLike, eui, eui_text


class CosAuthorisationError(Exception):
    """The DSP's 8.4 check of the CoS party's pre-command failed: nothing is sent."""


@dataclass(frozen=True)
class DccParties:
    """Entity ids of the DCC-side parties the rig plays."""

    tcos: bytes
    ecos: bytes
    acb: bytes
    #: the DCC's own id, used in the AlertIDs it mints (DSP/ACB id by default)
    dcc: bytes | None = None

    @classmethod
    def of(cls, tcos: EuiLike, ecos: EuiLike, acb: EuiLike, dcc: EuiLike | None = None) -> DccParties:
        return cls(eui(tcos), eui(ecos), eui(acb), eui(dcc) if dcc is not None else None)

    @classmethod
    def from_pki(cls, pki) -> DccParties:
        """The test PKI's parties (``rig.pki.Pki``)."""
        return cls(pki.entity("tcos"), pki.entity("ecos"), pki.entity("acb"))

    @property
    def dcc_id(self) -> bytes:
        return self.dcc if self.dcc is not None else self.acb

    def cos_party(self, name: str) -> bytes:
        """``"tcos"`` or ``"ecos"`` (the routing table's values) to an entity id."""
        return {"tcos": self.tcos, "ecos": self.ecos}[name]


class CosParty:
    """Signs pre-commands with the DS key of ``message.originator_id`` (TCoS or ECoS)."""

    def __init__(self, keystore: KeyStore):
        self.keystore = keystore

    def sign(self, message: Message) -> bytes:
        """The signed pre-command: grouping header, payload, 0x40 and r||s; no MAC header."""
        key = self.keystore.private_key(message.originator_id, Usage.DS)
        return seal(message.evolve(mac_header=None, precommand=False), signer=key)


class Dsp:
    """The DSP side of SRPD 8.4 and the ACB MAC."""

    def __init__(self, keystore: KeyStore, parties: DccParties):
        self.keystore = keystore
        self.parties = parties

    def check_authorisation(self, precommand: bytes, expected: Message) -> Message:
        """8.4 (project reading): the pre-command decodes, is what was asked for, and its signature
        verifies with the CoS party's DS certificate."""
        try:
            message = decode(precommand)
        except GbcsDecodeError as err:
            raise CosAuthorisationError(f"pre-command does not decode: {err}") from None
        for name in ("originator_id", "recipient_id", "originator_counter", "message_code", "payload"):
            if getattr(message, name) != getattr(expected, name):
                raise CosAuthorisationError(f"pre-command {name} differs from the command asked for")
        signer = self.keystore.public_key(message.originator_id, Usage.DS)
        if not verify_signature(precommand, message, signer):
            raise CosAuthorisationError(f"CoS signature does not verify with {eui_text(message.originator_id)} DS")
        return message

    def to_command(self, precommand: Message, raw: bytes | None = None) -> bytes:
        """Wrap a checked pre-command in the MAC header and append the ACB MAC for the device
        (its KA public key from the device certificate in the key store). With ``raw``, the
        pre-command's own bytes (``precommand`` decoded from them), those bytes are wrapped as
        they are; without, the message is encoded again: the same frame either way."""
        peer = self.keystore.public_key(precommand.recipient_id, Usage.KA)
        acb = self.keystore.private_key(self.parties.acb, Usage.KA)
        if raw is not None and precommand.layout is not None and precommand.mac_header is None:
            return seal_in_mac_header(raw, precommand, mac_private_key=acb, mac_peer=peer)
        message = replace(precommand, mac_header=MacHeader(), layout=None)
        return seal(message, mac_private_key=acb, mac_peer=peer)

    def authorise(self, message: Message, cos_party: CosParty, *, decoded: bool = True) -> tuple[bytes, Message]:
        """CoS party signs, DSP checks and MACs: the frame to send and its decoded form.

        ``decoded=False`` returns the checked pre-command instead of decoding the frame again:
        the same ids, counter, message code, payload and signature, without the MAC header, for
        callers that only match the answer and read it against the payload (fleet migrations).
        """
        precommand = cos_party.sign(message)
        checked = self.check_authorisation(precommand, message)
        frame = self.to_command(checked, precommand)
        return frame, decode(frame) if decoded else checked
