"""Steps scenarios are made of. Each acts on a ``RigSession`` and records what it saw.

The rig plays the head end: DCC-checked flows go through ``rig.dcc`` (migration, SRV 6.23, CS02a
reads); device conformance probes (a forged signature, a bad certificate) are built here as the
CoS party would build them, then tampered with, because the DCC's own checks would never let
them out.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import replace

from cryptography.hazmat.primitives.serialization import Encoding

from firmware_emu.alerts import message_alert_code
from rig.crypto import Usage, seal
from rig.dcc.tables import CredentialStatus
from rig.gbcs import (
    KeyUsage,
    Message,
    RemotePartyRole,
    StatusCode,
    decode,
)
from rig.gbcs import build as b
from rig.harness import Exchange, Inconclusive, NotApplicable, RigSession

TCOS = RemotePartyRole.TRANSITIONAL_COS
DER = Encoding.DER


def silence(rig: RigSession) -> float:
    """How long to wait before concluding a device stayed silent: an in-process device answers
    inside ``send`` (a model that holds its answers back gets a little longer than it holds them),
    anything else gets the rig's response timeout."""
    if rig.in_process:
        delay = float(getattr(rig.device.profile, "response_delay", 0.0) or 0.0)
        return 0.3 + delay if delay else 0.05
    return rig.spec.timeouts.response  # inside ``rig.until_processed()`` our emulator's signal ends it sooner


def der(cert) -> bytes:
    return cert.public_bytes(DER)


# -- reading the device back ----------------------------------------------------------------------


def _read_back(rig: RigSession, role: RemotePartyRole, *, what: str, timeout_s: float | None = None):
    """The verified CS02a details for ``role``. No answer is inconclusive (the link shows no
    sign of delivery), never the meter's fault; an answer whose MAC does not verify is."""
    reading = rig.dcc.read_trust_anchors(rig.device_id, rig.transport, roles=(role,), timeout_s=timeout_s)
    if not reading.details:
        from rig.dcc.tables import AttemptResult

        if reading.exchange.failure is AttemptResult.LINK_LOST:
            raise Inconclusive(f"link lost during the CS02a read-back ({what}): {reading.exchange.error}")
        if reading.exchange.answer_message is None:
            raise Inconclusive(f"no answer to the CS02a read-back ({what}) within the response timeout; "
                               f"the link shows no sign of delivery")
        detail = reading.exchange.error or (reading.exchange.failure.value if reading.exchange.failure else "")
        if rig.in_process:  # nothing between the rig and the device could have changed the answer
            rig.evidence.check(f"{what}: verified CS02a response", f"not verified: {detail}", "verified")
        raise Inconclusive(f"the CS02a response ({what}) did not verify ({detail}); over a link without an "
                           f"integrity check that may be the link's doing")
    return reading.details[0]


def cos_cell_holder(rig: RigSession, *, record: str = "CS02a transitionalCoS cell") -> bytes | None:
    """Who the device's transitionalCoS DS cell names (CS02a from the ACB); None if it has none."""
    details = _read_back(rig, TCOS, what=record, timeout_s=silence(rig) * 10)
    if details.status != StatusCode.SUCCESS or not details.cells:
        rig.evidence.note(record, StatusCode(details.status).name)
        return None
    holder = details.cells[0].subject_id
    rig.evidence.note(record, f"{holder.hex().upper()} ({party_name(rig, holder)})")
    return holder


def party_name(rig: RigSession, entity: bytes) -> str:
    for label, spec in rig.pki.parties.items():
        if spec.entity_id == entity:
            return label
    return "unknown party"


def expect_cos_holder(rig: RigSession, label: str) -> None:
    holder = cos_cell_holder(rig)
    rig.evidence.check("transitionalCoS cell holder", party_name(rig, holder) if holder else None, label)


def supplier_cell_holders(rig: RigSession) -> list[str]:
    """The supplier DS/KA/KA-PP cells' holders, read with CS02a from the ACB."""
    details = _read_back(rig, RemotePartyRole.SUPPLIER, what="CS02a supplier cells")
    holders = [party_name(rig, c.subject_id) for c in details.cells or ()]
    rig.evidence.note("CS02a supplier cells", ", ".join(holders))
    return holders


def has_cos_cell(rig: RigSession) -> bool:
    return cos_cell_holder(rig, record="CS02a: does the device hold a transitionalCoS cell") is not None


# -- answers the rig needs before it can judge -------------------------------------------------------


