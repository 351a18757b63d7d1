"""``gbcs-rig devices``: what a lab engineer pastes into a hw_config."""

from __future__ import annotations

import json
import tomllib

import pytest

from rig import discovery
from rig.cli.main import main
from rig.config import load_config

from .test_discovery import FakeBackend, bench, usb_serial_tty


def run(capsys, *argv) -> tuple[int, str]:
    code = main(["devices", *argv])
    return code, capsys.readouterr().out


@pytest.fixture
def on_bench(monkeypatch):
    """The CLI sees the fake bench of test_discovery instead of this machine's ports."""
    backend = FakeBackend(bench())
    monkeypatch.setattr(discovery, "default_backend", lambda: backend)
    return backend


def test_output_parses_as_toml_with_one_match_block_per_adapter(capsys, on_bench):
    code, out = run(capsys)
    assert code == 0
    rigs = tomllib.loads(out)["rigs"]
    assert {name: rig["transport"]["match"] for name, rig in rigs.items()} == {
        **{f"ttyUSB{index}": {"ID_SERIAL_SHORT": "FT4QUAD", "ID_USB_INTERFACE_NUM": f"{index:02x}"} for index in range(4)},
        "ttyUSB4": {"ID_SERIAL_SHORT": "0001", "ID_USB_INTERFACE_NUM": "00"},
        "ttyUSB5": {"ID_PATH": "pci-0000:00:14.0-usb-0:3.1:1.0"},
        "ttyUSB6": {"ID_PATH": "pci-0000:00:14.0-usb-0:3.2:1.0"},
    }
    assert "# /dev/ttyUSB4: serial port (10c4:ea60)" in out
    assert "#   serial 0001, interface 00, path pci-0000:00:14.0-usb-0:2:1.0" in out
    assert "/dev/ttyS0" not in out and "/dev/tty0" not in out  # built-in ports only with --all


def test_all_includes_built_in_ports(capsys, on_bench):
    code, out = run(capsys, "--all")
    assert code == 0
    assert tomllib.loads(out)["rigs"]["ttyS0"]["transport"]["match"] == {"DEVNAME": "/dev/ttyS0"}
    assert "breaks if the bench changes" in out
    assert "/dev/tty0" not in out  # a virtual console is no serial port


def test_a_pasted_block_loads_and_resolves_to_its_port(capsys, on_bench, tmp_path):
    _, out = run(capsys)
    block = out[out.index("[rigs.ttyUSB2.transport.match]"):].split("\n\n")[0]
    config = tmp_path / "bench.toml"
    config.write_text('[rigs.ttyUSB2]\ndevice = "ESME"\n\n[rigs.ttyUSB2.transport]\nkind = "serial"\n\n' + block + "\n")
    transport = load_config(config, env={}).rigs["ttyUSB2"].transport
    assert discovery.resolve_port(transport, backend=on_bench) == "/dev/ttyUSB2"


def test_ancestor_keys_are_quoted(capsys, monkeypatch):
    """Two ports of one serial-less adapter share ID_PATH; only the port number tells them apart."""
    ports = [usb_serial_tty(f"/dev/ttyUSB{index}", "1a86", "55d4", None, "00", "0:4", port_number=str(index))
             for index in range(2)]
    monkeypatch.setattr(discovery, "default_backend", lambda: FakeBackend(ports))
    _, out = run(capsys)
    assert '"@port_number" = "1"' in out
    assert tomllib.loads(out)["rigs"]["ttyUSB1"]["transport"]["match"] == {
        "ID_PATH": "pci-0000:00:14.0-usb-0:4:1.0", "@port_number": "1"}


def test_json(capsys, on_bench):
    code, out = run(capsys, "--json")
    assert code == 0
    document = json.loads(out)
    assert document["discovery"] == "fake"
    first = document["adapters"][4]
    assert first["device_node"] == "/dev/ttyUSB4"
    assert first["properties"]["ID_VENDOR_ID"] == "10c4" and first["properties"]["ID_SERIAL_SHORT"] == "0001"
    assert first["match"] == {"ID_SERIAL_SHORT": "0001", "ID_USB_INTERFACE_NUM": "00"}


def test_no_adapters(capsys, monkeypatch):
    monkeypatch.setattr(discovery, "default_backend", lambda: FakeBackend([]))
    code, out = run(capsys)
    assert code == 0 and "no adapters found" in out
    tomllib.loads(out)  # still valid TOML: only a comment
    code, out = run(capsys, "--json")
    assert code == 0 and json.loads(out)["adapters"] == []


def test_runs_on_this_machine(capsys):
    """Whatever this machine has (CI: nothing), the command succeeds and prints TOML."""
    code, out = run(capsys)
    assert code == 0
    tomllib.loads(out)
