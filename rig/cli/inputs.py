"""Reading a frame given as hex, base64 or a file (hex text, base64 text or binary)."""

from __future__ import annotations

import base64
import binascii
import re
import tomllib
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
        if path.suffix or "/" in argument or "\\" in argument:  # meant as a file name
            raise InputError(f"no such file: {argument} (nor is it hex or base64)")
        raise InputError(f"{argument[:40]!r} is not a file, hex or base64")
    return decoded


def pki_folder(argument: str | Path) -> Path:
    """A folder ``gbcs-rig pki init`` wrote; otherwise an :class:`InputError` saying what it is
    instead (the loaders would only name the missing ``pki.toml`` inside it)."""
    folder = Path(argument)
    manifest = folder / "pki.toml"
    if not folder.is_dir():
        raise InputError(f"no such PKI folder: {folder}")
    if not manifest.is_file():
        raise InputError(f"{folder} is not a PKI folder: it has no pki.toml (write one with: gbcs-rig pki init DIR)")
    try:
        tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{manifest}: not a PKI manifest ({err})") from None
    return folder
