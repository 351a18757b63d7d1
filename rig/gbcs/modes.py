"""Credentials replacement modes as data: who authorises, which cells, which frame variant.

One table serves the rig (building commands) and the emulated devices (checking them).
Facts: ``docs/reference/gbcs-cs02b.md`` sections 2.1 and 6. Rows or columns marked
``confirmed=False`` are the project's reading where RTDS has no vector; they are data so a lab
can see and change them.

Frame variants [GBCS v1 13.3.3.1, RTDS]:

* A: signed only (no MAC header): anyByContingency, anyExceptAbnormalRootByRecovery;
* B: MAC only (signature length 0x00): accessControlBrokerByACB to a device other than a CHF;
* C: signed and MACed: every other case.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .tables import RemotePartyRole as R
from .tables import ReplacementMode as M


class Variant(enum.Enum):
    SIGNED = "A"
    MAC_ONLY = "B"
    SIGNED_AND_MACED = "C"


@dataclass(frozen=True)
class ModeRule:
    mode: M
    #: role of the authorising trust anchor cell (its DS key signs); None = ACB MAC only
    authorising_role: R | None
    #: roles whose cells the mode may replace
    target_roles: frozenset[R]
    variant: Variant
    confirmed: bool = True
    #: variant on a communications hub function when it differs (ACB by ACB: signed by ACB DS)
    chf_variant: Variant | None = None
    chf_authorising_role: R | None = None

    def variant_for(self, is_chf: bool) -> Variant:
        return self.chf_variant if is_chf and self.chf_variant else self.variant

    def authorising_role_for(self, is_chf: bool) -> R | None:
        return self.chf_authorising_role if is_chf and self.chf_variant else self.authorising_role


_ALL_BUT_ROOT = frozenset({R.RECOVERY, R.SUPPLIER, R.NETWORK_OPERATOR, R.ACCESS_CONTROL_BROKER,
                           R.TRANSITIONAL_COS, R.WAN_PROVIDER, R.LOAD_CONTROLLER})
_C = Variant.SIGNED_AND_MACED

MODE_RULES: dict[M, ModeRule] = {rule.mode: rule for rule in (
    ModeRule(M.ROOT_BY_SUPPLIER, R.SUPPLIER, frozenset({R.ROOT}), _C, confirmed=False),
    ModeRule(M.ROOT_BY_WAN_PROVIDER, R.WAN_PROVIDER, frozenset({R.ROOT}), _C, confirmed=False),
    ModeRule(M.SUPPLIER_BY_SUPPLIER, R.SUPPLIER, frozenset({R.SUPPLIER}), _C),
    ModeRule(M.NETWORK_OPERATOR_BY_NETWORK_OPERATOR, R.NETWORK_OPERATOR, frozenset({R.NETWORK_OPERATOR}), _C),
    ModeRule(M.ACCESS_CONTROL_BROKER_BY_ACB, None, frozenset({R.ACCESS_CONTROL_BROKER}), Variant.MAC_ONLY,
             chf_variant=_C, chf_authorising_role=R.ACCESS_CONTROL_BROKER),
    ModeRule(M.WAN_PROVIDER_BY_WAN_PROVIDER, R.WAN_PROVIDER, frozenset({R.WAN_PROVIDER}), _C),
    ModeRule(M.TRANS_COS_BY_TRANS_COS, R.TRANSITIONAL_COS, frozenset({R.TRANSITIONAL_COS}), _C),
    ModeRule(M.SUPPLIER_BY_TRANS_COS, R.TRANSITIONAL_COS, frozenset({R.SUPPLIER}), _C),
    ModeRule(M.ANY_EXCEPT_ABNORMAL_ROOT_BY_RECOVERY, R.RECOVERY, _ALL_BUT_ROOT, Variant.SIGNED),
    ModeRule(M.ANY_BY_CONTINGENCY, R.ROOT, _ALL_BUT_ROOT | {R.ROOT}, Variant.SIGNED, confirmed=False),
    ModeRule(M.LOAD_CONTROLLER_BY_LOAD_CONTROLLER, R.LOAD_CONTROLLER, frozenset({R.LOAD_CONTROLLER}), _C),
    ModeRule(M.LOAD_CONTROLLER_BY_SUPPLIER, R.SUPPLIER, frozenset({R.LOAD_CONTROLLER}), _C),
)}
