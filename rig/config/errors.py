"""The one error a hw_config can produce: it always says which file, which line and which key.

A lab engineer edits these files by hand, often on a bench machine far from the code, so a
message that only says "bad value" costs a round trip; one that says
``hw_configs/lab.toml:14: rigs.esme-01.transport.baudrate: expected an integer`` does not.
"""

from __future__ import annotations

import re
from pathlib import Path

#: TOML bare keys need no quotes; anything else is shown quoted, as it would be written
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

KeyPath = tuple[str | int, ...]


def dotted(keypath: KeyPath) -> str:
    """``("rigs", "esme 01", "features", 2)`` -> ``rigs."esme 01".features[2]``."""
    text = ""
    for part in keypath:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        name = part if _BARE_KEY.fullmatch(part) else '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
        text += f".{name}" if text else name
    return text


class ConfigError(ValueError):
    """A hw_config that cannot be used; ``path``, ``line`` (1-based) and ``key`` locate the cause.

    ``key`` is the dotted key path (``rigs.esme-01.transport.baudrate``), or ``None`` when the
    error is not about one key (a syntax error between keys). ``column`` is set for syntax errors.
    """

    def __init__(self, message: str, *, path: str | Path, line: int, key: str | None = None,
                 column: int | None = None):
        self.message = message
        self.path = Path(path)
        self.line = line
        self.key = key
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" + (f":{self.column}" if self.column else "")
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
