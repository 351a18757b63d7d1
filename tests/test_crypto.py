"""Signatures and MACs on the exact GBCS byte ranges: RTDS vectors, KDF vectors, samples."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from rig.crypto import (
    EcdhCache,
    KeyStore,
    Usage,
    compute_mac,
    derive_key,
    frames,
    seal,
    sign_raw,
    verify_mac,
    verify_raw,
    verify_signature,
)
from rig.crypto.frames import mac_aad, signed_bytes
from rig.crypto.verify import Verdict, check_mac, check_signature
from rig.gbcs import CraFlag, MacHeader, Message, decode

from .vectors import needs_rtds, read_hex, rtds_params

CS02_FOLDERS = "*_CS02[a-g]*/*.HEX"
ACB = bytes.fromhex("90B3D51F30000002")


def _mac_keys(keystore: KeyStore, message):
    """(private, peer public) for a CS02x MAC: ACB<->device for commands, device<->recipient otherwise.

    Static ECDH: either party's private key with the other's public key gives the same key.
    """
    if message.cra_flag == CraFlag.COMMAND:
        return keystore.private_key(ACB, Usage.KA), keystore.public_key(message.recipient_id, Usage.KA)
    device, peer = message.originator_id, message.recipient_id
    if not keystore.has_private_key(device, Usage.KA):
        device, peer = peer, device
    return keystore.private_key(device, Usage.KA), keystore.public_key(peer, Usage.KA)


@pytest.mark.parametrize("path", rtds_params(CS02_FOLDERS))
def test_rtds_cs02_signatures_and_macs_verify(path, rtds_keystore):
    data = read_hex(path)
    message = decode(data)
    assert message.signature or message.mac or message.precommand
    if message.signature:
        assert verify_signature(data, message, rtds_keystore.public_key(message.originator_id, Usage.DS))
    if message.mac:
        assert verify_mac(data, message, *_mac_keys(rtds_keystore, message))


@pytest.mark.parametrize("path", rtds_params("6.23_CS02bSupplierByTransCoS/*IMMEDIATE_SUCCESS_*_GBCS.HEX")
                         + rtds_params("6.24.1_CS02aMAC/*SUCCESS_RESPONSE_GBCS.HEX"))
def test_flipping_any_byte_of_the_protected_range_breaks_it(path, rtds_keystore):
    data = read_hex(path)
    message = decode(data)
    layout = message.layout
    if message.signature:
        key = rtds_keystore.public_key(message.originator_id, Usage.DS)
        for index in range(layout.grouping_start + 1, layout.payload_end):
            mutated = bytearray(data)
            mutated[index] ^= 0x01
            assert not verify_raw(key, signed_bytes(bytes(mutated), layout), message.signature), index
    if message.mac:
        private, peer = _mac_keys(rtds_keystore, message)
        for index in [*range(layout.grouping_start, layout.signature_end), data.index(0x11, 7)]:
            mutated = bytearray(data)
            mutated[index] ^= 0x01
            try:
                mutated_message = decode(bytes(mutated))
            except ValueError:
                continue  # no longer a frame at all: rejected earlier than the MAC check
            assert not verify_mac(bytes(mutated), mutated_message, private, peer), index


@needs_rtds
@pytest.mark.parametrize("originator,cra,counter,recipient,pair,expected", [
    ("90B3D51F30010000", 1, 0x0000000100000000, "00DB1234567890A0", ("90B3D51F30000002", "00DB1234567890A0"),
     "6A93E360717394015DF93E031218C9A6"),
    ("00DB1234567890A0", 2, 0x0000000100000000, "90B3D51F30010000", ("00DB1234567890A0", "90B3D51F30010000"),
     "03FD30815577C49EB7E3834B63EF8302"),
    ("00DB1234567890A0", 3, 0x00000000000007D1, "90B3D51F30010000", ("00DB1234567890A0", "90B3D51F30010000"),
     "558FB1FA6660AF0D9E8365C47804B8FA"),
])
def test_kdf_reference_values(rtds_keystore, originator, cra, counter, recipient, pair, expected):
    """KDF values published with the DCC's gbcs-parser tests."""
    private = rtds_keystore.private_key(bytes.fromhex(pair[0]), Usage.KA)
    peer = rtds_keystore.public_key(bytes.fromhex(pair[1]), Usage.KA)
    secret = EcdhCache().shared_secret(private, peer)
    key = derive_key(secret, bytes.fromhex(originator), cra, counter, bytes.fromhex(recipient))
    assert key.hex().upper() == expected


def test_samples_verify_with_the_fixture_keystore(samples, fixture_keystore):
    verdicts = []
    for name, data in samples.items():
        message = decode(data)
        signature = check_signature(data, message, fixture_keystore)
        mac = check_mac(data, message, fixture_keystore)
        assert signature.verdict in (Verdict.VALID, Verdict.ABSENT), name
        assert mac.verdict in (Verdict.VALID, Verdict.ABSENT), name
        verdicts.append((signature.verdict, mac.verdict))
    assert (Verdict.VALID, Verdict.VALID) in verdicts and (Verdict.ABSENT, Verdict.VALID) in verdicts


def test_sample_tampering_is_detected(samples, fixture_keystore):
    data = samples["CS02bTransCoSByTransCoS_SUCCESS_COMMAND"]
    message = decode(data)
    tampered = bytearray(data)
    certificate = message.payload.replacements[0].certificate
    tampered[data.index(certificate) + 60] ^= 0x40  # inside the replacement certificate
    tampered_message = decode(bytes(tampered))
    assert check_signature(bytes(tampered), tampered_message, fixture_keystore).verdict is Verdict.INVALID
    assert check_mac(bytes(tampered), tampered_message, fixture_keystore).verdict is Verdict.INVALID


