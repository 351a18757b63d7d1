"""hw_configs: the shipped files load into the expected values; broken files fail on the right line."""

from __future__ import annotations

import dataclasses
import textwrap
import tomllib
from pathlib import Path

import pytest
import serial

from rig.config import (
    ConfigError,
    DeviceType,
    EmulatedTransportSpec,
    FlowControl,
    Framing,
    HdlcAddresses,
    Parity,
    SerialSettings,
    SerialTransportSpec,
    Timeouts,
    ZigbeeBackend,
    ZigbeeTransportSpec,
    load_config,
    parse_config,
)
from rig.config.locate import KeyLocator
from rig.config.model import Credentials

from .vectors import FIXTURE_PKI, PROJECT

HW_CONFIGS = PROJECT / "hw_configs"
SHIPPED = sorted(HW_CONFIGS.glob("*.toml"))


def write(tmp_path: Path, text: str, name: str = "rig.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def error_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env or {})
    assert caught.value.path == path
    assert f"{path}:{caught.value.line}" in str(caught.value)
    return caught.value


# -- the shipped files -------------------------------------------------------------------------------

def test_the_expected_files_are_shipped():
    assert {path.name for path in SHIPPED} >= {"emulated.toml", "emulated-serial.toml", "emulated-zigbee.toml",
                                               "lab-serial.toml", "lab-zigbee.toml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_every_shipped_file_loads_without_environment(path):
    config = load_config(path, env={})
    assert config.rigs and config.description
    for rig_id, rig in config.rigs.items():
        assert rig.id == rig_id and rig.model.manufacturer and rig.model.model and rig.model.firmware


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_locator_finds_every_key_of_the_shipped_files_on_its_own_line(path):
    """Each leaf key of every shipped file maps to a line that spells that key."""
    text = path.read_text()
    locator, lines = KeyLocator(text), text.splitlines()

    def leaves(value, keypath):
        if isinstance(value, dict):
            for key, item in value.items():
                yield from leaves(item, (*keypath, key))
        else:
            yield keypath

    found = list(leaves(tomllib.loads(text), ()))
    assert found
    for keypath in found:
        line = locator.exact(keypath)
        assert line is not None, keypath
        assert keypath[-1] in lines[line - 1], (keypath, line)


def test_emulated_is_four_in_process_devices_with_the_fixture_pki():
    config = load_config(HW_CONFIGS / "emulated.toml", env={})
    devices = tomllib.loads((FIXTURE_PKI / "pki.toml").read_text())["devices"]
    assert list(config.rigs) == ["esme", "gsme", "chf", "gpf"]
    for rig in config.rigs.values():
        assert rig.device == DeviceType(rig.id.upper())
        assert rig.transport == EmulatedTransportSpec(profile="default")
        assert rig.emulated
        assert rig.credentials == Credentials(pki=FIXTURE_PKI)
        assert rig.credentials.pki.is_dir()
        assert rig.device_id == devices[rig.id]["entity_id"]  # the PKI issued this device's certificates
        assert rig.timeouts == Timeouts(response=5, alert=10, join=10)
        assert "cs02b" in rig.features


def test_emulated_serial_spawns_pty_emulators_in_the_config_folder():
    config = load_config(HW_CONFIGS / "emulated-serial.toml", env={})
    hdlc, length_prefixed = config.rigs["esme-pty-hdlc"], config.rigs["esme-pty-lp"]
    for rig, framing in ((hdlc, Framing.HDLC), (length_prefixed, Framing.LENGTH_PREFIXED)):
        transport = rig.transport
        assert isinstance(transport, SerialTransportSpec) and transport.url is None and transport.match is None
        argv = transport.spawn.argv
        assert argv[:2] == ("gbcs-rig", "emulate") and "--pty" in argv
        assert argv[argv.index("--device-type") + 1] == "ESME"
        assert argv[argv.index("--framing") + 1] == framing == transport.framing
        assert transport.spawn.cwd == HW_CONFIGS
        assert (transport.spawn.cwd / argv[argv.index("--pki") + 1]).resolve() == FIXTURE_PKI.resolve()
        assert rig.emulated and rig.device == DeviceType.ESME
    assert hdlc.transport.hdlc == HdlcAddresses(client=0x10, server=0x01, physical=None)
    assert hdlc.transport.serial.inter_byte_timeout == 0.05
    assert length_prefixed.transport.hdlc is None


def test_emulated_zigbee_puts_esme_and_gsme_behind_the_emulated_bridge():
    config = load_config(HW_CONFIGS / "emulated-zigbee.toml", env={})
    esme, gsme = config.rigs["esme-zigbee"], config.rigs["gsme-zigbee"]
    assert (esme.device, gsme.device) == (DeviceType.ESME, DeviceType.GSME)
    for rig in (esme, gsme):
        assert isinstance(rig.transport, ZigbeeTransportSpec)
        assert rig.transport.backend == ZigbeeBackend.EMULATED and rig.transport.profile == "default"
        assert rig.transport.eui64 == rig.device_id  # written differently, normalised alike
        assert (rig.transport.channel, rig.transport.pan_id) == (11, 0x1A62)
        assert rig.emulated
    assert gsme.timeouts == Timeouts(response=15, alert=10, join=10)  # per-rig override of one key


def test_lab_serial_examples(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = load_config(HW_CONFIGS / "lab-serial.toml", env={"LAB_HOST": "bench-7.lab"})
    local, by_udev, remote = (config.rigs[name].transport for name in ("esme-01", "esme-02", "esme-03"))
    assert local.url == "/dev/ttyUSB0" and local.match is None
    assert local.serial == SerialSettings(baudrate=115200, bytesize=8, parity=Parity.NONE, stopbits=1,
                                          flow_control=FlowControl.NONE, inter_byte_timeout=0.05)
    assert local.hdlc == HdlcAddresses(client=0x10, server=0x01, physical=0x11)
    assert dict(by_udev.match) == {"ID_SERIAL_SHORT": "A10K3XYZ", "ID_USB_INTERFACE_NUM": "00"}
    assert by_udev.url is None
    assert remote.url == "rfc2217://bench-7.lab:4001"  # ${LAB_HOST} set, ${LAB_PORT_ESME03:-4001} defaulted
    assert remote.serial.parity == Parity.EVEN and remote.framing == Framing.LENGTH_PREFIXED
    assert config.rigs["esme-01"].device_id == "000D6F0000000001"
    assert config.rigs["esme-02"].timeouts == Timeouts(response=30, alert=300, join=300)
    assert not any(rig.emulated for rig in config.rigs.values())
    keystore = config.rigs["esme-01"].credentials.keystore
    assert keystore == Path(tmp_path, ".config", "gbcs-rig", "keystore")  # default with ~ expanded


def test_lab_zigbee_finds_the_cp210x_stick_by_udev():
    config = load_config(HW_CONFIGS / "lab-zigbee.toml", env={})
    for rig in config.rigs.values():
        transport = rig.transport
        assert transport.backend == ZigbeeBackend.EZSP and transport.profile is None
        assert dict(transport.match) == {"ID_VENDOR_ID": "10c4", "ID_MODEL_ID": "ea60"}
        assert transport.serial.flow_control == FlowControl.XONXOFF and transport.serial.baudrate == 115200
    assert config.rigs["esme-zb-01"].transport.eui64 == "000D6F0000000101"


def test_serial_settings_are_accepted_by_pyserial():
    for path in SHIPPED:
        for rig in load_config(path, env={}).rigs.values():
            settings = getattr(rig.transport, "serial", None)
            if settings is not None:
                port = serial.serial_for_url("loop://", do_not_open=True, **settings.pyserial_kwargs())
                assert port.baudrate == settings.baudrate and port.parity == settings.parity


def test_loaded_config_is_immutable():
    config = load_config(HW_CONFIGS / "lab-serial.toml", env={})
    rig = config.rigs["esme-02"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rig.device = DeviceType.GSME
    with pytest.raises(TypeError):
        rig.transport.match["ID_PATH"] = "x"
    with pytest.raises(TypeError):
        config.rigs["new"] = rig


# -- select ----------------------------------------------------------------------------------------

def test_select_by_ids_device_and_features():
    config = load_config(HW_CONFIGS / "emulated.toml", env={})
    assert [rig.id for rig in config.select()] == ["esme", "gsme", "chf", "gpf"]
    assert [rig.id for rig in config.select(ids=["gpf", "esme"])] == ["gpf", "esme"]
    assert [rig.id for rig in config.select(device="GSME")] == ["gsme"]
    assert [rig.id for rig in config.select(features=["future_dated"])] == ["esme", "gsme", "gpf"]
    assert config.select(device=DeviceType.CHF, features=["future_dated"]) == []


def test_select_unknown_id_suggests_the_closest():
    config = load_config(HW_CONFIGS / "emulated.toml", env={})
    with pytest.raises(LookupError, match=r"no rig 'esm'.*did you mean 'esme'"):
        config.select(ids=["esm"])


# -- line-accurate errors ----------------------------------------------------------------------------

SERIAL_RIG = """
    description = "test"

    [rigs.esme-01]
    device = "ESME"

    [rigs.esme-01.transport]
    kind = "serial"
    url = "/dev/ttyUSB0"
"""


def test_unknown_key_names_line_and_closest_key(tmp_path):
    error = error_of(tmp_path, SERIAL_RIG + "baudrat = 9600\n")
    assert (error.line, error.key) == (9, "rigs.esme-01.transport.baudrat")
    assert "did you mean 'baudrate'?" in error.message


def test_unknown_key_of_another_transport_kind_says_where_it_belongs(tmp_path):
    error = error_of(tmp_path, SERIAL_RIG + 'profile = "default"\n')
    assert (error.line, error.key) == (9, "rigs.esme-01.transport.profile")
    assert "kind = 'emulated'" in error.message


def test_unknown_top_level_table(tmp_path):
    error = error_of(tmp_path, SERIAL_RIG + '\n[default.timeouts]\nresponse = 3\n')
    assert (error.line, error.key) == (10, "default")
    assert "did you mean 'defaults'?" in error.message


def test_wrong_type(tmp_path):
    error = error_of(tmp_path, SERIAL_RIG + 'baudrate = "115200"\n')
    assert (error.line, error.key) == (9, "rigs.esme-01.transport.baudrate")
    assert "expected an integer, got a string ('115200')" in error.message


def test_wrong_type_inside_a_multiline_array_points_at_the_element(tmp_path):
    error = error_of(tmp_path, """
        [rigs.a]
        device = "ESME"
        features = [
            "cs02b",
            7,
        ]
        transport = { kind = "emulated" }
    """)
    assert (error.line, error.key) == (5, "rigs.a.features[1]")


def test_bad_enum_suggests_the_closest_value(tmp_path):
    error = error_of(tmp_path, SERIAL_RIG + 'framing = "hdcl"\n')
    assert (error.line, error.key) == (9, "rigs.esme-01.transport.framing")
    assert "'hdcl' is not one of 'hdlc', 'length-prefixed' (did you mean 'hdlc'?)" in error.message


def test_bad_enum_in_an_inline_table(tmp_path):
    error = error_of(tmp_path, """
        [rigs.gsme-01]
        device = "GSME"

        transport = { kind = "zigbee", backend = "zigpy", eui64 = "00:0d:6f:00:00:00:00:01" }
    """)
    assert (error.line, error.key) == (4, "rigs.gsme-01.transport.backend")


def test_device_type_is_case_sensitive_with_a_hint(tmp_path):
    error = error_of(tmp_path, """
        [rigs.a]
        transport.kind = "emulated"
        device = "esme"
    """)
    assert (error.line, error.key) == (3, "rigs.a.device")
    assert "did you mean 'ESME'?" in error.message


def test_missing_field_points_at_its_table(tmp_path):
    error = error_of(tmp_path, """
        # a rig without a device type
        [rigs.esme-01]
        manufacturer = "ACME"

        [rigs.esme-01.transport]
        kind = "emulated"
    """)
    assert (error.line, error.key) == (2, "rigs.esme-01.device")
    assert "missing required key 'device'" in error.message


def test_missing_eui64_of_a_zigbee_transport(tmp_path):
    error = error_of(tmp_path, """
        [rigs.a]
        device = "ESME"

        [rigs.a.transport]
        kind = "zigbee"
        backend = "emulated"
    """)
    assert (error.line, error.key) == (4, "rigs.a.transport.eui64")


def test_misspelt_required_key_is_reported_as_a_typo(tmp_path):
    error = error_of(tmp_path, """
        [rigs.a]
        devce = "ESME"
        transport = { kind = "emulated" }
    """)
    assert (error.line, error.key) == (2, "rigs.a.devce")
    assert "did you mean 'device'?" in error.message


def test_no_rigs(tmp_path):
    error = error_of(tmp_path, 'description = "nothing yet"\n')
    assert (error.line, error.key) == (1, "rigs")


def test_serial_with_both_url_and_match(tmp_path):
    error = error_of(tmp_path, SERIAL_RIG + 'match = { ID_SERIAL_SHORT = "A1" }\n')
    assert (error.line, error.key) == (9, "rigs.esme-01.transport.match")
    assert "only one of url, match, spawn" in error.message


def test_serial_with_neither_url_nor_match(tmp_path):
    error = error_of(tmp_path, """
        [rigs.esme-01]
        device = "ESME"

        [rigs.esme-01.transport]
        kind = "serial"
        baudrate = 9600
    """)
    assert (error.line, error.key) == (4, "rigs.esme-01.transport")
    assert "needs one of url, match, spawn" in error.message


def test_match_values_must_be_strings(tmp_path):
    error = error_of(tmp_path, SERIAL_RIG.replace('url = "/dev/ttyUSB0"', "match.ID_USB_INTERFACE_NUM = 0"))
    assert (error.line, error.key) == (8, "rigs.esme-01.transport.match.ID_USB_INTERFACE_NUM")
    assert 'write ID_USB_INTERFACE_NUM = "0"' in error.message


@pytest.mark.parametrize(("line", "fragment", "key"), [
    ('timeouts = { response = 0 }', "must be positive", "rigs.esme-01.timeouts.response"),
    ('device_id = "00:0d:6f"', "is not an EUI-64", "rigs.esme-01.device_id"),
    ('features = "cs02b"', "expected an array of strings", "rigs.esme-01.features"),
])
def test_rig_level_value_errors(tmp_path, line, fragment, key):
    text = SERIAL_RIG.replace('device = "ESME"', f'device = "ESME"\n    {line}')
    error = error_of(tmp_path, text)
    assert (error.line, error.key) == (5, key)
    assert fragment in error.message


@pytest.mark.parametrize(("extra", "fragment", "key"), [
    ("stopbits = 3", "not one of 1, 1.5, 2", "stopbits"),
    ("bytesize = 9", "not one of 5, 6, 7, 8", "bytesize"),
    ('parity = "n"', "did you mean 'N'?", "parity"),
    ('flow_control = "hardware"', "'hardware' is not one of 'none', 'rtscts', 'xonxoff'", "flow_control"),
    ("inter_byte_timeout = -1", "zero or more", "inter_byte_timeout"),
    ("baudrate = true", "expected an integer, got a boolean", "baudrate"),
    ("hdlc = { client = 0x80 }", "out of range: must be between 0x0 and 0x7f", "hdlc.client"),
    ('spawn = ""', "the command is empty", "spawn"),
])
def test_serial_value_errors(tmp_path, extra, fragment, key):
    error = error_of(tmp_path, SERIAL_RIG.replace('url = "/dev/ttyUSB0"\n', f"{extra}\n"
                                                  + ('url = "/dev/ttyUSB0"\n' if "spawn" not in extra else "")))
    assert (error.line, error.key) == (8, f"rigs.esme-01.transport.{key}")
    assert fragment in error.message


def test_hdlc_addresses_need_hdlc_framing(tmp_path):
    error = error_of(tmp_path, SERIAL_RIG + 'framing = "length-prefixed"\nhdlc = { client = 1 }\n')
    assert (error.line, error.key) == (10, "rigs.esme-01.transport.hdlc")


def test_zigbee_profile_needs_the_emulated_backend(tmp_path):
    error = error_of(tmp_path, """
        [rigs.a]
        device = "ESME"
        [rigs.a.transport]
        kind = "zigbee"
        backend = "ezsp"
        url = "/dev/ttyACM0"
        eui64 = "000D6F0000000001"
        profile = "default"
    """)
    assert (error.line, error.key) == (8, "rigs.a.transport.profile")


def test_zigbee_ezsp_needs_a_port(tmp_path):
    error = error_of(tmp_path, """
        [rigs.a]
        device = "ESME"
        transport = { kind = "zigbee", backend = "ezsp", eui64 = "000D6F0000000001", channel = 11 }
    """)
    assert (error.line, error.key) == (3, "rigs.a.transport")
    assert "needs one of url, match" in error.message


def test_zigbee_channel_range(tmp_path):
    error = error_of(tmp_path, """
        [rigs.a]
        device = "ESME"
        transport = { kind = "zigbee", backend = "emulated", eui64 = "000D6F0000000001", channel = 27 }
    """)
    assert (error.line, error.key) == (3, "rigs.a.transport.channel")
    assert "between 11 and 26" in error.message


def test_rig_ids_are_bare_names(tmp_path):
    error = error_of(tmp_path, """
        [rigs."esme 01"]
        device = "ESME"
        transport = { kind = "emulated" }
    """)
    assert (error.line, error.key) == (1, 'rigs."esme 01"')


def test_unset_environment_variable(tmp_path):
    error = error_of(tmp_path, SERIAL_RIG.replace("/dev/ttyUSB0", "rfc2217://${LAB_HOST}:4001"))
    assert (error.line, error.key) == (8, "rigs.esme-01.transport.url")
    assert "LAB_HOST is not set" in error.message


def test_unset_environment_variable_inside_an_array_element(tmp_path):
    error = error_of(tmp_path, """
        [rigs.a]
        device = "ESME"

        [rigs.a.transport]
        kind = "serial"
        spawn = [
            "gbcs-rig", "emulate",
            "--pki", "${PKI_DIR}",
        ]
    """)
    assert (error.line, error.key) == (8, "rigs.a.transport.spawn[3]")
    assert "PKI_DIR" in error.message


def test_toml_syntax_error_keeps_line_and_column(tmp_path):
    error = error_of(tmp_path, SERIAL_RIG + "baudrate = 9600 9600\n")
    assert (error.line, error.column) == (9, 17)
    assert error.key == "rigs.esme-01.transport.baudrate"
    assert error.message.startswith("TOML syntax error")


def test_toml_syntax_error_duplicate_table(tmp_path):
    error = error_of(tmp_path, SERIAL_RIG + "\n[rigs.esme-01]\n")
    assert error.line == 10
    assert error.key == "rigs.esme-01"


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'description = "ok"\n# caf\xe9\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.line == 2


# -- environment substitution -----------------------------------------------------------------------

@pytest.mark.parametrize(("written", "env", "expected"), [
    ("${HOST:-lab-1}", {}, "lab-1"),
    ("${HOST:-lab-1}", {"HOST": ""}, "lab-1"),
    ("${HOST:-lab-1}", {"HOST": "bench-9"}, "bench-9"),
    ("${HOST}:${PORT:-4001}", {"HOST": "h"}, "h:4001"),
    ("${EMPTY}", {"EMPTY": ""}, ""),
    ("pa$$word $HOME", {}, "pa$word $HOME"),
    ("${X:-a:-b}", {}, "a:-b"),
])
def test_environment_substitution(written, env, expected):
    config = parse_config(f'[rigs.a]\ndevice = "ESME"\ntransport = {{ kind = "emulated", profile = "p" }}\n'
                          f'manufacturer = "{written}x"\n', env=env)
    assert config.rigs["a"].model.manufacturer == expected + "x"


@pytest.mark.parametrize("written", ["${1ABC}", "${HOST", "${}"])
def test_malformed_references_are_errors(written):
    with pytest.raises(ConfigError) as caught:
        parse_config(f'[rigs.a]\ndevice = "ESME"\ntransport = {{ kind = "emulated" }}\nfirmware = "{written}"\n', env={})
    assert (caught.value.line, caught.value.key) == (4, "rigs.a.firmware")


def test_substitution_applies_to_enums_and_match_values(tmp_path):
    path = write(tmp_path, """
        [rigs.a]
        device = "${DUT_TYPE:-GSME}"
        transport = { kind = "serial", match = { ID_SERIAL_SHORT = "${ADAPTER_SERIAL}" } }
    """)
    rig = load_config(path, env={"ADAPTER_SERIAL": "FT1234"}).rigs["a"]
    assert rig.device == DeviceType.GSME and dict(rig.transport.match) == {"ID_SERIAL_SHORT": "FT1234"}


# -- paths, defaults, overrides -----------------------------------------------------------------------

def test_relative_credential_paths_resolve_against_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, """
        [defaults.credentials]
        pki = "../pki"
        root_certificate = "/etc/gbcs/root.pem"

        [rigs.a]
        device = "ESME"
        transport = { kind = "emulated" }
        credentials = { keystore = "keys/lab", issuing_ca = "./ca/issuing.pem" }
    """, name="configs/bench.toml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    credentials = load_config(path, env={}).rigs["a"].credentials
    assert credentials == Credentials(pki=tmp_path / "pki", keystore=tmp_path / "configs" / "keys" / "lab",
                                      root_certificate=Path("/etc/gbcs/root.pem"),
                                      issuing_ca=tmp_path / "configs" / "ca" / "issuing.pem")
    assert not any(tmp_path.rglob("*.pem")) and not (tmp_path / "pki").exists()  # paths only, nothing read or made


def test_relative_config_path_gives_absolute_credential_paths(tmp_path, monkeypatch):
    write(tmp_path, '[rigs.a]\ndevice = "ESME"\ntransport.kind = "emulated"\ncredentials.pki = "pki"\n')
    monkeypatch.chdir(tmp_path)
    assert load_config("rig.toml").rigs["a"].credentials.pki == tmp_path / "pki"


def test_timeouts_defaults_then_file_defaults_then_rig_override(tmp_path):
    path = write(tmp_path, """
        [defaults.timeouts]
        alert = 60

        [rigs.a]
        device = "ESME"
        transport = { kind = "emulated" }

        [rigs.b]
        device = "GSME"
        transport = { kind = "emulated" }
        timeouts = { alert = 600, join = 1.5 }
    """)
    config = load_config(path, env={})
    assert config.rigs["a"].timeouts == Timeouts(response=30, alert=60, join=300)
    assert config.rigs["b"].timeouts == Timeouts(response=30, alert=600, join=1.5)


def test_defaults_of_serial_transport(tmp_path):
    path = write(tmp_path, '[rigs.a]\ndevice = "ESME"\ntransport = { kind = "serial", url = "socket://localhost:7000" }\n')
    transport = load_config(path, env={}).rigs["a"].transport
    assert transport == SerialTransportSpec(url="socket://localhost:7000")
    assert transport.serial == SerialSettings() and transport.framing == Framing.HDLC and transport.hdlc is None


# -- the locator on its own -------------------------------------------------------------------------

LOCATOR_TEXT = '''\
# comment with key = "value"
title = "a [fake.header] # and no comment"
notes = """
fake = 1
[also.fake]
"""
literal = \'\'\'c:\\path\\\'\'\'
[rigs.esme-01]   # header comment
transport.kind = "serial"
transport.match = { ID_SERIAL_SHORT = "A1", "@port_number" = "0" }
"quoted key".x = 1
when = 1979-05-27 07:32:00Z  # the meter's "clock" [not a table]
after = 2
[[ports]]
name = "first"
[[ports]]
name = "second"
[ports.settings]
speeds = [
  { baud = 9600 },
  { baud = 115200 },
]
'''


@pytest.mark.parametrize(("keypath", "line"), [
    (("title",), 2),
    (("notes",), 3),
    (("literal",), 7),
    (("rigs",), 8),
    (("rigs", "esme-01"), 8),
    (("rigs", "esme-01", "transport"), 9),
    (("rigs", "esme-01", "transport", "kind"), 9),
    (("rigs", "esme-01", "transport", "match", "@port_number"), 10),
    (("rigs", "esme-01", "quoted key", "x"), 11),
    (("rigs", "esme-01", "after"), 13),
    (("ports", 0, "name"), 15),
    (("ports", 1), 16),
    (("ports", 1, "name"), 17),
    (("ports", 1, "settings", "speeds", 1, "baud"), 21),
    (("rigs", "esme-01", "missing", "deeper"), 8),  # absent keys fall back to the nearest table
])
def test_locator(keypath, line):
    tomllib.loads(LOCATOR_TEXT)  # the locator's input is always valid TOML
    assert KeyLocator(LOCATOR_TEXT).line(keypath) == line
    assert KeyLocator(LOCATOR_TEXT).exact(("fake",)) is None
    assert KeyLocator(LOCATOR_TEXT).exact(("also", "fake")) is None


def test_report_signing_key_is_a_path_relative_to_the_file(tmp_path):
    from rig.config import ConfigError, load_config

    config = tmp_path / "rigs.toml"
    config.write_text('[report]\nsigning_key = "keys/seal.pem"\n\n[rigs.esme]\ndevice = "ESME"\n'
                      'transport = { kind = "emulated" }\n')
    assert load_config(config).signing_key == tmp_path / "keys" / "seal.pem"
    config.write_text('[report]\nsigning_kye = "seal.pem"\n\n[rigs.esme]\ndevice = "ESME"\n'
                      'transport = { kind = "emulated" }\n')
    with pytest.raises(ConfigError, match="signing_kye"):
        load_config(config)
