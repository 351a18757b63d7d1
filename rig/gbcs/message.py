"""The decoded form of a GBCS Remote Party message.

``Message`` flattens the frame layers (MAC header, grouping header, other-information, payload,
signature field, MAC) into one value object. Equality is semantic: the recorded length forms and
frame offsets of a decoded message are carried but not compared.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, fields
from typing import Any

from .compiling import fast_init
from .tables import CraFlag

#: DUIS / RTDS: the six zero-length general-ciphering fields after the 0xDD tag
EMPTY_CIPHERING_FIELDS = b"\x00" * 6


@fast_init
@dataclass(frozen=True)
class MacHeader:
    """General-ciphering header (tag 0xDD) of a MACed frame.

    ``fields`` are the six octets after the tag (zero-length transaction id, originator and
    recipient system titles, date-time, other-information, absent key-info); the first five enter
    the MAC's additional authenticated data. GBCS allows only ``00`` in each (the codec rejects
    anything else both ways: a non-zero octet announces content this layout has no room for).
    """

    security_control: int = 0x11
    invocation_counter: int = 0
    fields: bytes = EMPTY_CIPHERING_FIELDS


@fast_init
@dataclass(frozen=True)
class CosemDateTime:
    """COSEM date-time (12 octets) as carried in the grouping header.

    0xFF fields mean "not specified"; deviation 0x8000 means "not specified".
    """

    year: int
    month: int
    day: int
    day_of_week: int = 0xFF
    hour: int = 0
    minute: int = 0
    second: int = 0
    hundredths: int = 0
    deviation: int = -0x8000
    clock_status: int = 0xFF

    def to_datetime(self) -> _dt.datetime | None:
        """UTC datetime when every field is specified, else None."""
        try:
            hundredths = 0 if self.hundredths == 0xFF else self.hundredths
            return _dt.datetime(
                self.year, self.month, self.day, self.hour, self.minute, self.second,
                hundredths * 10_000, tzinfo=_dt.UTC,
            )
        except ValueError:
            return None

    @classmethod
    def from_datetime(cls, value: _dt.datetime) -> CosemDateTime:
        """The form RTDS devices use in responses: UTC, day of week and deviation unspecified."""
        if value.tzinfo is not None:
            value = value.astimezone(_dt.UTC)
        return cls(value.year, value.month, value.day, 0xFF, value.hour, value.minute,
                   value.second, value.microsecond // 10_000, -0x8000, 0xFF)

    def __str__(self) -> str:
        when = self.to_datetime()
        return when.isoformat() if when else repr(self)


@fast_init
@dataclass(frozen=True)
class Supplementary:
    """Optional other-information fields after the message code (never present in CS02b)."""

    remote_party_id: bytes | None = None
    remote_party_counter: int | None = None
    originator_counter: int | None = None
    ka_certificate: bytes | None = None


@fast_init
@dataclass(frozen=True)
class FrameLayout:
    """Offsets of a frame's signed and MACed ranges (decoded frames only)."""

    grouping_start: int  # offset of the 0xDF tag
    payload_start: int
    payload_end: int  # signed range is [grouping_start + 1, payload_end)
    signature_end: int  # MAC AAD covers [grouping_start, signature_end)
    length: int


@fast_init
@dataclass(frozen=True)
class Message:
    """One GBCS message: command, response or alert."""

    cra_flag: CraFlag
    originator_counter: int
    originator_id: bytes
    recipient_id: bytes
    message_code: int
    payload: Any
    date_time: CosemDateTime | None = None
    supplementary: Supplementary | None = None
    mac_header: MacHeader | None = None
    signature: bytes | None = None
    mac: bytes | None = None
    #: DUIS pre-command form: no signature length octet at all (and no MAC header)
    precommand: bool = False
    #: long-form widths of every length in pre-order, kept only when some were non-minimal
    length_forms: tuple[int, ...] | None = field(default=None, compare=False, repr=False)
    layout: FrameLayout | None = field(default=None, compare=False, repr=False)

    def __getitem__(self, key: str) -> Any:  # construct's ``this`` expressions index the context
        return getattr(self, key)

    def evolve(self, **changes: Any) -> Message:
        """``dataclasses.replace`` for the hot paths (sealing a message on every command): the
        same result, a field-dict copy instead of a keyword call through ``__init__``."""
        unknown = changes.keys() - _MESSAGE_FIELDS
        if unknown:
            raise TypeError(f"Message has no field(s) {', '.join(sorted(unknown))}")
        new = object.__new__(Message)
        values = new.__dict__
        values.update(self.__dict__)
        values.update(changes)
        return new

    @property
    def is_macd(self) -> bool:
        return self.mac_header is not None


_MESSAGE_FIELDS = frozenset(f.name for f in fields(Message))