def test_mac_aad_is_security_header_and_grouping_through_signature(samples):
    data = samples["CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_COMMAND"]
    message = decode(data)
    aad = mac_aad(data, message.layout, message)
    assert aad[:6] == bytes.fromhex("110000000000")
    assert aad[6:] == data[message.layout.grouping_start:-12]


def test_raw_signatures_round_trip_and_reject_out_of_range():
    key = ec.generate_private_key(ec.SECP256R1())
    signature = sign_raw(key, b"abc")
    assert len(signature) == 64 and verify_raw(key.public_key(), b"abc", signature)
    assert sign_raw(key, b"abc", deterministic=True) == sign_raw(key, b"abc", deterministic=True)
    assert not verify_raw(key.public_key(), b"abd", signature)
    assert not verify_raw(key.public_key(), b"abc", bytes(64))
    assert not verify_raw(key.public_key(), b"abc", b"\xff" * 64)


def test_ecdh_cache_is_bit_identical_and_hits():
    cache = EcdhCache(capacity=2)
    a, b = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1()).public_key()
    first = cache.shared_secret(a, b)
    assert first == a.exchange(ec.ECDH(), b) == cache.shared_secret(a, b)
    assert (cache.hits, cache.misses) == (1, 1)
    for _ in range(3):
        cache.shared_secret(ec.generate_private_key(ec.SECP256R1()), b)
    assert len(cache._entries) == 2


# -- the sealing and MAC fast paths against the general ones ------------------------------------


def _typed_response(samples) -> Message:
    """A device response built from typed values: no plan, no signature, no MAC header."""
    decoded = decode(samples["CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_RESPONSE"])
    return decoded.evolve(length_forms=None, signature=None, mac_header=None, mac=None, layout=None)


@pytest.mark.parametrize("style", [0, 2])
def test_signed_only_seal_is_the_general_seal(samples, style):
    """``seal`` signs a fresh signed-only message in the encoder's buffer; the bytes are what the
    general path (placeholder, encode, patch) gives, here reached through a placeholder already
    set and through a pre-command, with the same deterministic signature."""
    key = ec.generate_private_key(ec.SECP256R1())
    message = _typed_response(samples)
    fast = seal(message, signer=key, payload_long_form_width=style, deterministic=True)
    assert fast == seal(message.evolve(signature=bytes(64)), signer=key, payload_long_form_width=style,
                        deterministic=True)
    assert fast == seal(message.evolve(precommand=True), signer=key, payload_long_form_width=style,
                        deterministic=True)
    decoded = decode(fast)
    assert decoded.evolve(signature=None) == message and verify_signature(fast, decoded, key.public_key())
    assert fast[decoded.layout.payload_end] == 0x40 and len(fast) == decoded.layout.payload_end + 65


def test_signed_only_seal_signs_the_signed_range_once(samples, monkeypatch):
    """The fast path hands the signer exactly ``signed_bytes`` of the frame (as bytes), once."""
    calls = []

    def signer(key, data, deterministic=False):
        calls.append(data)
        return bytes(range(64))

    monkeypatch.setattr(frames, "sign_raw", signer)
    out = seal(_typed_response(samples), signer=object())
    assert len(calls) == 1 and calls[0].__class__ is bytes
    assert calls[0] == signed_bytes(out, decode(out).layout) and decode(out).signature == bytes(range(64))
    with pytest.raises(ValueError, match="a MAC needs a MAC header"):  # MAC keys without a header
        seal(_typed_response(samples), signer=object(), mac_private_key=ec.generate_private_key(ec.SECP256R1()),
             mac_peer=ec.generate_private_key(ec.SECP256R1()).public_key())


def test_derive_key_is_the_single_step_kdf():
    secret, originator, recipient = bytes(range(32)), bytes.fromhex("90B3D51F30010000"), bytes(range(8))
    for cra, counter in ((1, 0), (2, 0x0000000100000000), (3, (1 << 64) - 1)):
        other_info = (bytes.fromhex("60857406080300") + originator + bytes((9, cra)) + counter.to_bytes(8, "big")
                      + recipient)
        expected = hashlib.sha256(b"\x00\x00\x00\x01" + secret + other_info).digest()[:16]
        assert derive_key(secret, originator, cra, counter, recipient) == expected
        assert derive_key(secret, bytearray(originator), cra, counter, memoryview(recipient)) == expected


def test_verify_mac_is_compute_mac_compared(samples):
    """``verify_mac`` (``compute_mac`` written out) against ``compute_mac`` itself, on a frame
    MACed with fresh keys, from either side of the static ECDH, and on broken inputs."""
    a, b = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    for signer in (None, ec.generate_private_key(ec.SECP256R1())):
        message = _typed_response(samples).evolve(mac_header=MacHeader())
        data = seal(message, signer=signer, mac_private_key=a, mac_peer=b.public_key())
        decoded = decode(data)
        assert decoded.mac == compute_mac(data, decoded, a, b.public_key()) == compute_mac(data, decoded, b, a.public_key())
        assert verify_mac(data, decoded, a, b.public_key()) and verify_mac(data, decoded, b, a.public_key())
        stranger = ec.generate_private_key(ec.SECP256R1())
        assert not verify_mac(data, decoded, stranger, b.public_key())
        assert not verify_mac(data, decoded.evolve(mac=bytes(12)), a, b.public_key())
        assert not verify_mac(data, decoded.evolve(originator_counter=decoded.originator_counter + 1), a, b.public_key())
        assert not verify_mac(data, decoded.evolve(layout=None), a, b.public_key())
        assert not verify_mac(data, decoded.evolve(mac_header=None), a, b.public_key())
