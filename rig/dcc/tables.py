"""The DCC-side rules as data: response codes, DCC alert rules, error codes, cells, timing.

Most of what the DCC does on a 6.23 is written in documents the project could not read (DUIS
3.5.10 / 3.6.3.4, SRPD, TADP, ETMAD, EMEHRA). Each row therefore says how sure it is
(``RowStatus``) and where it comes from, and ``rig.dcc.config`` lets a lab replace any row from a
TOML file or a dict without touching code. ``docs/dcc.md`` lists every row.

Sources named in the rows: ``duis-ecos.md`` is ``docs/reference/duis-ecos.md`` (the project's
research brief), SEED-000 the DCC ECoS consultation of Sep 2021, SEED-001 the ETMAD/EMRR/EMEHRA
consultation response of Mar 2023, XSD the DUIS 5.x schema.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rig.gbcs.tables import CellUsage, KeyUsage, RemotePartyRole


class RowStatus(enum.StrEnum):
    """How a table row is known."""

    CONFIRMED = "confirmed"  # stated by a source document or the schema
    READING = "project reading"  # the project's inference; replaceable
    OVERRIDE = "lab override"  # replaced by a lab's configuration


# --------------------------------------------------------------------------------------------
# DUIS response codes per DCC check


@dataclass(frozen=True)
class ResponseCodeRow:
    """The DUIS response code the DCC returns when ``check`` fails (or ``success``)."""

    check: str
    code: str
    meaning: str
    status: RowStatus
    source: str


RESPONSE_CODES: tuple[ResponseCodeRow, ...] = (
    ResponseCodeRow("xml_sign_role", "E65", "SR signed with a certificate whose role is not xmlSign",
                    RowStatus.CONFIRMED, "SEED-000 (MP104); duis-ecos.md 3.2"),
    ResponseCodeRow("certificates_decode", "E1007", "a certificate in the SR is not a decodable X.509 certificate",
                    RowStatus.READING, "duis-ecos.md 3.2: E1007 checks extended for certificate-bearing SRs"),
    ResponseCodeRow("user_id", "E66", "(i) User ID differs from the signing certificate's entity id",
                    RowStatus.READING, "duis-ecos.md 4.1 candidate E66-E71"),
    ResponseCodeRow("mpid", "E67", "(ii) no MPID of the signing certificate matches the registration data",
                    RowStatus.READING, "duis-ecos.md 4.1 candidate E66-E71"),
    ResponseCodeRow("mpxn", "E062305", "(iii) ImportMPxN differs from the inventory",
                    RowStatus.READING, "duis-ecos.md 4.1 candidate E062305/E062306"),
    ResponseCodeRow("certificate_count", "E68", "(iv) wrong replacement certificates for the device type",
                    RowStatus.READING, "duis-ecos.md 4.1 candidate E66-E71"),
    ResponseCodeRow("supplier_role", "E69", "(v) a replacement certificate lacks the supplier role",
                    RowStatus.READING, "duis-ecos.md 4.1 candidate E66-E71"),
    ResponseCodeRow("key_usage", "E70", "(vi) a replacement certificate's key usage does not fit its cell",
                    RowStatus.READING, "duis-ecos.md 4.1 candidate E66-E71"),
    ResponseCodeRow("prepayment_floor", "E71", "(vii) top-up key replaced without SupplierPrepaymentTopUpFloorSeqNumber",
                    RowStatus.READING, "duis-ecos.md 4.1 candidate E66-E71"),
    ResponseCodeRow("issuing_ca_included", "E1007", "G(i) an organisation certificate's issuing CA is not included",
                    RowStatus.READING, "duis-ecos.md 4.2 candidate E1007"),
    ResponseCodeRow("included_ca_used", "E1007", "G(ii) an included CA issued none of the organisation certificates",
                    RowStatus.READING, "duis-ecos.md 4.2 candidate E1007"),
    ResponseCodeRow("success", "I0", "the device response was received and verified",
                    RowStatus.READING, "generic DUIS success code (XSD enumeration)"),
)


# --------------------------------------------------------------------------------------------
# DCC alerts: trigger -> code, recipient, payload


class Recipient(enum.StrEnum):
    """Whom an alert goes to, resolved against the request and the inventory."""

    REQUESTING_USER = "requesting_user"  # the User ID of the 6.23
    LOSING_SUPPLIER = "losing_supplier"  # the device's responsible supplier before the CoS
    RESPONSIBLE_SUPPLIER = "responsible_supplier"  # the device's responsible supplier now
    HUB_SUPPLIERS = "hub_suppliers"  # suppliers of the devices on a comms hub


class Payload(enum.StrEnum):
    """DUIS ``DCCAlert`` body element [XSD]."""

    CHANGE_OF_SUPPLIER = "ChangeOfSupplier"  # ChangeOfSupplierServiceRequestID [+ ECoSErrorCode]
    DEVICE_CHANGE_OF_SUPPLIER = "DeviceChangeOfSupplier"  # DeviceID, DeviceType, MPxNs
    ECOS_ALERT = "ECoSAlert"
    COS_CERTIFICATE_ALERT = "CoSCertificateAlert"
    COMMS_HUB_FIRMWARE_ACTIVATION = "CommsHubFirmwareActivation"


@dataclass(frozen=True)
class AlertRule:
    """One DCC alert the rig raises: on ``trigger``, send ``code`` with ``payload`` to ``recipient``.

    ``detail_code`` is the ``ECoSAlertCode`` of an N63 (free text in the schema; values
    UNCONFIRMED). For N26 ``ChangeOfSupplier`` the ``ECoSErrorCode`` comes from
    ``ECOS_ERROR_CODES`` by failure cause instead.
    """

    trigger: str
    code: str
    recipient: Recipient
    payload: Payload
    status: RowStatus
    source: str
    detail_code: str | None = None
    enabled: bool = True


ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule("anomaly_detection_breach", "N63", Recipient.REQUESTING_USER, Payload.ECOS_ALERT,
              RowStatus.READING, "SEED-000 8.2: stop, alert the User, no quarantine (alert code UNCONFIRMED)",
              detail_code="ADT_THRESHOLD_EXCEEDED"),
    AlertRule("cos_not_completed", "N26", Recipient.REQUESTING_USER, Payload.CHANGE_OF_SUPPLIER,
              RowStatus.READING, "duis-ecos.md 2.3: N26 = acknowledged 6.23 not completed (INFERRED)"),
    AlertRule("cos_completed", "N26", Recipient.LOSING_SUPPLIER, Payload.DEVICE_CHANGE_OF_SUPPLIER,
              RowStatus.READING, "duis-ecos.md 2.3/12.4: losing-supplier notice UNCONFIRMED"),
    AlertRule("cos_certificate_mismatch", "N65", Recipient.RESPONSIBLE_SUPPLIER, Payload.COS_CERTIFICATE_ALERT,
              RowStatus.READING, "SEED-000 3.4 IEDP alert; N65 pairing INFERRED (duis-ecos.md 2.3)"),
    AlertRule("comms_hub_firmware_activation", "N64", Recipient.HUB_SUPPLIERS,
              Payload.COMMS_HUB_FIRMWARE_ACTIVATION, RowStatus.READING,
              "XSD 5.1 body; recipients UNCONFIRMED; recorded, never generated by the rig"),
)

class AttemptResult(enum.StrEnum):
    """What one command/response exchange with a device came to."""

    SUCCESS = "SUCCESS"
    NO_RESPONSE = "NO_RESPONSE"  # deadline passed without a matching response
    BAD_SIGNATURE = "BAD_SIGNATURE"  # a response came but the device DS key does not verify it
    DEVICE_FAILURE = "DEVICE_FAILURE"  # verified response reporting a failed replacement
    UNEXPECTED_RESPONSE = "UNEXPECTED_RESPONSE"  # verified, but not the outcome the command asks for
    LINK_LOST = "LINK_LOST"



#: N26 ``ECoSErrorCode`` (exactly 3 characters, DUIS 5.3a+) per failure cause; values are the
#: project's own (UNCONFIRMED). An empty string omits the element (DUIS before 5.3a).
ECOS_ERROR_CODES: dict[str, str] = {
    AttemptResult.NO_RESPONSE: "NRS",
    AttemptResult.BAD_SIGNATURE: "SIG",
    AttemptResult.DEVICE_FAILURE: "DEV",
    AttemptResult.UNEXPECTED_RESPONSE: "UNX",
    AttemptResult.LINK_LOST: "LNK",
}


# --------------------------------------------------------------------------------------------
# check (iv): replacement certificates per device type, and where each goes


class Element(enum.StrEnum):
    """The three ``SupplierReplacementCertificates`` elements of a 6.23 [XSD]."""

    DS = "DS"  # DigitalSigningCertificate
    KA = "KA"  # KeyAgreementCertificate
    KA_TOP_UP = "KA_TOP_UP"  # KeyAgreementTopUpCertificate


#: target trust anchor cell of each element (duis-ecos.md 8.3, checked against RTDS)
ELEMENT_CELLS: dict[Element, tuple[RemotePartyRole, KeyUsage, CellUsage]] = {
    Element.DS: (RemotePartyRole.SUPPLIER, KeyUsage.DIGITAL_SIGNATURE, CellUsage.MANAGEMENT),
    Element.KA: (RemotePartyRole.SUPPLIER, KeyUsage.KEY_AGREEMENT, CellUsage.MANAGEMENT),
    Element.KA_TOP_UP: (RemotePartyRole.SUPPLIER, KeyUsage.KEY_AGREEMENT, CellUsage.PREPAYMENT_TOP_UP),
}

#: check (iv): the elements a 6.23 must carry per device type (project reading: the supplier
#: cells of gbcs-cs02b.md 7; ESME confirmed by the RTDS vector, GSME and GPF UNCONFIRMED). A device
#: type missing here takes no 6.23.
REPLACEMENT_ELEMENTS: dict[str, tuple[Element, ...]] = {
    "ESME": (Element.DS, Element.KA, Element.KA_TOP_UP),
    "GSME": (Element.DS, Element.KA, Element.KA_TOP_UP),
    "GPF": (Element.DS, Element.KA, Element.KA_TOP_UP),
}


# --------------------------------------------------------------------------------------------
# timing, routing, anomaly detection

#: 6.23 target response times in seconds [SEED-000 3.1]
TARGET_RESPONSE_S: dict[str, float] = {"SMETS2": 35.0, "SMETS1": 21.0}


class CredentialStatus(enum.StrEnum):
    """What the smart metering inventory believes a device's transitionalCoS cell holds."""

    TCOS = "TCOS"
    ECOS = "ECOS"
    UNKNOWN = "UNKNOWN"  # a migration command went out and no verifiable answer came back


