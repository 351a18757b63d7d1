"""``load_config(path)``: TOML text -> checked, typed ``RigConfig``.

Order of work: ``tomllib`` parses (syntax errors keep its line and column), the locator maps
key paths to lines, then every table is checked against ``schema`` and turned into the
dataclasses of ``model``. The first problem found is raised; nothing is half-loaded.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError, KeyPath, dotted
from .locate import KeyLocator
from .model import (
    Credentials,
    EmulatedTransportSpec,
    EntityIdOrder,
    Framing,
    HdlcAddresses,
    LabgridTransportSpec,
    ModelInfo,
    RigConfig,
    RigSpec,
    SerialSettings,
    SerialTransportSpec,
    SpawnSpec,
    Timeouts,
    TransportKind,
    TransportSpec,
    ZigbeeBackend,
    ZigbeeTransportSpec,
    frozen_mapping,
)
from .schema import (
    CREDENTIAL_KEYS,
    DEFAULTS_KEYS,
    HDLC_KEYS,
    MODEL_KEYS,
    REPORT_KEYS,
    RIG_ID,
    RIG_KEYS,
    SERIAL_LINE_KEYS,
    TIMEOUT_KEYS,
    TOP_KEYS,
    TRANSPORT_KEY_OWNERS,
    TRANSPORT_KEYS,
    Context,
    choice,
    read_table,
)

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)$")
_HEADER = re.compile(r"\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEY_BEFORE_EQUALS = re.compile(r"\s*([^=#\[]+?)\s*=")


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> RigConfig:
    """Load and check a hw_config file; ``env`` (default ``os.environ``) feeds ``${NAME}``.

    Raises ``ConfigError`` for anything wrong inside the file; ``OSError`` if it cannot be read.
    """
    file = Path(path)
    data = file.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"not UTF-8 text: {err.reason}", path=file, line=data[:err.start].count(b"\n") + 1) from None
    return parse_config(text, file, env)


def parse_config(text: str, path: str | os.PathLike[str] = "<string>",
                 env: Mapping[str, str] | None = None) -> RigConfig:
    """Like ``load_config`` for text already in memory; relative paths resolve against ``path``'s folder."""
    file = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _syntax_error(err, text, file) from None
    ctx = Context(file, KeyLocator(text), os.environ if env is None else env)
    top = read_table(ctx, (), data, TOP_KEYS, "the file")
    defaults = read_table(ctx, ("defaults",), top.get("defaults", {}), DEFAULTS_KEYS, "[defaults]")
    default_timeouts = read_table(ctx, ("defaults", "timeouts"), defaults.get("timeouts", {}),
                                  TIMEOUT_KEYS, "[defaults.timeouts]")
    default_credentials = read_table(ctx, ("defaults", "credentials"), defaults.get("credentials", {}),
                                     CREDENTIAL_KEYS, "[defaults.credentials]")
    if not top["rigs"]:
        raise ctx.error(("rigs",), "no rigs: add a [rigs.<id>] table per device under test")
    if "state_dir" in top and "state_dir" in defaults:
        raise ctx.error(("defaults", "state_dir"), "state_dir is given twice: keep the top-level key or [defaults]")
    state_dir = top.get("state_dir", defaults.get("state_dir"))
    rigs = {rig_id: dataclasses.replace(_rig(ctx, rig_id, raw, default_timeouts, default_credentials),
                                        state_dir=state_dir)
            for rig_id, raw in top["rigs"].items()}
    report = read_table(ctx, ("report",), top.get("report", {}), REPORT_KEYS, "[report]")
    return RigConfig(path=file, rigs=frozen_mapping(rigs), description=top.get("description"),
                     signing_key=report.get("signing_key"))


def _rig(ctx: Context, rig_id: str, raw: Any, default_timeouts: dict[str, float],
         default_credentials: dict[str, Path]) -> RigSpec:
    keypath: KeyPath = ("rigs", rig_id)
    if not RIG_ID.fullmatch(rig_id):
        raise ctx.error(keypath, "rig ids are letters, digits, '-' and '_' (they name trace files and --rig options)")
    values = read_table(ctx, keypath, raw, RIG_KEYS, f"rig {rig_id!r}")
    timeouts = read_table(ctx, (*keypath, "timeouts"), values.get("timeouts", {}), TIMEOUT_KEYS, "timeouts")
    credentials = read_table(ctx, (*keypath, "credentials"), values.get("credentials", {}), CREDENTIAL_KEYS, "credentials")
    return RigSpec(
        id=rig_id,
        device=values["device"],
        transport=_transport(ctx, (*keypath, "transport"), values["transport"]),
        model=ModelInfo(**_pick(values, MODEL_KEYS)),
        features=values.get("features", ()),
        device_id=values.get("device_id"),
        timeouts=Timeouts(**{**default_timeouts, **timeouts}),
        credentials=Credentials(**{**default_credentials, **credentials},
                                written_at=frozen_mapping(_written_at(ctx, keypath, default_credentials, credentials))),
    )


def _written_at(ctx: Context, keypath: KeyPath, defaults: dict[str, Path],
                own: dict[str, Path]) -> dict[str, tuple[Path, int, str]]:
    """Where each credential key of the rig was written: its own table, else ``[defaults]``."""
    out = {}
    for name in {**defaults, **own}:
        where = (*keypath, "credentials", name) if name in own else ("defaults", "credentials", name)
        out[name] = (ctx.path, ctx.locator.line(where), dotted(where))
    return out


def _pick(values: dict[str, Any], keys: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if name in keys}


