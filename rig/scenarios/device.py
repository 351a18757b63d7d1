"""Device scenarios: what a meter must do with CS02b commands, failures included.

Each function acts on a ``RigSession`` and passes only on evidence recorded in
``rig.evidence`` (decoded responses, verified signatures, alerts seen, cells read back).
"""

from __future__ import annotations

from dataclasses import replace

from rig.dcc.outcomes import ServiceStatus
from rig.dcc.tables import CredentialStatus
from rig.gbcs import StatusCode, decode
from rig.gbcs import build as b
from rig.harness import Inconclusive, NotApplicable, RigSession

from . import steps
from .steps import der


def initial_read_back(rig: RigSession) -> None:
    """CS02a read-back of the factory trust anchors: the TCoS party in the transitionalCoS cell
    (or, on a device type without that cell, trustAnchorNotFound) and the incumbent supplier."""
    holder = steps.cos_cell_holder(rig)
    if rig.device_type == "CHF":
        rig.evidence.check("CHF transitionalCoS cell", holder, None)
        return
    if holder == rig.pki.entity("ecos") and not rig.in_process:
        # a stateful device an earlier run migrated: its factory state is gone, not wrong
        raise Inconclusive("set-up: the device already holds the ECoS trust anchor (migrated by an earlier run); "
                           "its factory trust anchors cannot be read back")
    rig.evidence.check("transitionalCoS cell holder", holder, rig.pki.entity("tcos"))
    rig.evidence.check("supplier cells", steps.supplier_cell_holders(rig), [rig.INCUMBENT] * 3)


def migration(rig: RigSession) -> None:
    """TCoS to ECoS migration: CS02b transCoSByTransCoS signed by the TCoS party, verified
    response, cell replaced by the ECoS certificate, confirmed by CS02a; the inventory moves to
    ECoS. A device type with no transitionalCoS cell (CHF) needs none: the command is refused."""
    if not steps.has_cos_cell(rig):
        frame = steps.seal_command(rig, steps.migration_command(rig), "tcos")
        steps.expect_discarded(rig, frame, 0x8F30, what="mode 6 to a device without the cell")
        rig.evidence.note("verdict", "no transitionalCoS trust anchor: nothing to migrate")
        return
    steps.ensure_state(rig, "tcos")
    outcome = rig.dcc.migrate(rig.device_id, rig.transport)
    steps.require_migration_answer(rig, outcome, "migration")
    attempt = outcome.attempts[-1] if outcome.attempts else None
    if attempt is not None and attempt.response:
        response = decode(attempt.response)
        rig.evidence.latency = attempt.finished_at - attempt.started_at
        rig.evidence.response_codes.extend(s.split("=")[-1] for s in attempt.statuses)
        rig.evidence.note("response counter", response.originator_counter)
    rig.evidence.check("migration outcome", outcome.success, True)
    rig.evidence.check("cell statuses", list(attempt.statuses), ["transitional_cos/digital_signature=SUCCESS"])
    rig.evidence.check("inventory credential status", outcome.credential_status, CredentialStatus.ECOS)
    steps.expect_cos_holder(rig, "ecos")


def migration_expired_tcos(rig: RigSession) -> None:
    """Migration still works once the TCoS certificate in the device has expired (DCC POC 3):
    devices do not time-check their trust anchors."""
    if not rig.in_process:  # the catalogue declares it so; this guards a direct call
        raise NotApplicable("needs a device whose TCoS trust anchor certificate has expired (emulated set-up)")
    expired = rig.pki.variants["tcos_expired"]
    rig.device.state.cells[b.ds_cell(steps.TCOS)] = der(expired.certificate)
    rig.evidence.note("TCoS certificate notAfter", expired.certificate.not_valid_after_utc.date().isoformat())
    rig.evidence.check("expired at the device's time", expired.certificate.not_valid_after_utc < rig.now(), True)
    outcome = rig.dcc.migrate(rig.device_id, rig.transport)
    steps.require_migration_answer(rig, outcome, "migration")
    rig.evidence.check("migration outcome", outcome.success, True)
    steps.expect_cos_holder(rig, "ecos")


