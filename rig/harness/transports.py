"""Opening a rig's transport from its ``TransportSpec``: a table of openers by kind.

Each opener returns the transport and a stop function (for spawned emulators). Serial and
ZigBee openers are registered by ``rig.transport`` when those links are available.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rig.config.model import TransportKind
from rig.transport import Transport
from rig.transport.emulated import EmulatedTransport

if TYPE_CHECKING:
    from .session import RigSession

Opener = Callable[["RigSession"], tuple[Transport, Callable[[], None] | None]]


def _open_emulated(session: RigSession) -> tuple[Transport, None]:
    session.provision()
    return EmulatedTransport(session.hub, name=f"emulated:{session.rig_id}"), None


OPENERS: dict[TransportKind, Opener] = {TransportKind.EMULATED: _open_emulated}


def open_transport(session: RigSession) -> tuple[Transport, Callable[[], None] | None]:
    kind = session.spec.transport.kind
    opener = OPENERS.get(kind)
    if opener is None:
        raise NotImplementedError(f"rig {session.rig_id}: no transport for kind {kind!s}")
    return opener(session)


def rebind(session: RigSession) -> None:
    """After ``reset``: point an in-process link at the freshly provisioned endpoint."""
    transport = session.transport
    if isinstance(transport, EmulatedTransport):
        transport.endpoint = session.hub
        transport._queue.clear()  # frames of the previous device are not this device's
