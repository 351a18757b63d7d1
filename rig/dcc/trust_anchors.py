"""Reading a device's trust anchors with CS02a (ACB MAC variant) to learn floors and CoS status.

Two things the rig must not guess: the counter a device last accepted for a role (a real
meter may have seen counters from another head end, so the rig's own record is only a lower
bound), and which CoS party the device now trusts after a migration whose answer was lost.
CS02a answers both: ``currentSeqNumber`` per role becomes a floor for every party that acts in
that role, and the subject of the transitionalCoS DS cell says TCOS or ECOS.

The command is the MAC-only variant the ACB may send (RTDS ``CS02aMAC``): authorising cell the
ACB KA cell, ACB counter, ACB MAC; the response is MACed by the device for the ACB and checked
with the ACB KA private key and the device KA certificate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rig.crypto import Usage, seal_and_decode, verify_mac
from rig.gbcs import Cs02aResponse, KeyUsage, RemotePartyDetails, RemotePartyRole, StatusCode
from rig.gbcs import build as b

from .exchange import Exchange, exchange
from .inventory import CredentialOrigin
from .tables import CredentialStatus

if TYPE_CHECKING:
    from .facade import Dcc


@dataclass(frozen=True)
class TrustAnchorReading:
    device_id: bytes
    exchange: Exchange
    details: tuple[RemotePartyDetails, ...] = ()
    #: the credential status the transitionalCoS cell shows, when it was read
    credential_status: CredentialStatus | None = None
    #: party entity id -> floor learned
    floors: dict[bytes, int] | None = None

    @property
    def ok(self) -> bool:
        return self.exchange.verified and isinstance(self.exchange.answer_message.payload, Cs02aResponse)


def _parties_in_role(dcc: Dcc, role: RemotePartyRole) -> tuple[bytes, ...]:
    if role == RemotePartyRole.TRANSITIONAL_COS:
        return (dcc.parties.tcos, dcc.parties.ecos)
    if role == RemotePartyRole.ACCESS_CONTROL_BROKER:
        return (dcc.parties.acb,)
    return ()


def read_trust_anchors(dcc: Dcc, device_id: bytes, transport, roles: tuple[RemotePartyRole, ...], *,
                       timeout_s: float | None = None) -> TrustAnchorReading:
    acb = dcc.parties.acb
    device = dcc.inventory.require(device_id)
    counter = dcc.inventory.next_counter(acb, device_id)
    message = b.cs02a_command(originator_id=acb, recipient_id=device_id, counter=counter,
                              authorising_cell=b.ka_cell(RemotePartyRole.ACCESS_CONTROL_BROKER), roles=roles)
    acb_ka = dcc.keystore.private_key(acb, Usage.KA)
    device_ka = dcc.keystore.public_key(device_id, Usage.KA)
    frame, command = seal_and_decode(message, mac_private_key=acb_ka, mac_peer=device_ka)
    started = time.monotonic()
    result = exchange(transport, frame, command,
                      verify=lambda data, answer: verify_mac(data, answer, acb_ka, device_ka),
                      deadline=started + (timeout_s if timeout_s is not None else dcc.config.response_timeout_s))
    reading = TrustAnchorReading(device_id, result)
    if not reading.ok:
        return reading
    details = result.answer_message.payload.details
    floors: dict[bytes, int] = {}
    status = None
    for detail in details:
        if detail.status != StatusCode.SUCCESS:
            continue
        if detail.current_seq_number is not None:
            for party in _parties_in_role(dcc, detail.role):
                dcc.inventory.raise_floor(party, device_id, detail.current_seq_number)
                floors[party] = detail.current_seq_number
        if detail.role == RemotePartyRole.TRANSITIONAL_COS:
            for cell in detail.cells or ():
                if cell.key_usage == KeyUsage.DIGITAL_SIGNATURE:
                    status = {dcc.parties.tcos: CredentialStatus.TCOS,
                              dcc.parties.ecos: CredentialStatus.ECOS}.get(cell.subject_id)
    if status is not None and status is not device.credential_status:
        migrated = status is CredentialStatus.ECOS and dcc.inventory.has_attempts(device_id)
        dcc.inventory.set_credential_status(device_id, status,
                                            origin=CredentialOrigin.MIGRATED if migrated else None)
    return TrustAnchorReading(device_id, result, details, status, floors)
