"""A device's starting state as input: what a replay (or a lab) says the device already holds.

A real device is not fresh: its cells, its per-role anti-replay counters, the future-dated
commands it holds and the key pairs it generated (CS02c) awaiting certificates (CS02d) all
shape its answers. ``DeviceStartState`` carries them; ``load`` reads the JSON document below
(``docs/emulator.md`` repeats it)::

    {
      "version": 1,
      "cells": {"<role>/<key usage>/<cell usage>": "<certificate DER hex>" | null},
      "counters": {"<role>": <counter>},
      "alert_counter": <the device's last alert counter>,
      "pending": [{"frame": "<command hex>", "execute_at": "<ISO 8601>", "authorising_role": <role>}],
      "generated_keys": {"ds" | "ka": {"public": "<uncompressed point hex>", "private": "<PKCS#8 DER hex>" | null}},
      "next_keys": {"ds" | "ka": {"public": ..., "private": ...}}
    }

``generated_keys`` are key pairs a CS02c already generated, awaiting their certificate (CS02d);
``next_keys`` are the key pairs the device's generator yields at the next CS02c (how a replay
reproduces a real device whose generated key is known from its certificate).

Every member is optional. Cells named here replace what the key store gave; ``null`` empties a
cell. Counters are the starting values ``firmware_emu.counters`` then moves (they are set here
once, before the first command, never afterwards).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rig.gbcs.payloads.cs02 import TrustAnchorCellId

from .store import PendingCommand, parse_cell_key

VERSION = 1
KEY_USAGES = ("ds", "ka")


class StartStateError(ValueError):
    """The starting state document is not what the schema says (names the member)."""


@dataclass(frozen=True)
class GeneratedKey:
    """A key pair the device generated (CS02c) and holds until a certificate for it arrives (CS02d)."""

    public: bytes  # uncompressed point
    private: bytes | None = None  # PKCS#8 DER; None when only the public half is known (a real device's)

    def to_json(self) -> dict:
        return {"public": self.public.hex(), "private": self.private.hex() if self.private else None}

    @classmethod
    def from_json(cls, data: dict) -> GeneratedKey:
        return cls(bytes.fromhex(data["public"]), bytes.fromhex(data["private"]) if data.get("private") else None)


@dataclass
class DeviceStartState:
    cells: dict[TrustAnchorCellId, bytes | None] = field(default_factory=dict)
    counters: dict[int, int] = field(default_factory=dict)
    alert_counter: int | None = None
    pending: list[PendingCommand] = field(default_factory=list)
    generated_keys: dict[str, GeneratedKey] = field(default_factory=dict)
    next_keys: dict[str, GeneratedKey] = field(default_factory=dict)
    #: where each value came from, for the replay's notes
    notes: list[str] = field(default_factory=list)

    def apply(self, device) -> None:
        """Put the parts the constructor does not take into a freshly made device's state."""
        if self.alert_counter is not None:
            device.state.alert_counter = self.alert_counter
        device.state.pending = list(self.pending)
        device.state.generated_keys = dict(self.generated_keys)
        device.state.next_keys = dict(self.next_keys)
        device.save()

    @classmethod
    def from_json(cls, data: dict) -> DeviceStartState:
        if not isinstance(data, dict):
            raise StartStateError("the starting state is a JSON object")
        if data.get("version", VERSION) != VERSION:
            raise StartStateError(f"unsupported starting state version {data.get('version')!r} (this is {VERSION})")
        unknown = set(data) - {"version", "cells", "counters", "alert_counter", "pending", "generated_keys", "next_keys",
                              "notes"}
        if unknown:
            raise StartStateError(f"unknown member(s) {', '.join(sorted(unknown))}")
        try:
            cells = {parse_cell_key(k): (bytes.fromhex(v) if v else None) for k, v in data.get("cells", {}).items()}
        except (ValueError, TypeError, AttributeError) as err:
            raise StartStateError(f"cells: {err}") from None
        try:
            counters = {int(k): int(v) for k, v in data.get("counters", {}).items()}
        except (ValueError, TypeError, AttributeError) as err:
            raise StartStateError(f"counters: {err}") from None
        if any(not 0 <= v < 2**64 for v in counters.values()):
            raise StartStateError("counters: each is an unsigned 64-bit value")
        try:
            pending = [PendingCommand.from_json(p) for p in data.get("pending", [])]
        except (ValueError, TypeError, KeyError) as err:
            raise StartStateError(f"pending: {err}") from None
        keys = {member: _keys(data, member) for member in ("generated_keys", "next_keys")}
        alert = data.get("alert_counter")
        return cls(cells, counters, int(alert) if alert is not None else None, pending, keys["generated_keys"],
                   keys["next_keys"], [str(n) for n in data.get("notes", [])])

    def to_json(self) -> dict:
        from .store import cell_key

        return {"version": VERSION, "cells": {cell_key(c): (d.hex() if d else None) for c, d in self.cells.items()},
                "counters": {str(r): v for r, v in self.counters.items()},
                **({"alert_counter": self.alert_counter} if self.alert_counter is not None else {}),
                "pending": [p.to_json() for p in self.pending],
                "generated_keys": {u: k.to_json() for u, k in self.generated_keys.items()},
                "next_keys": {u: k.to_json() for u, k in self.next_keys.items()}, "notes": self.notes}


def _keys(data: dict, member: str) -> dict[str, GeneratedKey]:
    keys = {}
    value = data.get(member, {})
    if not isinstance(value, dict):
        raise StartStateError(f"{member}: an object by key usage")
    for usage, item in value.items():
        if usage not in KEY_USAGES:
            raise StartStateError(f"{member}: {usage!r} is not one of {KEY_USAGES}")
        try:
            keys[usage] = GeneratedKey.from_json(item)
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise StartStateError(f"{member}.{usage}: {err}") from None
    return keys


def load(path: str | Path) -> DeviceStartState:
    """Read a starting state file; ``StartStateError`` (a ``ValueError``) names what is wrong."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise StartStateError(f"{path}: not JSON ({err})") from None
    return DeviceStartState.from_json(data)