def judge_silence(rig: RigSession, what: str) -> None:
    """The device gave no answer where GBCS requires one. That is the device's fault only when
    the command is known to have reached it: an in-process link hands the frame to the device
    model (delivery certain); over any other link a read-back right after must be answered
    (delivery inferred from liveness just before and just after). Otherwise the silence shows
    nothing about the device: inconclusive. Returns when delivery is shown (the caller's checks
    then fail the scenario); raises ``Inconclusive`` when it is not."""
    if rig.in_process:
        rig.evidence.note(f"{what}: delivery", "confirmed: the in-process link hands each frame to the device")
        return
    try:
        cos_cell_holder(rig, record=f"{what}: liveness read-back after no answer")
    except Inconclusive:
        raise Inconclusive(f"{what}: no answer from the device, and none to a read-back after it; the link shows "
                           f"no sign of delivery") from None
    rig.evidence.note(f"{what}: delivery", "delivery inferred: the device answered read-backs before and after")
    rig.evidence.delivery = "delivery inferred"


def require_migration_answer(rig: RigSession, outcome, what: str) -> None:
    """A migration whose every attempt drew no answer (or lost the link): see ``judge_silence``."""
    from rig.dcc.tables import AttemptResult

    silent = (AttemptResult.NO_RESPONSE, AttemptResult.LINK_LOST)
    if not outcome.success and all(a.result in silent for a in outcome.attempts):
        if any(a.result is AttemptResult.LINK_LOST for a in outcome.attempts):
            raise Inconclusive(f"{what}: link lost: {outcome.attempts[-1].detail if outcome.attempts else ''}")
        judge_silence(rig, what)


def require_service_answer(rig: RigSession, outcome, what: str) -> None:
    """A 6.23 that drew no answer (or lost the link): see ``judge_silence``."""
    from rig.dcc.outcomes import ServiceStatus

    if outcome.status is ServiceStatus.LINK_LOST:
        raise Inconclusive(f"{what}: link lost while waiting for the device's response")
    if outcome.status is ServiceStatus.NO_RESPONSE:
        judge_silence(rig, what)


def require_response(rig: RigSession, exchange: Exchange, what: str) -> None:
    if exchange.response is None:
        judge_silence(rig, what)


def signed_outcome(rig: RigSession, frame: bytes, what: str, *, answered: str = "answered"):
    """Send ``frame``; the device must answer with a response its DS key verifies. Returns the
    response's execution outcome (silence is judged by ``judge_silence``: never a pass)."""
    exchange = rig.exchange(frame)
    record_exchange(rig, exchange)
    require_response(rig, exchange, what)
    rig.evidence.check(answered, exchange.response is not None, True)
    rig.evidence.check("device signature", device_signed(rig, exchange), True)
    return exchange.response.payload.execution_outcome


# -- states -----------------------------------------------------------------------------------------


def ensure_state(rig: RigSession, wanted: str) -> None:
    """Bring the device to ``tcos`` (factory) or ``ecos`` (migrated), or skip when impossible.

    In-process rigs are reset by the ``rig`` fixture (factory state) and migrated here when
    needed; a real device is read back with CS02a and migrated forwards only.
    """
    holder = cos_cell_holder(rig, record="CS02a before the scenario")
    if holder is None:
        raise NotApplicable(f"{rig.device_type} {rig.device_id.hex().upper()} holds no transitionalCoS trust anchor")
    state = "ecos" if holder == rig.pki.entity("ecos") else "tcos"
    rig.dcc.inventory.set_credential_status(rig.device_id, CredentialStatus(state.upper()))
    if state == wanted:
        return
    if wanted == "tcos":
        raise Inconclusive("set-up: the device already holds the ECoS trust anchor and cannot be brought back; "
                           "pre-migration scenarios need a TCoS device")
    outcome = rig.dcc.migrate(rig.device_id, rig.transport)
    require_migration_answer(rig, outcome, "set-up migration")
    rig.evidence.check("set-up migration", outcome.success, True)


# -- head-end commands for device conformance probes ---------------------------------------------------


def cos_signer(rig: RigSession) -> str:
    """Which CoS party's key the device currently trusts (by the inventory)."""
    record = rig.dcc.inventory.require(rig.device_id)
    return "ecos" if record.credential_status is CredentialStatus.ECOS else "tcos"


def next_counter(rig: RigSession, party: str) -> int:
    return rig.dcc.inventory.next_counter(rig.pki.entity(party), rig.device_id)


