"""Reading a frame given as hex, base64 or a file (hex text, base64 text or binary)."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

_SEPARATORS = re.compile(r"[\s:,_-]")


class InputError(ValueError):
    """The argument is neither a readable file nor hex nor base64."""


def _text_to_bytes(text: str) -> bytes | None:
    compact = _SEPARATORS.sub("", text.strip())
    if compact.lower().startswith("0x"):
        compact = compact[2:]
    if compact and len(compact) % 2 == 0 and re.fullmatch(r"[0-9A-Fa-f]+", compact):
        return bytes.fromhex(compact)
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return data or None


def read_frame_argument(argument: str) -> bytes:
    path = Path(argument)
    try:
        is_file = path.is_file()
    except OSError:
        is_file = False
    if is_file:
        raw = path.read_bytes()
        try:
            decoded = _text_to_bytes(raw.decode("ascii"))
        except UnicodeDecodeError:
            decoded = None
        return decoded if decoded is not None else raw
    decoded = _text_to_bytes(argument)
    if decoded is None:
        raise InputError(f"{argument[:40]!r} is not a file, hex or base64")
    return decoded
