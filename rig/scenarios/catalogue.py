"""The scenario catalogue as data: what each scenario proves, where it applies, what it needs.

``order`` puts scenarios in a sequence a real device can follow in one pass (factory state,
then migration, then change of supplier); in-process emulated rigs are reset before each one.
``kind`` separates device conformance (which decides a model's verdict) from the rig's own
DCC-side checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rig.config.model import RigSpec, TransportKind
from rig.dcc import probes
from rig.harness import RigSession
from rig.harness.attribution import in_process

from . import authorisation, dcc, device, forgery, power

ALL = ("ESME", "GSME", "CHF", "GPF")
METERS = ("ESME", "GSME", "GPF")  # the device types with a transitionalCoS trust anchor
#: negative probes a link that routes by the GBCS header cannot carry
UNROUTABLE_PROBES = ("wrong-recipient", "truncated-frame", "oversized-length")


#: what a scenario may need of a rig beyond device type and features: (test, why not, when not)
CAPABILITIES: dict[str, tuple[Callable[[RigSpec], bool], str]] = {
    "in_process": (in_process, "the set-up needs the device model in the rig's process (its certificate store or "
                               "its comms hub is changed directly); this rig's device is reached over a link"),
    "carries_any_frame": (lambda spec: spec.transport.kind is not TransportKind.ZIGBEE,
                          "the ZigBee bridge routes each frame by its GBCS header, so a frame for another "
                          "recipient, or one whose header does not decode, cannot be carried to this meter"),
}


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    run: Callable[[RigSession], None]
    devices: tuple[str, ...] = METERS
    order: int = 0
    kind: str = "device"  # "device" or "dcc"
    required: bool = True
    features: tuple[str, ...] = ()
    #: capabilities of the rig the scenario needs (``CAPABILITIES``); without them it is not applicable
    needs: tuple[str, ...] = ()

    def not_applicable(self, spec: RigSpec) -> str | None:
        """Why this scenario does not apply to ``spec``'s rig, or None when it does."""
        if str(spec.device) not in self.devices:
            return f"not for a {spec.device}: the scenario covers {', '.join(self.devices)}"
        missing = [f for f in self.features if f not in spec.features]
        if missing:
            return f"rig {spec.id} does not declare feature(s) {', '.join(missing)}"
        for need in self.needs:
            check, why = CAPABILITIES[need]
            if not check(spec):
                return why
        return None

    @property
    def description(self) -> str:
        return " ".join((self.run.__doc__ or "").split())


