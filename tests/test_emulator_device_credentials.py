"""CS02c, CS02d, CS02e, CS02f and replays from a key store, on the project's own PKI (no ../shared).

The same logic the RTDS replay test (``test_rtds_cs02_replay``) measures against the DCC's
vectors, exercised here on ``fixtures/pki``: key pair generation and certification requests,
device certificate installation with every status, CS02f's role table, the RTDS profile's
entry-index sequence numbers, a device replayed from a key store that lacks its private keys
(MAC from the ACB's side, certificates from the key store) and starting state files.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from firmware_emu import ManualClock
from firmware_emu.start_state import DeviceStartState, StartStateError, load
from rig.cli.main import main
from rig.crypto import KeyStore, Usage, certs, seal, verify_mac, verify_signature
from rig.gbcs import CraFlag, KeyUsage, KeyUsageRequest, MacHeader, Message, RemotePartyRole, StatusCode, decode
from rig.gbcs import build as b
from rig.gbcs.payloads.cs02 import Cs02cResponse, Cs02dCommand, Cs02dResponse, Cs02eResponse
from rig.gbcs.tables import Cs02cError, Cs02dStatus, Cs02eError
from rig.pki import profiles
from rig.pki.generate import _issuer
from rig.provision import keystore_device, replay

from .emu_helpers import START, new_device
from .vectors import FIXTURE_PKI

R = RemotePartyRole


def _command(head, code: int, payload, signer: str = "supplier_a") -> bytes:
    message = Message(CraFlag.COMMAND, head.next(), head.pki.entity(signer), head.device.entity_id, code, payload,
                      mac_header=MacHeader())
    return head.seal(message, signer)


def _device_certificate(pki, public: ec.EllipticCurvePublicKey, device_id: bytes, usage: KeyUsage):
    return profiles.device_certificate(public, _issuer(pki.device_ca), device_id=device_id, key_usage=usage,
                                       serial=4242, not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))


def test_cs02c_generates_a_key_pair_and_answers_its_certification_request(fixture_pki):
    device, head, _ = new_device(fixture_pki)
    (frame,) = device.receive(_command(head, 0x000A, KeyUsageRequest(KeyUsage.DIGITAL_SIGNATURE)))
    response = decode(frame)
    assert response.cra_flag == CraFlag.RESPONSE and head.device_signed(response, frame)
    request = x509.load_der_x509_csr(response.payload.request)
    assert request.is_signature_valid  # signed by the generated key itself
    assert request.public_key().public_numbers() != device.identity.ds_key.public_key().public_numbers()
    assert request.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical and device.entity_id in san.value.get_values_for_type(x509.OtherName)[0].value
    assert "ds" in device.state.generated_keys  # waiting for CS02d
    ka, _ = head.send(_command(head, 0x000A, KeyUsageRequest(KeyUsage.KEY_AGREEMENT)))
    assert x509.load_der_x509_csr(ka.payload.request).extensions.get_extension_for_class(
        x509.KeyUsage).value.key_agreement
    bad, _ = head.send(_command(head, 0x000A, KeyUsageRequest(KeyUsage.KEY_CERT_SIGN)))
    assert bad.payload == Cs02cResponse(error=Cs02cError.INVALID_KEY_USAGE)


def test_cs02c_refused_for_a_party_without_a_ds_cell(fixture_pki):
    device, head, _ = new_device(fixture_pki)
    response, _ = head.send(_command(head, 0x000A, KeyUsageRequest(KeyUsage.DIGITAL_SIGNATURE), signer="ecos"))
    assert response is None and "may not ask for device key pairs" in device.events[-1].detail


def test_cs02d_statuses_and_installation(fixture_pki):
    device, head, _ = new_device(fixture_pki)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    cert = _device_certificate(fixture_pki, other, device.entity_id, KeyUsage.DIGITAL_SIGNATURE)

    def cs02d(der: bytes) -> Cs02dStatus:
        response, _ = head.send(_command(head, 0x000B, Cs02dCommand(der)))
        assert isinstance(response.payload, Cs02dResponse)
        return response.payload.status

    def der(c) -> bytes:
        return c.public_bytes(Encoding.DER)

    assert cs02d(der(cert)) == Cs02dStatus.NO_CORRESPONDING_KEY_PAIR_GENERATED

    head.send(_command(head, 0x000A, KeyUsageRequest(KeyUsage.DIGITAL_SIGNATURE)))
    generated = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), device.state.generated_keys["ds"].public)
    assert cs02d(der(cert)) == Cs02dStatus.WRONG_PUBLIC_KEY
    assert cs02d(der(_device_certificate(fixture_pki, generated, bytes(8), KeyUsage.DIGITAL_SIGNATURE))) \
        == Cs02dStatus.WRONG_DEVICE_IDENTITY
    assert cs02d(der(_device_certificate(fixture_pki, generated, device.entity_id, KeyUsage.NON_REPUDIATION))) \
        == Cs02dStatus.INVALID_KEY_USAGE
    assert cs02d(b"\x30\x03\x02\x01\x00") == Cs02dStatus.INVALID_CERTIFICATE
    good = _device_certificate(fixture_pki, generated, device.entity_id, KeyUsage.DIGITAL_SIGNATURE)
    assert cs02d(der(good)) == Cs02dStatus.SUCCESS
    assert "ds" not in device.state.generated_keys
    # the device now signs with the generated key and CS02e returns the new certificate
    frame = _command(head, 0x000C, KeyUsageRequest(KeyUsage.DIGITAL_SIGNATURE))
    (out,) = device.receive(frame)
    message = decode(out)
    assert message.payload == Cs02eResponse(certificate=der(good))
    assert verify_signature(out, message, generated)


def test_cs02f_reports_other_for_roles_outside_its_table(fixture_pki):
    device, head, _ = new_device(fixture_pki)
    command = b.cs02a_command(originator_id=fixture_pki.entity("tcos"), recipient_id=device.entity_id,
                              counter=head.next(), authorising_cell=b.ds_cell(R.TRANSITIONAL_COS),
                              roles=[R.SUPPLIER, R.TRANSITIONAL_COS, R.LOAD_CONTROLLER], macd=False)
    cs02f = Message(**{**command.__dict__, "message_code": 0x011B})
    response, _ = head.send(head.seal(cs02f, "tcos"))
    statuses = [d.status for d in response.payload.details]
    # TCoS: other (127); the load controller cells exist on an ESME but are empty here
    assert statuses == [StatusCode.SUCCESS, StatusCode.OTHER, StatusCode.SUCCESS]
    assert response.payload.details[2].cells == ()
    read = head.read_back([R.TRANSITIONAL_COS])  # CS02a has no such restriction
    assert read.payload.details[0].status == StatusCode.SUCCESS


@pytest.mark.parametrize("profile,expected", [("default", None), ("rtds", [0, 1])])
def test_reported_sequence_numbers_by_profile(fixture_pki, profile, expected):
    _, head, _ = new_device(fixture_pki, profile=profile)
    read = head.read_back([R.SUPPLIER, R.TRANSITIONAL_COS])
    seqs = [d.current_seq_number for d in read.payload.details]
    # default: the counters themselves (TCoS's is the read-back's own counter); rtds: the positions
    assert seqs == (expected or [0, head.counter])


def _bare_keystore(pki, device_id: bytes, *, acb_ka_key: bool = True) -> KeyStore:
    """The fixture PKI's organisations plus a device's certificates only: the RTDS key store's shape."""
    store = KeyStore()
    for (entity, usage), credential in pki.credentials.items():
        if certs.role(credential.certificate) is None:
            continue
        keep_key = acb_ka_key or not (entity == pki.entity("acb") and usage == Usage.KA)
        store.add(entity, usage, credential.certificate, credential.private_key if keep_key else None)
    for usage in (Usage.DS, Usage.KA):
        store.add(device_id, usage, pki.credentials[(device_id, usage)].certificate)
    return store