def cos_before_migration(rig: RigSession) -> None:
    """A 6.23 signed by the ECoS party reaches a device that still trusts TCoS (the inventory
    believes otherwise): the device discards it, raises its alert, keeps its cells; the DCC
    reports the 6.23 not completed (N26)."""
    steps.ensure_state(rig, "tcos")
    before = steps.supplier_cell_holders(rig)
    rig.dcc.inventory.set_credential_status(rig.device_id, CredentialStatus.ECOS)  # the inventory is wrong
    with rig.until_processed():
        outcome = rig.dcc.submit_623(steps.cos_request(rig), rig.transport, response_timeout_s=steps.silence(rig))
    rig.evidence.check("signed by", steps.party_name(rig, outcome.signer), "ecos")
    rig.evidence.check("6.23 status", outcome.status, ServiceStatus.NO_RESPONSE)
    rig.evidence.check("DCC alerts", [a.code for a in outcome.alerts], ["N26"])
    rig.evidence.alert_codes.extend(a.code for a in outcome.alerts)
    steps.expect_device_alert(rig, 0x8F30, what="6.23 signed by the wrong CoS party")
    rig.dcc.inventory.set_credential_status(rig.device_id, CredentialStatus.TCOS)
    steps.expect_cos_holder(rig, "tcos")
    rig.evidence.check("supplier cells unchanged", steps.supplier_cell_holders(rig), before)


def change_of_supplier(rig: RigSession) -> None:
    """After migration, an SRV 6.23 from the gaining supplier: DCC checks pass, the ECoS party
    signs mode 7, the device replaces the three supplier cells, N26 goes to the losing supplier."""
    steps.ensure_state(rig, "ecos")
    outcome = rig.dcc.submit_623(steps.cos_request(rig), rig.transport)
    steps.require_service_answer(rig, outcome, "change of supplier")
    if outcome.timing is not None:
        rig.evidence.latency = outcome.timing.elapsed_s
        rig.evidence.check("within the 6.23 target response time", outcome.timing.within_target, True)
    rig.evidence.response_codes.extend([outcome.response_code or "", *(s.split("=")[-1] for s in outcome.statuses)])
    rig.evidence.alert_codes.extend(a.code for a in outcome.alerts)
    rig.evidence.check("signed by", steps.party_name(rig, outcome.signer), "ecos")
    rig.evidence.check("6.23 status", outcome.status, ServiceStatus.COMPLETED)
    rig.evidence.check("cell statuses", [s.split("=")[-1] for s in outcome.statuses], ["SUCCESS"] * 3)
    rig.evidence.check("DCC alerts", [a.code for a in outcome.alerts], ["N26"])
    rig.evidence.check("supplier cells read back", steps.supplier_cell_holders(rig), [rig.GAINING] * 3)


def _future_dated(rig: RigSession, *, failing: bool) -> None:
    steps.ensure_state(rig, "ecos")
    when = steps.execution_time(rig)
    changes = {}
    if failing:  # the DS certificate comes from a CA the device's root does not know
        unknown = rig.pki.variants["unknown_ca_supplier_b_ds"].certificate
        changes = {"ds_certificate": der(unknown),
                   "certification_path": (der(rig.pki.issuing_ca.certificate), der(rig.pki.unknown_ca.certificate))}
    request = steps.cos_request(rig, execution=when, **changes)
    if failing:
        # the DSP's check G(i) would refuse a certificate whose CA is not the one it knows:
        # tell the DCC about the unknown CA for this probe only, so it reaches the device
        rig.dcc.ca_certificates.append(rig.pki.unknown_ca.certificate)
    try:
        accepted = rig.dcc.submit_623(request, rig.transport)
    finally:
        if failing:
            rig.dcc.ca_certificates.remove(rig.pki.unknown_ca.certificate)
    steps.require_service_answer(rig, accepted, "future-dated change of supplier")
    rig.evidence.check("6.23 status at receipt", accepted.status, ServiceStatus.ACCEPTED)
    steps.pass_time(rig, when)
    final = rig.dcc.collect_execution_alert(accepted, rig.transport, steps.alert_deadline(rig))
    expected_alert = 0x8F67 if failing else 0x8F66
    if final.response is None:
        steps.require_service_answer(rig, final, f"execution alert 0x{expected_alert:04X}")
    rig.evidence.check("verified execution alert received", final.response is not None, True)
    seen = steps.alert_codes([decode(final.response)])
    rig.evidence.check("alert code", [f"0x{c:04X}" for c in seen], [f"0x{expected_alert:04X}"])
    rig.evidence.alert_codes.extend([f"0x{c:04X}" for c in seen] + [a.code for a in final.alerts])
    statuses = [s.split("=")[-1] for s in final.statuses]
    rig.evidence.response_codes.extend(statuses)
    if failing:
        rig.evidence.check("cell statuses", statuses, ["NO_TRUST_ANCHOR", "SUCCESS", "SUCCESS"])
        rig.evidence.check("6.23 status", final.status, ServiceStatus.FAILED)
    else:
        rig.evidence.check("cell statuses", statuses, ["SUCCESS"] * 3)
        rig.evidence.check("6.23 status", final.status, ServiceStatus.COMPLETED)
        rig.evidence.check("supplier cells read back", steps.supplier_cell_holders(rig), [rig.GAINING] * 3)


