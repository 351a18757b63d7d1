"""Comms hub device log events: the N65 CoS certificate check, and N64 records.

N65 (SEED-000 3.4, IEDP; pairing with N65 INFERRED): when a device joins a comms hub's device
log, the DCC checks whether the device's transitionalCoS cell holds a certificate of a CoS party
other than the one that now serves as CoS party (``config.current_cos_party``); if so it alerts
the responsible supplier so the installer can act before leaving site. In practice: a
TCoS-credentialed device installed after switch-over to ECoS, or the reverse.

The rig learns what the cell holds either from the caller (``cos_cell_subject_id``, e.g. from a
CS02a read or the emulator's state) or, failing that, from the inventory's credential status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rig.crypto import KeyStoreError, Usage

from .alerts import DccAlert, make_alert
from .tables import CredentialStatus, Recipient

if TYPE_CHECKING:
    from .facade import Dcc


def device_added(dcc: Dcc, hub_id: bytes, device_id: bytes, cos_cell_subject_id: bytes | None,
                 certificate_serial: int | None) -> DccAlert | None:
    device = dcc.inventory.require(device_id)
    dcc.inventory.add_to_device_log(hub_id, device_id)
    held = cos_cell_subject_id
    if held is None:
        held = {CredentialStatus.TCOS: dcc.parties.tcos, CredentialStatus.ECOS: dcc.parties.ecos}.get(
            device.credential_status)
    if held is None or held == dcc.parties.cos_party(dcc.config.current_cos_party):
        return None
    if certificate_serial is None:
        try:
            certificate_serial = dcc.keystore.certificate(held, Usage.DS).serial_number
        except KeyStoreError:
            certificate_serial = None
    return dcc.raise_alert("cos_certificate_mismatch", {Recipient.RESPONSIBLE_SUPPLIER: device.supplier_id},
                           device=device, certificate_serial_number=certificate_serial)


def firmware_activation(dcc: Dcc, hub_id: bytes, firmware_version: str) -> list[DccAlert]:
    """Record an N64 as seen: one per supplier of the devices on the hub's log (or one unaddressed)."""
    rule = dcc.config.alert_rule("comms_hub_firmware_activation")
    if rule is None:
        return []
    suppliers = []
    for device_id in dcc.inventory.device_log(hub_id):
        device = dcc.inventory.device(device_id)
        if device is not None and device.supplier_id is not None and device.supplier_id not in suppliers:
            suppliers.append(device.supplier_id)
    alerts = []
    for supplier in suppliers or [None]:
        alert = make_alert(rule, recipient=supplier,
                           facts={"device_id": hub_id, "firmware_version": firmware_version})
        dcc.alerts.publish(alert)
        alerts.append(alert)
    return alerts
