"""The emulated comms hub: routing by the grouping header alone, and polling only the devices
that have something to emit (issue 14: a hub's poll must not cost O(devices on its log))."""

from __future__ import annotations

import datetime as dt

from firmware_emu import CommsHub
from firmware_emu import hub as hub_module
from rig.gbcs import decode
from rig.provision import create_device

from .emu_helpers import new_device


def _hub_with(pki, clock, device, others: int = 0):
    hub = CommsHub(create_device("CHF", pki=pki, clock=clock))
    hub.join(device)
    idle = [create_device("GSME", pki=pki, clock=clock, entity_id=(0x7E57_0000_0000_0100 + n).to_bytes(8, "big"))
            for n in range(others)]
    for other in idle:
        hub.join(other)
    return hub, idle


def _count_polls(monkeypatch, endpoints) -> list:
    calls: list = []
    for endpoint in endpoints:
        original = endpoint.poll

        def counted(original=original, endpoint=endpoint):
            calls.append(endpoint)
            return original()
        monkeypatch.setattr(endpoint, "poll", counted)
    return calls


def test_the_hub_routes_a_command_without_decoding_it(fixture_pki, monkeypatch):
    device, head, clock = new_device(fixture_pki)
    hub, _ = _hub_with(fixture_pki, clock, device)

    def no_decode(frame):
        raise AssertionError("the hub decoded a frame it could route by its header")
    monkeypatch.setattr(hub_module, "decode", no_decode)
    [response] = hub.receive(head.seal(head.migration(), "tcos"))
    assert decode(response).payload.execution_outcome.all_succeeded


def test_idle_devices_are_not_polled_and_a_scheduled_one_is(fixture_pki, monkeypatch):
    device, head, clock = new_device(fixture_pki)
    hub, idle = _hub_with(fixture_pki, clock, device, others=20)
    assert hub.poll() == []  # every endpoint is asked once after it was routed: none has output
    calls = _count_polls(monkeypatch, [device, hub.chf, *idle])
    hub.receive(head.seal(head.migration(), "tcos"))
    assert hub.poll() == [] and calls == []  # no device has output outstanding: none is asked
    # a future-dated command reaching the device by another path (not through the hub) wakes it
    when = clock.now() + dt.timedelta(days=1)
    device.receive(head.seal(head.change_of_supplier(when=when), "ecos"))
    assert hub.poll() == [] and calls == [device]
    clock.set(when)
    [alert] = hub.poll()
    assert decode(alert).payload.alert_code == 0x8F66 and calls == [device, device]
    assert hub.poll() == [] and calls == [device, device]  # executed: idle again


def test_a_device_routed_directly_is_polled(fixture_pki):
    """The session harness routes a resumed device without joining it (its log is persisted)."""
    device, head, clock = new_device(fixture_pki)
    hub = CommsHub(create_device("CHF", pki=fixture_pki, clock=clock))
    head.send(head.seal(head.migration(), "tcos"))
    when = clock.now() + dt.timedelta(hours=1)
    head.send(head.seal(head.change_of_supplier(when=when), "ecos"))
    hub.route(device)
    clock.set(when)
    [alert] = hub.poll()
    assert decode(alert).payload.alert_code == 0x8F66
    hub.leave(device.entity_id)
    assert hub.poll() == [] and id(device) not in hub._active


def test_the_hub_is_outstanding_while_a_device_on_it_holds_output_back(fixture_pki):
    """``outstanding`` is what ends the rig's in-process silence waits early: a future-dated
    command held by a device keeps the hub outstanding until it has run and its alert is out."""
    device, head, clock = new_device(fixture_pki)
    hub = CommsHub(create_device("CHF", pki=fixture_pki, clock=clock))
    hub.join(device)
    hub.poll()
    assert not hub.outstanding  # joined, nothing held
    head.send(head.seal(head.migration(), "tcos"))
    when = clock.now() + dt.timedelta(hours=1)
    head.send(head.seal(head.change_of_supplier(when=when), "ecos"))
    assert hub.outstanding  # the future-dated change of supplier is held
    clock.set(when)
    [alert] = hub.poll()
    assert decode(alert).payload.alert_code == 0x8F66
    assert not hub.outstanding