def _transport(ctx: Context, keypath: KeyPath, raw: dict[str, Any]) -> TransportSpec:
    if "kind" not in raw:
        raise ctx.error((*keypath, "kind"), f"transport is missing required key 'kind' ({', '.join(map(str, TransportKind))})")
    kind = choice(TransportKind)(ctx, (*keypath, "kind"), raw["kind"])
    values = read_table(ctx, keypath, raw, TRANSPORT_KEYS[kind], f"a {kind} transport", TRANSPORT_KEY_OWNERS)
    return _BUILDERS[kind](ctx, keypath, values)


def _only_one(ctx: Context, keypath: KeyPath, values: dict[str, Any], names: tuple[str, ...], required: bool,
              what: str) -> None:
    given = [name for name in names if name in values]
    if len(given) > 1:
        raise ctx.error((*keypath, given[1]), f"{what} takes only one of {', '.join(names)}; found {' and '.join(given)}")
    if required and not given:
        raise ctx.error(keypath, f"{what} needs one of {', '.join(names)}")


def _emulated(ctx: Context, keypath: KeyPath, values: dict[str, Any]) -> EmulatedTransportSpec:
    return EmulatedTransportSpec(**_pick(values, {"profile"}))


def _hdlc(ctx: Context, keypath: KeyPath, values: dict[str, Any], framing: Framing) -> HdlcAddresses | None:
    if "hdlc" not in values:
        return None
    if framing is not Framing.HDLC:
        raise ctx.error((*keypath, "hdlc"), f"HDLC addresses need framing = 'hdlc' (framing is {str(framing)!r})")
    return HdlcAddresses(**read_table(ctx, (*keypath, "hdlc"), values["hdlc"], HDLC_KEYS, "HDLC addresses"))


def _serial(ctx: Context, keypath: KeyPath, values: dict[str, Any]) -> SerialTransportSpec:
    _only_one(ctx, keypath, values, ("url", "match", "spawn"), True, "a serial transport")
    framing = values.get("framing", Framing.HDLC)
    hdlc = _hdlc(ctx, keypath, values, framing)
    spawn = SpawnSpec(values["spawn"], ctx.folder) if "spawn" in values else None
    return SerialTransportSpec(url=values.get("url"), match=values.get("match"), spawn=spawn,
                               serial=SerialSettings(**_pick(values, SERIAL_LINE_KEYS)), framing=framing, hdlc=hdlc)


def _zigbee(ctx: Context, keypath: KeyPath, values: dict[str, Any]) -> ZigbeeTransportSpec:
    backend = values["backend"]
    emulated = backend is ZigbeeBackend.EMULATED
    _only_one(ctx, keypath, values, ("url", "match", "spawn"), not emulated,
              f"a zigbee transport with backend {str(backend)!r}")
    if "profile" in values and not emulated:
        raise ctx.error((*keypath, "profile"), "profile names an emulated model: it needs backend = 'emulated'")
    return ZigbeeTransportSpec(
        backend=backend, eui64=values["eui64"], url=values.get("url"), match=values.get("match"),
        spawn=SpawnSpec(values["spawn"], ctx.folder) if "spawn" in values else None,
        entity_id_order=values.get("entity_id_order", EntityIdOrder.MSB_FIRST),
        serial=SerialSettings(**_pick(values, SERIAL_LINE_KEYS)), channel=values.get("channel"),
        pan_id=values.get("pan_id"), profile=values.get("profile", "default") if emulated else None,
    )


def _labgrid(ctx: Context, keypath: KeyPath, values: dict[str, Any]) -> LabgridTransportSpec:
    """Only checks the text: labgrid itself is imported when the rig opens the place."""
    framing = values.get("framing", Framing.HDLC)
    return LabgridTransportSpec(place=values["place"], coordinator=values["coordinator"],
                                resource=values.get("resource"), wait=values.get("wait", 0.0),
                                serial=SerialSettings(**_pick(values, SERIAL_LINE_KEYS)), framing=framing,
                                hdlc=_hdlc(ctx, keypath, values, framing))


_BUILDERS = {
    TransportKind.EMULATED: _emulated,
    TransportKind.SERIAL: _serial,
    TransportKind.ZIGBEE: _zigbee,
    TransportKind.LABGRID: _labgrid,
}


def _syntax_error(err: tomllib.TOMLDecodeError, text: str, file: Path) -> ConfigError:
    """Keep tomllib's line and column; add the key being written there when it can be told."""
    message = str(err)
    line, column = getattr(err, "lineno", None), getattr(err, "colno", None)
    if line is None:
        position = _TOML_POSITION.search(message)
        if position:
            line, column = int(position.group(1)), int(position.group(2))
        elif _TOML_AT_END.search(message):
            line = text.count("\n") + 1
    message = _TOML_AT_END.sub("", _TOML_POSITION.sub("", getattr(err, "msg", message)))
    line = line or 1
    return ConfigError(f"TOML syntax error: {message}", path=file, line=line, column=column,
                       key=_key_on_line(text.splitlines(), line))


def _key_on_line(lines: list[str], line: int) -> str | None:
    """Best effort, for a file tomllib rejected: the last table header plus the key on ``line``."""
    if not 1 <= line <= len(lines):
        return None
    header = next((match.group(1) for match in map(_HEADER.match, reversed(lines[:line])) if match), None)
    if header is not None and _HEADER.match(lines[line - 1]):
        return header
    key = _KEY_BEFORE_EQUALS.match(lines[line - 1])
    if key is None:
        return header
    return f"{header}.{key.group(1)}" if header else key.group(1)
