"""Device types and the trust anchor cells each one holds, as data.

From ``docs/reference/gbcs-cs02b.md`` section 7. Cells marked UNCONFIRMED there (RTDS shows no
evidence either way) follow the brief's reading of GBCS v1 section 4.3 and can be changed per
model with ``ModelProfile.extra_cells`` / ``missing_cells`` (``CELL_SOURCES`` holds the source of every cell as data):

* ESME: root, recovery, supplier DS/KA/KA-prepayment, network operator DS/KA, ACB KA,
  transitional CoS DS [RTDS for all but root/recovery, which RTDS contingency responses show],
  load controller DS/KA [RTDS 6.24.1 CS02fMAC: 00DB1234567890A0 lists both; CS02g loads them].
* GSME: root, recovery, supplier DS/KA/KA-prepayment, ACB KA, transitional CoS DS; no network
  operator cells [RTDS: CS02a answers trustAnchorNotFound for role 3].
* CHF: root, recovery, ACB DS/KA, WAN provider DS [RTDS: ACB DS+KA, WAN provider]; no supplier
  or transitional CoS cells (UNCONFIRMED).
* GPF: root, recovery, supplier DS/KA/KA-prepayment, network operator DS/KA, ACB KA,
  transitional CoS DS (UNCONFIRMED beyond the RTDS handover vectors' supplier and NO cells).
"""

from __future__ import annotations

import enum

from rig.gbcs.payloads.cs02 import TrustAnchorCellId
from rig.gbcs.tables import CellUsage, KeyUsage, RemotePartyRole

R = RemotePartyRole
DS = KeyUsage.DIGITAL_SIGNATURE
KA = KeyUsage.KEY_AGREEMENT
KCS = KeyUsage.KEY_CERT_SIGN
PP = CellUsage.PREPAYMENT_TOP_UP


class DeviceType(enum.Enum):
    ESME = "ESME"
    GSME = "GSME"
    CHF = "CHF"
    GPF = "GPF"

    @classmethod
    def parse(cls, value: str | DeviceType) -> DeviceType:
        if isinstance(value, DeviceType):
            return value
        try:
            return cls(value.upper())
        except ValueError:
            raise ValueError(f"unknown device type {value!r} (one of {', '.join(t.value for t in cls)})") from None

    @property
    def alert_format(self) -> str:
        """Generic alerts: DLMS COSEM for electricity and hub devices, GBZ for gas [RTDS]."""
        return "gbz" if self in (DeviceType.GSME, DeviceType.GPF) else "dlms"


def cell(role: R, usage: KeyUsage, cell_usage: CellUsage = CellUsage.MANAGEMENT) -> TrustAnchorCellId:
    """The canonical instance of a cell id (``TrustAnchorCellId.canonical``): the emulator's
    tables and the decoder's cells are then the same objects."""
    return TrustAnchorCellId.canonical(TrustAnchorCellId(role, usage, cell_usage))


ROOT = cell(R.ROOT, KCS)
_SUPPLIER = (cell(R.SUPPLIER, DS), cell(R.SUPPLIER, KA), cell(R.SUPPLIER, KA, PP))
_NETWORK_OPERATOR = (cell(R.NETWORK_OPERATOR, DS), cell(R.NETWORK_OPERATOR, KA))

CELLS: dict[DeviceType, tuple[TrustAnchorCellId, ...]] = {
    DeviceType.ESME: (ROOT, cell(R.RECOVERY, DS), *_SUPPLIER, *_NETWORK_OPERATOR,
                      cell(R.ACCESS_CONTROL_BROKER, KA), cell(R.TRANSITIONAL_COS, DS),
                      cell(R.LOAD_CONTROLLER, DS), cell(R.LOAD_CONTROLLER, KA)),
    DeviceType.GSME: (ROOT, cell(R.RECOVERY, DS), *_SUPPLIER, cell(R.ACCESS_CONTROL_BROKER, KA),
                      cell(R.TRANSITIONAL_COS, DS)),
    DeviceType.CHF: (ROOT, cell(R.RECOVERY, DS), cell(R.ACCESS_CONTROL_BROKER, DS),
                     cell(R.ACCESS_CONTROL_BROKER, KA), cell(R.WAN_PROVIDER, DS)),
    DeviceType.GPF: (ROOT, cell(R.RECOVERY, DS), *_SUPPLIER, *_NETWORK_OPERATOR,
                     cell(R.ACCESS_CONTROL_BROKER, KA), cell(R.TRANSITIONAL_COS, DS)),
}


