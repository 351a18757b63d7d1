"""The scenario catalogue as data: what each scenario proves, where it applies, what it needs.

``order`` puts scenarios in a sequence a real device can follow in one pass (factory state,
then migration, then change of supplier); in-process emulated rigs are reset before each one.
``kind`` separates device conformance (which decides a model's verdict) from the rig's own
DCC-side checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rig.dcc import probes
from rig.harness import RigSession

from . import dcc, device

ALL = ("ESME", "GSME", "CHF", "GPF")
METERS = ("ESME", "GSME", "GPF")  # the device types with a transitionalCoS trust anchor


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

    @property
    def description(self) -> str:
        return " ".join((self.run.__doc__ or "").split())


CATALOGUE: tuple[Scenario, ...] = (
    Scenario("initial-read-back", "CS02a read-back of the factory trust anchors", device.initial_read_back, ALL, 10),
    Scenario("cos-before-migration", "CoS signed by the ECoS party before migration is rejected",
             device.cos_before_migration, order=20),
    *(Scenario(name, f"Discarded: {name.replace('-', ' ')}", device.negative(name), order=30)
      for name in device.NEGATIVES),
    Scenario("replayed-counter", "Discarded: replayed counter", device.replayed_counter, order=31),
    Scenario("wrong-key-usage", "Replacement with the wrong key usage fails its cell", device.wrong_key_usage,
             order=32),
    Scenario("wrong-role", "Replacement with the wrong role fails its cell", device.wrong_role, order=33),
    Scenario("unknown-ca", "Replacement from an unknown CA fails its cell", device.unknown_ca, order=34),
    Scenario("missing-issuing-ca", "Replacement without its issuing CA certificate fails its cell",
             device.missing_issuing_ca, order=35),
    Scenario("migration", "TCoS to ECoS migration", device.migration, ALL, 50),
    Scenario("migration-expired-tcos", "Migration with an expired TCoS certificate", device.migration_expired_tcos,
             order=55, required=False),
    Scenario("change-of-supplier", "Change of supplier after migration (N26)", device.change_of_supplier, order=60),
    Scenario("future-dated", "Future-dated change of supplier (0x8F66)", device.future_dated, order=70,
             features=("future_dated",)),
    Scenario("future-dated-failing", "Failing future-dated change of supplier (0x8F67)", device.future_dated_failing,
             order=75, features=("future_dated",)),
    Scenario("cancellation", "Cancellation of a future-dated change of supplier", device.cancellation, order=80,
             features=("future_dated",)),
    Scenario("n65-join-after-switchover", "N65 for a TCoS device joining a comms hub after switch-over",
             device.n65_on_join, ("ESME", "GSME"), 90, required=False),
    *(Scenario(f"srv623-{check.replace('_', '-')}", f"SRV 6.23 check {check} fails", dcc.srv623_check(check),
               ("ESME",), 100, kind="dcc") for check in probes.CASES),
    Scenario("anomaly-detection-breach", "Anomaly detection breach (N63)", dcc.anomaly_detection_breach, ("ESME",),
             110, kind="dcc"),
)

BY_ID = {scenario.id: scenario for scenario in CATALOGUE}
