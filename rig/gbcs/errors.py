"""Public codec exceptions."""

from __future__ import annotations


class GbcsDecodeError(ValueError):
    """The only exception ``rig.gbcs.decode`` raises; names the field path and byte offset."""

    def __init__(self, reason: str, path: str = "", offset: int | None = None):
        self.reason = reason
        self.path = path
        self.offset = offset
        where = f" at byte {offset}" if offset is not None else ""
        field = f" in {path}" if path else ""
        super().__init__(f"{reason}{field}{where}")


class GbcsEncodeError(ValueError):
    """A message that cannot be encoded (wrong payload type, field sizes)."""
