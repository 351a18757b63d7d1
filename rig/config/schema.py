"""The hw_config schema as data: which keys each table takes and how each value is checked.

Each table is a dict of key name -> ``Key`` (a converter and whether it is required). Key names
equal the dataclass field names in ``model``, so defaults live in one place (the dataclasses)
and a checked table passes straight into a constructor. Converters turn a raw TOML value into
the typed one or raise a ``ConfigError`` located at the key.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import math
import os
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .env import SubstitutionError, substitute
from .errors import ConfigError, KeyPath, dotted
from .locate import KeyLocator
from .model import (
    CREDENTIAL_FIELDS,
    DeviceType,
    EntityIdOrder,
    FlowControl,
    Framing,
    ModelInfo,
    Parity,
    Timeouts,
    TransportKind,
    ZigbeeBackend,
    frozen_mapping,
)

_EUI64 = re.compile(r"[0-9A-Fa-f]{16}|[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){7}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7}")
RIG_ID = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Context:
    """What every converter needs to report an error and to resolve a value."""

    path: Path
    locator: KeyLocator
    env: Mapping[str, str]

    @property
    def folder(self) -> Path:
        return self.path.absolute().parent

    def error(self, keypath: KeyPath, message: str) -> ConfigError:
        return ConfigError(message, path=self.path, line=self.locator.line(keypath), key=dotted(keypath) or None)


Converter = Callable[[Context, KeyPath, Any], Any]


@dataclass(frozen=True)
class Key:
    convert: Converter
    required: bool = False


def suggest(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, ignoring case; empty if none is close."""
    by_folded = {candidate.casefold(): candidate for candidate in candidates}
    close = difflib.get_close_matches(word.casefold(), list(by_folded), n=1, cutoff=0.6)
    return f" (did you mean {by_folded[close[0]]!r}?)" if close else ""


_TYPE_NAMES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"), (list, "an array"),
    (dict, "a table"), ((datetime.datetime, datetime.date, datetime.time), "a date/time"),
)


def describe(value: Any) -> str:
    """How a TOML value reads in an error: its TOML type and, for scalars, the value."""
    for kind, name in _TYPE_NAMES:
        if isinstance(value, kind):
            return name if isinstance(value, list | dict) else f"{name} ({value!r})"
    return type(value).__name__


