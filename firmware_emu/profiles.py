"""Per-model behaviour: the choices GBCS leaves open, quirks, and fault injection.

A model profile is data. The ``default`` profile is a conforming meter as this project reads
GBCS; every UNCONFIRMED point of ``docs/reference/gbcs-cs02b.md`` is a field here, documented
with the choice made, so a lab can describe a real model's behaviour and the emulator can
reproduce it. Other built-in profiles are deliberately faulty models for negative scenarios.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from rig.gbcs.payloads.cs02 import TrustAnchorCellId
from rig.gbcs.tables import KeyUsage, ReplacementMode, StatusCode

#: per-cell status codes for failures GBCS does not pin down (RTDS shows only 0 and 10)
DEFAULT_STATUSES: Mapping[str, StatusCode] = MappingProxyType({
    # the replacement certificate does not chain to the root cell (RTDS: unknown OCA -> 10)
    "no_chain": StatusCode.NO_TRUST_ANCHOR,
    # a signature in the chain does not verify (a chain that cannot be built, as above)
    "bad_signature": StatusCode.NO_TRUST_ANCHOR,
    # CA constraints, policy, validity period, role (OU) or key usage wrong (UNCONFIRMED)
    "bad_certificate": StatusCode.BAD_CERTIFICATE,
    # the target cell does not exist on this device type (by analogy with CS02a, UNCONFIRMED)
    "target_not_on_device": StatusCode.TRUST_ANCHOR_NOT_FOUND,
    # the target cell is outside what the mode may replace (UNCONFIRMED)
    "target_not_permitted": StatusCode.NOT_AUTHORIZED,
    # a refused mode answered cell by cell (profile refusal = "fail-cells")
    "refused": StatusCode.OTHER,
    # a future-dated command whose execution failed unexpectedly: rolled back, every cell reported failed
    "execution_failed": StatusCode.OTHER,
})


@dataclass(frozen=True)
class ModelProfile:
    name: str = "default"
    manufacturer: str = "gbcs-rig"
    model: str = "EMU-CONFORMING"
    firmware: str = "1.0.0"
    description: str = "a conforming meter as gbcs-rig reads GBCS"

    # -- trust anchor cells -------------------------------------------------------------
    extra_cells: tuple[TrustAnchorCellId, ...] = ()
    missing_cells: tuple[TrustAnchorCellId, ...] = ()

    # -- choices where GBCS (as far as we could read it) is silent -------------------------
    #: the grouping-header originator must be the authorising cell's SubjectUniqueID (RTDS consistent)
    check_originator_is_cell_subject: bool = True
    #: authorisingRemotePartySeqNumber [3] must equal the originator counter (always so in RTDS)
    require_seq_number_equals_counter: bool = True
    #: a device without reliable time skips time-based checks in path validation
    reliable_time: bool = True
    #: how floors [4]/[5]/[6] move counters (``firmware_emu.counters``): "strict" (only for roles
    #: this command replaced, never below the frame's own counter, never when every replacement
    #: failed) or "as-requested" (written as given, the literal reading; reopens replay windows)
    floor_rules: str = "strict"
    #: CS02b responses carry the device date-time (every RTDS CS02b response does)
    response_date_time: bool = True
    #: payload lengths >= 128 written as 82 hh ll, like the RTDS devices (0 = minimal DER)
    payload_long_form_width: int = 2
    #: authentication failures raise a generic alert to the responsible supplier (see rejections)
    rejection_alerts: bool = True
    #: a future-dated command is cancelled only by the role that authorised it
    cancel_same_role_only: bool = True
    statuses: Mapping[str, StatusCode] = field(default_factory=lambda: DEFAULT_STATUSES)
    #: what CS02a/CS02f report as a role's currentSeqNumber: "counter" (its anti-replay counter,
    #: as GBCS names the field) or "entry-index" (the entry's position in the response, 0 first:
    #: every one of the 8 RTDS CS02a/CS02f responses fits this and no single counter state fits
    #: them all, e.g. network operator 1 on 00DB1234567890A0 in 6.24.1 CS02aMAC, 0 in NA CS02aSignature)
    reported_seq_number: str = "counter"
    #: key usages (``KeyUsage`` values) for which CS02c cannot produce a certification request
    #: (answers crProductionFailed) and CS02e cannot retrieve the certificate (certificateRetrievalFailure)
    cs02c_failing_usages: frozenset[int] = frozenset()
    cs02e_failing_usages: frozenset[int] = frozenset()
    first_alert_counter: int = 2000

    # -- quirks of non-conforming models ---------------------------------------------------
    #: modes this model cannot process (a "non-migratable" model refuses mode 6)
    refuse_modes: frozenset[int] = frozenset()
    #: "discard" (no response, integrity event) or "fail-cells" (respond, every cell fails)
    refusal: str = "discard"
    #: rejects commands whose authorising trust anchor certificate has expired (GBCS devices
    #: do not time-check trust anchors; DCC proved CS02b works after TCoS expiry)
    reject_expired_trust_anchor: bool = False
    #: 8F66 and 8F67 swapped
    wrong_alert: bool = False

    # -- link faults ------------------------------------------------------------------------
    #: seconds between a command and its response (held back and released by ``poll``)
    response_delay: float = 0.0
    drop_responses: bool = False
    drop_alerts: bool = False

    def __post_init__(self):
        from .counters import FLOOR_RULES

        if self.floor_rules not in FLOOR_RULES:
            raise ValueError(f"floor_rules is one of {FLOOR_RULES}, not {self.floor_rules!r}")
        if self.reported_seq_number not in ("counter", "entry-index"):
            raise ValueError(f"reported_seq_number is 'counter' or 'entry-index', not {self.reported_seq_number!r}")

    def with_changes(self, **changes) -> ModelProfile:
        return replace(self, **changes)


DEFAULT = ModelProfile()

PROFILES: dict[str, ModelProfile] = {p.name: p for p in (
    DEFAULT,
    DEFAULT.with_changes(name="non-migratable", model="EMU-NOMIGRATE",
                         description="cannot process transCoSByTransCoS: discards every mode 6 command",
                         refuse_modes=frozenset({ReplacementMode.TRANS_COS_BY_TRANS_COS})),
    DEFAULT.with_changes(name="fails-cells", model="EMU-FAILCELLS",
                         description="answers mode 6 with every cell failed (status other)",
                         refuse_modes=frozenset({ReplacementMode.TRANS_COS_BY_TRANS_COS}), refusal="fail-cells"),
    DEFAULT.with_changes(name="expiry-strict", model="EMU-EXPIRY",
                         description="rejects commands once the authorising trust anchor has expired",
                         reject_expired_trust_anchor=True),
    DEFAULT.with_changes(name="floors-as-requested", model="EMU-FLOORS",
                         description="writes every floor [4] [5] [6] as given (literal reading; replayable)",
                         floor_rules="as-requested"),
    DEFAULT.with_changes(name="slow", model="EMU-SLOW", description="answers after 1.5 s", response_delay=1.5),
    DEFAULT.with_changes(name="mute", model="EMU-MUTE", description="never answers", drop_responses=True,
                         drop_alerts=True),
    DEFAULT.with_changes(name="wrong-alert", model="EMU-WRONGALERT", description="sends 8F67 for 8F66 and back",
                         wrong_alert=True),
    DEFAULT.with_changes(name="no-reliable-time", model="EMU-NOTIME",
                         description="no reliable time: path validation without time checks", reliable_time=False),
    # the RTDS test ESME: its reported clock (2015-01-01) predates every RTDS certificate, yet
    # its CS02b responses show success, so it validates paths without time checks
    DEFAULT.with_changes(name="rtds", model="RTDS-ESME", description="behaves as the DCC RTDS 4.5.0 test devices",
                         reliable_time=False, reported_seq_number="entry-index",
                         # RTDS 6.17 CS02c ERROR (KA: crProductionFailed) and 6.24.2 CS02e ERROR (KA:
                         # certificateRetrievalFailure, though the KA certificate exists): the RTDS
                         # device fails every KA credential read or request
                         cs02c_failing_usages=frozenset({int(KeyUsage.KEY_AGREEMENT)}),
                         cs02e_failing_usages=frozenset({int(KeyUsage.KEY_AGREEMENT)})),
)}


def get_profile(name: str | ModelProfile) -> ModelProfile:
    if isinstance(name, ModelProfile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown model profile {name!r} (known: {', '.join(PROFILES)})") from None
