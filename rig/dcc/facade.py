"""``Dcc``: the DCC / ECoS party side of the rig in one object.

It owns the collaborators (inventory, key store, alert sink, configuration, anomaly detection)
and the few things every flow shares: routing a device to the CoS key that must sign for it,
the CoS-sign / DSP-check / ACB-MAC pipeline, the device-key verifier for answers, and raising
alerts from the rule table. The flows live in their own modules (``service`` for SRV 6.23,
``migration`` for TCoS -> ECoS, ``trust_anchors`` for CS02a reads, ``device_log`` for N65,
``ecosmig`` for the report) and are reached through the methods here.

Any ``rig.transport.Transport`` drops in: the flows only call ``send`` and ``recv``.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable, Iterable, Mapping

from cryptography import x509

from rig.crypto import KeyStore, Usage, verify_signature
from rig.gbcs import Message, RemotePartyRole
from rig.transport.base import Transport

from . import device_log, ecosmig, migration, service, trust_anchors
from .adt import AdtFile, AdtRegistry
from .alert_sink import AlertSink
from .alerts import DccAlert, alert_id, make_alert
from .checks import issued_by
from .config import DccConfig, RetryPolicy
from .cos_party import CosParty, DccParties, Dsp
from .exchange import Verifier
from .ids import EuiLike, eui
from .inventory import DeviceRecord, Inventory
from .outcomes import MigrationOutcome, ServiceOutcome
from .request import UpdateSecurityCredentialsCoS
from .tables import Payload, Recipient


class Dcc:
    """DSP + CoS party + smart metering inventory, as the rig plays them.

    ``sleep`` waits between migration retries (tests pass a recorder). Deadlines are absolute
    ``time.monotonic()`` values, as transports expect.
    """

    def __init__(self, inventory: Inventory, keystore: KeyStore, parties: DccParties, *,
                 ca_certificates: Iterable[x509.Certificate] = (), alert_sink: AlertSink | None = None,
                 config: DccConfig | None = None, adt: AdtRegistry | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.inventory = inventory
        self.keystore = keystore
        self.parties = parties
        self.config = config or DccConfig()
        self.alerts = alert_sink if alert_sink is not None else AlertSink()
        self.adt = adt or AdtRegistry(inventory.db, critical_srvs=self.config.critical_srvs,
                                      comparison=self.config.adt_comparison, clock=inventory.clock)
        self.ca_certificates = list(ca_certificates)
        self.cos_party = CosParty(keystore)
        self.dsp = Dsp(keystore, parties)
        self.sleep = sleep

    @classmethod
    def from_pki(cls, pki, inventory: Inventory, **kwargs) -> Dcc:
        """Over the test PKI (``rig.pki.Pki``): its key store, parties and issuing CA."""
        from rig.pki import keystore_of

        kwargs.setdefault("ca_certificates", [pki.issuing_ca.certificate])
        return cls(inventory, keystore_of(pki), DccParties.from_pki(pki), **kwargs)

    # -- shared by the flows -------------------------------------------------------------------
    def signer_for(self, device: DeviceRecord) -> bytes | None:
        """The CoS party whose key signs for ``device`` (TCoS before migration, ECoS after)."""
        party = self.config.routing.get(device.credential_status)
        return self.parties.cos_party(party) if party else None

    def authorise(self, message: Message, *, decoded: bool = True) -> tuple[bytes, Message]:
        """CoS party signs, DSP checks (8.4) and adds the ACB MAC: the frame to send."""
        return self.dsp.authorise(message, self.cos_party, decoded=decoded)

    def device_signature(self, device_id: EuiLike) -> Verifier:
        """Verifier of answers signed with the device's DS key (from its device certificate)."""
        public_key = self.keystore.public_key(eui(device_id), Usage.DS)
        return lambda frame, message: verify_signature(frame, message, public_key)

    def issuing_ca_of(self, certificate: x509.Certificate) -> x509.Certificate:
        for ca in self.ca_certificates:
            if issued_by(certificate, ca):
                return ca
        raise LookupError(f"no configured CA issued {certificate.subject.rfc4514_string()}")

    def raise_alert(self, trigger: str, recipients: dict[Recipient, bytes | None], *, device: DeviceRecord,
                    request_id: str | None = None, cause: str | None = None, **extra) -> DccAlert | None:
        """Raise the alert the rule table gives ``trigger`` (None when the lab disabled it).

        The facts offered cover every body kind, and the device's responsible supplier is always
        a known recipient, so a lab may switch a rule's payload or recipient freely.
        """
        rule = self.config.alert_rule(trigger)
        if rule is None:
            return None
        error_code = self.config.ecos_error_codes.get(cause) if cause else rule.detail_code
        facts = {
            "service_request_id": request_id, "request_id": request_id, "device_id": device.device_id,
            "device_type": device.device_type, "import_mpxn": device.mpxn,
            "ecos_error_code": error_code if error_code and len(error_code) == 3 else None,
            "ecos_alert_code": rule.detail_code or trigger, **extra,
        }
        if rule.payload is Payload.ECOS_ALERT:
            facts["alert_id"] = alert_id(self.parties.dcc_id, device.device_id,
                                         self.inventory.next_sequence(f"alert/{rule.code}"))
        known = {Recipient.RESPONSIBLE_SUPPLIER: device.supplier_id, **recipients}
        alert = make_alert(rule, recipient=known.get(rule.recipient), facts=facts, request_id=request_id)
        self.alerts.publish(alert)
        return alert

    # -- the flows -----------------------------------------------------------------------------
    def submit_623(self, request: UpdateSecurityCredentialsCoS, transport: Transport,
                   *, response_timeout_s: float | None = None) -> ServiceOutcome:
        """SRV 6.23 end to end: checks, routing, anomaly detection, CS02b mode 7, response, alerts."""
        return service.submit_623(self, request, transport, response_timeout_s=response_timeout_s)

    def collect_execution_alert(self, outcome: ServiceOutcome, transport: Transport, deadline: float) -> ServiceOutcome:
        """For an ACCEPTED future-dated 6.23: wait for the device's 0x00CB alert and conclude."""
        return service.collect_execution_alert(self, outcome, transport, deadline)

    def migrate(self, device_id: EuiLike, transport: Transport, *, policy: RetryPolicy | None = None) -> MigrationOutcome:
        """TCoS -> ECoS migration of one device (CS02b mode 6 signed by TCoS), with retries."""
        return migration.migrate_device(self, eui(device_id), transport, policy=policy)

    def migrate_many(self, devices: Iterable[tuple[EuiLike, Transport]], *, policy: RetryPolicy | None = None,
                     batch_size: int = migration.BATCH_SIZE, progress: migration.Progress | None = None,
                     on_outcome: Callable[[MigrationOutcome], None] | None = None) -> list[MigrationOutcome]:
        """Migrate ``(device id, transport)`` pairs through this DCC in the order given, in batches
        (one counter commit and one record commit per batch); one outcome per pair, in order
        (or each handed to ``on_outcome`` as it concludes, none kept)."""
        return migration.migrate_devices(self, [(eui(d), t) for d, t in devices], policy=policy,
                                         batch_size=batch_size, progress=progress, on_outcome=on_outcome)

    def migrate_fleet(self, hubs: Mapping[EuiLike, Transport], *, policy: RetryPolicy | None = None,
                      batch_size: int = migration.BATCH_SIZE, progress: migration.Progress | None = None,
                      on_outcome: Callable[[MigrationOutcome], None] | None = None) -> list[MigrationOutcome]:
        """Migrate every device on the given comms hubs' device logs, hub by hub, each hub's devices
        in its device log order, over that hub's transport. CHFs hold no transitionalCoS trust
        anchor and are left out. Retries (per the policy) come after every device's first attempt,
        in the same order, so one slow device does not hold the fleet up."""
        pairs = [(device, transport) for hub_id, transport in hubs.items()
                 for device in self.inventory.device_log_records(hub_id) if device.device_type != "CHF"]
        return migration.migrate_devices(self, pairs, policy=policy, batch_size=batch_size, progress=progress,
                                         on_outcome=on_outcome)

    def classify_model(self, model: str, *, min_devices: int = 1) -> migration.ModelClassification:
        return migration.classify_model(self.inventory, model, min_devices=min_devices)

    def read_trust_anchors(self, device_id: EuiLike, transport: Transport,
                           roles: Iterable[RemotePartyRole] = (RemotePartyRole.TRANSITIONAL_COS,),
                           *, timeout_s: float | None = None) -> trust_anchors.TrustAnchorReading:
        """CS02a (ACB MAC variant): learn counter floors and which CoS party the device trusts."""
        return trust_anchors.read_trust_anchors(self, eui(device_id), transport, tuple(roles), timeout_s=timeout_s)

    def submit_adt(self, data: str | AdtFile) -> AdtFile:
        """Accept a User's ADT file or raise ``AdtRejected`` (whole file)."""
        return self.adt.submit(data)

    def on_device_added_to_device_log(self, hub_id: EuiLike, device_id: EuiLike,
                                      cos_cell_subject_id: EuiLike | None = None,
                                      certificate_serial: int | None = None) -> DccAlert | None:
        """The N65 trigger: record the device on the hub's log; alert when it holds the wrong CoS cert."""
        return device_log.device_added(self, eui(hub_id), eui(device_id),
                                       eui(cos_cell_subject_id) if cos_cell_subject_id is not None else None,
                                       certificate_serial)

    def record_comms_hub_firmware_activation(self, hub_id: EuiLike, firmware_version: str) -> list[DccAlert]:
        """Record an N64 seen on the hub (the rig never generates one)."""
        return device_log.firmware_activation(self, eui(hub_id), firmware_version)

    def ecosmig_007(self, *, recipient: str, sequence: int, start: _dt.datetime, end: _dt.datetime,
                    created: _dt.datetime | None = None, supplier_id: EuiLike | None = None) -> ecosmig.Ecosmig007:
        return ecosmig.build(self.inventory, recipient=recipient, sequence=sequence, start=start, end=end,
                             created=created, supplier_id=supplier_id, rows_count=self.config.ecosmig_rows_count,
                             delimiter=self.config.ecosmig_delimiter)