def read_table(ctx: Context, keypath: KeyPath, raw: Any, keys: Mapping[str, Key], what: str,
               elsewhere: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Check one table against its key schema; return the converted values that are present.

    Unknown keys are reported before missing ones, so a misspelt required key is reported as
    the typo it is (with the closest known key) rather than as absent. A missing key is
    reported under its own dotted name, on the line of the table that lacks it.
    """
    if not isinstance(raw, dict):
        raise ctx.error(keypath, f"expected a table for {what}, got {describe(raw)}")
    for name in raw:
        if name not in keys:
            hint = suggest(name, keys)
            if not hint and elsewhere and name in elsewhere:
                hint = f" ({name!r} belongs to {elsewhere[name]})"
            raise ctx.error((*keypath, name), f"unknown key {name!r} in {what}{hint}; known keys: {', '.join(keys)}")
    for name, key in keys.items():
        if key.required and name not in raw:
            raise ctx.error((*keypath, name), f"{what} is missing required key {name!r}")
    return {name: keys[name].convert(ctx, (*keypath, name), value) for name, value in raw.items()}


# -- converters ------------------------------------------------------------------------------------

def text(ctx: Context, keypath: KeyPath, value: Any) -> str:
    if not isinstance(value, str):
        raise ctx.error(keypath, f"expected a string, got {describe(value)}")
    try:
        return substitute(value, ctx.env)
    except SubstitutionError as err:
        raise ctx.error(keypath, str(err)) from None


def nonempty_text(ctx: Context, keypath: KeyPath, value: Any) -> str:
    result = text(ctx, keypath, value)
    if not result.strip():
        raise ctx.error(keypath, "must not be empty")
    return result


def choice(enum_type: type) -> Converter:
    """A string that must be one of ``enum_type``'s values."""
    allowed = [member.value for member in enum_type]

    def convert(ctx: Context, keypath: KeyPath, value: Any) -> Any:
        name = text(ctx, keypath, value)
        if name in allowed:
            return enum_type(name)
        raise ctx.error(keypath, f"{name!r} is not one of {', '.join(map(repr, allowed))}{suggest(name, allowed)}")

    return convert


def _number(ctx: Context, keypath: KeyPath, value: Any, integral: bool) -> int | float:
    accepted = (int,) if integral else (int, float)
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise ctx.error(keypath, f"expected {'an integer' if integral else 'a number'}, got {describe(value)}")
    if not math.isfinite(value):
        raise ctx.error(keypath, f"expected a finite number, got {value!r}")
    return value


def integer(low: int, high: int | None = None, show: Callable[[int], str] = str) -> Converter:
    def convert(ctx: Context, keypath: KeyPath, value: Any) -> int:
        number = int(_number(ctx, keypath, value, integral=True))
        if number < low or (high is not None and number > high):
            bound = f"between {show(low)} and {show(high)}" if high is not None else f"at least {show(low)}"
            raise ctx.error(keypath, f"{number} is out of range: must be {bound}")
        return number

    return convert


def seconds(positive: bool) -> Converter:
    def convert(ctx: Context, keypath: KeyPath, value: Any) -> float:
        number = float(_number(ctx, keypath, value, integral=False))
        if number < 0 or (positive and number == 0):
            raise ctx.error(keypath, f"{value!r} seconds: must be {'positive' if positive else 'zero or more'}")
        return number

    return convert


def one_of(*allowed: int | float) -> Converter:
    def convert(ctx: Context, keypath: KeyPath, value: Any) -> int | float:
        number = _number(ctx, keypath, value, integral=False)
        for candidate in allowed:
            if number == candidate:
                return candidate
        raise ctx.error(keypath, f"{value!r} is not one of {', '.join(map(str, allowed))}")

    return convert


def string_list(ctx: Context, keypath: KeyPath, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ctx.error(keypath, f"expected an array of strings, got {describe(value)}")
    return tuple(nonempty_text(ctx, (*keypath, index), item) for index, item in enumerate(value))


def command(ctx: Context, keypath: KeyPath, value: Any) -> tuple[str, ...]:
    """A command line: one string (split like a POSIX shell would) or an array of arguments."""
    if isinstance(value, list):
        argv = string_list(ctx, keypath, value)
    else:
        line = text(ctx, keypath, value)
        try:
            argv = tuple(shlex.split(line))
        except ValueError as err:
            raise ctx.error(keypath, f"cannot split the command line: {err}") from None
    if not argv:
        raise ctx.error(keypath, "the command is empty")
    return argv


def udev_match(ctx: Context, keypath: KeyPath, value: Any) -> Mapping[str, str]:
    """udev properties (``@KEY`` for an ancestor) to exact string values."""
    if not isinstance(value, dict):
        raise ctx.error(keypath, f"expected a table of udev properties, got {describe(value)}")
    if not value:
        raise ctx.error(keypath, "an empty match would take any port: give at least one udev property")
    result = {}
    for name, item in value.items():
        if name.lstrip("@") == "":
            raise ctx.error((*keypath, name), "a match key needs a udev property or attribute name")
        if not isinstance(item, str):
            raise ctx.error((*keypath, name), f"udev values are compared as strings: write {name} = \"{item}\" "
                                              f"with the exact text udev shows, got {describe(item)}")
        result[name] = text(ctx, (*keypath, name), item)
    return frozen_mapping(result)


def file_path(ctx: Context, keypath: KeyPath, value: Any) -> Path:
    """A path; relative ones mean relative to the config file's folder, not the working directory."""
    path = Path(nonempty_text(ctx, keypath, value)).expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else ctx.folder / path))


def eui64(ctx: Context, keypath: KeyPath, value: Any) -> str:
    """``00:0d:6f:00:00:00:00:01`` (or with dashes) or 16 hex digits -> ``000D6F0000000001``."""
    written = text(ctx, keypath, value)
    if not _EUI64.fullmatch(written):
        raise ctx.error(keypath, f"{written!r} is not an EUI-64: write 16 hex digits or 8 pairs like 00:0d:6f:00:00:00:00:01")
    return re.sub("[:-]", "", written).upper()


_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):(?P<port>[0-9]{1,5})")


