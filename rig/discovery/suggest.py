"""Ready-to-paste match blocks for the adapters on a bench (what ``gbcs-rig devices`` prints).

A suggestion uses the most stable keys the adapter has and is checked to select exactly that
port among all those seen: the adapter's serial number with its USB interface (multi-port
adapters), else the physical path it is plugged into, and only then vendor and model ids
(stable only while there is one such adapter) or, as a last resort, the device node.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from .match import matches, serial_match
from .records import DeviceRecord

#: key sets to try, most stable first
PREFERRED_KEYS: tuple[tuple[str, ...], ...] = (
    ("ID_SERIAL_SHORT", "ID_USB_INTERFACE_NUM"),
    ("ID_SERIAL_SHORT",),
    ("ID_PATH",),
    ("ID_PATH", "@port_number"),
    ("ID_VENDOR_ID", "ID_MODEL_ID", "ID_USB_INTERFACE_NUM"),
    ("ID_VENDOR_ID", "ID_MODEL_ID"),
)
#: matches built from these keys break when the bench changes
UNSTABLE_KEYS = frozenset({"ID_VENDOR_ID", "ID_MODEL_ID", "DEVNAME"})

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def suggest_match(record: DeviceRecord, seen: Iterable[DeviceRecord]) -> dict[str, str]:
    """The most stable match that selects ``record`` and no other port in ``seen``."""
    others = list(seen)
    for keys in PREFERRED_KEYS:
        values = {key: record.get(key) for key in keys}
        if None in values.values():
            continue
        candidate = {key: str(value) for key, value in values.items()}
        if sum(matches(other, serial_match(candidate)) for other in others) == 1:
            return candidate
    return {"DEVNAME": record.device_node or ""}


def toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are a subset of TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def rig_id_for(record: DeviceRecord) -> str:
    """A placeholder rig id named after the port (``/dev/ttyUSB0`` -> ``ttyUSB0``)."""
    name = (record.device_node or "adapter").replace("\\", "/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_-]", "-", name) or "adapter"


def match_block(record: DeviceRecord, match: Mapping[str, str]) -> str:
    """A commented ``[rigs.<port>.transport.match]`` table for ``record``."""
    summary = record.summary()
    ids = f" ({summary['ID_VENDOR_ID']}:{summary.get('ID_MODEL_ID', '????')})" if "ID_VENDOR_ID" in summary else ""
    name = " ".join(summary[key] for key in ("ID_VENDOR", "ID_MODEL") if key in summary)
    details = [f"{label} {summary[key]}" for label, key in (("serial", "ID_SERIAL_SHORT"),
                                                            ("interface", "ID_USB_INTERFACE_NUM"),
                                                            ("path", "ID_PATH")) if key in summary]
    lines = [f"# {record.device_node}: {name or 'serial port'}{ids}"]
    if details:
        lines.append(f"#   {', '.join(details)}")
    if UNSTABLE_KEYS & set(match):
        lines.append("#   no serial number or path to match on: this match breaks if the bench changes")
    lines.append(f"[rigs.{toml_key(rig_id_for(record))}.transport.match]")
    lines += [f"{toml_key(key)} = {toml_string(value)}" for key, value in match.items()]
    return "\n".join(lines)
