"""hw_configs: TOML files that describe rigs (device under test, transport, timeouts, credentials).

``load_config(path)`` returns a frozen ``RigConfig``; every problem in a file is a
``ConfigError`` naming the file, the line and the dotted key.
"""

from .errors import ConfigError
from .loader import load_config, parse_config
from .model import (
    Credentials,
    DeviceType,
    EmulatedTransportSpec,
    FlowControl,
    Framing,
    HdlcAddresses,
    LabgridTransportSpec,
    ModelInfo,
    Parity,
    RigConfig,
    RigSpec,
    SerialSettings,
    SerialTransportSpec,
    SpawnSpec,
    Timeouts,
    TransportKind,
    TransportSpec,
    ZigbeeBackend,
    ZigbeeTransportSpec,
)

__all__ = ["ConfigError", "Credentials", "DeviceType", "EmulatedTransportSpec", "FlowControl", "Framing",
           "HdlcAddresses", "LabgridTransportSpec", "ModelInfo", "Parity", "RigConfig", "RigSpec", "SerialSettings", "SerialTransportSpec",
           "SpawnSpec", "Timeouts", "TransportKind", "TransportSpec", "ZigbeeBackend", "ZigbeeTransportSpec",
           "load_config", "parse_config"]
