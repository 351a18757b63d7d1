"""A CS02b migration of an emulated ESME through every transport: in-process, serial over a
real pty (HDLC and length-prefixed framing, the meter in another process), ZigBee bridge."""

from __future__ import annotations

import pytest

from rig.config import load_config
from rig.dcc.tables import CredentialStatus
from rig.gbcs import RemotePartyRole
from rig.harness import RigSession
from rig.transport import Direction

from .vectors import PROJECT

CASES = [("emulated.toml", "esme"), ("emulated-serial.toml", "esme-pty-hdlc"), ("emulated-serial.toml", "esme-pty-lp"),
         ("emulated-zigbee.toml", "esme-zigbee"), ("emulated-zigbee.toml", "gsme-zigbee")]


@pytest.mark.parametrize("config,rig_id", CASES, ids=[rig for _, rig in CASES])
def test_migration_through_each_transport(config, rig_id, tmp_path):
    spec = load_config(PROJECT / "hw_configs" / config).rigs[rig_id]
    session = RigSession(spec, run_dir=tmp_path).open()
    try:
        before = session.dcc.read_trust_anchors(session.device_id, session.transport,
                                                (RemotePartyRole.TRANSITIONAL_COS,))
        assert before.details[0].cells[0].subject_id == session.pki.entity("tcos")
        outcome = session.dcc.migrate(session.device_id, session.transport)
        assert outcome.success, outcome.detail
        assert outcome.credential_status is CredentialStatus.ECOS
        after = session.dcc.read_trust_anchors(session.device_id, session.transport,
                                               (RemotePartyRole.TRANSITIONAL_COS,))
        assert after.details[0].cells[0].subject_id == session.pki.entity("ecos")
        frames = session.transport.log.since(0)
        assert [f.direction for f in frames].count(Direction.TX) == 3 == [f.direction for f in frames].count(
            Direction.RX)
        assert session.in_process == (config != "emulated-serial.toml")
    finally:
        session.close()
