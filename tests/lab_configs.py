"""hw_config text for tests that serve the emulated ESME over a link themselves (a TCP port, a
labgrid place): one rig of the fixture PKI's ESME, so the tests differ only in what they test
(timeouts, features, transport), not in copies of the same rig table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

#: the Device ID of the fixture PKI's ESME (``fixtures/pki``)
ESME_ID = "7E570D00000000A0"


def served_esme_config(*, pki: Path, rig: str, features: Sequence[str], transport: str,
                       response: float, alert: float, join: float, preamble: str = "") -> str:
    """The TOML of one emulated-ESME rig named ``rig``; ``transport`` is the rig's transport as
    TOML (an inline ``transport = {...}`` line or a ``[rigs.<rig>.transport]`` table)."""
    listed = ", ".join(f'"{feature}"' for feature in features)
    return f"""{preamble}
[defaults.timeouts]
response = {response}
alert = {alert}
join = {join}

[defaults.credentials]
pki = "{Path(pki).as_posix()}"

[rigs.{rig}]
device = "ESME"
manufacturer = "gbcs-rig"
model = "emulated ESME"
firmware = "0.1.0"
device_id = "{ESME_ID}"
features = [{listed}]
{transport}
"""


def socket_transport(host: str, port: int) -> str:
    """The inline transport of an emulator served on ``host:port`` (``gbcs-rig emulate --tcp``)."""
    return f'transport = {{ kind = "serial", url = "socket://{host}:{port}", framing = "length-prefixed" }}'