CATALOGUE: tuple[Scenario, ...] = (
    Scenario("initial-read-back", "CS02a read-back of the factory trust anchors", device.initial_read_back, ALL, 10),
    Scenario("cos-before-migration", "CoS signed by the ECoS party before migration is rejected",
             device.cos_before_migration, order=20),
    *(Scenario(name, f"Discarded: {name.replace('-', ' ')}", device.negative(name), order=30,
               needs=("carries_any_frame",) if name in UNROUTABLE_PROBES else ())
      for name in device.NEGATIVES),
    Scenario("garbled-header", "Discarded by the comms hub function: unreadable grouping header",
             device.garbled_header, ("CHF",), 30, needs=("carries_any_frame",)),
    Scenario("replayed-counter", "Discarded: replayed counter", device.replayed_counter, order=31),
    Scenario("wrong-key-usage", "Replacement with the wrong key usage fails its cell", device.wrong_key_usage,
             order=32),
    Scenario("wrong-role", "Replacement with the wrong role fails its cell", device.wrong_role, order=33),
    Scenario("unknown-ca", "Replacement from an unknown CA fails its cell", device.unknown_ca, order=34),
    Scenario("missing-issuing-ca", "Replacement without its issuing CA certificate fails its cell",
             device.missing_issuing_ca, order=35),
    Scenario("forged-ca-signature", "Replacement whose CA signature is forged fails its cell",
             forgery.forged_signature_certificate, order=35),
    Scenario("root-signed-certificate", "Replacement issued by the root itself fails its cell",
             forgery.root_signed_certificate, order=35),
    Scenario("non-critical-policies", "Replacement with non-critical certificatePolicies fails its cell",
             forgery.non_critical_policies_certificate, order=35),
    Scenario("expired-certificate", "Expired replacement with time checks applied fails its cell",
             forgery.expired_certificate, order=35),
    Scenario("forged-signature-migration", "Discarded: migration command with a forged signature",
             device.forged_signature_migration, order=36),
    Scenario("replayed-read", "Discarded: replayed CS02a read", device.replayed_read, ALL, 36),
    Scenario("floors-when-all-fail", "No counter floor from a command whose every replacement failed",
             device.floors_when_all_fail, order=36),
    Scenario("floor-for-named-role", "A supplier floor in [6] is the supplier's floor", device.floor_for_named_role,
             order=38),
    Scenario("mode-authorisation", "Each mode authorised only by its own role's cell", authorisation.mode_authorisation,
             order=36),
    Scenario("mode-target-roles", "Each mode replaces only the roles it targets", authorisation.mode_target_roles,
             order=37),
    Scenario("migration", "TCoS to ECoS migration", device.migration, ALL, 50),
    Scenario("old-holder-after-migration", "After migration the TCoS party is refused, the ECoS party accepted",
             authorisation.old_holder_after_migration, order=52),
    Scenario("migration-expired-tcos", "Migration with an expired TCoS certificate", device.migration_expired_tcos,
             order=55, needs=("in_process",)),
    Scenario("power-cut-during-migration", "Power cut at each persistence point of a CS02b: old or new state",
             power.power_cut_during_migration, order=57, needs=("in_process",)),
    Scenario("change-of-supplier", "Change of supplier after migration (N26)", device.change_of_supplier, order=60),
    Scenario("old-holder-after-change-of-supplier", "After a change of supplier the losing supplier is refused",
             authorisation.old_holder_after_change_of_supplier, order=65),
    Scenario("future-dated", "Future-dated change of supplier (0x8F66)", device.future_dated, order=70,
             features=("future_dated",)),
    Scenario("future-dated-failing", "Failing future-dated change of supplier (0x8F67)", device.future_dated_failing,
             order=75, features=("future_dated",)),
    Scenario("cancellation", "Cancellation of a future-dated change of supplier", device.cancellation, order=80,
             features=("future_dated",)),
    Scenario("cancellation-other-role", "A cancellation leaves another role's future-dated command pending",
             device.cancellation_other_role, order=82, features=("future_dated",)),
    Scenario("n65-join-after-switchover", "N65 for a TCoS device joining a comms hub after switch-over",
             device.n65_on_join, ("ESME", "GSME"), 90, needs=("in_process",)),
    *(Scenario(f"srv623-{check.replace('_', '-')}", f"SRV 6.23 check {check} fails", dcc.srv623_check(check),
               ("ESME",), 100, kind="dcc") for check in probes.CASES),
    Scenario("anomaly-detection-breach", "Anomaly detection breach (N63)", dcc.anomaly_detection_breach, ("ESME",),
             110, kind="dcc"),
)

BY_ID = {scenario.id: scenario for scenario in CATALOGUE}


def catalogue_version(scenarios: tuple[Scenario, ...] = CATALOGUE) -> str:
    """SHA-256 over the scenario ids and their required flags: two reports with the same value
    were judged against the same required set."""
    text = "\n".join(f"{s.id}:{'required' if s.required else 'optional'}:{s.kind}" for s in scenarios)
    return hashlib.sha256(text.encode()).hexdigest()


def expected_for(specs: list[RigSpec], scenarios: tuple[Scenario, ...] = CATALOGUE) -> list[dict[str, Any]]:
    """Every (scenario, rig) pair a complete run concludes, each applicable or not (with why).

    This, not what happened to run, is what a verdict is computed over: the journal keeps it in
    the session record, so ``report merge`` needs neither the config nor the catalogue.
    """
    out = []
    for spec in specs:
        for scenario in scenarios:
            reason = scenario.not_applicable(spec)
            out.append({"scenario": scenario.id, "rig": spec.id, "title": scenario.title, "kind": scenario.kind,
                        "required": scenario.required, "order": scenario.order, "applicable": reason is None,
                        "reason": reason or "", "description": scenario.description})
    return out
