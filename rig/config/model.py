"""Typed, immutable view of a hw_config: what the rest of the rig reads instead of raw dicts.

Everything here is a frozen dataclass or an enum, so a loaded config can be shared between
fixtures and threads without anyone editing it underneath the others; sequences are tuples
and mappings are read-only proxies. Enum members are ``StrEnum``, so they compare equal to
the strings written in the file (``spec.device == "ESME"``).
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar


class DeviceType(enum.StrEnum):
    ESME = "ESME"
    GSME = "GSME"
    CHF = "CHF"
    GPF = "GPF"


class TransportKind(enum.StrEnum):
    EMULATED = "emulated"
    SERIAL = "serial"
    ZIGBEE = "zigbee"
    LABGRID = "labgrid"


class Framing(enum.StrEnum):
    HDLC = "hdlc"
    LENGTH_PREFIXED = "length-prefixed"


class Parity(enum.StrEnum):
    """pyserial's own parity letters, so the value passes straight through."""

    NONE = "N"
    EVEN = "E"
    ODD = "O"
    MARK = "M"
    SPACE = "S"


class FlowControl(enum.StrEnum):
    NONE = "none"
    RTSCTS = "rtscts"
    XONXOFF = "xonxoff"


class ZigbeeBackend(enum.StrEnum):
    EZSP = "ezsp"
    EMULATED = "emulated"


class EntityIdOrder(enum.StrEnum):
    """How a GBCS entity id maps to the EUI-64 on the radio (see docs/transport.md)."""

    MSB_FIRST = "msb-first"  # the entity id is the EUI-64 as written, most significant octet first
    LSB_FIRST = "lsb-first"  # the entity id octets are the over-the-air (least significant first) order


def frozen_mapping(items: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(items or {}))


@dataclass(frozen=True)
class ModelInfo:
    """What the device under test is, as the proof report names it."""

    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None


@dataclass(frozen=True)
class Timeouts:
    """Protocol deadlines in seconds; the rig's own, not pytest-timeout's backstop."""

    response: float = 30.0
    alert: float = 120.0
    join: float = 300.0


@dataclass(frozen=True)
class Credentials:
    """Where key material lives. Only paths: the loader never opens them; ``rig.config.credentials``
    checks them (naming the line in ``written_at``) when a rig is about to use them."""

    #: folder written by ``gbcs-rig pki init``, or a key store folder (see ``keystore``)
    pki: Path | None = None
    #: folder of ``<eui>-<ds|ka>.<pem|key>`` files (CA certificates: its ``ca/`` folder, or the keys below)
    keystore: Path | None = None
    root_certificate: Path | None = None
    issuing_ca: Path | None = None
    device_ca: Path | None = None
    #: key name -> (config file, line, dotted key) where the value was written (for errors only)
    written_at: Mapping[str, tuple[Path, int, str]] = field(default_factory=lambda: frozen_mapping(),
                                                            compare=False, repr=False)

    def given(self) -> dict[str, Path]:
        """The credential paths the config gives."""
        return {name: getattr(self, name) for name in CREDENTIAL_FIELDS if getattr(self, name) is not None}


CREDENTIAL_FIELDS = ("pki", "keystore", "root_certificate", "issuing_ca", "device_ca")


