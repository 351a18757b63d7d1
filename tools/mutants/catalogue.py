"""The planted bugs, as data: each a small, named source patch with the rule it breaks.

Why source patches (exact search and replace) and not monkeypatches: ``gbcs-rig prove`` may spawn
``gbcs-rig emulate`` subprocesses (serial and bridge rigs), and a patched copy of the tree on
``PYTHONPATH`` reaches them where an in-process monkeypatch would not; and a patch whose search
text is gone says so ("stale") instead of silently patching nothing. To survive refactoring, each
hunk searches for the fewest lines that pin the rule down, and must match exactly once.

``layer`` is where the bug lives (``firmware_emu`` or ``rig.dcc``). ``reach`` says whether
``gbcs-rig prove`` on the emulated default (in-process devices behind an emulated comms hub) can
observe the bug at all: ``"prove"``, or why not. ``probe`` names the observation of
``tools.mutants.trace`` that the bug changes (the cheap unit check of ``tests/test_mutants.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

FW = "firmware_emu"
DCC = "rig.dcc"
PROVE = "prove"


@dataclass(frozen=True)
class Hunk:
    """Replace ``old`` (which must occur exactly once in ``path``) by ``new``."""

    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Mutant:
    name: str
    layer: str
    rule: str
    hunks: tuple[Hunk, ...]
    probe: str
    reach: str = PROVE

    @property
    def reachable(self) -> bool:
        return self.reach == PROVE


def _h(path: str, old: str, new: str) -> Hunk:
    return Hunk(path, old, new)


DEVICE = "firmware_emu/device.py"
CS02B = "firmware_emu/cs02b.py"
CPV = "firmware_emu/cpv.py"
CRED = "firmware_emu/credentials.py"
PROFILES = "firmware_emu/profiles.py"
REJECTIONS = "firmware_emu/rejections.py"
STORE = "firmware_emu/store.py"
HUB = "firmware_emu/hub.py"
COUNTERS = "firmware_emu/counters.py"

# a device that keeps the certificate a replacement superseded and still honours it
_FORMER_AUTH = _h(DEVICE, "        anchor = self.cell_certificate(cell)\n        if anchor is None:",
                  "        anchor = self.cell_certificate(cell)\n"
                  "        former = getattr(self, 'former_anchors', {}).get(cell)\n"
                  "        if former is not None and former.subject_id == message.originator_id:\n"
                  "            anchor = former\n"
                  "        if anchor is None:")


# an execution that produced no alert frame is not sent (with a hunk that makes it produce none)
_SKIP_NONE = _h(CS02B, "            frames.append(_execute_pending(device, pending))",
                "            frames.extend(f for f in [_execute_pending(device, pending)] if f is not None)")


def _keep_former(role: str) -> Hunk:
    return _h(CS02B, "            device.state.cells[target] = new.der\n",
              f"            if existing is not None and target.role == RemotePartyRole.{role}:\n"
              "                device.__dict__.setdefault('former_anchors', {})[target] = existing\n"
              "            device.state.cells[target] = new.der\n")


MUTANTS: tuple[Mutant, ...] = (
    # -- authorisation: who may do what ------------------------------------------------------
    Mutant("tcos-accepted-after-migration", FW,
           "after migration the TCoS party is refused on the transitionalCoS cell (the device keeps the "
           "superseded TCoS certificate as a fallback)",
           (_FORMER_AUTH, _keep_former("TRANSITIONAL_COS")), "tcos_after_migration"),
    Mutant("losing-supplier-accepted-after-cos", FW,
           "after a change of supplier the losing supplier is refused (the device keeps the superseded "
           "supplier certificate as a fallback)",
           (_FORMER_AUTH, _keep_former("SUPPLIER")), "losing_supplier_after_cos"),
    Mutant("any-party-replaces-any-cell", FW,
           "a mode is authorised only by its own role's cell (any DS cell holder is accepted instead)",
           (_h(CS02B, "    if cell.role != role or cell.key_usage != wanted_usage:",
               "    if cell.key_usage not in (wanted_usage, KeyUsage.DIGITAL_SIGNATURE):"),),
           "supplier_signed_mode6"),
    Mutant("mode-target-roles-unrestricted", FW,
           "a mode replaces only the roles it targets (only checks that the mode targets some role)",
           (_h(CS02B, "    if target.role not in target_roles:",
               "    if not target_roles:"),),
           "mode6_targets_supplier"),
    Mutant("originator-not-cell-subject", FW,
           "the grouping-header originator must be the authorising cell's subject",
           (_h(PROFILES, "    check_originator_is_cell_subject: bool = True",
               "    check_originator_is_cell_subject: bool = False"),),
           "originator_not_subject"),
    Mutant("ignores-recipient-id", FW,
           "a command addressed to another device is discarded (only the all-zero id is refused)",
           (_h(DEVICE, "        if message.recipient_id != self.entity_id:",
               "        if message.recipient_id == NO_ID:"),),
           "wrong_recipient_direct"),
    # -- certification path validation of replacement certificates ---------------------------
    Mutant("cpv-no-signature-check", FW,
           "path validation verifies every certificate signature (the per-command memo skips the check)",
           (_h(CPV, "    ok = issuer.public_key is not None and child.ecdsa_sha256\n    if ok:",
               "    ok = issuer.public_key is not None and child.ecdsa_sha256\n    if ok and verified is None:"),),
           "forged_ca_signature"),
    Mutant("key-usage-not-checked", FW,
           "a replacement certificate's key usage matches the target cell",
           (_h(CS02B, "    elif leaf.key_usage != wanted:\n        return statuses[\"bad_certificate\"]",
               "    elif leaf.key_usage is None:\n        return statuses[\"bad_certificate\"]"),),
           "wrong_key_usage"),
    Mutant("role-not-checked", FW,
           "a replacement certificate's role (OU) matches the target cell",
           (_h(CS02B, "    if leaf.role != target.role:\n        return statuses[\"bad_certificate\"]",
               "    if leaf.role is None:\n        return statuses[\"bad_certificate\"]"),),
           "wrong_role"),
    Mutant("validity-not-checked", FW,
           "with time checks applied, an expired certificate fails path validation (only notBefore is checked)",
           (_h(CPV, "    if at is not None and not cert.valid_at(at):",
               "    if at is not None and at < cert.not_before:"),),
           "expired_replacement_time_checked"),
    Mutant("issuing-ca-not-required", FW,
           "a replacement certificate must chain to the root through the supplied issuing CA",
           (_h(CPV, "        if issuer is None:\n            return CpvFailure.NO_CHAIN",
               "        if issuer is None:\n            return None"),),
           "missing_issuing_ca"),
    Mutant("root-signed-organisation-accepted", FW,
           "an organisation certificate must come from an issuing CA (one the root signed itself is accepted)",
           (_h(CPV, "            if current is leaf and needs_issuing_ca and _is_root(anchor):\n"
               "                return CpvFailure.NO_ISSUING_CA\n            return None if",
               "            return None if"),),
           "root_signed_organisation"),
    Mutant("policies-not-checked", FW,
           "certificatePolicies must be present and critical",
           (_h(CPV, "    if not cert.policies_critical:\n        return CpvFailure.POLICY",
               "    if cert.policies_critical is None:\n        return CpvFailure.POLICY"),),
           "non_critical_policies"),
    Mutant("refuses-migration-tcos-expired", FW,
           "trust anchors are not time-checked: migration works after the TCoS certificate expired",
           (_h(PROFILES, "    reject_expired_trust_anchor: bool = False",
               "    reject_expired_trust_anchor: bool = True"),),
           "migration_expired_tcos"),
    # -- authentication of the command ---------------------------------------------------------
    Mutant("mac-not-checked-when-signed", FW,
           "the ACB MAC is checked on every MACed command (skipped when the frame is also signed)",
           (_h(DEVICE, "        if message.mac_header is not None:\n            acb = self.cell_certificate(ACB_KA)",
               "        if message.mac_header is not None and message.signature is None:\n"
               "            acb = self.cell_certificate(ACB_KA)"),),
           "bad_mac"),
    Mutant("signature-not-checked-mode6", FW,
           "every signed mode's signature is verified (not for transCoSByTransCoS)",
           (_h(CS02B, "        raise Rejected(Reason.NOT_AUTHORISED, f\"mode {control.mode.name} is not authorised by {cell}\")\n"
               "    return cell, True",
               "        raise Rejected(Reason.NOT_AUTHORISED, f\"mode {control.mode.name} is not authorised by {cell}\")\n"
               "    return cell, control.mode != ReplacementMode.TRANS_COS_BY_TRANS_COS"),),
           "forged_signature_mode6"),
    Mutant("counter-committed-before-signature", FW,
           "the anti-replay counter is committed only when every check passed (a forged frame burns one)",
           (_h(DEVICE, "        if signed:\n            if message.signature is None or anchor.public_key is None:",
               "        self.commit_counter(cell.role, message.originator_counter)\n"
               "        if signed:\n            if message.signature is None or anchor.public_key is None:"),),
           "forged_burns_counter"),
    Mutant("counter-not-committed", FW,
           "an accepted command's counter is committed (else a replay is accepted)",
           (_h(CS02B, "    counters.commit(device.state, cell.role, message.originator_counter)\n    if command.is_cancellation:",
               "    if command.is_cancellation:"),),
           "replay"),
    Mutant("counter-greater-or-equal", FW,
           "a command's counter must be strictly above the stored counter (>= accepted instead of >)",
           (_h(COUNTERS, "    return counter > stored(state, role)", "    return counter >= stored(state, role)"),),
           "replay"),
    Mutant("cs02a-counter-not-committed", FW,
           "a CS02a read's counter is committed too",
           (_h(CRED, "    device.authenticate(raw, message, cell, signed=signed)\n"
               "    counters.commit(device.state, cell.role, message.originator_counter)",
               "    device.authenticate(raw, message, cell, signed=signed)"),),
           "cs02a_replay"),
    # -- execution and the response -------------------------------------------------------------
    Mutant("response-signed-with-ka-key", FW,
           "a CS02b response is signed with the device's DS key (the KA key is used)",
           (_h(CS02B, "    frame = device.sign(response)\n    device.save()",
               "    frame = _seal(response, signer=device.identity.ka_key)\n    device.save()"),
            _h(CS02B, "from . import counters, cpv\n",
               "from rig.crypto import seal as _seal\n\nfrom . import counters, cpv\n")),
           "response_signature"),
    Mutant("response-unsigned", FW,
           "a CS02b response carries the device's signature (sent unsigned)",
           (_h(CS02B, "    frame = device.sign(response)\n    device.save()",
               "    frame = _seal(response)\n    device.save()"),
            _h(CS02B, "from . import counters, cpv\n",
               "from rig.crypto import seal as _seal\n\nfrom . import counters, cpv\n")),
           "response_signature"),
    Mutant("response-success-for-failed-cell", FW,
           "the response reports each cell's real status (SUCCESS for a failed cell)",
           (_h(CS02B, "        outcomes.append(_outcome(target, status, old_id, old_key, new_id, new_key))",
               "        outcomes.append(_outcome(target, StatusCode.SUCCESS, old_id, old_key, new_id, new_key))"),),
           "wrong_key_usage"),
    Mutant("floors-applied-when-all-fail", FW,
           "no floor [4][5][6] is applied by a command whose every replacement failed (applied as requested "
           "instead: a failed command resets counters)",
           (_h(COUNTERS, "        if role not in replaced:  # rule scope\n            continue",
               "        if role not in replaced and replaced:  # rule scope\n            continue"),
            _h(COUNTERS, "        new_key = replaced[role]\n", "        new_key = replaced.get(role, b\"\")\n")),
           "floors_all_failed"),
    Mutant("other-floors-applied-to-authorising-role", FW,
           "otherRemotePartySeqNumberChanges [6] set the floors of the roles they name (applied to the "
           "authorising role instead)",
           (_h(COUNTERS, "    changes.extend(control.other_seq_number_changes or ())",
               "    changes.extend(SeqNumberChange(RemotePartyRole(authorising_role), c.floor_seq_number,\n"
               "                                   c.specialist_floor_seq_numbers)\n"
               "                   for c in control.other_seq_number_changes or ())"),),
           "other_floors"),
    Mutant("state-not-saved-before-response", FW,
           "state changes are saved before the response leaves the device (lost at a power cut)",
           (_h(CS02B, "    frame = device.sign(response)\n    device.save()  # after everything that could fail",
               "    frame = device.sign(response)\n    # after everything that could fail"),),
           "saved_before_response"),
    Mutant("non-atomic-store", FW,
           "the trust anchor store is written atomically (written in place: a power cut leaves half a file)",
           (_h(STORE, "        tmp = path.with_name(path.name + \".tmp\")", "        tmp = path"),),
           "power_cut_partial_write"),
    Mutant("cs02a-stale-holder", FW,
           "CS02a reports the cell's current holder (a cached, stale reading)",
           (_h(CRED, "        cert = device.cell_certificate(cell)\n        if cert is not None:\n            contents.append(",
               "        cert = _READ_CACHE.setdefault((device.entity_id, cell), device.cell_certificate(cell))\n"
               "        if cert is not None:\n            contents.append("),
            _h(CRED, "#: roles that may read the device's own certificates",
               "_READ_CACHE: dict = {}\n\n#: roles that may read the device's own certificates")),
           "cs02a_after_migration"),
    # -- future-dated commands ---------------------------------------------------------------------
    Mutant("future-dated-executed-at-once", FW,
           "a future-dated command is executed at its execution time, not at receipt",
           (_h(CS02B, "    elif command.is_future_dated:",
               "    elif command.is_future_dated and command.execution_date_time < device.now():"),),
           "future_dated"),
    Mutant("no-8f66", FW,
           "a future-dated command that executed sends alert 0x8F66",
           (_h(CS02B, "    device.log(code, f\"future-dated command {command.control.seq_number} executed\")\n",
               "    device.log(code, f\"future-dated command {command.control.seq_number} executed\")\n"
               "    if code == ALERT_FUTURE_DATED_SUCCESS:\n        return None\n"), _SKIP_NONE),
           "future_dated"),
    Mutant("no-8f67", FW,
           "a future-dated command that failed sends alert 0x8F67",
           (_h(CS02B, "    device.log(code, f\"future-dated command {command.control.seq_number} executed\")\n",
               "    device.log(code, f\"future-dated command {command.control.seq_number} executed\")\n"
               "    if code == ALERT_FUTURE_DATED_FAILURE:\n        return None\n"), _SKIP_NONE),
           "future_dated_failing"),
    Mutant("cancellation-ignored", FW,
           "a cancellation removes the pending future-dated commands",
           (_h(CS02B, "    keep = [p for p in device.state.pending if device.profile.cancel_same_role_only and p.authorising_role != role]",
               "    keep = list(device.state.pending)"),),
           "cancellation"),
    Mutant("cancellation-cancels-other-roles", FW,
           "a cancellation removes only the pending commands of its own role",
           (_h(PROFILES, "    cancel_same_role_only: bool = True", "    cancel_same_role_only: bool = False"),),
           "cancel_other_role"),
    # -- alerts ---------------------------------------------------------------------------------------
    Mutant("alert-codes-swapped", FW,
           "a MAC failure raises 0x8F3E and a signature failure 0x8F3D (swapped)",
           (_h(REJECTIONS, "    Rejection(Reason.MAC_FAILURE, 0x8F3E, True),", "    Rejection(Reason.MAC_FAILURE, 0x8F3D, True),"),
            _h(REJECTIONS, "    Rejection(Reason.SIGNATURE_FAILURE, 0x8F3D, True),",
               "    Rejection(Reason.SIGNATURE_FAILURE, 0x8F3E, True),")),
           "bad_mac"),
    Mutant("replay-alert-code-wrong", FW,
           "a replayed counter raises 0x8F53 (0x8F30 instead)",
           (_h(REJECTIONS, "    Rejection(Reason.REPLAY, 0x8F53, True),", "    Rejection(Reason.REPLAY, 0x8F30, True),"),),
           "replay_alert"),
    Mutant("alert-signed-with-ka-key", FW,
           "a generic alert is signed with the device's DS key (the KA key is used)",
           (_h(DEVICE, "        message = Message(CraFlag.ALERT, counter, self.entity_id, recipient, alerts.GENERIC_CRITICAL_ALERT, payload)\n"
               "        return self.sign(message)",
               "        message = Message(CraFlag.ALERT, counter, self.entity_id, recipient, alerts.GENERIC_CRITICAL_ALERT, payload)\n"
               "        return seal(message, signer=self.identity.ka_key)"),),
           "alert_signature"),
    Mutant("alert-unsigned", FW,
           "a generic alert carries the device's signature (sent unsigned)",
           (_h(DEVICE, "        message = Message(CraFlag.ALERT, counter, self.entity_id, recipient, alerts.GENERIC_CRITICAL_ALERT, payload)\n"
               "        return self.sign(message)",
               "        message = Message(CraFlag.ALERT, counter, self.entity_id, recipient, alerts.GENERIC_CRITICAL_ALERT, payload)\n"
               "        return seal(message)"),),
           "alert_signature"),
    Mutant("alert-counter-not-increasing", FW,
           "each alert carries a fresh, increasing originator counter",
           (_h(COUNTERS, "    state.alert_counter += 1\n    return state.alert_counter",
               "    return state.alert_counter + 1"),),
           "alert_counters"),
    Mutant("malformed-raises-no-alert", FW,
           "a command failing its integrity checks raises 0x8F1E",
           (_h(REJECTIONS, "    Rejection(Reason.MALFORMED, 0x8F1E, True),", "    Rejection(Reason.MALFORMED, 0x8F1E, False),"),),
           "malformed_alert"),
    Mutant("device-silent-on-undecodable-frame", FW,
           "the device under test raises 0x8F1E for a frame it cannot decode (it stays silent; the hub's "
           "own alert hides this)",
           (_h(DEVICE, "        except GbcsDecodeError as err:\n            raise Rejected(Reason.MALFORMED, str(err)) from None",
               "        except GbcsDecodeError as err:\n            self.log(0, f\"undecodable: {err}\")\n            return []"),),
           "truncated_direct"),
    Mutant("hub-drops-undecodable-silently", FW,
           "the comms hub logs and alerts an undecodable frame (it drops it silently)",
           (_h(HUB, "            return self.chf.receive(frame)  # the CHF logs the integrity failure",
               "            return []"),),
           "truncated_hub"),
    # -- DCC side (rig.dcc) -------------------------------------------------------------------------
    Mutant("dcc-no-n26", DCC,
           "a completed change of supplier raises N26 to the losing supplier",
           (_h("rig/dcc/service.py", "        alert = dcc.raise_alert(\"cos_completed\",",
               "        alert = None and dcc.raise_alert(\"cos_completed\","),),
           "dcc_n26"),
    Mutant("dcc-no-n26-when-not-completed", DCC,
           "a 6.23 not completed raises N26 to the requesting user",
           (_h("rig/dcc/service.py", "    elif reading.result is not AttemptResult.SUCCESS:\n        alert = dcc.raise_alert(",
               "    elif reading.result is AttemptResult.LINK_LOST:\n        alert = dcc.raise_alert("),),
           "dcc_n26_not_completed"),
    Mutant("dcc-no-n65", DCC,
           "a device joining with TCoS credentials after the switch-over raises N65",
           (_h("rig/dcc/device_log.py", "    if held is None or held == dcc.parties.cos_party(dcc.config.current_cos_party):",
               "    if held is None or held in (dcc.parties.tcos, dcc.parties.ecos):"),),
           "dcc_n65"),
    Mutant("dcc-skips-mpxn-check", DCC,
           "a 6.23 whose ImportMPxN differs from the inventory is rejected (E062305)",
           (_h("rig/dcc/checks.py", "    if ctx.device.mpxn != ctx.request.import_mpxn:",
               "    if ctx.device.mpxn != ctx.request.import_mpxn and not ctx.request.import_mpxn:"),),
           "dcc_checks"),
    Mutant("dcc-skips-issuing-ca-check", DCC,
           "a 6.23 whose certificates' issuing CA is not included is rejected (G(i))",
           (_h("rig/dcc/checks.py", "        return {element: next((ca for ca in self.path if issued_by(cert, ca)), None)",
               "        return {element: next((ca for ca in self.path if issued_by(cert, ca)), self.path[0] if self.path else None)"),),
           "dcc_checks"),
    Mutant("dcc-counter-reuse-after-restart", DCC,
           "a counter is never reused: the next one is above the last used, durably",
           (_h("rig/dcc/inventory.py", "                current = max(row[\"last_used\"], row[\"floor\"]) if row else 0",
               "                current = row[\"floor\"] if row else 0"),),
           "dcc_counters"),
    Mutant("dcc-no-ecos-floor-at-migration", DCC,
           "every migration counter becomes a floor of the ECoS party's counter for the device",
           (_h("rig/dcc/migration.py", "        inventory.raise_floors(plan.ecos, [(job.device_id, counter) for job, counter in zip(jobs, counters, strict=True)])\n",
               "        pass\n"),),
           "dcc_ecos_floor"),
    Mutant("dcc-wrong-device", DCC,
           "the CS02b of a 6.23 is sent to the request's device (sent to its comms hub instead)",
           (_h("rig/dcc/service.py", "    frame, command = dcc.authorise(message)",
               "    frame, command = dcc.authorise(replace(message, recipient_id=device.comms_hub_id or message.recipient_id))"),),
           "dcc_recipient"),
    Mutant("dcc-trusts-unverified-answer", DCC,
           "an answer counts only when the device's key verifies it",
           (_h("rig/dcc/exchange.py", "    if not verify(frame.data, message):",
               "    if not verify(frame.data, message) and message.signature is None:"),),
           "dcc_unverified_answer"),
)

BY_NAME = {mutant.name: mutant for mutant in MUTANTS}


def by_name(name: str) -> Mutant:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown mutant {name!r} (see python -m tools.mutants --list)") from None
