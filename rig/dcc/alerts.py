"""DCC alerts N26, N63, N64, N65 as typed values with the DUIS payload fields [XSD 5.1-5.4].

The bodies are exact (duis-ecos.md 2.2). Which trigger raises which code for whom is the
configuration's ``AlertRule`` table (``rig.dcc.tables.ALERT_RULES``): every pairing there is the
project's reading and a lab can change or disable it. ``raise_alert`` turns a rule plus the
facts of one event into a ``DccAlert`` and hands it to the sink.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .ids import EuiLike, eui, eui_text
from .tables import AlertRule, Payload, RowStatus


@dataclass(frozen=True)
class ChangeOfSupplier:
    """N26 body, branch (a): the 6.23 that was not completed [+ ECoSErrorCode, DUIS 5.3a+]."""

    service_request_id: str
    ecos_error_code: str | None = None

    def __post_init__(self) -> None:
        if self.ecos_error_code is not None and len(self.ecos_error_code) != 3:
            raise ValueError(f"ECoSErrorCode must be exactly 3 characters, not {self.ecos_error_code!r}")


@dataclass(frozen=True)
class DeviceChangeOfSupplier:
    """N26 body, branch (b): the device whose supplier changed, with its MPxNs."""

    device_id: bytes
    device_type: str
    import_mpxn: str
    secondary_import_mpan: str | None = None
    export_mpan: str | None = None


@dataclass(frozen=True)
class EcosAlert:
    """N63 ``ECoSAlert``: AlertID and RequestID in RequestID format; ECoSAlertCode free text."""

    alert_id: str
    ecos_alert_code: str
    device_id: bytes
    request_id: str | None = None
    additional_information: str | None = None


@dataclass(frozen=True)
class CosCertificateAlert:
    """N65 ``CoSCertificateAlert``: the device and, optionally, the offending certificate's serial."""

    device_id: bytes
    certificate_serial_number: int | None = None


@dataclass(frozen=True)
class CommsHubFirmwareActivation:
    """N64 body: a comms hub firmware version became active (not ECoS-related)."""

    device_id: bytes
    firmware_version: str

    def __post_init__(self) -> None:
        if not 1 <= len(self.firmware_version) <= 8:
            raise ValueError("FirmwareVersion has 1-8 characters")


AlertBody = ChangeOfSupplier | DeviceChangeOfSupplier | EcosAlert | CosCertificateAlert | CommsHubFirmwareActivation

_BODY_TYPES: dict[Payload, type] = {
    Payload.CHANGE_OF_SUPPLIER: ChangeOfSupplier,
    Payload.DEVICE_CHANGE_OF_SUPPLIER: DeviceChangeOfSupplier,
    Payload.ECOS_ALERT: EcosAlert,
    Payload.COS_CERTIFICATE_ALERT: CosCertificateAlert,
    Payload.COMMS_HUB_FIRMWARE_ACTIVATION: CommsHubFirmwareActivation,
}


@dataclass(frozen=True)
class DccAlert:
    """One DCC alert as the rig raised (or recorded) it.

    ``recipient`` is the EUI-64 (DUIS form) of the party it goes to, or None when the rule's
    recipient could not be resolved (e.g. a device with no responsible supplier): the alert is
    still published so the evidence is kept.
    """

    code: str
    body: AlertBody
    trigger: str
    recipient: str | None
    rule_status: RowStatus
    request_id: str | None = None  # DUIS header RequestID, when the alert relates to a request
    raised_at: float = field(default_factory=time.time)

    @property
    def device_id(self) -> bytes | None:
        return getattr(self.body, "device_id", None)


def build_body(payload: Payload, facts: dict) -> AlertBody:
    """The body of kind ``payload`` from the event's facts (extra facts are ignored)."""
    body_type = _BODY_TYPES[payload]
    names = body_type.__dataclass_fields__
    return body_type(**{name: value for name, value in facts.items() if name in names})


def make_alert(rule: AlertRule, *, recipient: EuiLike | None, facts: dict,
               request_id: str | None = None) -> DccAlert:
    return DccAlert(code=rule.code, body=build_body(rule.payload, facts), trigger=rule.trigger,
                    recipient=eui_text(recipient) if recipient is not None else None,
                    rule_status=rule.status, request_id=request_id)


def alert_id(dcc_id: EuiLike, device_id: EuiLike, number: int) -> str:
    """An N63 AlertID in RequestID format: ``<DCC id>:<device id>:<number>``."""
    return f"{eui_text(eui(dcc_id))}:{eui_text(eui(device_id))}:{number}"