@dataclass(frozen=True)
class SerialSettings:
    """Line settings for a UART (a meter port, or a ZigBee adapter)."""

    baudrate: int = 115200
    bytesize: int = 8
    parity: Parity = Parity.NONE
    stopbits: float = 1
    flow_control: FlowControl = FlowControl.NONE
    #: seconds of silence that end a read inside a frame; ``None`` leaves pyserial's default
    inter_byte_timeout: float | None = None

    def pyserial_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``serial.serial_for_url`` (port URL and timeout not included)."""
        return {
            "baudrate": self.baudrate,
            "bytesize": self.bytesize,
            "parity": str(self.parity),
            "stopbits": self.stopbits,
            "rtscts": self.flow_control is FlowControl.RTSCTS,
            "xonxoff": self.flow_control is FlowControl.XONXOFF,
            "inter_byte_timeout": self.inter_byte_timeout,
        }


@dataclass(frozen=True)
class HdlcAddresses:
    """IEC 62056-46 addressing: client, server (logical device) and optional physical address."""

    client: int = 0x10
    server: int = 0x01
    physical: int | None = None


@dataclass(frozen=True)
class TransportSpec:
    """Base of the transport descriptions; ``kind`` says which one."""

    kind: ClassVar[TransportKind]

    @property
    def emulated(self) -> bool:
        """True when no hardware is involved (CI can run it)."""
        return False


@dataclass(frozen=True)
class EmulatedTransportSpec(TransportSpec):
    """An in-process ``firmware_emu`` device."""

    kind: ClassVar[TransportKind] = TransportKind.EMULATED
    #: emulated model profile (quirks, fault injection) by name
    profile: str = "default"

    @property
    def emulated(self) -> bool:
        return True


@dataclass(frozen=True)
class SpawnSpec:
    """A command that starts an emulated device serving on a pty or TCP port.

    The process prints ``READY pty=/dev/pts/N`` or ``READY tcp=HOST:PORT`` as its first line;
    whoever starts it reads the URL from there. It runs in ``cwd`` (the config file's folder),
    so relative paths in ``argv`` mean the same thing as relative paths elsewhere in the file.
    """

    argv: tuple[str, ...]
    cwd: Path


@dataclass(frozen=True)
class SerialTransportSpec(TransportSpec):
    """A serial link: exactly one of ``url``, ``match`` (udev properties) or ``spawn``."""

    kind: ClassVar[TransportKind] = TransportKind.SERIAL
    url: str | None = None
    match: Mapping[str, str] | None = None
    spawn: SpawnSpec | None = None
    serial: SerialSettings = field(default_factory=SerialSettings)
    framing: Framing = Framing.HDLC
    hdlc: HdlcAddresses | None = None

    @property
    def emulated(self) -> bool:
        return self.spawn is not None


@dataclass(frozen=True)
class ZigbeeTransportSpec(TransportSpec):
    """A ZigBee bridge adapter carrying GBCS in the SE Tunneling cluster to the meter ``eui64``."""

    kind: ClassVar[TransportKind] = TransportKind.ZIGBEE
    #: the meter's EUI-64 as 16 upper-case hex digits
    eui64: str
    backend: ZigbeeBackend = ZigbeeBackend.EMULATED
    url: str | None = None
    match: Mapping[str, str] | None = None
    #: an emulated NCP to start (``gbcs-rig ncp ...``), as serial links spawn ``gbcs-rig emulate``
    spawn: SpawnSpec | None = None
    serial: SerialSettings = field(default_factory=SerialSettings)
    channel: int | None = None
    pan_id: int | None = None
    #: emulated model profile of the devices behind an emulated bridge
    profile: str | None = None
    entity_id_order: EntityIdOrder = EntityIdOrder.MSB_FIRST

    @property
    def emulated(self) -> bool:
        return self.backend is ZigbeeBackend.EMULATED or self.spawn is not None


@dataclass(frozen=True)
class LabgridTransportSpec(TransportSpec):
    """A serial port of a labgrid place (the optional ``labgrid`` extra; ``rig.transport.labgrid``).

    The rig acquires ``place`` on the labgrid ``coordinator`` (the place lock is the lease, for
    every host of the lab), finds the place's NetworkSerialPort (a port a labgrid exporter serves
    over RFC 2217 with ser2net) and opens it as ``rfc2217://host:port`` with these line settings
    and this framing. A place acquired by someone else fails at once, or, with ``wait`` > 0,
    is queued for with a labgrid reservation for at most ``wait`` seconds.
    """

    kind: ClassVar[TransportKind] = TransportKind.LABGRID
    place: str
    #: the coordinator's gRPC address, ``host:port``
    coordinator: str
    #: the NetworkSerialPort's name in the place, when the place has more than one
    resource: str | None = None
    #: seconds to wait for a busy place through a reservation; 0: fail at once
    wait: float = 0.0
    serial: SerialSettings = field(default_factory=SerialSettings)
    framing: Framing = Framing.HDLC
    hdlc: HdlcAddresses | None = None


@dataclass(frozen=True)
class RigSpec:
    """One device under test and everything needed to reach it."""

    id: str
    device: DeviceType
    transport: TransportSpec
    model: ModelInfo = field(default_factory=ModelInfo)
    features: tuple[str, ...] = ()
    #: the device's GBCS Device ID (EUI-64, 16 upper-case hex digits) when the file gives it
    device_id: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    credentials: Credentials = field(default_factory=Credentials)
    #: the host's state folder (counter ledger) from ``state_dir``; None: the user's state directory
    state_dir: Path | None = None

    @property
    def emulated(self) -> bool:
        return self.transport.emulated


@dataclass(frozen=True)
class RigConfig:
    """A loaded hw_config: its rigs by id, in file order."""

    path: Path
    rigs: Mapping[str, RigSpec]
    description: str | None = None
    #: ``[report] signing_key``: the PEM key that signs the report manifest (None: hashed only)
    signing_key: Path | None = None

    def select(self, ids: Iterable[str] | None = None, device: DeviceType | str | None = None,
               features: Iterable[str] = ()) -> list[RigSpec]:
        """Rigs with one of ``ids`` (all when ``None``), of ``device`` type, having every feature.

        An unknown id raises ``LookupError`` naming the closest known one: a typo on the
        command line must not silently select nothing.
        """
        if ids is None:
            chosen = list(self.rigs.values())
        else:
            chosen = []
            for rig_id in ids:
                if rig_id not in self.rigs:
                    close = difflib.get_close_matches(rig_id, list(self.rigs), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise LookupError(f"{self.path}: no rig {rig_id!r}{hint}; rigs: {', '.join(self.rigs)}")
                chosen.append(self.rigs[rig_id])
        wanted = set(features)
        return [rig for rig in chosen
                if (device is None or rig.device == device) and wanted <= set(rig.features)]
