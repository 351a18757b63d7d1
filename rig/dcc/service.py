"""SRV 6.23 end to end, in the order the DCC applies it (duis-ecos.md 1.2):

1. DSP checks (E65, (i)-(vii), G(i)/G(ii)): a failure answers with its response code; nothing
   is built, no counter is used.
2. Routing by the inventory's credential status: the TCoS key signs for a TCOS device, the
   ECoS key for an ECOS one; no route, nothing sent.
3. CoS-party anomaly detection (1440-minute User threshold): a breach stops processing and
   raises the alert its rule names (N63 by default); nothing is quarantined or sent.
4. A fresh counter, committed before use; CS02b mode 7 built from the request, signed by the
   CoS party, checked and MACed by the DSP, sent.
5. The device's answer, verified with its DS key and read against the command; the inventory
   follows a completed CoS; alerts per the rule table; the end-to-end time against the target.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from rig.crypto import certs
from rig.gbcs import Message

from .alerts import DccAlert
from .checks import run_checks
from .exchange import Exchange, exchange, execution_alert_for, receive
from .outcomes import SENT_STATUS, ServiceOutcome, ServiceStatus, Timing, interpret
from .request import RequestId, UpdateSecurityCredentialsCoS, to_cs02b
from .tables import AttemptResult, Recipient

if TYPE_CHECKING:
    from .facade import Dcc
    from .inventory import DeviceRecord


def submit_623(dcc: Dcc, request: UpdateSecurityCredentialsCoS, transport, *,
               response_timeout_s: float | None = None) -> ServiceOutcome:
    started = time.monotonic()
    request_id = str(request.request_id)
    device = dcc.inventory.device(request.device_id)
    generation = device.generation if device is not None else "SMETS2"

    def finish(status: ServiceStatus, **fields) -> ServiceOutcome:
        timing = Timing(time.monotonic() - started, dcc.config.target_for(generation), generation)
        return ServiceOutcome(request_id, request.device_id, status, timing=timing, **fields)

    report = run_checks(request, device, dcc.config)
    if not report.ok:
        return finish(ServiceStatus.REJECTED, response_code=report.response_code, check_failures=report.failures,
                      detail="; ".join(f"{f.check}: {f.detail}" for f in report.failures))
    signer = dcc.signer_for(device)
    if signer is None:
        return finish(ServiceStatus.UNROUTABLE,
                      detail=f"no CoS key is routed for credential status {device.credential_status}")
    verdict = dcc.adt.check_and_record(request.user_id, request_id)
    if verdict.breached:
        alert = dcc.raise_alert("anomaly_detection_breach", {Recipient.REQUESTING_USER: request.user_id},
                                device=device, request_id=request_id, additional_information=verdict.describe())
        return finish(ServiceStatus.STOPPED, anomaly=verdict, alerts=_present(alert), detail=verdict.describe())

    counter = dcc.inventory.next_counter(signer, device.device_id)
    message = to_cs02b(request, cos_party_id=signer, counter=counter, recipient_is_chf=device.device_type == "CHF")
    frame, command = dcc.authorise(message)
    timeout = response_timeout_s if response_timeout_s is not None else dcc.config.response_timeout_s
    result = exchange(transport, frame, command, verify=dcc.device_signature(device.device_id),
                      deadline=started + timeout)
    concluded = _conclude(dcc, request_id, request.user_id, device, command, result)
    return finish(signer=signer, counter=counter, command=frame, command_message=command, anomaly=verdict,
                  **concluded)


def collect_execution_alert(dcc: Dcc, outcome: ServiceOutcome, transport, deadline: float) -> ServiceOutcome:
    """Wait for the 0x00CB alert of an ACCEPTED future-dated 6.23 and conclude it.

    The outcome's timing stays that of the 6.23 itself (its response); the execution happens
    at the requested time, which no target response time covers.
    """
    if outcome.status is not ServiceStatus.ACCEPTED or outcome.command_message is None:
        raise ValueError("only an ACCEPTED future-dated 6.23 has an execution alert to collect")
    device = dcc.inventory.require(outcome.device_id)
    result = receive(transport, outcome.command, outcome.command_message, execution_alert_for(outcome.command_message),
                     verify=dcc.device_signature(device.device_id), deadline=deadline, sent_at=time.monotonic())
    user_id = RequestId.parse(outcome.request_id).user_id
    concluded = _conclude(dcc, outcome.request_id, user_id, device, outcome.command_message, result)
    concluded["alerts"] = outcome.alerts + concluded["alerts"]
    return replace(outcome, **concluded)


def _present(*alerts: DccAlert | None) -> tuple[DccAlert, ...]:
    return tuple(alert for alert in alerts if alert is not None)


def _conclude(dcc: Dcc, request_id: str, user_id: bytes, device: DeviceRecord, command: Message,
              result: Exchange) -> dict:
    """Status, evidence and alerts from the device's answer; the inventory follows a completed CoS."""
    reading = interpret(result)
    alert = None
    if reading.accepted_only:
        status = ServiceStatus.CANCELLED if command.payload.is_cancellation else ServiceStatus.ACCEPTED
    else:
        status = SENT_STATUS[reading.result]
    if status is ServiceStatus.COMPLETED:
        gaining = certs.entity_id(certs.load_certificate(command.payload.replacements[0].certificate))
        dcc.inventory.set_supplier(device.device_id, gaining)
        alert = dcc.raise_alert("cos_completed", {Recipient.LOSING_SUPPLIER: device.supplier_id,
                                                  Recipient.RESPONSIBLE_SUPPLIER: gaining},
                                device=device, request_id=request_id)
    elif reading.result is not AttemptResult.SUCCESS:
        alert = dcc.raise_alert("cos_not_completed", {Recipient.REQUESTING_USER: user_id},
                                device=device, request_id=request_id, cause=reading.result)
    return {"status": status, "response": result.answer, "execution_outcome": reading.outcome,
            "detail": reading.detail, "alerts": _present(alert),
            "response_code": dcc.config.response_code("success").code if result.verified else None}