def _esme_id(pki) -> bytes:
    return next(eid for kind, eid in pki.devices.values() if kind == "ESME")


def test_mac_from_the_remote_partys_side_when_the_device_ka_key_is_unknown(fixture_pki):
    esme = _esme_id(fixture_pki)
    keystore = _bare_keystore(fixture_pki, esme)
    device, notes = keystore_device(keystore, "ESME", esme, profile="default", clock=ManualClock(START))
    assert device.identity.ka_key is None
    assert any("computed from the remote party's KA private key" in n for n in notes)
    assert any("certificate from the key store is kept" in n for n in notes)
    acb_ka = fixture_pki.credential("acb", Usage.KA).private_key
    device_ka = fixture_pki.credentials[(esme, Usage.KA)].certificate.public_key()
    command = b.cs02a_command(originator_id=fixture_pki.entity("acb"), recipient_id=esme, counter=77,
                              authorising_cell=b.ka_cell(R.ACCESS_CONTROL_BROKER), roles=[R.SUPPLIER], macd=True)
    frame = seal(command, mac_private_key=acb_ka, mac_peer=device_ka)
    (out,) = device.receive(frame)
    response = decode(out)
    assert response.cra_flag == CraFlag.RESPONSE
    assert verify_mac(out, response, acb_ka, device_ka)  # MACed back so the ACB can check it
    tampered = bytearray(seal(b.cs02a_command(originator_id=fixture_pki.entity("acb"), recipient_id=esme, counter=78,
                                              authorising_cell=b.ka_cell(R.ACCESS_CONTROL_BROKER), roles=[R.SUPPLIER],
                                              macd=True), mac_private_key=acb_ka, mac_peer=device_ka))
    tampered[-1] ^= 1
    out = [decode(f) for f in device.receive(bytes(tampered))]
    assert not any(m.cra_flag == CraFlag.RESPONSE for m in out) and "MAC" in device.events[-1].detail
    # CS02e returns the key store's certificate although the device's private key is not there
    assert device.identity.ds_certificate == fixture_pki.credentials[(esme, Usage.DS)].certificate.public_bytes(
        Encoding.DER)


