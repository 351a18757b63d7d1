"""Adapter discovery on fake udev trees, the list_ports fallback and hot-plug waits."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from serial.tools.list_ports_common import ListPortInfo

from rig import discovery
from rig.config import EmulatedTransportSpec, SerialTransportSpec, SpawnSpec, ZigbeeBackend, ZigbeeTransportSpec
from rig.discovery import (
    AmbiguousMatchError,
    DeviceRecord,
    DiscoveryError,
    DiscoveryTimeout,
    ListPortsBackend,
    NoMatchError,
    find,
    matches,
    resolve_port,
    snapshot,
    suggest_match,
    wait_for,
)
from rig.discovery import backends as backends_module
from rig.discovery import search as search_module

from .vectors import PROJECT


def udev_device(subsystem, properties=None, attributes=None, parent=None, device_node=None):
    """A plain stand-in for a pyudev ``Device``: attributes are bytes, as libudev returns them."""
    return SimpleNamespace(subsystem=subsystem, properties=dict(properties or {}), parent=parent,
                           attributes={key: value.encode() for key, value in (attributes or {}).items()},
                           device_node=device_node)


def usb_serial_tty(node, vendor, model, serial=None, interface="00", usb_path="0:2", port_number="0", bus="usb"):
    """The chain a USB serial adapter has under udev: usb_device > interface > usb-serial port > tty."""
    usb = udev_device("usb", {"DEVTYPE": "usb_device"},
                      {"idVendor": vendor, "idProduct": model, **({"serial": serial} if serial else {})})
    interface_device = udev_device("usb", {"DEVTYPE": "usb_interface"}, {"bInterfaceNumber": interface}, usb)
    port = udev_device("usb-serial", {}, {"port_number": port_number}, interface_device)
    properties = {"DEVNAME": node, "SUBSYSTEM": "tty", "ID_BUS": bus, "ID_VENDOR_ID": vendor, "ID_MODEL_ID": model,
                  "ID_USB_INTERFACE_NUM": interface, "ID_PATH": f"pci-0000:00:14.0-usb-{usb_path}:1.{int(interface)}"}
    if serial:
        properties["ID_SERIAL_SHORT"] = serial
    return udev_device("tty", properties, {}, port, node)


def bench():
    """A quad FTDI (one serial, four interfaces), a CP210x, two serial-less CH340s, a console, a UART."""
    quad = [usb_serial_tty(f"/dev/ttyUSB{index}", "0403", "6011", "FT4QUAD", f"{index:02x}", "0:1")
            for index in range(4)]
    cp210x = usb_serial_tty("/dev/ttyUSB4", "10c4", "ea60", "0001", "00", "0:2")
    ch340s = [usb_serial_tty(f"/dev/ttyUSB{5 + index}", "1a86", "7523", None, "00", f"0:3.{index + 1}")
              for index in range(2)]
    console = udev_device("tty", {"DEVNAME": "/dev/tty0", "SUBSYSTEM": "tty"}, device_node="/dev/tty0")
    uart = udev_device("tty", {"DEVNAME": "/dev/ttyS0", "SUBSYSTEM": "tty"}, parent=udev_device("pnp"),
                       device_node="/dev/ttyS0")
    disk = udev_device("block", {"DEVNAME": "/dev/sda", "ID_SERIAL_SHORT": "0001"}, device_node="/dev/sda")
    return [*quad, cp210x, *ch340s, console, uart, disk]


class FakeMonitor:
    """Hot-plug source whose ``wait`` runs a scripted step and advances a fake clock."""

    def __init__(self, clock, on_wait=None):
        self.clock, self.on_wait, self.waits, self.closed = clock, on_wait, [], False

    def wait(self, timeout):
        self.waits.append(timeout)
        self.clock.now += timeout
        return bool(self.on_wait and self.on_wait(len(self.waits)))

    def close(self):
        self.closed = True


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class FakeBackend:
    name = "fake"

    def __init__(self, devices, monitor=None):
        self.device_list, self.fake_monitor = list(devices), monitor

    def devices(self):
        return list(self.device_list)

    def monitor(self):
        return self.fake_monitor


def nodes(records):
    return [record.device_node for record in records]


# -- matching -----------------------------------------------------------------------------------------

def test_plain_keys_match_properties_then_attributes():
    tty = usb_serial_tty("/dev/ttyUSB4", "10c4", "ea60", "0001")
    assert matches(tty, {"ID_VENDOR_ID": "10c4", "ID_MODEL_ID": "ea60"})
    assert matches(tty.parent, {"port_number": "0"})  # a sysfs attribute of the device itself
    assert not matches(tty, {"ID_VENDOR_ID": "10C4"})  # case-sensitive strings, as udev writes them
    assert not matches(tty, {"ID_VENDOR_ID": "10c4", "ID_SERIAL_SHORT": "0002"})  # every key must hold


def test_at_keys_match_ancestors_only():
    tty = usb_serial_tty("/dev/ttyUSB4", "10c4", "ea60", "0001")
    assert matches(tty, {"@idVendor": "10c4", "@serial": "0001", "@port_number": "0"})
    assert matches(tty, {"@SUBSYSTEM": "usb", "@DEVTYPE": "usb_interface", "@bInterfaceNumber": "00"})
    assert matches(tty, {"@DEVTYPE": "usb_device"})  # any ancestor, not just the nearest with the key
    assert not matches(tty, {"@ID_VENDOR_ID": "10c4"})  # the tty's own property is not an ancestor's
    assert not matches(tty, {"@serial": "0002"})


def test_find_by_serial_and_interface_number_picks_one_port_of_a_quad_adapter():
    backend = FakeBackend(bench())
    assert nodes(find({"ID_SERIAL_SHORT": "FT4QUAD", "ID_USB_INTERFACE_NUM": "02"}, backend)) == ["/dev/ttyUSB2"]
    assert nodes(find({"ID_SERIAL_SHORT": "FT4QUAD"}, backend)) == [f"/dev/ttyUSB{index}" for index in range(4)]
    assert nodes(find({"ID_PATH": "pci-0000:00:14.0-usb-0:3.2:1.0"}, backend)) == ["/dev/ttyUSB6"]


def test_find_implies_subsystem_tty():
    backend = FakeBackend(bench())
    assert nodes(find({"ID_SERIAL_SHORT": "0001"}, backend)) == ["/dev/ttyUSB4"]  # not the disk /dev/sda
    assert find({"SUBSYSTEM": "block", "ID_SERIAL_SHORT": "0001"}, backend)[0].device_node == "/dev/sda"


def test_find_returns_frozen_snapshots_with_their_ancestors():
    record = find({"ID_SERIAL_SHORT": "0001"}, FakeBackend(bench()))[0]
    assert isinstance(record, DeviceRecord) and isinstance(record.parent, DeviceRecord)
    assert record.get("@port_number") == "0" and record.get("@idVendor") == "10c4"
    assert record.parent.parent.parent.attributes["serial"] == "0001"  # bytes decoded to text
    assert matches(record, {"@serial": "0001"})
    with pytest.raises(TypeError):
        record.properties["ID_SERIAL_SHORT"] = "x"


def test_no_match_and_ambiguous_match_errors_list_what_was_seen():
    backend = FakeBackend(bench())
    with pytest.raises(NoMatchError) as caught:
        resolve_port(SerialTransportSpec(match={"ID_SERIAL_SHORT": "GONE"}), backend=backend)
    message = str(caught.value)
    assert "ID_SERIAL_SHORT='GONE'" in message and "/dev/ttyUSB4" in message and "ID_SERIAL_SHORT=0001" in message
    assert "/dev/tty0" not in message and "/dev/ttyS0" not in message  # only adapters are listed
    assert nodes(caught.value.candidates) == [f"/dev/ttyUSB{index}" for index in range(7)]
    with pytest.raises(AmbiguousMatchError) as caught:
        resolve_port(SerialTransportSpec(match={"ID_VENDOR_ID": "1a86"}), backend=backend)
    assert nodes(caught.value.candidates) == ["/dev/ttyUSB5", "/dev/ttyUSB6"]
    assert "2 serial ports match" in str(caught.value)


def test_no_adapters_at_all():
    with pytest.raises(NoMatchError, match=r"no serial adapters seen \(discovery: fake\)"):
        resolve_port(SerialTransportSpec(match={"ID_SERIAL_SHORT": "A"}), backend=FakeBackend([]))


def test_resolve_port_prefers_the_url_and_uses_match_otherwise():
    backend = FakeBackend(bench())
    assert resolve_port(SerialTransportSpec(url="rfc2217://lab:4001"), backend=backend) == "rfc2217://lab:4001"
    spec = SerialTransportSpec(match={"ID_SERIAL_SHORT": "FT4QUAD", "ID_USB_INTERFACE_NUM": "03"})
    assert resolve_port(spec, backend=backend) == "/dev/ttyUSB3"
    zigbee = ZigbeeTransportSpec(backend=ZigbeeBackend.EZSP, eui64="000D6F0000000001",
                                 match={"ID_VENDOR_ID": "10c4", "ID_MODEL_ID": "ea60"})
    assert resolve_port(zigbee, backend=backend) == "/dev/ttyUSB4"


@pytest.mark.parametrize(("spec", "fragment"), [
    (EmulatedTransportSpec(), "emulated transport without url or match"),
    (SerialTransportSpec(spawn=SpawnSpec(("gbcs-rig", "emulate"), Path("."))), "READY line"),
    (ZigbeeTransportSpec(eui64="000D6F0000000001"), "zigbee transport without url or match"),
])
def test_resolve_port_without_a_port(spec, fragment):
    with pytest.raises(DiscoveryError, match=fragment):
        resolve_port(spec, backend=FakeBackend(bench()))


def test_config_and_discovery_agree_on_the_shipped_lab_example():
    from rig.config import load_config

    config = load_config(PROJECT / "hw_configs" / "lab-zigbee.toml", env={})
    port = resolve_port(config.rigs["esme-zb-01"].transport, backend=FakeBackend(bench()))
    assert port == "/dev/ttyUSB4"


# -- the list_ports fallback -------------------------------------------------------------------------

def port_info(device, vid=None, pid=None, serial_number=None, location=None, manufacturer=None, product=None):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number, info.location = vid, pid, serial_number, location
    info.manufacturer, info.product = manufacturer, product
    return info


def fake_comports():
    return [
        port_info("/dev/ttyUSB0", 0x0403, 0x6011, "FT4QUAD", "1-1:1.0", "FTDI", "Quad RS232-HS"),
        port_info("/dev/ttyUSB1", 0x0403, 0x6011, "FT4QUAD", "1-1:1.1", "FTDI", "Quad RS232-HS"),
        port_info("COM7", 0x10C4, 0xEA60, "0001", "1-2:x.0", "Silicon Labs", "CP2102"),
        port_info("/dev/ttyS0"),
    ]


def test_list_ports_records_use_the_udev_property_names():
    records = {record.device_node: record for record in ListPortsBackend(fake_comports).devices()}
    assert dict(records["/dev/ttyUSB1"].properties) == {
        "DEVNAME": "/dev/ttyUSB1", "SUBSYSTEM": "tty", "ID_VENDOR_ID": "0403", "ID_MODEL_ID": "6011",
        "ID_SERIAL_SHORT": "FT4QUAD", "ID_VENDOR": "FTDI", "ID_MODEL": "Quad RS232-HS", "ID_PATH": "1-1:1.1",
        "ID_USB_INTERFACE_NUM": "01"}
    assert records["COM7"].get("ID_USB_INTERFACE_NUM") == "00" and records["COM7"].get("ID_VENDOR_ID") == "10c4"
    assert records["COM7"].get("@idVendor") == "10c4" and records["COM7"].get("@serial") == "0001"
    assert dict(records["/dev/ttyS0"].properties) == {"DEVNAME": "/dev/ttyS0", "SUBSYSTEM": "tty"}


def test_find_through_the_list_ports_fallback():
    backend = ListPortsBackend(fake_comports)
    assert nodes(find({"ID_SERIAL_SHORT": "FT4QUAD", "ID_USB_INTERFACE_NUM": "01"}, backend)) == ["/dev/ttyUSB1"]
    assert nodes(find({"ID_VENDOR_ID": "10c4", "ID_MODEL_ID": "ea60"}, backend)) == ["COM7"]
    assert nodes(discovery.adapters(backend)) == ["/dev/ttyUSB0", "/dev/ttyUSB1", "COM7"]
    assert nodes(discovery.adapters(backend, include_all=True)) == ["/dev/ttyS0", "/dev/ttyUSB0", "/dev/ttyUSB1", "COM7"]


def test_default_backend_falls_back_to_list_ports(monkeypatch):
    monkeypatch.setattr(backends_module, "udev_backend", lambda: None)
    assert isinstance(backends_module.default_backend(), ListPortsBackend)


def test_udev_backend_only_on_linux_with_pyudev(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert backends_module.udev_backend() is None
    monkeypatch.setattr(sys, "platform", "linux")

    def no_pyudev(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(backends_module.importlib, "import_module", no_pyudev)
    assert backends_module.udev_backend() is None


def test_udev_backend_needs_the_udev_database(monkeypatch, tmp_path):
    context = SimpleNamespace(run_path=str(tmp_path))
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(backends_module.importlib, "import_module",
                        lambda name: SimpleNamespace(Context=lambda: context))
    assert backends_module.udev_backend() is None  # udevd not running: ID_* properties would be missing
    (tmp_path / "data").mkdir()
    assert isinstance(backends_module.udev_backend(), discovery.UdevBackend)


def test_nothing_imports_pyudev_until_discovery_runs():
    code = ("import sys, rig.config, rig.discovery, rig.cli.main; "
            "rig.config.load_config('hw_configs/emulated.toml'); print('pyudev' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_matching_works_on_real_pyudev_devices():
    pyudev = pytest.importorskip("pyudev", reason="pyudev is only installed on Linux")
    try:
        device = pyudev.Devices.from_name(pyudev.Context(), "tty", "tty")
    except Exception as err:  # no libudev or no /sys in this environment
        pytest.skip(f"no udev device /sys/class/tty/tty here: {err}")
    assert matches(device, {"SUBSYSTEM": "tty", "DEVNAME": "/dev/tty"})
    assert not matches(device, {"DEVNAME": "/dev/tty0"})
    record = snapshot(device)
    assert record.device_node == "/dev/tty" and record.properties["SUBSYSTEM"] == "tty"
    assert matches(record, {"SUBSYSTEM": "tty", "DEVNAME": "/dev/tty"})


# -- waiting for a port --------------------------------------------------------------------------------

def test_wait_for_gives_up_at_the_deadline_with_a_monitor():
    clock = FakeClock()
    monitor = FakeMonitor(clock)
    backend = FakeBackend(bench(), monitor)
    with pytest.raises(DiscoveryTimeout) as caught:
        wait_for({"ID_SERIAL_SHORT": "NOT-PLUGGED"}, clock() + 5, backend, clock=clock)
    assert "before the deadline" in str(caught.value) and "/dev/ttyUSB4" in str(caught.value)
    assert monitor.waits and max(monitor.waits) <= search_module.MONITOR_STEP
    assert sum(monitor.waits) == pytest.approx(5)  # waited out the whole budget, never beyond it
    assert monitor.closed


def test_wait_for_returns_the_port_when_it_is_plugged_in():
    clock = FakeClock()
    backend = FakeBackend([])
    plugged = usb_serial_tty("/dev/ttyUSB9", "10c4", "ea60", "NEW1")

    def plug_in_on_third_event(count):
        if count == 3:
            backend.device_list.append(plugged)
            return True
        return False

    backend.fake_monitor = FakeMonitor(clock, plug_in_on_third_event)
    record = wait_for({"ID_SERIAL_SHORT": "NEW1"}, clock() + 60, backend, clock=clock)
    assert record.device_node == "/dev/ttyUSB9"
    assert len(backend.fake_monitor.waits) == 3 and backend.fake_monitor.closed


def test_wait_for_polls_without_a_monitor():
    clock = FakeClock()
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock.now += seconds

    with pytest.raises(DiscoveryTimeout):
        wait_for({"ID_SERIAL_SHORT": "X"}, clock() + 1, FakeBackend(bench()), clock=clock, sleep=sleep)
    assert sleeps and max(sleeps) <= search_module.POLL_INTERVAL


def test_wait_for_fails_at_once_on_an_ambiguous_match():
    clock = FakeClock()
    monitor = FakeMonitor(clock)
    with pytest.raises(AmbiguousMatchError):
        wait_for({"ID_SERIAL_SHORT": "FT4QUAD"}, clock() + 60, FakeBackend(bench(), monitor), clock=clock)
    assert monitor.waits == [] and monitor.closed


def test_resolve_port_with_a_deadline_waits():
    backend = FakeBackend([])
    monitor = FakeMonitor(FakeClock(), lambda count: backend.device_list.append(
        usb_serial_tty("/dev/ttyACM0", "10c4", "ea60", "Z1")) or True)
    backend.fake_monitor = monitor
    spec = SerialTransportSpec(match={"ID_SERIAL_SHORT": "Z1"})
    with pytest.raises(NoMatchError):
        resolve_port(spec, backend=backend)  # without a deadline: only what is there now
    assert monitor.waits == []
    assert resolve_port(spec, deadline=time.monotonic() + 60, backend=backend) == "/dev/ttyACM0"
    assert len(monitor.waits) == 1  # the fake monitor plugged the port in on the first event


# -- suggestions ----------------------------------------------------------------------------------------

def test_suggestions_prefer_serial_and_interface_then_path():
    seen = [snapshot(device) for device in bench()]
    by_node = {record.device_node: record for record in seen}
    assert suggest_match(by_node["/dev/ttyUSB1"], seen) == {"ID_SERIAL_SHORT": "FT4QUAD", "ID_USB_INTERFACE_NUM": "01"}
    assert suggest_match(by_node["/dev/ttyUSB4"], seen) == {"ID_SERIAL_SHORT": "0001", "ID_USB_INTERFACE_NUM": "00"}
    assert suggest_match(by_node["/dev/ttyUSB6"], seen) == {"ID_PATH": "pci-0000:00:14.0-usb-0:3.2:1.0"}
    assert suggest_match(by_node["/dev/ttyS0"], seen) == {"DEVNAME": "/dev/ttyS0"}
    for record in seen:  # every suggestion selects its own port and nothing else
        if record.subsystem == "tty":
            assert find(suggest_match(record, seen), FakeBackend(bench())) == [record]


def test_suggestion_falls_back_to_vendor_and_model_for_a_lone_adapter_without_serial_or_path():
    lone = snapshot(udev_device("tty", {"DEVNAME": "/dev/ttyACM0", "SUBSYSTEM": "tty", "ID_VENDOR_ID": "2341",
                                        "ID_MODEL_ID": "0043"}, device_node="/dev/ttyACM0"))
    assert suggest_match(lone, [lone]) == {"ID_VENDOR_ID": "2341", "ID_MODEL_ID": "0043"}
