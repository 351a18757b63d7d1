"""The tunnel table of one tunnel manager: tunnel id <-> EUI-64, role, state, idle time. No I/O.

A comms hub is the tunneling *client* towards devices that are always awake (the CHF sends
RequestTunnel to the ESME after key establishment, GBCS 10.2.2.1) and the tunneling *server*
for the GSME, which requests its tunnel to the hub when it wakes. Tunnel ids are allocated by
the server end. One tunnel per remote device: a new one replaces the old.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .zcl import GBCS_MAX_TRANSFER_SIZE

#: tunnel ids a server hands out (0xFFFF is "invalid" in the ZCL tunneling cluster)
MAX_TUNNEL_ID = 0xFFFE


class TunnelRole(enum.Enum):
    CLIENT = "client"  # we requested it; the peer allocated the id
    SERVER = "server"  # the peer requested it; we allocated the id


class TunnelState(enum.Enum):
    REQUEST_PENDING = "request-pending"
    ACTIVE = "active"
    CLOSED = "closed"


@dataclass
class Tunnel:
    eui64: bytes
    role: TunnelRole
    state: TunnelState
    tunnel_id: int | None = None
    peer_max_transfer: int = GBCS_MAX_TRANSFER_SIZE
    last_active: float = 0.0
    requested_at: float = 0.0

    def describe(self) -> str:
        ident = "-" if self.tunnel_id is None else f"{self.tunnel_id:#06x}"
        return f"{self.eui64.hex().upper()} {self.role.value} {ident} {self.state.value}"


class TunnelTable:
    """Tunnels by remote EUI-64 and by (role, tunnel id)."""

    def __init__(self, clock: Callable[[], float], max_tunnels: int = 64):
        self._clock = clock
        self.max_tunnels = max_tunnels
        self._by_eui: dict[bytes, Tunnel] = {}
        self._next_id = 0

    def __iter__(self) -> Iterator[Tunnel]:
        return iter(list(self._by_eui.values()))

    def __len__(self) -> int:
        return len(self._by_eui)

    def by_eui(self, eui64: bytes) -> Tunnel | None:
        return self._by_eui.get(bytes(eui64))

    def by_id(self, tunnel_id: int, role: TunnelRole) -> Tunnel | None:
        for tunnel in self._by_eui.values():
            if tunnel.role is role and tunnel.tunnel_id == tunnel_id and tunnel.state is TunnelState.ACTIVE:
                return tunnel
        return None

    # -- client side -------------------------------------------------------------------------
    def request(self, eui64: bytes) -> Tunnel:
        """Record a RequestTunnel we are sending (replaces any earlier tunnel to that device)."""
        now = self._clock()
        tunnel = Tunnel(bytes(eui64), TunnelRole.CLIENT, TunnelState.REQUEST_PENDING, requested_at=now,
                        last_active=now)
        self._by_eui[tunnel.eui64] = tunnel
        return tunnel

    def established(self, eui64: bytes, tunnel_id: int, peer_max_transfer: int) -> Tunnel | None:
        """A successful RequestTunnelResponse; None if we had not asked that device."""
        tunnel = self._by_eui.get(bytes(eui64))
        if tunnel is None or tunnel.role is not TunnelRole.CLIENT or tunnel.state is not TunnelState.REQUEST_PENDING:
            return None
        tunnel.tunnel_id = tunnel_id
        tunnel.peer_max_transfer = peer_max_transfer
        tunnel.state = TunnelState.ACTIVE
        tunnel.last_active = self._clock()
        return tunnel

    # -- server side -------------------------------------------------------------------------
    def accept(self, eui64: bytes, peer_max_transfer: int) -> Tunnel | None:
        """Allocate a tunnel for a device's RequestTunnel; None when no id is free."""
        eui64 = bytes(eui64)
        self._by_eui.pop(eui64, None)
        if len(self._by_eui) >= self.max_tunnels:
            return None
        used = {t.tunnel_id for t in self._by_eui.values() if t.role is TunnelRole.SERVER}
        for _ in range(MAX_TUNNEL_ID + 1):
            candidate, self._next_id = self._next_id, (self._next_id + 1) % (MAX_TUNNEL_ID + 1)
            if candidate not in used:
                break
        else:  # pragma: no cover - needs 65535 live tunnels
            return None
        now = self._clock()
        tunnel = Tunnel(eui64, TunnelRole.SERVER, TunnelState.ACTIVE, candidate, peer_max_transfer, now, now)
        self._by_eui[eui64] = tunnel
        return tunnel

    # -- both --------------------------------------------------------------------------------
    def touch(self, tunnel: Tunnel) -> None:
        tunnel.last_active = self._clock()

    def close(self, tunnel: Tunnel) -> None:
        tunnel.state = TunnelState.CLOSED
        if self._by_eui.get(tunnel.eui64) is tunnel:
            del self._by_eui[tunnel.eui64]

    def idle(self, timeout: float, role: TunnelRole) -> list[Tunnel]:
        """Active tunnels of ``role`` unused for ``timeout`` seconds or more."""
        now = self._clock()
        return [t for t in self._by_eui.values()
                if t.role is role and t.state is TunnelState.ACTIVE and now - t.last_active >= timeout]
