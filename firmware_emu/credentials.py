"""Reading credentials back: CS02a / CS02f (trust anchor details) and CS02e (device certificate).

CS02a comes in two frame variants [RTDS]: MAC only from the access control broker (authorising
cell ACB KA; the response is MACed back to the ACB) or signed by a known remote party
(authorising cell = its DS cell; the response is signed). The response lists, per requested
role, the cells the device has for it with their subject and key identifiers and the role's
anti-replay counter, or ``trustAnchorNotFound`` when the device has no cell for the role.

CS02e: a supplier (or network operator, or the ACB) asks for one of the device's own
certificates; signed and MACed like other KRP commands [RTDS]; the response is signed.
"""

from __future__ import annotations

from rig.gbcs import (
    CellContents,
    CraFlag,
    Cs02aCommand,
    Cs02eResponse,
    KeyUsage,
    KeyUsageRequest,
    Message,
    RemotePartyDetails,
    RemotePartyRole,
    StatusCode,
)
from rig.gbcs import build as b
from rig.gbcs.payloads.cs02 import TrustAnchorCellId
from rig.gbcs.tables import Cs02eError

from . import counters
from .device import ACB_KA, EmulatedDevice, Rejected
from .rejections import Reason

#: roles that may read the device's own certificates with CS02e, or ask for a key pair and
#: certification request (CS02c) and install its certificate (CS02d) [RTDS 6.24.2, 6.17, 6.15.2:
#: supplier; network operator and ACB: project reading]
CS02E_ROLES = (RemotePartyRole.SUPPLIER, RemotePartyRole.NETWORK_OPERATOR, RemotePartyRole.ACCESS_CONTROL_BROKER)
CS02F_CODE = 0x011B
#: roles CS02f ("ESME and SAPC") reports; any other is answered status other (127)
#: [RTDS 6.24.1 CS02fMAC ERROR and NA CS02fSignature ERROR: transitional CoS -> 127 on ESMEs
#: that hold a transitional CoS cell; the rest of the list: project reading]
CS02F_ROLES = frozenset({RemotePartyRole.ROOT, RemotePartyRole.RECOVERY, RemotePartyRole.SUPPLIER,
                         RemotePartyRole.NETWORK_OPERATOR, RemotePartyRole.ACCESS_CONTROL_BROKER,
                         RemotePartyRole.WAN_PROVIDER, RemotePartyRole.LOAD_CONTROLLER})


def _details(device: EmulatedDevice, role: RemotePartyRole, index: int, message_code: int) -> RemotePartyDetails:
    if message_code == CS02F_CODE and role not in CS02F_ROLES:
        return RemotePartyDetails(role, StatusCode.OTHER)
    cells = [c for c in device.state.cells if c.role == role]
    if not cells:
        return RemotePartyDetails(role, StatusCode.TRUST_ANCHOR_NOT_FOUND)
    contents = []
    for cell in cells:
        cert = device.cell_certificate(cell)
        if cert is not None:
            contents.append(CellContents(cell.key_usage, cert.subject_id, cert.key_id, cell.cell_usage))
    seq = index if device.profile.reported_seq_number == "entry-index" else counters.stored(device.state, role)
    return RemotePartyDetails(role, StatusCode.SUCCESS, seq, tuple(contents))


def handle_cs02a(device: EmulatedDevice, raw: bytes, message: Message) -> list[bytes]:
    command = message.payload
    if not isinstance(command, Cs02aCommand):
        raise Rejected(Reason.MALFORMED, "payload is not a ProvideSecurityCredentialDetails command")
    cell: TrustAnchorCellId = command.authorising_cell
    signed = message.signature is not None
    if not signed and (message.mac_header is None or cell != ACB_KA):
        raise Rejected(Reason.MALFORMED, "CS02a is either MACed by the ACB or signed by a known remote party")
    if signed and cell.key_usage != KeyUsage.DIGITAL_SIGNATURE:
        raise Rejected(Reason.NOT_AUTHORISED, f"{cell} cannot sign")
    device.authenticate(raw, message, cell, signed=signed)
    counters.commit(device.state, cell.role, message.originator_counter)
    device.save()
    details = [_details(device, RemotePartyRole(r), i, message.message_code) for i, r in enumerate(command.roles)]
    response = b.cs02a_response(message, details,
                                device_id=device.entity_id, macd=not signed)
    if signed:
        return [device.sign(response)]
    acb = device.cell_certificate(ACB_KA)
    return [device.sign(response, macd_for=acb.public_key)]


def authorise_device_credentials(device: EmulatedDevice, raw: bytes, message: Message, what: str) -> None:
    """CS02c/d/e receipt: the originator's DS cell among ``CS02E_ROLES``, then authentication and commit."""
    cell = next((c for c in device.state.cells if c.role in CS02E_ROLES and c.key_usage == KeyUsage.DIGITAL_SIGNATURE
                 and (cert := device.cell_certificate(c)) is not None and cert.subject_id == message.originator_id),
                None)
    if cell is None:
        raise Rejected(Reason.NOT_AUTHORISED, f"{message.originator_id.hex().upper()} may not {what}: no supplier, "
                                              f"network operator or ACB DS cell names it")
    device.authenticate(raw, message, cell, signed=True)
    counters.commit(device.state, cell.role, message.originator_counter)


def handle_cs02e(device: EmulatedDevice, raw: bytes, message: Message) -> list[bytes]:
    request = message.payload
    if not isinstance(request, KeyUsageRequest):
        raise Rejected(Reason.MALFORMED, "payload is not a ProvideDeviceCertificate command")
    authorise_device_credentials(device, raw, message, "read device certificates")
    device.save()
    identity = device.identity
    if int(request.key_usage) in device.profile.cs02e_failing_usages:
        payload = Cs02eResponse(error=Cs02eError.CERTIFICATE_RETRIEVAL_FAILURE)
    elif request.key_usage == KeyUsage.DIGITAL_SIGNATURE:
        payload = (Cs02eResponse(certificate=identity.ds_certificate) if identity.ds_certificate
                   else Cs02eResponse(error=Cs02eError.NO_CERTIFICATE_HELD))
    elif request.key_usage == KeyUsage.KEY_AGREEMENT:
        payload = (Cs02eResponse(certificate=identity.ka_certificate) if identity.ka_certificate
                   else Cs02eResponse(error=Cs02eError.NO_CERTIFICATE_HELD))
    else:
        payload = Cs02eResponse(error=Cs02eError.INVALID_KEY_USAGE)
    response = Message(CraFlag.RESPONSE, message.originator_counter, device.entity_id, message.originator_id,
                       message.message_code, payload)
    return [device.sign(response)]