def test_replay_names_the_missing_key(fixture_pki):
    esme = _esme_id(fixture_pki)
    keystore = _bare_keystore(fixture_pki, esme, acb_ka_key=False)
    acb_ka = fixture_pki.credential("acb", Usage.KA).private_key
    device_ka = fixture_pki.credentials[(esme, Usage.KA)].certificate.public_key()
    command = b.cs02a_command(originator_id=fixture_pki.entity("acb"), recipient_id=esme, counter=77,
                              authorising_cell=b.ka_cell(R.ACCESS_CONTROL_BROKER), roles=[R.SUPPLIER], macd=True)
    result = replay(seal(command, mac_private_key=acb_ka, mac_peer=device_ka), keystore, "ESME",
                    at=START, profile="default")
    assert result.response is None
    assert any("answered nothing" in n and "neither the device's nor the access control broker's" in n
               for n in result.notes)


def test_starting_state_file(fixture_pki, tmp_path, capsys):
    esme = _esme_id(fixture_pki)
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 1, "counters": {"5": 50_000}, "alert_counter": 3000}))
    state = load(path)
    assert state.counters == {5: 50_000} and state.alert_counter == 3000
    keystore = _bare_keystore(fixture_pki, esme)
    tcos = fixture_pki.credential("tcos", Usage.DS).private_key
    command = b.cs02a_command(originator_id=fixture_pki.entity("tcos"), recipient_id=esme, counter=40_000,
                              authorising_cell=b.ds_cell(R.TRANSITIONAL_COS), roles=[R.SUPPLIER], macd=False)
    frame = seal(command, signer=tcos)
    assert replay(frame, keystore, "ESME", at=START, profile="default").response is not None
    stale = replay(frame, keystore, "ESME", at=START, profile="default", state=state)
    assert stale.response is None and any("40000 <= 50000" in n for n in stale.notes)
    for bad, member in (({"counters": {"5": -1}}, "counters"), ({"cells": {"x": "00"}}, "cells"),
                        ({"generated_keys": {"pp": {}}}, "generated_keys"), ({"colour": 1}, "colour"),
                        ({"version": 9}, "version")):
        with pytest.raises(StartStateError, match=member):
            DeviceStartState.from_json(bad)
    path.write_text(json.dumps({"counters": {"5": "many"}}))
    assert main(["replay", frame.hex(), "--keystore", str(FIXTURE_PKI / "keystore"), "--state", str(path)]) == 2
    assert "counters" in capsys.readouterr().err


