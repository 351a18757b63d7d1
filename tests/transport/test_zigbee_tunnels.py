"""The tunnel table: id <-> EUI-64, roles, replacement, idle detection."""

from __future__ import annotations

from rig.transport.zigbee.tunnels import TunnelRole, TunnelState, TunnelTable

A, B = bytes.fromhex("7E570D00000000A0"), bytes.fromhex("7E570D00000000A1")


def test_server_ids_are_unique_and_map_back_to_devices():
    table = TunnelTable(clock=lambda: 0.0)
    first, second = table.accept(A, 1500), table.accept(B, 1200)
    assert first.tunnel_id != second.tunnel_id
    assert table.by_id(first.tunnel_id, TunnelRole.SERVER) is first
    assert table.by_id(first.tunnel_id, TunnelRole.CLIENT) is None  # ids are per role
    assert table.by_eui(B).peer_max_transfer == 1200


def test_a_new_request_replaces_the_old_tunnel():
    table = TunnelTable(clock=lambda: 0.0)
    old = table.accept(A, 1500)
    new = table.accept(A, 1500)
    assert table.by_eui(A) is new and len(table) == 1
    assert table.by_id(old.tunnel_id, TunnelRole.SERVER) in (None, new)


def test_client_tunnel_lifecycle():
    table = TunnelTable(clock=lambda: 5.0)
    pending = table.request(A)
    assert pending.state is TunnelState.REQUEST_PENDING and table.by_id(7, TunnelRole.CLIENT) is None
    assert table.established(B, 7, 1500) is None  # nobody asked B
    active = table.established(A, 7, 1500)
    assert active is pending and active.state is TunnelState.ACTIVE
    assert table.by_id(7, TunnelRole.CLIENT) is active
    table.close(active)
    assert table.by_eui(A) is None and active.state is TunnelState.CLOSED


def test_idle_tunnels_by_role():
    now = [0.0]
    table = TunnelTable(clock=lambda: now[0])
    server = table.accept(A, 1500)
    table.request(B)
    table.established(B, 3, 1500)
    now[0] = 100.0
    table.touch(table.by_eui(B))
    assert table.idle(60.0, TunnelRole.SERVER) == [server]
    assert table.idle(60.0, TunnelRole.CLIENT) == []


def test_table_full_refuses():
    table = TunnelTable(clock=lambda: 0.0, max_tunnels=1)
    assert table.accept(A, 1500) is not None
    assert table.accept(B, 1500) is None