def future_dated(rig: RigSession) -> None:
    """Future-dated 6.23: commandAccepted at once, the cells replaced when the clock passes the
    execution time, then alert 0x8F66 with the outcome."""
    _future_dated(rig, failing=False)


def future_dated_failing(rig: RigSession) -> None:
    """Future-dated 6.23 whose DS certificate cannot be validated: 0x8F67, noTrustAnchor on
    that cell, the other cells replaced (replacement is per cell)."""
    _future_dated(rig, failing=True)


def cancellation(rig: RigSession) -> None:
    """A future-dated 6.23 cancelled (DUIS 3000-12-31, GBCS 9999-12-31T23:59:59Z) never runs."""
    steps.ensure_state(rig, "ecos")
    before = steps.supplier_cell_holders(rig)
    when = steps.execution_time(rig)
    accepted = rig.dcc.submit_623(steps.cos_request(rig,
                                                  execution=when), rig.transport)
    rig.evidence.check("future-dated 6.23", accepted.status, ServiceStatus.ACCEPTED)
    from rig.dcc.request import DUIS_CANCELLATION

    cancelled = rig.dcc.submit_623(steps.cos_request(rig,
                                                   execution=DUIS_CANCELLATION), rig.transport)
    rig.evidence.check("cancellation 6.23", cancelled.status, ServiceStatus.CANCELLED)
    steps.pass_time(rig, when)
    if rig.signals_processed:  # the emulator signals the read-back processed after everything due by then
        after = steps.supplier_cell_holders(rig)
        with rig.until_processed():
            alerts = rig.collect_alerts(2.0)
    else:
        alerts = rig.collect_alerts(0.0 if rig.clock is not None else 2.0)
        after = steps.supplier_cell_holders(rig)
    rig.evidence.check("alerts after the execution time", steps.alert_codes(alerts), [])
    rig.evidence.check("supplier cells unchanged", after, before)


# -- authentication and integrity failures (discarded, alert, nothing changed) -----------------------

#: name -> (how to spoil the frame, alert a conforming device raises) ; see firmware_emu.rejections
def _forged_signature(rig, frame):
    message = decode(frame)
    index = message.layout.payload_end + 10  # inside r||s
    return steps.resign_after(rig, steps.tamper(frame, index=index), lambda m: m)


def _bad_mac(rig, frame):
    return steps.tamper(frame, index=len(frame) - 1)


def _wrong_recipient(rig, frame):
    other = bytes.fromhex("7E570D00000000FF")
    message = decode(frame)
    signer = steps.party_name(rig, message.originator_id)
    return steps.seal_command(rig, replace(message, recipient_id=other, signature=None, layout=None), signer)


def _truncated(rig, frame):
    return frame[:-40]


def _oversized_length(rig, frame):
    start = decode(frame).layout.payload_start
    # the grouping header's content length (82 hh ll before the payload) claims 32 KB
    assert frame[start - 3] == 0x82, "a CS02b command's content length is in the 82 hh ll form"
    return frame[:start - 3] + b"\x82\x7f\xff" + frame[start:]


NEGATIVES = {
    "forged-signature": (_forged_signature, 0x8F3D),
    "bad-mac": (_bad_mac, 0x8F3E),
    "wrong-recipient": (_wrong_recipient, None),
    "truncated-frame": (_truncated, 0x8F1E),
    "oversized-length": (_oversized_length, 0x8F1E),
}


