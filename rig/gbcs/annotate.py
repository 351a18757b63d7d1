"""Annotated decode: every field with its offset, raw bytes, value and meaning.

The rows come from the interpreted schema's trace (the same schema as the codec), so what the
CLI shows is what the codec read. Meanings come from the code tables; certificates are left to
the caller (``rig.crypto.certs``) because this package does no X.509 work.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from .codec import decode_traced
from .message import Message
from .tables import (
    CraFlag,
    KeyUsage,
    alert_code_label,
    key_usage_label,
    message_code_label,
)


@dataclass(frozen=True)
class Row:
    offset: int
    length: int
    path: str
    raw: bytes
    value: Any
    meaning: str

    @property
    def depth(self) -> int:
        return self.path.count("->")

    @property
    def name(self) -> str:
        return self.path.rsplit("->", 1)[-1].strip()


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex().upper() if len(value) <= 16 else f"{value[:16].hex().upper()}... ({len(value)} bytes)"
    if isinstance(value, enum.Enum):
        return f"{value.name} ({value.value})"
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return f"{len(value)} item(s)"
    if is_dataclass(value):
        return type(value).__name__
    return "" if value is None else str(value)


def meaning_of(path: str, value: Any, describe_certificate: Callable[[bytes], str] | None) -> str:
    """Human meaning for well-known fields; '' when the value speaks for itself."""
    name = path.rsplit("->", 1)[-1].strip()
    if name.startswith("message_code"):
        code = value[0] if isinstance(value, tuple) else value
        return message_code_label(code)
    if name == "alert_code" and isinstance(value, int):
        return alert_code_label(value)
    if name == "key_usage" and isinstance(value, int):
        return key_usage_label(KeyUsage(value))
    if name == "cra_flag":
        return CraFlag(value).name.lower()
    if (describe_certificate is not None and isinstance(value, bytes) and value[:1] == b"\x30"
            and "certificat" in path):
        return describe_certificate(value)
    if name == "execution_date_time" and isinstance(value, _dt.datetime) and value.year == 9999:
        return "cancellation of the pending future-dated command"
    if name == "signature" and value is None:
        return "no signature (0x00)"
    return ""


def annotate(data: bytes, describe_certificate: Callable[[bytes], str] | None = None) -> tuple[Message, list[Row]]:
    """Decode ``data`` and return its annotated rows, parents before children."""
    message, trace = decode_traced(data)
    rows = []
    for start, end, path, value in trace:
        rows.append(Row(start, end - start, path, bytes(data[start:end]), value,
                        meaning_of(path, value, describe_certificate)))
    rows.sort(key=lambda row: (row.offset, -row.length, row.depth))
    return message, rows


def to_jsonable(value: Any) -> Any:
    """Plain JSON types for a decoded value (dataclasses, enums, bytes, datetimes)."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [to_jsonable(v) for v in value]
    if is_dataclass(value):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)
                if f.name not in ("layout", "length_forms")}
    return value


def short_value(value: Any) -> str:
    return _short(value)
