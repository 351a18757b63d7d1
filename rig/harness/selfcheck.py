"""The rig checks its own DCC side before it judges a device with it.

Every device verdict rests on the rig's DCC verifying what the device sends: a migration counts
only when the response's signature verifies under the device's DS key. A head end that took any
signed answer would pass a meter whose responses nobody can trust, and no conforming device
ever sends it the answer that would show it. So before a rig's DCC is used, it migrates a
scratch emulated device (in memory, same PKI and device identity) over a link that re-signs the
device's response with a key that is not the device's: the DCC must not count that migration.
If it does, the rig is faulty and every scenario on it is inconclusive (a rig fault is never a
meter fault).
"""

from __future__ import annotations

from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric import ec

from rig.crypto import seal
from rig.gbcs import CraFlag, decode
from rig.transport.base import QueueTransport


class RigSelfCheckError(RuntimeError):
    """The rig's own DCC side accepted what it must refuse: nothing it judges can be trusted."""


class _ForgingLink(QueueTransport):
    """Hands frames to an in-memory device and re-signs its responses with a stranger's key."""

    name = "self-check"

    def __init__(self, device):
        super().__init__()
        self.device = device
        self.stranger = ec.generate_private_key(ec.SECP256R1())

    def _send(self, frame: bytes) -> None:
        for reply in self.device.receive(frame):
            message = decode(reply)
            if message.cra_flag == CraFlag.RESPONSE and message.signature is not None:
                reply = seal(replace(message, signature=None, layout=None, length_forms=None), signer=self.stranger)
            self._deliver(reply)


def check_dcc_verifies_answers(dcc, device_type: str, device_id: bytes, pki) -> None:
    """Raise ``RigSelfCheckError`` when ``dcc`` counts a migration whose response does not verify.

    ``dcc`` is a scratch DCC (its own inventory) with ``device_id`` registered as a TCoS device."""
    from rig.provision import create_device

    device = create_device(device_type, pki=pki, entity_id=device_id)
    link = _ForgingLink(device)
    link.open()
    try:
        outcome = dcc.migrate(device_id, link)
    finally:
        link.close()
    if outcome.success:
        raise RigSelfCheckError("rig self-check: the rig's DCC counted a migration whose response signature does "
                                "not verify under the device's DS key; the rig cannot judge a device")