def test_rtds_profile_fails_ka_credential_requests(fixture_pki):
    device, head, _ = new_device(fixture_pki, profile="rtds")
    response, _ = head.send(_command(head, 0x000A, KeyUsageRequest(KeyUsage.KEY_AGREEMENT)))
    assert response.payload == Cs02cResponse(error=Cs02cError.CR_PRODUCTION_FAILED)
    response, _ = head.send(_command(head, 0x000C, KeyUsageRequest(KeyUsage.KEY_AGREEMENT)))
    assert response.payload == Cs02eResponse(error=Cs02eError.CERTIFICATE_RETRIEVAL_FAILURE)
    response, _ = head.send(_command(head, 0x000C, KeyUsageRequest(KeyUsage.DIGITAL_SIGNATURE)))
    assert response.payload.certificate == device.identity.ds_certificate


def test_csr_signature_is_checked_against_the_generated_key(fixture_pki):
    """With a starting state naming a key pair without its private half, the request carries that
    public key and is signed with the device key: it does not verify, and the event log says why."""
    from firmware_emu.start_state import GeneratedKey
    from rig.provision import public_point

    known = ec.generate_private_key(ec.SECP256R1()).public_key()
    device, head, _ = new_device(fixture_pki)
    DeviceStartState(next_keys={"ds": GeneratedKey(public_point(known))}).apply(device)
    response, _ = head.send(_command(head, 0x000A, KeyUsageRequest(KeyUsage.DIGITAL_SIGNATURE)))
    request = x509.load_der_x509_csr(response.payload.request)
    assert public_point(request.public_key()) == public_point(known)
    assert not request.is_signature_valid
    device.identity.ds_key.public_key().verify(request.signature, request.tbs_certrequest_bytes,
                                               ec.ECDSA(hashes.SHA256()))
    assert any("no known private key" in e.detail for e in device.events)


