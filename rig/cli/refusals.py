"""Why ``gbcs-rig replay``'s device refused a replacement certificate, and which option changes it.

A CS02b response (or a future-dated command's alert) only carries a status per cell
(badCertificate, noTrustAnchor...). A person replaying a captured command wants to know what
made the device say so and whether it is the command or the replay set-up: an expired
certificate at the chosen clock (``--at``, or ``--profile rtds`` whose devices check no times),
an issuer the device does not trust (``--trust-ca``), a cell this device type does not have
(``--device-type``), a profile that refuses the mode (``--profile``), or a certificate a
conforming meter refuses whatever the options.

This is the rig re-checking the refused certificate with the emulator's own path validation
(``firmware_emu.cpv``) against the device as the replay left it, so it names the first problem
found; the device's answer stays the status in the response.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from cryptography import x509

from firmware_emu import cpv
from firmware_emu.certificates import CertificateError, ParsedCertificate, parse_certificate
from firmware_emu.device import EmulatedDevice
from rig.gbcs import Cs02bCommand, Message
from rig.gbcs.modes import MODE_RULES
from rig.gbcs.payloads.cs02 import Replacement, ReplacementOutcome
from rig.gbcs.tables import KeyUsage, RemotePartyRole, StatusCode

#: x500UniqueIdentifier: the entity id in a GBCS subject name, shown as hex instead
_ENTITY_ID_OID = x509.ObjectIdentifier("2.5.4.45")

#: what nothing on the replay's command line changes: the command itself is at fault
NO_OPTION = "no option changes it: a conforming meter refuses this certificate"

#: path validation failures that lie in the certificates themselves
_CERTIFICATE_FAULTS = {
    cpv.CpvFailure.NO_ISSUING_CA: "it is issued by the root itself; GBCS organisation certificates come from an "
                                  "issuing CA",
    cpv.CpvFailure.NOT_A_CA: "a certificate of its chain that signs another is not a CA with keyCertSign "
                             "(or exceeds its path length)",
    cpv.CpvFailure.POLICY: "a certificate of its chain lacks critical certificatePolicies",
    cpv.CpvFailure.BAD_KEY: "a certificate of its chain has no P-256 public key",
}


@dataclass(frozen=True)
class Refusal:
    """One refused cell: the status the device gave, what the rig's re-check found, the fix."""

    cell: str
    status: str
    reason: str
    fix: str

    def __str__(self) -> str:
        return f"cell {self.cell} refused ({self.status}): {self.reason}; {self.fix}"

    def to_json(self) -> dict[str, str]:
        return {"cell": self.cell, "status": self.status, "reason": self.reason, "fix": self.fix}


def certificate_name(cert: ParsedCertificate) -> str:
    """What a person recognises: the entity id and common name of an organisation certificate
    (``90B3D51F30030000 CN=GITTESTSUPPLIER2``), the name of a CA (``CN=Z1,OU=07``)."""
    names = ",".join(a.rfc4514_string() for a in reversed(list(cert.certificate.subject))
                     if a.oid != _ENTITY_ID_OID)
    if any(cert.subject_id):
        return f"{cert.subject_id.hex().upper()} {names}".strip()
    return names or "(no subject name)"


def _anchor_names(device: EmulatedDevice) -> str:
    names = [certificate_name(a) for a in device.anchors()]
    return ", ".join(names) if names else "none (the root cell is empty)"


def _out_of_date(chain: list[ParsedCertificate], at: _dt.datetime) -> ParsedCertificate | None:
    return next((c for c in chain if not c.valid_at(at)), None)


def _status(status: int) -> str:
    return getattr(status, "name", None) or str(status)