def negative(name: str):
    spoil, alert = NEGATIVES[name]

    def run(rig: RigSession) -> None:
        steps.ensure_state(rig, "tcos")
        before = steps.supplier_cell_holders(rig)
        message, signer = steps.change_of_supplier_command(rig)
        frame = steps.seal_command(rig, message, signer)
        spoiled = spoil(rig, frame)
        rig.evidence.check("the probe differs from the genuine command", spoiled != frame, True)
        steps.expect_discarded(rig, spoiled, alert, what=name, address_to_device=name == "wrong-recipient")
        rig.evidence.check("supplier cells unchanged", steps.supplier_cell_holders(rig), before)
        # and the genuine command, with the probe's counter, is accepted afterwards: the probe
        # consumed no counter and changed nothing
        steps.expect_accepted(rig, frame, what="genuine command with the probe's counter")

    run.__doc__ = f"A change of supplier command with a {name.replace('-', ' ')} is discarded without a response" \
                  f"{'' if alert is None else f' and alert 0x{alert:04X}'}; the cells do not change."
    return run


def replayed_counter(rig: RigSession) -> None:
    """A command replayed with a counter the device has seen is discarded (alert 0x8F53)."""
    steps.ensure_state(rig, "tcos")
    message, signer = steps.change_of_supplier_command(rig)
    frame = steps.seal_command(rig, message, signer)
    first = rig.exchange(frame)
    steps.require_response(rig, first, "first delivery of the command to replay")
    rig.evidence.check("first delivery answered", first.response is not None, True)
    before = steps.supplier_cell_holders(rig)
    steps.expect_discarded(rig, frame, 0x8F53, what="replay")
    rig.evidence.check("supplier cells unchanged", steps.supplier_cell_holders(rig), before)
    # the replay consumed nothing: a valid command with the next fresh counter is accepted
    fresh, fresh_signer = steps.change_of_supplier_command(rig)
    steps.expect_accepted(rig, steps.seal_command(rig, fresh, fresh_signer), what="next fresh counter")


def _bad_certificate(variant: str | None, expected: StatusCode, *, path_without_ca: bool = False):
    def run(rig: RigSession) -> None:
        steps.ensure_state(rig, "tcos")
        before = steps.supplier_cell_holders(rig)
        ds = rig.pki.variants[variant].certificate if variant else None
        path = [] if path_without_ca else None
        message, signer = steps.change_of_supplier_command(rig, replacements=steps.supplier_replacements(rig, ds=ds),
                                                           path=path)
        outcome = steps.signed_outcome(rig, steps.seal_command(rig, message, signer), "replacement with a bad certificate", answered="response")
        statuses = [StatusCode(o.status) for o in outcome.outcomes]
        rig.evidence.check("supplier DS cell status", statuses[0], expected)
        holders = steps.supplier_cell_holders(rig)
        rig.evidence.check("supplier DS cell unchanged", holders[0], before[0])
    return run


wrong_key_usage = _bad_certificate("wrong_key_usage_supplier_b_ds", StatusCode.BAD_CERTIFICATE)
wrong_role = _bad_certificate("wrong_role_supplier_b_ds", StatusCode.BAD_CERTIFICATE)
unknown_ca = _bad_certificate("unknown_ca_supplier_b_ds", StatusCode.NO_TRUST_ANCHOR)
missing_issuing_ca = _bad_certificate(None, StatusCode.NO_TRUST_ANCHOR, path_without_ca=True)


def n65_on_join(rig: RigSession) -> None:
    """After the switch-over, a device still holding the TCoS certificate joins a comms hub: the
    DCC reads its CoS cell (CS02a) and raises N65 to the responsible supplier."""
    if not rig.in_process:
        raise NotApplicable("needs a device joining an emulated comms hub")
    steps.ensure_state(rig, "tcos")
    rig.hub.leave(rig.device_id)
    rig.hub.join(rig.device)
    holder = steps.cos_cell_holder(rig)
    alert = rig.dcc.on_device_added_to_device_log(rig.hub.chf.entity_id, rig.device_id, holder)
    rig.evidence.check("DCC alert", alert.code if alert else None, "N65")
    rig.evidence.alert_codes.append(alert.code)
    rig.evidence.check("N65 names the device", alert.device_id, rig.device_id)


def forged_signature_migration(rig: RigSession) -> None:
    """A migration command (transCoSByTransCoS) with a forged TCoS signature is discarded with
    0x8F3D and the transitionalCoS cell reads back unchanged: the signature is checked in the
    migration mode too. A genuine TCoS-signed command is accepted afterwards."""
    steps.ensure_state(rig, "tcos")
    frame = steps.seal_command(rig, steps.migration_command(rig), "tcos")
    spoiled = _forged_signature(rig, frame)
    rig.evidence.check("the probe differs from the genuine command", spoiled != frame, True)
    steps.expect_discarded(rig, spoiled, 0x8F3D, what="migration with a forged signature")
    steps.expect_cos_holder(rig, "tcos")
    message, signer = steps.change_of_supplier_command(rig)
    steps.expect_accepted(rig, steps.seal_command(rig, message, signer), what="genuine command afterwards")