#: which CoS key signs a 6.23 for a device, by credential status [SEED-000 2.4, SEED-001 12b];
#: None refuses to route (project reading for UNKNOWN)
ROUTING: dict[CredentialStatus, str | None] = {
    CredentialStatus.TCOS: "tcos",
    CredentialStatus.ECOS: "ecos",
    CredentialStatus.UNKNOWN: None,
}

#: SRVs whose commands are Critical (duis-parser request matrix, "Critical": "Yes"); TADP gives
#: each a zero 1440-minute threshold when a file omits it [SEED-000, SEED-002]
CRITICAL_SRVS: tuple[str, ...] = (
    "1.1.1", "1.1.2", "1.2.1", "1.2.2", "1.5", "1.6", "1.7", "2.1", "2.3", "2.5", "6.4.1", "6.6", "6.7",
    "6.8", "6.11", "6.14.1", "6.14.2", "6.14.3", "6.15.1", "6.15.2", "6.17", "6.24.2", "6.25", "6.26",
    "7.1", "7.2", "7.3", "7.5", "7.6", "7.8", "7.12", "7.13", "7.16", "8.1.1", "8.7.1", "8.8.1", "11.3",
)

#: the only period the CoS party applies [SEED-000 8.2]
COS_PARTY_PERIOD_MINUTES = 1440