def acb_read(rig: RigSession, roles) -> bytes:
    """A CS02a read of ``roles`` from the access control broker on a fresh counter, MACed: what
    a read probe starts from."""
    acb = rig.pki.entity("acb")
    message = b.cs02a_command(originator_id=acb, recipient_id=rig.device_id,
                              counter=rig.dcc.inventory.next_counter(acb, rig.device_id),
                              authorising_cell=b.ka_cell(RemotePartyRole.ACCESS_CONTROL_BROKER), roles=tuple(roles))
    return seal_command(rig, message, None)


def seal_command(rig: RigSession, message: Message, signer: str | None) -> bytes:
    """Sign as ``signer`` and add the ACB MAC for this device, as the DSP would."""
    device_ka = rig.device_public_key(Usage.KA)
    acb = rig.pki.credential("acb", Usage.KA).private_key
    return seal(message, signer=rig.pki.credential(signer, Usage.DS).private_key if signer else None,
                mac_private_key=acb if message.mac_header is not None else None,
                mac_peer=device_ka if message.mac_header is not None else None)


def migration_command(rig: RigSession, *, counter: int | None = None) -> Message:
    signer = "tcos"
    return b.cs02b_command(
        mode=6, originator_id=rig.pki.entity(signer), recipient_id=rig.device_id,
        counter=counter if counter is not None else next_counter(rig, signer),
        replacements=[b.replacement(der(rig.pki.credential("ecos", Usage.DS).certificate), TCOS,
                                    KeyUsage.DIGITAL_SIGNATURE)],
        certification_path=[der(rig.pki.issuing_ca.certificate)], disapply_time_checks=True)


def supplier_replacements(rig: RigSession, ds=None):
    certs = [ds or rig.pki.credential(rig.GAINING, Usage.DS).certificate,
             rig.pki.credential(rig.GAINING, Usage.KA).certificate,
             rig.pki.credential(rig.GAINING, Usage.PP_KA).certificate]
    return [b.replacement(der(certs[0]), RemotePartyRole.SUPPLIER, KeyUsage.DIGITAL_SIGNATURE),
            b.replacement(der(certs[1]), RemotePartyRole.SUPPLIER, KeyUsage.KEY_AGREEMENT),
            b.replacement(der(certs[2]), RemotePartyRole.SUPPLIER, KeyUsage.KEY_AGREEMENT, 1)]


def change_of_supplier_command(rig: RigSession, *, replacements=None, path=None,
                               when: _dt.datetime | None = None) -> tuple[Message, str]:
    signer = cos_signer(rig)
    message = b.cs02b_command(
        mode=7, originator_id=rig.pki.entity(signer), recipient_id=rig.device_id,
        counter=next_counter(rig, signer), replacements=replacements or supplier_replacements(rig),
        certification_path=path if path is not None else [der(rig.pki.issuing_ca.certificate)],
        execution_time=when, other_changes=(b.supplier_floor(0, 0),))
    return message, signer


def cos_request(rig: RigSession, **changes):
    """An SRV 6.23 from the gaining supplier for this rig's device that passes every DSP check."""
    from rig.dcc.examples import example_request
    from rig.dcc.request import RequestId

    counter = next_counter(rig, rig.GAINING)
    request_id = RequestId.of(rig.pki.entity(rig.GAINING), rig.device_id, counter)
    return example_request(rig.pki, supplier=rig.GAINING, request_id=request_id, **changes)


# -- reading answers --------------------------------------------------------------------------------


def alert_codes(messages: list[Message]) -> list[int]:
    return [code for code in map(message_alert_code, messages) if code is not None]


def record_exchange(rig: RigSession, exchange: Exchange) -> None:
    if exchange.latency is not None:
        rig.evidence.latency = exchange.latency
    codes = [f"0x{c:04X}" for c in alert_codes(exchange.alerts)]
    rig.evidence.alert_codes.extend(codes)
    outcome = getattr(getattr(exchange.response, "payload", None), "execution_outcome", None)
    if outcome is not None:
        rig.evidence.response_codes.extend(StatusCode(o.status).name for o in outcome.outcomes)


def raises_security_alerts(rig: RigSession) -> bool:
    """Whether the device under test raises the security alerts GBCS defines for a discarded
    command: an in-process model says so in its profile; a rig declares a model that raises none
    with the feature ``no_security_alerts``."""
    if "no_security_alerts" in rig.spec.features:
        return False
    if rig.device is not None:
        return bool(getattr(rig.device.profile, "rejection_alerts", True))
    return True