def replayed_read(rig: RigSession) -> None:
    """A CS02a read replayed with a counter the device has seen is discarded (alert 0x8F53): a
    read commits its counter as a replacement does. A fresh read is answered afterwards."""
    from rig.crypto import Usage, verify_mac
    from rig.gbcs import RemotePartyRole

    frame = steps.acb_read(rig, (RemotePartyRole.SUPPLIER,))
    first = rig.exchange(frame)
    steps.require_response(rig, first, "CS02a read to replay")
    rig.evidence.check("first read answered", first.response is not None, True)
    macd = verify_mac(first.response_frame, first.response, rig.pki.credential("acb", Usage.KA).private_key,
                      rig.device_public_key(Usage.KA))
    rig.evidence.check("first read's response MAC verifies", macd, True)
    steps.expect_discarded(rig, frame, 0x8F53, what="replayed CS02a read")
    steps.supplier_cell_holders(rig)  # a fresh read is answered (and verified)


def cancellation_other_role(rig: RigSession) -> None:
    """A cancellation cancels only its own role's pending commands: the ECoS party's future-dated
    change of supplier still executes (0x8F66, cells replaced) after the incumbent supplier sends a
    cancellation (supplierBySupplier dated 9999-12-31T23:59:59Z), which the device answers."""
    from rig.gbcs.tables import ReplacementMode

    from .authorisation import supplier_replacements

    steps.ensure_state(rig, "ecos")
    when = steps.execution_time(rig)
    accepted = rig.dcc.submit_623(steps.cos_request(rig, execution=when), rig.transport)
    steps.require_service_answer(rig, accepted, "future-dated change of supplier")
    rig.evidence.check("future-dated 6.23", accepted.status, ServiceStatus.ACCEPTED)
    supplier = steps.supplier_cell_holders(rig)[0]  # the supplier the device trusts now
    message = b.cs02b_command(mode=ReplacementMode.SUPPLIER_BY_SUPPLIER, originator_id=rig.pki.entity(supplier),
                              recipient_id=rig.device_id, counter=steps.next_counter(rig, supplier),
                              replacements=supplier_replacements(rig, supplier),
                              certification_path=[der(rig.pki.issuing_ca.certificate)],
                              execution_time=b.CANCELLATION_TIME)
    steps.expect_answered(rig, steps.seal_command(rig, message, supplier), what="the supplier's cancellation")
    steps.pass_time(rig, when)
    final = rig.dcc.collect_execution_alert(accepted, rig.transport, steps.alert_deadline(rig))
    if final.response is None:
        steps.require_service_answer(rig, final, "execution alert 0x8F66")
    rig.evidence.check("verified execution alert received", final.response is not None, True)
    seen = steps.alert_codes([decode(final.response)])
    rig.evidence.check("alert code", [f"0x{c:04X}" for c in seen], ["0x8F66"])
    rig.evidence.check("cell statuses", [s.split("=")[-1] for s in final.statuses], ["SUCCESS"] * 3)
    rig.evidence.check("supplier cells read back", steps.supplier_cell_holders(rig), [rig.GAINING] * 3)


def garbled_header(rig: RigSession) -> None:
    """A frame whose grouping header cannot be read (its general-signing tag corrupted) reaches
    the comms hub function itself, which cannot route it: the CHF discards it with alert 0x8F1E
    and still answers a read-back."""
    from rig.gbcs import RemotePartyRole

    frame = steps.acb_read(rig, (RemotePartyRole.ACCESS_CONTROL_BROKER,))
    at = frame.index(0xDF)  # the grouping header follows the MAC header
    spoiled = steps.tamper(frame, index=at, xor=0x20)
    steps.expect_discarded(rig, spoiled, 0x8F1E, what="garbled grouping header")
    steps.cos_cell_holder(rig, record="CS02a after the garbled frame")  # answered and verified: still working


#: a counter floor far above any counter the rig uses, so a floor wrongly applied shows at once
HIGH_FLOOR = 2**62


