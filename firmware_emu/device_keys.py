"""The device's own key pairs: CS02c (issue security credentials) and CS02d (update device certificates).

CS02c [GBCS; RTDS 6.17]: the device generates a key pair for the requested usage (DS or KA) and
answers a PKCS#10 certification request for it (``csr``); the key pair waits, unused, until
CS02d brings its certificate. CS02d [GBCS; RTDS 6.15.2]: the device checks the certificate and,
when it certifies a waiting key pair, makes that pair and certificate its own. Both are signed
by a supplier (network operator, ACB: project reading) and MACed by the ACB, like CS02e, and the
responses are signed.

A waiting key pair is part of the saved state (it must survive a restart between CS02c and
CS02d); once installed, the pair and certificate live in the device's identity, in memory, like
the keys a device is provisioned with.

CS02d checks, in order (status codes from the GBCS response INTEGER): the certificate parses
(else invalidCertificate 1), its hwSerialNum is this device (wrongDeviceIdentity 2), its key
usage is exactly digitalSignature or keyAgreement (invalidKeyUsage 3) [RTDS 6.15.2 ERROR: a
nonRepudiation certificate -> 3], a key pair was generated for that usage (noCorrespondingKeyPair
Generated 4), the certificate's public key is that pair's (wrongPublicKey 5).
"""

from __future__ import annotations

from dataclasses import replace

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rig.crypto import certs
from rig.gbcs import CraFlag, KeyUsage, KeyUsageRequest, Message
from rig.gbcs.payloads.cs02 import Cs02cResponse, Cs02dCommand, Cs02dResponse
from rig.gbcs.tables import Cs02cError, Cs02dStatus

from . import csr
from .credentials import authorise_device_credentials
from .device import EmulatedDevice, Rejected
from .rejections import Reason
from .start_state import GeneratedKey

USAGE_NAMES = {KeyUsage.DIGITAL_SIGNATURE: "ds", KeyUsage.KEY_AGREEMENT: "ka"}
#: the event logged when the device's own credentials change (project reading: no GBCS code found)
CREDENTIALS_EVENT = 0


def _respond(device: EmulatedDevice, message: Message, payload) -> list[bytes]:
    device.save()
    response = Message(CraFlag.RESPONSE, message.originator_counter, device.entity_id, message.originator_id,
                       message.message_code, payload)
    return [device.sign(response)]


def _private_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_private(der: bytes | None) -> ec.EllipticCurvePrivateKey | None:
    if der is None:
        return None
    key = serialization.load_der_private_key(der, password=None)
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def handle_cs02c(device: EmulatedDevice, raw: bytes, message: Message) -> list[bytes]:
    request = message.payload
    if not isinstance(request, KeyUsageRequest):
        raise Rejected(Reason.MALFORMED, "payload is not an IssueSecurityCredentials command")
    authorise_device_credentials(device, raw, message, "ask for device key pairs")
    usage = KeyUsage(int(request.key_usage))
    name = USAGE_NAMES.get(usage)
    if name is None:
        return _respond(device, message, Cs02cResponse(error=Cs02cError.INVALID_KEY_USAGE))
    if int(usage) in device.profile.cs02c_failing_usages:
        device.log(CREDENTIALS_EVENT, f"CS02c {name}: certification request production failed (model profile)")
        return _respond(device, message, Cs02cResponse(error=Cs02cError.CR_PRODUCTION_FAILED))
    preset = device.state.next_keys.pop(name, None)
    if preset is not None:  # the starting state says which key pair this device generates
        generated, signer = preset, _load_private(preset.private) or device.identity.ds_key
        if preset.private is None:
            device.log(CREDENTIALS_EVENT, f"CS02c {name}: the key pair the starting state names has no known private "
                                          f"key; the request is signed with the device's DS key")
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        generated, signer = GeneratedKey(csr.point(key.public_key()), _private_der(key)), key
    device.state.generated_keys[name] = generated
    request_der = csr.certification_request(generated.public, usage, device.entity_id, signer)
    device.log(CREDENTIALS_EVENT, f"CS02c {name}: key pair generated, awaiting its certificate")
    return _respond(device, message, Cs02cResponse(request=request_der))


def _cs02d_status(device: EmulatedDevice, der: bytes) -> tuple[Cs02dStatus, str | None, x509.Certificate | None]:
    try:
        cert = x509.load_der_x509_certificate(der)
        public = cert.public_key()
    except ValueError:
        return Cs02dStatus.INVALID_CERTIFICATE, None, None
    if not isinstance(public, ec.EllipticCurvePublicKey):
        return Cs02dStatus.INVALID_CERTIFICATE, None, None
    if certs.entity_id(cert) != device.entity_id:
        return Cs02dStatus.WRONG_DEVICE_IDENTITY, None, None
    name = USAGE_NAMES.get(certs.key_usage(cert))
    if name is None:
        return Cs02dStatus.INVALID_KEY_USAGE, None, None
    waiting = device.state.generated_keys.get(name)
    if waiting is None:
        return Cs02dStatus.NO_CORRESPONDING_KEY_PAIR_GENERATED, name, None
    if waiting.public != csr.point(public):
        return Cs02dStatus.WRONG_PUBLIC_KEY, name, None
    return Cs02dStatus.SUCCESS, name, cert


def handle_cs02d(device: EmulatedDevice, raw: bytes, message: Message) -> list[bytes]:
    command = message.payload
    if not isinstance(command, Cs02dCommand):
        raise Rejected(Reason.MALFORMED, "payload is not an UpdateDeviceCertificates command")
    authorise_device_credentials(device, raw, message, "update device certificates")
    status, name, cert = _cs02d_status(device, command.certificate)
    if status != Cs02dStatus.SUCCESS:
        device.log(CREDENTIALS_EVENT, f"CS02d: certificate refused ({status.name})")
        return _respond(device, message, Cs02dResponse(status))
    waiting = device.state.generated_keys.pop(name)
    device.log(CREDENTIALS_EVENT, f"CS02d {name}: certificate installed")
    # answered under the identity the command found; the new key pair is used from the next frame on
    frames = _respond(device, message, Cs02dResponse(status))
    private = _load_private(waiting.private)
    identity = device.identity
    if name == "ds":
        identity = replace(identity, ds_certificate=bytes(command.certificate), ds_key=private or identity.ds_key)
    else:
        identity = replace(identity, ka_certificate=bytes(command.certificate), ka_key=private or identity.ka_key,
                           ka_public=cert.public_key() if private is None else None)
    device.identity = identity
    return frames
