"""The DCC / ECoS party side of the rig: SRV 6.23, TCoS -> ECoS migration, DCC alerts.

Public API (see ``docs/dcc.md``)::

    inventory = Inventory.open("dcc.sqlite")                 # smart metering inventory + counters
    dcc = Dcc.from_pki(pki, inventory)                        # or Dcc(inventory, keystore, parties, ...)
    outcome = dcc.submit_623(request, transport)              # -> ServiceOutcome
    migrated = dcc.migrate(device_id, transport)              # -> MigrationOutcome
    outcomes = dcc.migrate_fleet({hub_id: transport}, progress=ProgressBar())  # device log order
    alert = dcc.alerts.wait_for("N63", deadline)              # -> DccAlert
"""

from .adt import AdtFile, AdtRegistry, AdtRejected, AdtRejectReason, AnomalyVerdict, Threshold, parse_adt
from .alert_sink import AlertSink, AlertTimeout
from .alerts import (
    ChangeOfSupplier,
    CommsHubFirmwareActivation,
    CosCertificateAlert,
    DccAlert,
    DeviceChangeOfSupplier,
    EcosAlert,
)
from .checks import CHECKS, CheckFailure, CheckReport, run_checks
from .config import ConfigError, DccConfig, RetryPolicy
from .cos_party import CosAuthorisationError, CosParty, DccParties, Dsp
from .db import Database
from .duis_xml import DuisFormatError, load_request, parse_request, request_xml, write_request
from .ecosmig import Ecosmig007
from .facade import Dcc
from .ids import eui, eui_text
from .inventory import AttemptRecord, CredentialOrigin, DeviceRecord, Inventory, InventoryError
from .migration import ModelClassification, ModelVerdict, classify_model
from .outcomes import MigrationAttempt, MigrationOutcome, ServiceOutcome, ServiceStatus, Timing
from .progress import ProgressBar
from .request import DUIS_CANCELLATION, RequestError, RequestId, UpdateSecurityCredentialsCoS, XmlSigner, to_cs02b
from .tables import AttemptResult, CredentialStatus, Element, RowStatus
from .trust_anchors import TrustAnchorReading

__all__ = [
    "CHECKS", "DUIS_CANCELLATION", "AdtFile", "AdtRegistry", "AdtRejectReason", "AdtRejected", "AlertSink",
    "AlertTimeout", "AnomalyVerdict", "AttemptRecord", "AttemptResult", "ChangeOfSupplier", "CheckFailure",
    "CheckReport", "CommsHubFirmwareActivation", "ConfigError", "CosAuthorisationError", "CosCertificateAlert",
    "CosParty", "CredentialOrigin", "CredentialStatus", "Database", "Dcc", "DccAlert", "DccConfig", "DccParties",
    "DeviceChangeOfSupplier", "DeviceRecord", "Dsp", "DuisFormatError", "EcosAlert", "Ecosmig007", "Element",
    "Inventory", "InventoryError", "MigrationAttempt", "MigrationOutcome", "ModelClassification", "ModelVerdict",
    "ProgressBar", "RequestError", "RequestId", "RetryPolicy", "RowStatus", "ServiceOutcome", "ServiceStatus", "Threshold",
    "Timing", "TrustAnchorReading", "UpdateSecurityCredentialsCoS", "XmlSigner", "classify_model", "eui",
    "eui_text", "load_request", "parse_adt", "parse_request", "request_xml", "run_checks", "to_cs02b",
    "write_request",
]
