"""The fixed value sets the ``gbcs-rig`` parsers offer as ``choices``, and the defaults they state.

They are copies of the project's own tables (``firmware_emu.PROFILES``, ``rig.transport.framing.
FRAMINGS``, ...), kept here so building the parsers imports none of the modules those live in:
``gbcs-rig --help`` or a usage error then costs no codec, emulator, cryptography or pytest
import, and each command imports what it needs only when it runs. ``tests/test_cli_help.py``
checks every copy against its source, so a new profile or framing cannot be left out.
"""

from __future__ import annotations

#: ``firmware_emu.device_types.DeviceType`` values
DEVICE_TYPES = ("ESME", "GSME", "CHF", "GPF")
#: the meters ``gbcs-rig ncp`` can join to its network (``rig.transport.zigbee.ncp``)
NCP_DEVICE_TYPES = ("ESME", "GSME")
#: ``firmware_emu.PROFILES`` names, sorted
PROFILES = ("default", "expiry-strict", "fails-cells", "floors-as-requested", "mute", "no-reliable-time",
            "non-migratable", "rtds", "slow", "wrong-alert")
#: ``rig.transport.framing.FRAMINGS`` names, sorted
FRAMINGS = ("hdlc", "length-prefixed")
#: ``rig.transport.serve.ENDPOINT_KINDS``
ENDPOINT_KINDS = ("auto", "provision", "stand-in")
#: ``rig.pytest_plugin.options.MODES``
MODES = ("emulated", "hardware", "auto")
#: ``rig.pki.DEFAULT_SEED``: the seed of the test PKI the emulated rigs use
DEFAULT_PKI_SEED = "gbcs-rig test PKI v1"