def explain(device: EmulatedDevice, command: Message, answers: list[Message]) -> list[Refusal]:
    """One :class:`Refusal` per cell a response or alert in ``answers`` reports as not replaced."""
    payload = command.payload
    if not isinstance(payload, Cs02bCommand):
        return []
    refusals = []
    for answer in answers:
        outcome = getattr(answer.payload, "execution_outcome", None)
        for cell in outcome.outcomes if outcome is not None else ():
            if cell.status == StatusCode.SUCCESS:
                continue
            replacement = next((r for r in payload.replacements if r.target_cell == cell.cell), None)
            reason, fix = _why(device, payload, replacement, cell)
            refusals.append(Refusal(str(cell.cell), _status(cell.status), reason, fix))
    return refusals


def _why(device: EmulatedDevice, command: Cs02bCommand, replacement: Replacement | None,
         outcome: ReplacementOutcome) -> tuple[str, str]:
    """(what is wrong, what would change it), checks in the order a device makes them."""
    profile = device.profile
    if command.control.mode in profile.refuse_modes:
        return (f"profile {profile.name} models a meter that cannot process {command.control.mode.name}",
                "--profile default models one that can")
    if replacement is None:
        return "the command has no replacement for this cell", NO_OPTION
    target = replacement.target_cell
    if target not in device.state.cells:
        return (f"a {device.device_type.value} has no {target} cell",
                "--device-type of the device the command was meant for")
    if target.role not in MODE_RULES[command.control.mode].target_roles:
        return f"mode {command.control.mode.name} may not replace a {target.role.name.lower()} cell", NO_OPTION
    try:
        leaf = parse_certificate(replacement.certificate)
        path = [parse_certificate(der) for der in command.certification_path]
    except CertificateError as err:
        return f"a certificate of the command does not load ({err})", NO_OPTION
    at = device.now()
    time_checked = profile.reliable_time and not command.control.disapplies_time_checks
    stale = _out_of_date([leaf, *path], at) if time_checked else None
    if stale is not None:
        reason = (f"{certificate_name(stale)} is valid {stale.not_before.date()}..{stale.not_after.date()} and the "
                  f"device clock was {at.isoformat()} (profile {profile.name} checks validity; the command does not "
                  "disapply it)")
        if command.is_future_dated:  # the command sets the clock it is judged at
            return reason, (f"--profile rtds (the RTDS test devices check no times); --at cannot change it: the "
                            f"command runs at its execution time {command.execution_date_time.isoformat()}")
        return reason, "--at a time inside that period, or --profile rtds (the RTDS test devices check no times)"
    failure = cpv.validate(leaf, path, device.anchors(), None)
    if failure is cpv.CpvFailure.NO_CHAIN:
        return (f"its issuer {leaf.certificate.issuer.rfc4514_string()} does not chain to a trust anchor of the "
                f"device (anchors: {_anchor_names(device)})",
                "--trust-ca with the issuing CA's certificate (PEM)")
    if failure is cpv.CpvFailure.BAD_SIGNATURE:
        return (f"a signature of its chain does not verify under the device's trust anchors "
                f"({_anchor_names(device)}): a CA of the same name but another key?",
                "--trust-ca with the CA certificate that really issued it")
    if failure is not None:
        return _CERTIFICATE_FAULTS.get(failure, f"path validation fails ({failure.value})"), NO_OPTION
    if leaf.role != target.role:
        role = leaf.role.name.lower() if leaf.role is not None else "no"
        return f"the certificate has the {role} role, the cell is a {target.role.name.lower()} cell", NO_OPTION
    if target.role == RemotePartyRole.ROOT:
        wanted, fits = KeyUsage.KEY_CERT_SIGN, KeyUsage.KEY_CERT_SIGN in leaf.key_usage
    else:
        wanted, fits = target.key_usage, leaf.key_usage == target.key_usage
    if not fits:
        return f"the certificate's key usage is {leaf.key_usage!s}, the cell needs {wanted!s}", NO_OPTION
    return (f"the rig's re-check finds nothing wrong with the certificate, so the device's reason is its own "
            f"(status {_status(outcome.status)})", "see the device's events")