#: why each cell is in (or out of) each device type's table: "RTDS ..." where a DCC RTDS 4.5.0
#: vector shows it, "GBCS ..." where the specification text settles it, "reading ..." where
#: neither does and this is the project's reading (``docs/emulator.md`` has the same table)
CELL_SOURCES: dict[TrustAnchorCellId, dict[DeviceType, str]] = {
    ROOT: {DeviceType.ESME: "RTDS contingency responses", DeviceType.GSME: "reading (GBCS v1 4.3)",
           DeviceType.CHF: "reading (GBCS v1 4.3)", DeviceType.GPF: "reading (GBCS v1 4.3)"},
    cell(R.RECOVERY, DS): {DeviceType.ESME: "RTDS recovery and contingency responses",
                           DeviceType.GSME: "reading (GBCS v1 4.3)", DeviceType.CHF: "reading (GBCS v1 4.3)",
                           DeviceType.GPF: "reading (GBCS v1 4.3)"},
    **{c: {DeviceType.ESME: "RTDS 6.15.1, 6.23, 6.24.1 CS02aMAC", DeviceType.GSME: "reading (GBCS v1 4.3)",
           DeviceType.GPF: "RTDS 6.21 handover"} for c in _SUPPLIER},
    **{c: {DeviceType.ESME: "RTDS 6.24.1 CS02aMAC, NA CS02aSignature", DeviceType.GPF: "RTDS 6.21 handover"}
       for c in _NETWORK_OPERATOR},
    cell(R.ACCESS_CONTROL_BROKER, DS): {DeviceType.CHF: "RTDS NA CS02aSignature (CHF lists ACB DS and KA)"},
    cell(R.ACCESS_CONTROL_BROKER, KA): {DeviceType.ESME: "RTDS (every ACB-MACed ESME command)",
                                        DeviceType.GSME: "RTDS 6.24.1 CS02aMAC ERROR",
                                        DeviceType.CHF: "RTDS NA CS02aSignature",
                                        DeviceType.GPF: "reading (GBCS v1 4.3)"},
    cell(R.TRANSITIONAL_COS, DS): {DeviceType.ESME: "RTDS 6.23, NA CS02bTransCoSByTransCoS",
                                   DeviceType.GSME: "reading (GBCS v1 4.3)", DeviceType.GPF: "reading (GBCS v1 4.3)"},
    cell(R.WAN_PROVIDER, DS): {DeviceType.CHF: "RTDS CS02bWPByWP"},
    **{c: {DeviceType.ESME: "RTDS 6.24.1 CS02fMAC (00DB1234567890A0 lists load controller DS and KA)"}
       for c in (cell(R.LOAD_CONTROLLER, DS), cell(R.LOAD_CONTROLLER, KA))},
}
#: cells a device type does not hold, with the evidence (absent here and from ``CELLS``: reading)
ABSENT_CELL_SOURCES: dict[tuple[DeviceType, R], str] = {
    (DeviceType.GSME, R.NETWORK_OPERATOR): "RTDS 6.24.1 CS02aMAC ERROR: trustAnchorNotFound for role 3",
    (DeviceType.ESME, R.WAN_PROVIDER): "RTDS NA CS02aSignature ERROR: trustAnchorNotFound for role 6",
    (DeviceType.ESME, R.ACCESS_CONTROL_BROKER): "GBCS: ACB by ACB is MAC only on a non-CHF device (no ACB DS cell)",
}
