"""Evidence a scenario collects: named measurements with their expected values (OpenHTF style).

A scenario passes only on evidence: every check is recorded here with the value actually seen,
so the report shows *why* it passed or failed, not just that it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Measurement:
    name: str
    value: Any
    expected: Any = None
    ok: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": _plain(self.value), "expected": _plain(self.expected), "ok": self.ok}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "name") and hasattr(value, "value") and not isinstance(value, (int, str)):
        return value.name
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class EvidenceError(AssertionError):
    """A check failed; the measurement is already recorded."""


@dataclass
class Evidence:
    measurements: list[Measurement] = field(default_factory=list)
    response_codes: list[str] = field(default_factory=list)
    alert_codes: list[str] = field(default_factory=list)
    latency: float | None = None
    #: how a negative probe's delivery was shown: "device alert", "link confirmation" or
    #: "delivery inferred" (liveness exchanges right before and after); None for other scenarios
    delivery: str | None = None

    def check(self, name: str, value: Any, expected: Any = None, *, ok: bool | None = None) -> Any:
        """Record ``value``; fail the scenario unless it equals ``expected`` (or ``ok`` is True)."""
        passed = (value == expected) if ok is None else bool(ok)
        self.measurements.append(Measurement(name, value, expected, passed))
        if not passed:
            raise EvidenceError(f"{name}: got {_plain(value)!r}, expected {_plain(expected)!r}")
        return value

    def note(self, name: str, value: Any) -> None:
        """Record an observation that is not a pass/fail check."""
        self.measurements.append(Measurement(name, value, None, True))

    def to_json(self) -> list[dict[str, Any]]:
        return [m.to_json() for m in self.measurements]