def send_probe(rig: RigSession, frame: bytes) -> Exchange:
    """Send a probe the device must discard; wait for an answer (there must be none) and for the
    alerts it raises. A link that refuses the frame leaves the probe unproven, never passed."""
    from rig.transport import TransportError

    try:
        with rig.until_processed():  # our emulator signals when it is done: no answer and no alert will follow
            return rig.exchange(frame, timeout=silence(rig), alert_window=0.0 if rig.in_process else 0.5)
    except TransportError as err:
        raise Inconclusive(f"the {rig.spec.transport.kind} link did not carry the probe: {err}") from None


def _alerts_from_device(rig: RigSession, exchange: Exchange) -> tuple[list[int], list[str]]:
    """Alert codes raised by the device under test whose signature verifies under its DS key and
    whose originator counter is above every earlier alert's from it in this run; and a note for
    each alert that is not counted (another originator, such as the comms hub in front of the
    device, or a signature that fails). A counter that does not increase fails the scenario."""
    from rig.crypto import verify_signature

    verified, rejected = [], []
    key = rig.device_public_key(Usage.DS)
    for data, message in zip(exchange.alert_frames, exchange.alerts, strict=True):
        code = message_alert_code(message)
        label = f"0x{code:04X}" if code is not None else "an alert"
        if message.originator_id != rig.device_id:
            rejected.append(f"{label} from {message.originator_id.hex().upper()}, not the device under test")
        elif message.signature is None or not verify_signature(data, message, key):
            rejected.append(f"{label} whose signature does not verify with the device's DS key")
        else:
            check_alert_counter(rig, message, label)
            if code is not None:
                verified.append(code)
    return verified, rejected


def check_alert_counter(rig: RigSession, message: Message, label: str) -> None:
    """Every alert the device originates carries a counter above its previous alert's (GBCS
    anti-replay for device-originated messages; the rig remembers the last one per run)."""
    last = rig.alert_counters.get(message.originator_id)
    if last is not None:
        rig.evidence.check(f"{label} alert counter increases", message.originator_counter, f"> {last}",
                           ok=message.originator_counter > last)
    rig.alert_counters[message.originator_id] = message.originator_counter


def expect_discarded(rig: RigSession, frame: bytes, alert: int | None, *, what: str,
                     address_to_device: bool = False) -> Exchange:
    """The device must not answer ``frame`` and, where GBCS defines one, must raise ``alert``.

    Silence alone is never a pass. Delivery is shown by the alert (from the device under test,
    its signature verified with the device's DS key) or by the link (an in-process link hands the
    frame to the device model: there a missing alert is the device's fault); where no alert exists for the failure (a
    wrong recipient) or the model raises none, by liveness exchanges right before (the caller's
    read-back) and right after (the caller's read-back and counter reuse): the evidence is then
    marked "delivery inferred". A probe with an alert defined that drew none is inconclusive.
    ``address_to_device``: the link hands the frame to the device under test whatever its header
    names (a wrongly addressed probe must meet the device's own recipient check).
    """
    if address_to_device:
        from rig.harness.transports import address_next

        how = address_next(rig, rig.device_id)
        if how is None:
            raise NotApplicable("this link routes each frame by its GBCS header: a wrongly addressed probe cannot "
                                "be carried to the device")
        rig.evidence.note(f"{what}: delivered", how)
    exchange = send_probe(rig, frame)
    record_exchange(rig, exchange)
    rig.evidence.check(f"{what}: response", "none" if exchange.response is None else "answered", "none")
    verified, rejected = _alerts_from_device(rig, exchange)
    for note in rejected:
        rig.evidence.note(f"{what}: alert not counted", note)
    if alert is not None and raises_security_alerts(rig):
        if not verified and not rig.in_process:  # in-process, delivery is certain: no alert is the device's fault
            raise Inconclusive(f"{what}: no verified 0x{alert:04X} alert from the device and no delivery "
                               f"confirmation from the link: the probe may not have reached the device")
        rig.evidence.check(f"{what}: verified device alert", [f"0x{c:04X}" for c in verified], [f"0x{alert:04X}"])
        rig.evidence.delivery = "device alert"
    else:
        rig.evidence.check(f"{what}: device alerts", [f"0x{c:04X}" for c in verified], [])
        rig.evidence.note(f"{what}: delivery", "delivery inferred: liveness exchanges right before and after")
        rig.evidence.delivery = "delivery inferred"
    return exchange


