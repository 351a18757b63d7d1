"""Serial framings as pure incremental codecs (bytes in, frames out, errors counted).

``make_framer(name, role)`` builds one by its configuration name; ``FRAMINGS`` is the table
a config layer or the ``emulate`` command chooses from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import Framer
from .hdlc import HdlcAddress, HdlcFrame, HdlcFramer
from .length_prefixed import LengthPrefixedFramer

#: configuration name -> framer class (constructor takes ``role`` and keyword options)
FRAMINGS: dict[str, Callable[..., Framer]] = {
    HdlcFramer.name: HdlcFramer,
    LengthPrefixedFramer.name: LengthPrefixedFramer,
}


def make_framer(name: str, role: str = "client", **options: Any) -> Framer:
    """A new framer for one end of a link; ``role`` is ``"client"`` (rig) or ``"server"`` (device)."""
    try:
        factory = FRAMINGS[name]
    except KeyError:
        raise ValueError(f"unknown framing {name!r} (known: {', '.join(sorted(FRAMINGS))})") from None
    return factory(role, **options)


__all__ = ["FRAMINGS", "Framer", "HdlcAddress", "HdlcFrame", "HdlcFramer", "LengthPrefixedFramer", "make_framer"]
