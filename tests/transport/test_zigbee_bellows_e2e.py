"""bellows end to end: `gbcs-rig prove --config hw_configs/emulated-ezsp.toml` proves the emulated ESME and
GSME MIGRATABLE through bellows, each meter behind an emulated EZSP NCP (`gbcs-rig ncp`) spawned on a pty.

Skipped without bellows (a user's install without the ``zigbee`` extra); CI installs it. The two rigs
are proved in two processes at once (each its own NCP and report) to keep the wall time down.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from rig.config import load_config
from rig.dcc.tables import CredentialStatus
from rig.gbcs import RemotePartyRole
from rig.harness import RigSession
from rig.report import journal as journal_module
from rig.transport import Direction

from ..test_prove import verdicts
from ..vectors import PROJECT

CONFIG = PROJECT / "hw_configs" / "emulated-ezsp.toml"
pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("bellows") is None,
                       reason="bellows is an optional extra: pip install '.[zigbee]'"),
    pytest.mark.timeout(300),
]


@pytest.mark.parametrize("rig_id", ["esme-ezsp", "gsme-ezsp"])
def test_migration_through_bellows_and_the_emulated_ncp(rig_id, tmp_path):
    spec = load_config(CONFIG).rigs[rig_id]
    session = RigSession(spec, run_dir=tmp_path).open()
    try:
        assert not session.in_process  # the meter lives behind the NCP, in the spawned process
        before = session.dcc.read_trust_anchors(session.device_id, session.transport,
                                                (RemotePartyRole.TRANSITIONAL_COS,))
        assert before.details[0].cells[0].subject_id == session.pki.entity("tcos")
        outcome = session.dcc.migrate(session.device_id, session.transport)
        assert outcome.success, outcome.detail
        assert outcome.credential_status is CredentialStatus.ECOS
        after = session.dcc.read_trust_anchors(session.device_id, session.transport,
                                               (RemotePartyRole.TRANSITIONAL_COS,))
        assert after.details[0].cells[0].subject_id == session.pki.entity("ecos")
        backend = session.transport.backend
        assert type(backend).__name__ == "EzspBackend"
        # the CS02b went out as APS fragments, every one acknowledged (messageSentHandler SUCCESS)
        assert any(d.fragments > 1 and d.acked for d in backend.deliveries)
        assert all(d.acked for d in backend.deliveries)
        commands = [f.data for f in session.transport.log.since(0) if f.direction is Direction.TX]
        reports = [session.transport.delivery_of(frame) for frame in commands]
        assert len(commands) == 3 and all(r is not None and r.delivered for r in reports), reports
        assert {r.status for r in reports} == {"collected" if session.device_type == "GSME" else "acked"}
    finally:
        session.close()


def _prove(rig_id: str, report) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rig.cli.main", "prove", "--config", str(CONFIG), "--rig", rig_id,
                             "--report", str(report)], cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


@pytest.mark.slow  # the whole catalogue at the NCP's real waits; the fast suite migrates through bellows above
def test_prove_through_bellows_is_migratable(tmp_path):
    """Each rig proved in its own process (its own NCP); each run alone is NOT PROVEN (the verdict
    covers the whole config, and the other rig did not run there); ``report merge`` of the two is
    MIGRATABLE for both models with exit 0."""
    from rig.cli.main import main

    models = {"esme-ezsp": "gbcs-rig emulated ESME 0.1.0", "gsme-ezsp": "gbcs-rig emulated GSME 0.1.0"}
    runs = {rig: (_prove(rig, tmp_path / rig), tmp_path / rig) for rig in models}
    for rig, (process, report) in runs.items():
        output, _ = process.communicate(timeout=280)
        assert process.returncode == 3, f"{rig}:\n{output[-3000:]}"  # the other rig: not run here
        found = verdicts(report / "index.html")
        assert found[models[rig]] == "MIGRATABLE", output[-2000:]
        records = [r for r in journal_module.tests(report / "journal.jsonl") if not r.get("synthesised")]  # run here, not declared
        assert {r["rig"] for r in records} == {rig} and {r["transport"] for r in records} == {"zigbee"}
        migration = [r for r in records if r["scenario"] == "migration"]
        assert migration and migration[0]["outcome"] == "passed"
    merged = tmp_path / "merged"
    assert main(["report", "merge", *(str(report) for _, report in runs.values()), "--out", str(merged)]) == 0
    assert verdicts(merged / "index.html") == {model: "MIGRATABLE" for model in models.values()}
