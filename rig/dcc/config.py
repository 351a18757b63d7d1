"""The DCC side's configuration: the tables of ``rig.dcc.tables`` plus the policies a lab tunes.

A lab overrides any row from a TOML file (``DccConfig.from_toml``) or a dict
(``DccConfig.with_overrides``); overridden rows are marked ``RowStatus.OVERRIDE`` so reports say
which rules were the lab's. Unknown keys raise ``ConfigError``: a misspelt override that is
silently ignored would make a lab believe it tested a rule it did not. Layout::

    [response_codes.mpid]            # any ResponseCodeRow field but ``check``
    code = "E062302"

    [alerts.anomaly_detection_breach]  # any AlertRule field but ``trigger``
    code = "N26"
    payload = "ChangeOfSupplier"
    enabled = true

    [ecos_error_codes]               # failure cause -> 3-character ECoSErrorCode ("" omits it)
    NO_RESPONSE = "TMO"

    [replacement_elements]           # check (iv): device type -> elements
    GSME = ["DS", "KA"]

    [target_response_s]
    SMETS2 = 35

    [routing]                        # credential status -> "tcos" | "ecos" | "" (refuse)
    UNKNOWN = "tcos"

    [retry]                          # RetryPolicy fields; retry_on lists AttemptResult names
    attempts = 5
    interval_s = 3600

    [anomaly_detection]
    critical_srvs = ["1.1.1"]
    comparison = "gt"                # breach when count "gt" / "ge" the threshold

    [migration]
    disapply_time_checks = true

    [cos]
    current_party = "ecos"           # the CoS party after switch-over (N65 trigger)
    response_timeout_s = 35

    [ecosmig]
    rows_count = "all"               # trailer Rows Count: "all" records or "detail" only
    delimiter = ","
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .tables import (
    ALERT_RULES,
    CRITICAL_SRVS,
    ECOS_ERROR_CODES,
    REPLACEMENT_ELEMENTS,
    RESPONSE_CODES,
    ROUTING,
    TARGET_RESPONSE_S,
    AlertRule,
    AttemptResult,
    CredentialStatus,
    Element,
    Payload,
    Recipient,
    ResponseCodeRow,
    RowStatus,
)


class ConfigError(ValueError):
    """An override names something the configuration does not have, or has a bad value."""


@dataclass(frozen=True)
class RetryPolicy:
    """EMEHRA-style migration retry: how many attempts, how far apart, on which failures.

    EMEHRA's own counts and intervals are UNCONFIRMED (duis-ecos.md 7.2); the defaults are the
    project's. ``response_timeout_s`` bounds each attempt's wait for the device response.
    """

    attempts: int = 3
    interval_s: float = 0.0
    response_timeout_s: float = 35.0
    retry_on: frozenset[AttemptResult] = frozenset({
        AttemptResult.NO_RESPONSE, AttemptResult.LINK_LOST, AttemptResult.BAD_SIGNATURE,
        AttemptResult.DEVICE_FAILURE, AttemptResult.UNEXPECTED_RESPONSE,
    })

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError("a retry policy needs at least one attempt")
        if self.interval_s < 0 or self.response_timeout_s <= 0:
            raise ConfigError("retry interval must be >= 0 and the response timeout > 0")


def _by_key(rows, key: str) -> dict:
    return {getattr(row, key): row for row in rows}


@dataclass(frozen=True)
class DccConfig:
    """Everything ``rig.dcc`` decides by rule rather than by fact."""

    response_codes: dict[str, ResponseCodeRow] = field(default_factory=lambda: _by_key(RESPONSE_CODES, "check"))
    alert_rules: dict[str, AlertRule] = field(default_factory=lambda: _by_key(ALERT_RULES, "trigger"))
    ecos_error_codes: dict[str, str] = field(default_factory=lambda: dict(ECOS_ERROR_CODES))
    replacement_elements: dict[str, tuple[Element, ...]] = field(default_factory=lambda: dict(REPLACEMENT_ELEMENTS))
    target_response_s: dict[str, float] = field(default_factory=lambda: dict(TARGET_RESPONSE_S))
    routing: dict[CredentialStatus, str | None] = field(default_factory=lambda: dict(ROUTING))
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    critical_srvs: tuple[str, ...] = CRITICAL_SRVS
    #: "gt": a count above the threshold breaches (a 0 threshold stops every request); "ge" at it
    adt_comparison: str = "gt"
    #: mode 6 migration sets applyTimeBasedCPVChecks = disapply as the RTDS vector does [RTDS]
    migration_disapply_time_checks: bool = True
    #: "ecos" after switch-over, "tcos" before it: whose certificates a newly logged device should hold
    current_cos_party: str = "ecos"
    #: how long submit_623 waits for the device response (the target response time by default)
    response_timeout_s: float = 35.0
    ecosmig_rows_count: str = "all"
    ecosmig_delimiter: str = ","

    # -- lookups -------------------------------------------------------------------------
    def response_code(self, check: str) -> ResponseCodeRow:
        try:
            return self.response_codes[check]
        except KeyError:
            raise ConfigError(f"no response code row for {check!r}") from None

    def alert_rule(self, trigger: str) -> AlertRule | None:
        """The enabled rule for ``trigger``, or None when the lab disabled it."""
        rule = self.alert_rules.get(trigger)
        return rule if rule is not None and rule.enabled else None

    def target_for(self, generation: str) -> float:
        return self.target_response_s.get(generation, self.target_response_s["SMETS2"])

    # -- overrides -------------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path) -> DccConfig:
        with open(path, "rb") as handle:
            return cls().with_overrides(tomllib.load(handle))

    def with_overrides(self, overrides: Mapping[str, Any]) -> DccConfig:
        """A copy with the given sections replaced (layout in the module docstring)."""
        changes: dict[str, Any] = {}
        for section, value in overrides.items():
            handler = _SECTIONS.get(section)
            if handler is None:
                raise ConfigError(f"unknown configuration section [{section}]")
            try:
                changes.update(handler(self, value))
            except ConfigError:
                raise
            except (TypeError, ValueError, AttributeError) as err:
                raise ConfigError(f"[{section}]: {err}") from None
        return replace(self, **changes)


def _rows(current: dict, value: Mapping[str, Any], row_type: type, key_field: str, coerce) -> dict:
    out = dict(current)
    allowed = {f.name for f in fields(row_type)} - {key_field}
    for key, settings in value.items():
        unknown = set(settings) - allowed
        if unknown:
            raise ConfigError(f"{row_type.__name__} {key!r}: unknown field(s) {sorted(unknown)}")
        base = out.get(key)
        try:
            values = {name: coerce(name, raw) for name, raw in settings.items()}
            values["status"] = RowStatus.OVERRIDE
            row = replace(base, **values) if base is not None else row_type(**{key_field: key, **values})
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{row_type.__name__} {key!r}: {err}") from None
        out[key] = row
    return out


def _alert_value(name: str, raw: Any) -> Any:
    if name == "recipient":
        return Recipient(raw)
    if name == "payload":
        return Payload(raw)
    if name == "status":
        return RowStatus(raw)
    return raw


def _response_codes(config: DccConfig, value) -> dict:
    return {"response_codes": _rows(config.response_codes, value, ResponseCodeRow, "check",
                                    lambda n, v: RowStatus(v) if n == "status" else str(v))}


def _alerts(config: DccConfig, value) -> dict:
    return {"alert_rules": _rows(config.alert_rules, value, AlertRule, "trigger", _alert_value)}


def _ecos_error_codes(config: DccConfig, value) -> dict:
    codes = dict(config.ecos_error_codes)
    for cause, code in value.items():
        AttemptResult(cause)  # ValueError (-> ConfigError) names a cause that does not exist
        if code and len(code) != 3:
            raise ConfigError(f"ECoSErrorCode for {cause} must be exactly 3 characters, not {code!r}")
        codes[cause] = code
    return {"ecos_error_codes": codes}


def _replacement_elements(config: DccConfig, value) -> dict:
    table = dict(config.replacement_elements)
    for device_type, elements in value.items():
        table[device_type] = tuple(Element(e) for e in elements)
    return {"replacement_elements": table}


def _targets(config: DccConfig, value) -> dict:
    return {"target_response_s": {**config.target_response_s, **{k: float(v) for k, v in value.items()}}}


def _routing(config: DccConfig, value) -> dict:
    routing = dict(config.routing)
    for status, party in value.items():
        if party not in ("tcos", "ecos", "", None):
            raise ConfigError(f"routing for {status} must be 'tcos', 'ecos' or '' (refuse), not {party!r}")
        routing[CredentialStatus(status)] = party or None
    return {"routing": routing}


def _retry(config: DccConfig, value) -> dict:
    settings = dict(value)
    if "retry_on" in settings:
        settings["retry_on"] = frozenset(AttemptResult(r) for r in settings["retry_on"])
    try:
        return {"retry": replace(config.retry, **settings)}
    except TypeError as err:
        raise ConfigError(f"[retry]: {err}") from None


_CHOICES = {"adt_comparison": ("gt", "ge"), "ecosmig_rows_count": ("all", "detail"),
            "current_cos_party": ("ecos", "tcos")}


def _scalars(mapping: dict[str, str]):
    """A section of plain settings: TOML key -> DccConfig field, typed like the field's default."""

    def handler(config: DccConfig, value) -> dict:
        out = {}
        for key, raw in value.items():
            if key not in mapping:
                raise ConfigError(f"unknown setting {key!r}")
            name = mapping[key]
            default = getattr(config, name)
            if isinstance(default, tuple):
                raw = tuple(str(item) for item in raw)
            elif isinstance(default, bool):
                if not isinstance(raw, bool):
                    raise ConfigError(f"{key} must be true or false")
            elif isinstance(default, float):
                raw = float(raw)
            if raw not in _CHOICES.get(name, (raw,)):
                raise ConfigError(f"{key} must be one of {_CHOICES[name]}, not {raw!r}")
            out[name] = raw
        return out
    return handler


_SECTIONS = {
    "response_codes": _response_codes,
    "alerts": _alerts,
    "ecos_error_codes": _ecos_error_codes,
    "replacement_elements": _replacement_elements,
    "target_response_s": _targets,
    "routing": _routing,
    "retry": _retry,
    "anomaly_detection": _scalars({"critical_srvs": "critical_srvs", "comparison": "adt_comparison"}),
    "migration": _scalars({"disapply_time_checks": "migration_disapply_time_checks"}),
    "cos": _scalars({"current_party": "current_cos_party", "response_timeout_s": "response_timeout_s"}),
    "ecosmig": _scalars({"rows_count": "ecosmig_rows_count", "delimiter": "ecosmig_delimiter"}),
}