def floors_when_all_fail(rig: RigSession) -> None:
    """A change of supplier whose every replacement fails (certificates from an unknown CA) and
    which asks for a supplier counter floor far above any in use: the device applies no floor
    (none reported in the response), and the supplier's next command, with an ordinary counter, is
    still accepted (verified response, every cell SUCCESS)."""
    from rig.gbcs.tables import ReplacementMode

    from .authorisation import supplier_replacements

    steps.ensure_state(rig, "tcos")
    unknown = der(rig.pki.variants["unknown_ca_supplier_b_ds"].certificate)
    failing = [replace(r, certificate=unknown) for r in steps.supplier_replacements(rig)]
    signer = steps.cos_signer(rig)
    message = b.cs02b_command(mode=ReplacementMode.SUPPLIER_BY_TRANS_COS, originator_id=rig.pki.entity(signer),
                              recipient_id=rig.device_id, counter=steps.next_counter(rig, signer),
                              replacements=failing, certification_path=[der(rig.pki.issuing_ca.certificate)],
                              other_changes=(b.supplier_floor(HIGH_FLOOR, HIGH_FLOOR),))
    outcome = steps.signed_outcome(rig, steps.seal_command(rig, message, signer), "change of supplier whose every replacement fails")
    rig.evidence.check("cell statuses", [StatusCode(o.status).name for o in outcome.outcomes],
                       [StatusCode.NO_TRUST_ANCHOR.name] * 3)
    rig.evidence.check("counter floors applied", [int(c.role) for c in outcome.seq_number_changes], [])
    supplier = steps.supplier_cell_holders(rig)[0]
    frame = steps.seal_command(rig, b.cs02b_command(
        mode=ReplacementMode.SUPPLIER_BY_SUPPLIER, originator_id=rig.pki.entity(supplier), recipient_id=rig.device_id,
        counter=steps.next_counter(rig, supplier), replacements=supplier_replacements(rig, supplier),
        certification_path=[der(rig.pki.issuing_ca.certificate)]), supplier)
    steps.expect_accepted(rig, frame, what="the supplier's next command, ordinary counter")


def floor_for_named_role(rig: RigSession) -> None:
    """A change of supplier whose otherRemotePartySeqNumberChanges [6] set the supplier's floor
    well above the gaining supplier's counters: the device reports that floor for the supplier
    role, then refuses the gaining supplier's command at the floor (0x8F53) and accepts the next
    one above it (verified response, every cell SUCCESS)."""
    from rig.gbcs import RemotePartyRole
    from rig.gbcs.tables import ReplacementMode

    from .authorisation import supplier_replacements

    steps.ensure_state(rig, "tcos")
    gaining = rig.pki.entity(rig.GAINING)
    floor = steps.next_counter(rig, rig.GAINING) + 1000
    rig.dcc.inventory.raise_floor(gaining, rig.device_id, floor + 1)  # the rig never reuses them
    signer = steps.cos_signer(rig)
    message = b.cs02b_command(mode=ReplacementMode.SUPPLIER_BY_TRANS_COS, originator_id=rig.pki.entity(signer),
                              recipient_id=rig.device_id, counter=steps.next_counter(rig, signer),
                              replacements=supplier_replacements(rig, rig.GAINING),
                              certification_path=[der(rig.pki.issuing_ca.certificate)],
                              other_changes=(b.supplier_floor(floor, floor),))
    outcome = steps.signed_outcome(rig, steps.seal_command(rig, message, signer), "change of supplier with a supplier floor")
    rig.evidence.check("cell statuses", [StatusCode(o.status).name for o in outcome.outcomes], ["SUCCESS"] * 3)
    rig.evidence.check("counter floors applied", [(RemotePartyRole(c.role).name, c.floor_seq_number)
                                                  for c in outcome.seq_number_changes], [("SUPPLIER", floor)])

    def supplier_command(counter: int) -> bytes:
        return steps.seal_command(rig, b.cs02b_command(
            mode=ReplacementMode.SUPPLIER_BY_SUPPLIER, originator_id=gaining, recipient_id=rig.device_id,
            counter=counter, replacements=supplier_replacements(rig, rig.GAINING),
            certification_path=[der(rig.pki.issuing_ca.certificate)]), rig.GAINING)

    steps.expect_discarded(rig, supplier_command(floor), 0x8F53, what="the gaining supplier's command at the floor")
    steps.expect_accepted(rig, supplier_command(floor + 1), what="the gaining supplier's command above the floor")