def test_cs02g_load_controller_cells_on_an_esme(fixture_pki):
    """Supplier loads the load controller trust anchors (mode 11), then the load controller replaces
    its own (mode 10); CS02f reads them back. The fixture PKI has no load controller: one is made here."""
    import datetime as _dt

    from rig.gbcs import ReplacementMode

    device, head, _ = new_device(fixture_pki)
    issuer = _issuer(fixture_pki.issuing_ca)
    lc_id = bytes.fromhex("7E57000000010008")

    def lc_cert(key, usage):
        return profiles.organisation_certificate(key.public_key(), issuer, entity_id=lc_id,
                                                 role=R.LOAD_CONTROLLER, key_usage=usage, serial=808 + int(usage),
                                                 not_before=_dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                                                 not_after=_dt.datetime(2040, 1, 1, tzinfo=dt.UTC))

    ds_key, ka_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    path = [fixture_pki.issuing_ca.certificate.public_bytes(Encoding.DER)]
    replacements = [b.replacement(lc_cert(ds_key, KeyUsage.DIGITAL_SIGNATURE).public_bytes(Encoding.DER),
                                  R.LOAD_CONTROLLER, KeyUsage.DIGITAL_SIGNATURE),
                    b.replacement(lc_cert(ka_key, KeyUsage.KEY_AGREEMENT).public_bytes(Encoding.DER),
                                  R.LOAD_CONTROLLER, KeyUsage.KEY_AGREEMENT)]
    command = b.cs02b_command(mode=ReplacementMode.LOAD_CONTROLLER_BY_SUPPLIER, originator_id=fixture_pki.entity(
        "supplier_a"), recipient_id=device.entity_id, counter=head.next(), replacements=replacements,
        certification_path=path)
    assert command.message_code == 0x0126
    response, _ = head.send(head.seal(command, "supplier_a"))
    assert response.payload.execution_outcome.all_succeeded
    new_ds = ec.generate_private_key(ec.SECP256R1())
    own = b.cs02b_command(mode=ReplacementMode.LOAD_CONTROLLER_BY_LOAD_CONTROLLER, originator_id=lc_id,
                          recipient_id=device.entity_id, counter=5, certification_path=path,
                          replacements=[b.replacement(lc_cert(new_ds, KeyUsage.DIGITAL_SIGNATURE).public_bytes(
                              Encoding.DER), R.LOAD_CONTROLLER, KeyUsage.DIGITAL_SIGNATURE)])
    response, _ = head.send(head.seal(own, ds_key))
    assert response.payload.execution_outcome.all_succeeded
    read = head.read_back([R.LOAD_CONTROLLER])
    assert {c.subject_id for c in read.payload.details[0].cells} == {lc_id}
    # the old load controller key no longer authorises
    again = b.cs02b_command(mode=ReplacementMode.LOAD_CONTROLLER_BY_LOAD_CONTROLLER, originator_id=lc_id,
                            recipient_id=device.entity_id, counter=6, certification_path=path,
                            replacements=own.payload.replacements)
    response, _ = head.send(head.seal(again, ds_key))
    assert response is None and device.events[-1].code == 0x8F3D


def test_cs02c_cs02d_cs02e_never_raise_and_reject_leaves_state(fixture_pki):
    """Bounded, seeded: mutated CS02c/d/e payloads, re-sealed so they reach the handlers. The device
    never raises; whatever it discards leaves its cells, counters and key pairs as they were."""
    import random

    from rig.gbcs import encode

    rng = random.Random(12)
    device, head, _ = new_device(fixture_pki)
    templates = [(0x000A, KeyUsageRequest(KeyUsage.DIGITAL_SIGNATURE)), (0x000C, KeyUsageRequest(KeyUsage.KEY_AGREEMENT)),
                 (0x000B, Cs02dCommand(fixture_pki.credentials[(device.entity_id, Usage.DS)].certificate.public_bytes(
                     Encoding.DER)))]
    answered = discarded = 0
    for _ in range(150):
        code, payload = rng.choice(templates)
        message = Message(CraFlag.COMMAND, head.next(), fixture_pki.entity("supplier_a"), device.entity_id, code,
                          payload, mac_header=MacHeader())
        body = bytearray(encode(message))
        start = decode(bytes(body)).layout.payload_start
        for _ in range(rng.randint(1, 3)):
            index = rng.randrange(start, len(body) - 1)
            body[index] = rng.randrange(256)
        try:
            mutated = decode(bytes(body))
        except Exception:
            continue
        before = device.state.snapshot()
        frames = device.receive(head.seal(mutated, "supplier_a"))
        if any(decode(f).cra_flag == CraFlag.RESPONSE for f in frames):
            answered += 1
        else:
            discarded += 1
            assert device.state.cells == before.cells and device.state.counters == before.counters
            assert device.state.generated_keys == before.generated_keys
    assert answered and discarded  # the mutations reach both the handlers' answers and their rejections