def host_port(ctx: Context, keypath: KeyPath, value: Any) -> str:
    """``host:port`` (``[::1]:port`` for an IPv6 address), the port 1..65535."""
    written = nonempty_text(ctx, keypath, value)
    match = _HOST_PORT.fullmatch(written.strip())
    if match is None or not 1 <= int(match.group("port")) <= 65535:
        raise ctx.error(keypath, f"{written!r} is not host:port (e.g. 'lab-coordinator:20408', '[::1]:20408')")
    return written.strip()


def table(ctx: Context, keypath: KeyPath, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ctx.error(keypath, f"expected a table, got {describe(value)}")
    return value


# -- the tables ------------------------------------------------------------------------------------

TOP_KEYS = {
    "description": Key(text),
    "defaults": Key(table),
    "rigs": Key(table, required=True),
    "report": Key(table),
    "state_dir": Key(file_path),  # the host's counter ledger and leases (rig.dcc.ledger); also in [defaults]
}

#: ``[report]``: how ``gbcs-rig prove`` seals its report folder
REPORT_KEYS = {
    "signing_key": Key(file_path),  # ECDSA P-256 private key (PEM) that signs the manifest
}

DEFAULTS_KEYS = {
    "timeouts": Key(table),
    "credentials": Key(table),
    "state_dir": Key(file_path),
}

TIMEOUT_KEYS = {field.name: Key(seconds(positive=True)) for field in dataclasses.fields(Timeouts)}

CREDENTIAL_KEYS = {name: Key(file_path) for name in CREDENTIAL_FIELDS}

MODEL_KEYS = {field.name: Key(nonempty_text) for field in dataclasses.fields(ModelInfo)}

RIG_KEYS = {
    "device": Key(choice(DeviceType), required=True),
    **MODEL_KEYS,
    "features": Key(string_list),
    "device_id": Key(eui64),
    "transport": Key(table, required=True),
    "timeouts": Key(table),
    "credentials": Key(table),
}

SERIAL_LINE_KEYS = {
    "baudrate": Key(integer(1)),
    "bytesize": Key(one_of(5, 6, 7, 8)),
    "parity": Key(choice(Parity)),
    "stopbits": Key(one_of(1, 1.5, 2)),
    "flow_control": Key(choice(FlowControl)),
    "inter_byte_timeout": Key(seconds(positive=False)),
}

_KIND = Key(choice(TransportKind), required=True)
_PORT_KEYS = {"url": Key(nonempty_text), "match": Key(udev_match)}

TRANSPORT_KEYS: dict[TransportKind, dict[str, Key]] = {
    TransportKind.EMULATED: {
        "kind": _KIND,
        "profile": Key(nonempty_text),
    },
    TransportKind.SERIAL: {
        "kind": _KIND,
        **_PORT_KEYS,
        "spawn": Key(command),
        **SERIAL_LINE_KEYS,
        "framing": Key(choice(Framing)),
        "hdlc": Key(table),
    },
    TransportKind.ZIGBEE: {
        "kind": _KIND,
        "backend": Key(choice(ZigbeeBackend), required=True),
        **_PORT_KEYS,
        "baudrate": SERIAL_LINE_KEYS["baudrate"],
        "flow_control": SERIAL_LINE_KEYS["flow_control"],
        "spawn": Key(command),
        "entity_id_order": Key(choice(EntityIdOrder)),
        "eui64": Key(eui64, required=True),
        "channel": Key(integer(11, 26)),
        "pan_id": Key(integer(0, 0xFFFE, show=lambda number: f"0x{number:04X}")),
        "profile": Key(nonempty_text),
    },
    TransportKind.LABGRID: {
        "kind": _KIND,
        "place": Key(nonempty_text, required=True),
        "coordinator": Key(host_port, required=True),
        "resource": Key(nonempty_text),
        "wait": Key(seconds(positive=False)),
        **SERIAL_LINE_KEYS,
        "framing": Key(choice(Framing)),
        "hdlc": Key(table),
    },
}

#: for an unknown transport key: which transport kinds do take it
TRANSPORT_KEY_OWNERS = {
    name: " and ".join(f"kind = {str(kind)!r}" for kind, keys in TRANSPORT_KEYS.items() if name in keys)
    for keys in TRANSPORT_KEYS.values() for name in keys
}

HDLC_KEYS = {
    "client": Key(integer(0, 0x7F, show=hex)),
    "server": Key(integer(0, 0x3FFF, show=hex)),
    "physical": Key(integer(0, 0x3FFF, show=hex)),
}
