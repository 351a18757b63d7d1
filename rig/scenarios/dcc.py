"""DCC-side scenarios: the rig's own SRV 6.23 checks and CoS-party anomaly detection.

These prove the head end behaves as the DCC does (a rejected 6.23 never reaches the device), so
the device results above them can be trusted. Each check fails once, alone (``rig.dcc.probes``).
"""

from __future__ import annotations

import time

from rig.dcc import probes
from rig.dcc.examples import example_adt
from rig.dcc.outcomes import ServiceStatus
from rig.harness import RigSession
from rig.transport import Direction

from . import steps


def _sent_frames(rig: RigSession, mark: int) -> int:
    return sum(1 for f in rig.transport.log.since(mark) if f.direction is Direction.TX)


def srv623_check(check: str):
    break_request, break_device = probes.CASES[check]
    expected = probes.EXPECTED_CODES[check]

    def run(rig: RigSession) -> None:
        request = steps.cos_request(rig)
        if break_request:
            request = break_request(rig.pki, request)
        if break_device:
            record = rig.dcc.inventory.require(rig.device_id)
            rig.dcc.inventory.set_registration(rig.device_id, mpid=break_device.get("supplier_mpid", record.supplier_mpid))
        mark = rig.transport.log.mark()
        try:
            outcome = rig.dcc.submit_623(request, rig.transport)
        finally:
            if break_device:
                rig.dcc.inventory.set_registration(rig.device_id, mpid="SUPB")
        rig.evidence.response_codes.append(outcome.response_code or "")
        rig.evidence.check("6.23 status", outcome.status, ServiceStatus.REJECTED)
        rig.evidence.check("DUIS response code", outcome.response_code, expected)
        rig.evidence.check("failed checks", [f.check for f in outcome.check_failures], [check])
        rig.evidence.check("frames sent to the device", _sent_frames(rig, mark), 0)

    run.__doc__ = f"SRV 6.23 failing DSP check {check!r}: rejected with {expected}, nothing sent."
    return run


def anomaly_detection_breach(rig: RigSession) -> None:
    """The gaining supplier's ADT allows no 6.23 a day: the ECoS party stops, raises N63 to the
    user, quarantines nothing and sends nothing; a new ADT file restores service."""
    sequence = int(time.time() * 1000)  # above any earlier file's, across resumed runs too
    rig.dcc.submit_adt(example_adt(rig.pki, sequence=sequence, daily_623=0, supplier=rig.GAINING))
    mark = rig.transport.log.mark()
    try:
        outcome = rig.dcc.submit_623(steps.cos_request(rig),
                                     rig.transport)
    finally:
        rig.dcc.submit_adt(example_adt(rig.pki, sequence=sequence + 1, supplier=rig.GAINING))
    rig.evidence.alert_codes.extend(a.code for a in outcome.alerts)
    rig.evidence.check("6.23 status", outcome.status, ServiceStatus.STOPPED)
    rig.evidence.check("DCC alerts", [a.code for a in outcome.alerts], ["N63"])
    rig.evidence.check("frames sent to the device", _sent_frames(rig, mark), 0)
