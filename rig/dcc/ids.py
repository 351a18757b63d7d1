"""Entity identifiers (EUI-64) as DUIS writes them and as the rig stores them.

DUIS shows an EUI-64 as eight dash-separated hex pairs (``90-B3-D5-1F-30-01-00-00``); GBCS
carries the same eight bytes. Every public function of ``rig.dcc`` accepts either form (or
plain hex) so a lab can paste identifiers from a DUIS file or from a decode, and the inventory
always stores the dashed upper-case form so its rows read like DUIS.
"""

from __future__ import annotations

import re

_HEX16 = re.compile(r"^[0-9A-Fa-f]{16}$")

EuiLike = bytes | bytearray | str


def eui(value: EuiLike) -> bytes:
    """Eight bytes from bytes, ``"7E-57-..."``, ``"7E:57:..."`` or plain hex; ValueError otherwise."""
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 8:
            raise ValueError(f"an EUI-64 has 8 bytes, not {len(value)}")
        return bytes(value)
    text = value.strip().replace("-", "").replace(":", "").replace(" ", "")
    if not _HEX16.match(text):
        raise ValueError(f"not an EUI-64: {value!r}")
    return bytes.fromhex(text)


def eui_text(value: EuiLike) -> str:
    """The DUIS form: ``7E-57-0D-00-00-00-00-A0``."""
    return eui(value).hex("-").upper()
