"""A small head end for emulator tests: builds and seals commands as the DCC parties would."""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from firmware_emu import EmulatedDevice, ManualClock
from rig.crypto import Usage, seal, verify_signature
from rig.gbcs import CraFlag, KeyUsage, Message, RemotePartyRole, decode
from rig.gbcs import build as b
from rig.pki import Pki
from rig.provision import create_device

UTC = dt.UTC
START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def der(cert) -> bytes:
    return cert.public_bytes(Encoding.DER)


class Head:
    """Builds commands for one device on the fixture PKI and reads its answers."""

    def __init__(self, pki: Pki, device: EmulatedDevice):
        self.pki = pki
        self.device = device
        self.counter = 10_000

    def next(self) -> int:
        self.counter += 1
        return self.counter

    def key(self, label: str, usage: Usage = Usage.DS) -> ec.EllipticCurvePrivateKey:
        return self.pki.credential(label, usage).private_key

    def cert(self, label: str, usage: Usage = Usage.DS):
        return self.pki.credential(label, usage).certificate

    def seal(self, message: Message, signer: str | ec.EllipticCurvePrivateKey | None,
             mac_key: ec.EllipticCurvePrivateKey | None = None) -> bytes:
        signing_key = self.key(signer) if isinstance(signer, str) else signer
        macd = message.mac_header is not None
        device_ka = self.device.identity.ka_key.public_key()
        return seal(message, signer=signing_key,
                    mac_private_key=(mac_key or self.key("acb", Usage.KA)) if macd else None,
                    mac_peer=device_ka if macd else None)

    def supplier_replacements(self, label: str = "supplier_b", ds=None):
        return [b.replacement(der(ds or self.cert(label, Usage.DS)), RemotePartyRole.SUPPLIER, KeyUsage.DIGITAL_SIGNATURE),
                b.replacement(der(self.cert(label, Usage.KA)), RemotePartyRole.SUPPLIER, KeyUsage.KEY_AGREEMENT),
                b.replacement(der(self.cert(label, Usage.PP_KA)), RemotePartyRole.SUPPLIER, KeyUsage.KEY_AGREEMENT, 1)]

    def migration(self, *, counter: int | None = None, ecos_cert=None, path=None, disapply: bool = True,
                  **changes) -> Message:
        return b.cs02b_command(
            mode=6, originator_id=self.pki.entity("tcos"), recipient_id=self.device.entity_id,
            counter=counter or self.next(),
            replacements=[b.replacement(der(ecos_cert or self.cert("ecos")), RemotePartyRole.TRANSITIONAL_COS,
                                        KeyUsage.DIGITAL_SIGNATURE)],
            certification_path=path if path is not None else [der(self.pki.issuing_ca.certificate)],
            disapply_time_checks=disapply, **changes)

    def change_of_supplier(self, *, signer_label: str = "ecos", counter: int | None = None, replacements=None,
                           path=None, when=None, **changes) -> Message:
        return b.cs02b_command(
            mode=7, originator_id=self.pki.entity(signer_label), recipient_id=self.device.entity_id,
            counter=counter or self.next(), replacements=replacements or self.supplier_replacements(),
            certification_path=path if path is not None else [der(self.pki.issuing_ca.certificate)],
            execution_time=when, other_changes=changes.pop("other_changes", (b.supplier_floor(0, 0),)), **changes)

    def send(self, frame: bytes) -> tuple[Message | None, list[Message]]:
        """Deliver; return (response or None, alerts)."""
        out = [decode(f) for f in self.device.receive(frame)]
        response = next((m for m in out if m.cra_flag == CraFlag.RESPONSE), None)
        return response, [m for m in out if m.cra_flag == CraFlag.ALERT]

    def device_signed(self, frame_message: Message, frame: bytes) -> bool:
        return verify_signature(frame, frame_message, self.device.identity.ds_key.public_key())

    def cells(self) -> dict:
        return dict(self.device.state.cells)

    def read_back(self, roles, signer: str = "tcos") -> Message:
        """CS02a signed by ``signer`` (a DS cell holder) for ``roles``."""
        command = b.cs02a_command(originator_id=self.pki.entity(signer), recipient_id=self.device.entity_id,
                                  counter=self.next(), authorising_cell=b.ds_cell(RemotePartyRole.TRANSITIONAL_COS),
                                  roles=roles, macd=False)
        response, _ = self.send(self.seal(command, signer))
        return response


def new_device(pki: Pki, device_type: str = "ESME", **kwargs) -> tuple[EmulatedDevice, Head, ManualClock]:
    clock = kwargs.pop("clock", None) or ManualClock(START)
    device = create_device(device_type, pki=pki, clock=clock, **kwargs)
    return device, Head(pki, device), clock