def expect_device_alert(rig: RigSession, alert: int, *, what: str) -> None:
    """The device raised ``alert`` (verified as from the device under test) for a command it
    discarded; without it, delivery is not shown: inconclusive (unless the model raises none)."""
    with rig.until_processed():
        frames = rig.collect_alert_frames(0.0 if rig.in_process else 1.0)
    verified, rejected = _alerts_from_device(rig, Exchange(None, b"", alerts=[decode(f) for f in frames],
                                                           alert_frames=frames))
    for note in rejected:
        rig.evidence.note(f"{what}: alert not counted", note)
    if not raises_security_alerts(rig):
        rig.evidence.delivery = "delivery inferred"
        return
    if not verified and not rig.in_process:
        raise Inconclusive(f"{what}: no verified 0x{alert:04X} alert from the device: the command may not have "
                           f"reached it")
    rig.evidence.check(f"{what}: verified device alert", [f"0x{c:04X}" for c in verified], [f"0x{alert:04X}"])
    rig.evidence.delivery = "device alert"


def expect_answered(rig: RigSession, frame: bytes, *, what: str) -> list[str]:
    """``frame`` must be answered by the device under test with a response whose signature
    verifies under the device's DS key; returns the cell statuses it reports, by name."""
    exchange = rig.exchange(frame)
    record_exchange(rig, exchange)
    require_response(rig, exchange, what)
    rig.evidence.check(f"{what}: answered", exchange.response is not None, True)
    rig.evidence.check(f"{what}: response from the device under test", exchange.response.originator_id,
                       rig.device_id)
    rig.evidence.check(f"{what}: device signature", device_signed(rig, exchange), True)
    outcome = getattr(getattr(exchange.response, "payload", None), "execution_outcome", None)
    return [StatusCode(o.status).name for o in outcome.outcomes] if outcome is not None else []


def expect_accepted(rig: RigSession, frame: bytes, *, what: str) -> None:
    """A positive step (liveness after a probe, a genuine command): answered with a response
    signed by the device whose every cell status is SUCCESS."""
    statuses = expect_answered(rig, frame, what=what)
    rig.evidence.check(f"{what}: cell statuses", bool(statuses) and all(s == "SUCCESS" for s in statuses), True)


def execution_time(rig: RigSession) -> _dt.datetime:
    """When a future-dated command should run: tomorrow on a clock the rig drives, else a few
    seconds ahead of the host clock (a real or spawned device keeps its own time); a second or
    two for our emulator (``rig.signals_processed``), which runs on this host's clock and
    answers at once."""
    if rig.clock is not None:
        return (rig.now() + _dt.timedelta(days=1)).replace(microsecond=0)
    ahead = 1.0 if rig.signals_processed else max(3.0, min(30.0, rig.spec.timeouts.alert / 3))
    return (rig.now() + _dt.timedelta(seconds=ahead)).replace(microsecond=0) + _dt.timedelta(seconds=1)


def pass_time(rig: RigSession, when: _dt.datetime) -> None:
    """Get the device past ``when``: move its clock, or wait for the real one (serviced link),
    a second more for a device clock that may run behind (our emulator's is this host's)."""
    if rig.clock is not None:
        rig.advance_clock(when + _dt.timedelta(seconds=1))
        return
    remaining = (when - rig.now()).total_seconds() + (0.25 if rig.signals_processed else 1.0)
    if remaining > 0:
        rig._wait_quiet(remaining)


def alert_deadline(rig: RigSession) -> float:
    from rig.transport import deadline_in

    return deadline_in(2.0 if rig.in_process else rig.spec.timeouts.alert)


def device_signed(rig: RigSession, exchange: Exchange) -> bool:
    from rig.crypto import verify_signature

    return verify_signature(exchange.response_frame, exchange.response, rig.device_public_key(Usage.DS))


def tamper(frame: bytes, *, index: int, xor: int = 0x01) -> bytes:
    return frame[:index] + bytes([frame[index] ^ xor]) + frame[index + 1:]


def resign_after(rig: RigSession, frame: bytes, change) -> bytes:
    """Decode, change the message, MAC it again (so only the intended fault remains)."""
    message = decode(frame)
    changed = change(replace(message, layout=None, length_forms=None))
    return seal_command(rig, changed, None)
