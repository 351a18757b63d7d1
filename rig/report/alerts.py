"""Fields of the generic alert payloads (message codes 0x1000 / 0x1001), for the report.

The codec leaves these payloads as bytes (their content is DLMS COSEM or GBZ, not ASN.1). A
reader of the proof needs the alert code, its counter and its time, so the report lays them
out field by field, from a table per format:

* DLMS COSEM (ESME, CHF): Data-Notification tag ``0F``, long-invoke-id-and-priority (4 bytes;
  the low 24 bits are the alert counter), an optional date-time (``00`` when absent, else
  ``0C`` and 12 bytes), then ``structure(2) { long-unsigned alert code, octet-string(12)
  COSEM date-time }`` and any use-case-specific content;
* GBZ (GSME, GPF): profile id ``0109``, the number of GBZ components, the alert code, the
  time stamp as seconds since 2000-01-01T00:00:00Z (0 and FFFFFFFF: not specified) and any
  use-case-specific components.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from rig.gbcs.tables import alert_code_label

GENERIC_ALERT_CODES = {0x1000: "Generic Critical Alert", 0x1001: "Generic Non-Critical Alert"}
_GBZ_EPOCH = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)


class AlertLayoutError(ValueError):
    """A generic alert payload that matches neither format; names the byte offset."""


@dataclass(frozen=True)
class AlertField:
    offset: int  # within the payload
    raw: bytes
    name: str
    value: str
    meaning: str = ""


def cosem_date_time(raw: bytes) -> str:
    """A 12-byte COSEM date-time as ISO text; unspecified fields (0xFF, 0xFFFF) shown as such."""
    if len(raw) != 12:
        raise AlertLayoutError(f"COSEM date-time of {len(raw)} bytes (12 expected)")
    year = int.from_bytes(raw[0:2], "big")
    month, day, _dow, hour, minute, second, hundredths = raw[2:9]
    deviation = int.from_bytes(raw[9:11], "big", signed=True)
    try:
        when = _dt.datetime(year, month, day, hour, minute, second, 0 if hundredths == 0xFF else hundredths * 10_000)
    except ValueError:
        return f"not fully specified ({raw.hex().upper()})"
    zone = "" if deviation == -0x8000 else f" (deviation {deviation} min)"
    return when.isoformat() + ("Z" if not zone else zone)


def _gbz_time(raw: bytes) -> str:
    seconds = int.from_bytes(raw, "big")
    if seconds in (0, 0xFFFFFFFF):
        return "not specified"
    return (_GBZ_EPOCH + _dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _code(raw: bytes) -> tuple[str, str]:
    code = int.from_bytes(raw, "big")
    return f"0x{code:04X}", alert_code_label(code)


class _Reader:
    def __init__(self, payload: bytes):
        self.payload, self.pos, self.fields = payload, 0, []

    def take(self, size: int, name: str) -> bytes:
        if self.pos + size > len(self.payload):
            raise AlertLayoutError(f"{name}: {size} byte(s) needed at offset {self.pos}, "
                                   f"{len(self.payload) - self.pos} left")
        raw = self.payload[self.pos:self.pos + size]
        self.pos += size
        return raw

    def field(self, size: int, name: str, value: str = "", meaning: str = "", expect: bytes | None = None) -> bytes:
        start = self.pos
        raw = self.take(size, name)
        if expect is not None and raw != expect:
            raise AlertLayoutError(f"{name}: {raw.hex().upper()} at offset {start}, {expect.hex().upper()} expected")
        self.fields.append(AlertField(start, raw, name, value or raw.hex().upper(), meaning))
        return raw

    def rest(self, name: str) -> None:
        if self.pos < len(self.payload):
            self.field(len(self.payload) - self.pos, name, f"{len(self.payload) - self.pos} byte(s)")


def _dlms(payload: bytes) -> list[AlertField]:
    r = _Reader(payload)
    r.field(1, "Data-Notification", meaning="DLMS COSEM alert", expect=b"\x0f")
    invoke = r.take(4, "long-invoke-id-and-priority")
    r.fields.append(AlertField(1, invoke, "long-invoke-id-and-priority", invoke.hex().upper(),
                               f"alert counter {int.from_bytes(invoke, 'big') & 0x00FFFFFF}"))
    if payload[5:6] == b"\x00":
        r.field(1, "date-time", "absent")
    else:
        r.field(1, "date-time length", expect=b"\x0c")
        stamp = r.take(12, "date-time")
        r.fields.append(AlertField(6, stamp, "date-time", cosem_date_time(stamp)))
    r.field(2, "structure", "2 elements", expect=b"\x02\x02")
    r.field(1, "alert code type", "long-unsigned", expect=b"\x12")
    code = r.take(2, "alert code")
    r.fields.append(AlertField(r.pos - 2, code, "alert code", *_code(code)))
    r.field(2, "time stamp type", "octet-string(12)", expect=b"\x09\x0c")
    stamp = r.take(12, "time stamp")
    r.fields.append(AlertField(r.pos - 12, stamp, "time stamp", cosem_date_time(stamp)))
    r.rest("use-case-specific content")
    return r.fields


def _gbz(payload: bytes) -> list[AlertField]:
    r = _Reader(payload)
    r.field(2, "profile id", "0x0109", "GBZ alert", expect=b"\x01\x09")
    count = r.take(1, "number of GBZ components")
    r.fields.append(AlertField(2, count, "number of GBZ components", str(count[0])))
    code = r.take(2, "alert code")
    r.fields.append(AlertField(3, code, "alert code", *_code(code)))
    stamp = r.take(4, "time stamp")
    r.fields.append(AlertField(5, stamp, "time stamp", _gbz_time(stamp), "seconds since 2000-01-01 UTC"))
    r.rest("use-case-specific components")
    return r.fields


def generic_alert_fields(payload: bytes) -> list[AlertField]:
    """The fields of a generic alert payload; ``AlertLayoutError`` when it is neither format."""
    payload = bytes(payload)
    if payload[:1] == b"\x0f":
        return _dlms(payload)
    if payload[:2] == b"\x01\x09":
        return _gbz(payload)
    raise AlertLayoutError(f"payload starts {payload[:2].hex().upper() or '(empty)'}: neither a DLMS "
                           "Data-Notification (0F) nor a GBZ alert (0109)")
