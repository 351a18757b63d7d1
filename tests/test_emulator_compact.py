"""Idle emulated devices are compact (issue 14: <= 4 KiB each): private keys held as DER and
materialised on use, the same key whatever the cache did meanwhile."""

from __future__ import annotations

from dataclasses import replace

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from firmware_emu import DeviceIdentity, DeviceType, private_keys
from rig.gbcs import decode

from .emu_helpers import new_device


def _identity() -> tuple[DeviceIdentity, ec.EllipticCurvePrivateKey, ec.EllipticCurvePrivateKey]:
    ds, ka = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    return DeviceIdentity(DeviceType.ESME, bytes(8), ds, ka), ds, ka


def test_keys_rest_as_der_and_come_back_as_the_same_keys(monkeypatch):
    identity, ds, ka = _identity()
    held = [value for value in vars(identity).values() if isinstance(value, bytes) and len(value) > 100]
    assert len(held) == 2  # both private keys as DER, no key object on the identity itself
    assert not any(isinstance(v, ec.EllipticCurvePrivateKey) for v in vars(identity).values())
    monkeypatch.setattr(private_keys, "MATERIALISED", private_keys._Materialised(capacity=1))
    signature = identity.ds_key.sign(b"data", ec.ECDSA(hashes.SHA256()))  # loaded again from DER
    ds.public_key().verify(signature, b"data", ec.ECDSA(hashes.SHA256()))
    assert identity.ka_key.private_numbers() == ka.private_numbers()
    assert identity.ds_key.private_numbers() == ds.private_numbers()
    assert private_keys.MATERIALISED.loads >= 2
    assert replace(identity, ka_key=None).ka_key is None and identity.ka_key is not None


def test_a_device_whose_keys_were_evicted_still_migrates_and_signs(fixture_pki, monkeypatch):
    device, head, _ = new_device(fixture_pki)
    monkeypatch.setattr(private_keys, "MATERIALISED", private_keys._Materialised(capacity=0))
    frame = head.seal(head.migration(), "tcos")
    [response] = device.receive(frame)
    message = decode(response)
    assert message.payload.execution_outcome.all_succeeded and head.device_signed(message, response)
