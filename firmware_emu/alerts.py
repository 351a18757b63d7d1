"""Generic alert payloads (message codes 0x1000 critical, 0x1001 non-critical).

Byte layouts as the RTDS 4.5.0 generic alerts show them (GCA-DLMS_NA_8F30, GCA-ZigBee_NA_8F30):

* DLMS COSEM (ESME, CHF): Data-Notification ``0F``, long-invoke-id-and-priority
  ``0x20000000 | alert counter``, no date-time ``00``, then ``structure(2) { long-unsigned alert
  code, octet-string(12) COSEM date-time }``: ``02 02 12 cc cc 09 0C <date-time>``.
* GBZ (GSME, GPF): ``01 09`` (GBZ profile), ``00``, the alert code, then the time as seconds
  since 2000-01-01T00:00:00Z in 4 bytes.
"""

from __future__ import annotations

import datetime as _dt

from rig.gbcs.fields import write_date_time
from rig.gbcs.message import CosemDateTime
from rig.gbcs.streams import BuildState, BuildStream

GENERIC_CRITICAL_ALERT = 0x1000
GENERIC_NON_CRITICAL_ALERT = 0x1001
_GBZ_EPOCH = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)


def _cosem(when: _dt.datetime) -> bytes:
    stream = BuildStream(BuildState())
    write_date_time(stream, CosemDateTime.from_datetime(when))
    return stream.getvalue()[1:]  # drop the length octet


def dlms_alert(alert_code: int, alert_counter: int, when: _dt.datetime) -> bytes:
    invoke = (0x20000000 | (alert_counter & 0x00FFFFFF)).to_bytes(4, "big")
    return b"\x0f" + invoke + b"\x00\x02\x02\x12" + alert_code.to_bytes(2, "big") + b"\x09\x0c" + _cosem(when)


def gbz_alert(alert_code: int, when: _dt.datetime) -> bytes:
    seconds = int((when - _GBZ_EPOCH).total_seconds())
    return b"\x01\x09\x00" + alert_code.to_bytes(2, "big") + max(seconds, 0).to_bytes(4, "big")


def message_alert_code(message) -> int | None:
    """The alert code of an alert message: a CS02b future-dated alert or a generic alert."""
    from rig.gbcs import Cs02bAlert

    payload = message.payload
    if isinstance(payload, Cs02bAlert):
        return payload.alert_code
    return alert_code_of(payload) if isinstance(payload, (bytes, bytearray)) else None


def alert_code_of(payload: bytes) -> int | None:
    """The alert code inside a generic alert payload of either format, else None."""
    if len(payload) >= 12 and payload[0] == 0x0F and payload[5:9] == b"\x00\x02\x02\x12":
        return int.from_bytes(payload[9:11], "big")
    if len(payload) >= 9 and payload[:3] == b"\x01\x09\x00":
        return int.from_bytes(payload[3:5], "big")
    return None
