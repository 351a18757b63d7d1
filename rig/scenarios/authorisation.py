"""Who may replace which cell: the old holder refused, the new one accepted; authorisation per mode.

GBCS authorises a CS02b by the mode's own role: the authorising cell must be that role's DS cell,
the originator its subject, the signature its key's; and a mode replaces only the roles it
targets (``rig.gbcs.modes.MODE_RULES``). A meter that lets any authorised party replace any cell,
or keeps honouring a certificate a replacement superseded, undoes what migration and change of
supplier are for. Every probe here is a command a conforming device refuses without changing
anything, so the scenarios run on hardware as they do on an emulated device: the read-backs
are CS02a, the positive steps verified responses whose every cell status is SUCCESS.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_emu.device_types import CELLS, DeviceType
from rig.crypto import Usage
from rig.gbcs import CellUsage, KeyUsage, RemotePartyRole, StatusCode, TrustAnchorCellId
from rig.gbcs import build as b
from rig.gbcs.modes import MODE_RULES, Variant
from rig.gbcs.tables import ReplacementMode
from rig.harness import Inconclusive, RigSession

from . import steps
from .steps import TCOS, der

R = RemotePartyRole
#: the alert GBCS defines for a command its authorising cell does not authorise
NOT_AUTHORISED_ALERT = 0x8F30


def _device_cells(rig: RigSession) -> tuple[TrustAnchorCellId, ...]:
    return CELLS[DeviceType.parse(rig.device_type)]


def supplier_replacements(rig: RigSession, label: str):
    """The three supplier cells, with ``label``'s certificates."""
    def cert(usage: Usage) -> bytes:
        return der(rig.pki.credential(label, usage).certificate)
    return [b.replacement(cert(Usage.DS), R.SUPPLIER, KeyUsage.DIGITAL_SIGNATURE),
            b.replacement(cert(Usage.KA), R.SUPPLIER, KeyUsage.KEY_AGREEMENT),
            b.replacement(cert(Usage.PP_KA), R.SUPPLIER, KeyUsage.KEY_AGREEMENT, CellUsage.PREPAYMENT_TOP_UP)]


def cos_replacement(rig: RigSession, label: str):
    return [b.replacement(der(rig.pki.credential(label, Usage.DS).certificate), TCOS, KeyUsage.DIGITAL_SIGNATURE)]


def command(rig: RigSession, mode: ReplacementMode, signer: str, replacements, *, authorising_role: R | None = None):
    """A CS02b for ``mode`` signed by ``signer`` (authorised by ``authorising_role``'s DS cell, by
    default the mode's own), sealed with the ACB MAC as the DSP would."""
    kwargs = {} if authorising_role is None else {"authorising_cell": b.ds_cell(authorising_role)}
    message = b.cs02b_command(mode=mode, originator_id=rig.pki.entity(signer), recipient_id=rig.device_id,
                              counter=steps.next_counter(rig, signer), replacements=replacements,
                              certification_path=[der(rig.pki.issuing_ca.certificate)], **kwargs)
    return steps.seal_command(rig, message, signer)


def holders(rig: RigSession) -> tuple[str | None, list[str]]:
    holder = steps.cos_cell_holder(rig)
    return (steps.party_name(rig, holder) if holder else None), steps.supplier_cell_holders(rig)


def expect_refused(rig: RigSession, frame: bytes, *, what: str, before) -> None:
    """Discarded with 0x8F30 from the device under test; both CoS and supplier cells unchanged."""
    steps.expect_discarded(rig, frame, NOT_AUTHORISED_ALERT, what=what)
    rig.evidence.check(f"{what}: cells read back unchanged", holders(rig), before)


# -- the old holder refused, the new one accepted -----------------------------------------------


def old_holder_after_migration(rig: RigSession) -> None:
    """After migration the TCoS party is refused on the cell the migration replaced, in every mode
    that cell authorises (transCoSByTransCoS, supplierByTransCoS): discarded with 0x8F30, cells
    unchanged by read-back. The ECoS party is accepted: a verified response, every cell SUCCESS."""
    steps.ensure_state(rig, "ecos")
    before = holders(rig)
    rig.evidence.check("transitionalCoS cell after migration", before[0], "ecos")
    back = command(rig, ReplacementMode.TRANS_COS_BY_TRANS_COS, "tcos", cos_replacement(rig, "tcos"))
    expect_refused(rig, back, what="TCoS-signed transCoSByTransCoS after migration", before=before)
    cos = command(rig, ReplacementMode.SUPPLIER_BY_TRANS_COS, "tcos", supplier_replacements(rig, rig.GAINING))
    expect_refused(rig, cos, what="TCoS-signed supplierByTransCoS after migration", before=before)
    steps.expect_accepted(rig, command(rig, ReplacementMode.SUPPLIER_BY_TRANS_COS, "ecos",
                                       supplier_replacements(rig, rig.GAINING)), what="ECoS-signed supplierByTransCoS")
    rig.evidence.check("cells read back after the ECoS command", holders(rig), ("ecos", [rig.GAINING] * 3))


def old_holder_after_change_of_supplier(rig: RigSession) -> None:
    """After a change of supplier the losing supplier is refused on every supplier cell the change
    replaced (supplierBySupplier signed by it: 0x8F30, cells unchanged by read-back); the gaining
    supplier is accepted (a verified response, every cell SUCCESS)."""
    steps.ensure_state(rig, "ecos")
    if steps.supplier_cell_holders(rig) != [rig.GAINING] * 3:
        outcome = rig.dcc.submit_623(steps.cos_request(rig), rig.transport)
        steps.require_service_answer(rig, outcome, "set-up change of supplier")
        rig.evidence.check("set-up change of supplier: cell statuses",
                           [s.split("=")[-1] for s in outcome.statuses], ["SUCCESS"] * 3)
    before = holders(rig)
    rig.evidence.check("supplier cells after the change of supplier", before[1], [rig.GAINING] * 3)
    losing = command(rig, ReplacementMode.SUPPLIER_BY_SUPPLIER, rig.INCUMBENT, supplier_replacements(rig, rig.INCUMBENT))
    expect_refused(rig, losing, what="losing supplier's supplierBySupplier", before=before)
    steps.expect_accepted(rig, command(rig, ReplacementMode.SUPPLIER_BY_SUPPLIER, rig.GAINING,
                                       supplier_replacements(rig, rig.GAINING)),
                          what="gaining supplier's supplierBySupplier")
    rig.evidence.check("cells read back after the gaining supplier's command", holders(rig), before)


# -- authorisation per mode ----------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    mode: ReplacementMode
    signer: str
    authorising_role: R
    target: str  # "supplier" or "cos": which cells, with a certificate a read-back would show


#: the holder of each role's DS cell on a factory-fresh (pre-migration) device, by PKI label
FACTORY_HOLDERS = {R.SUPPLIER: "supplier_a", R.TRANSITIONAL_COS: "tcos", R.NETWORK_OPERATOR: "network_operator",
                   R.RECOVERY: "recovery", R.WAN_PROVIDER: "wan_provider"}
#: the two parties the rig moves a role's cells between, so a replacement always shows in a read-back
ALTERNATIVES = {R.SUPPLIER: ("supplier_a", "supplier_b"), R.TRANSITIONAL_COS: ("tcos", "ecos")}


@dataclass(frozen=True)
class Holders:
    """Who holds the DS cell of each role the probes use, read back from the device (a device
    that is not reset between scenarios has moved on from its factory state)."""

    cos: str | None
    suppliers: list[str]

    def of(self, role: R) -> str:
        if role == R.SUPPLIER:
            return self.suppliers[0] if self.suppliers else FACTORY_HOLDERS[role]
        if role == R.TRANSITIONAL_COS:
            return self.cos or FACTORY_HOLDERS[role]
        return FACTORY_HOLDERS[role]

    def other(self, role: R) -> str:
        """The party of ``role`` that does not hold its cells now."""
        first, second = ALTERNATIVES[role]
        return second if self.of(role) == first else first


def _signed_modes(rig: RigSession) -> list[ReplacementMode]:
    """Modes a device of this type can be sent signed: its authorising role has a DS cell here."""
    cells = set(_device_cells(rig))
    return [mode for mode, rule in MODE_RULES.items()
            if rule.authorising_role in FACTORY_HOLDERS and rule.variant is not Variant.MAC_ONLY
            and b.ds_cell(rule.authorising_role) in cells]


def _has_party(rig: RigSession, label: str) -> bool:
    return label in rig.pki.parties and (rig.pki.entity(label), Usage.DS) in rig.pki.credentials


def wrong_authoriser_probes(rig: RigSession, now: Holders) -> list[Probe]:
    """Per mode: signed by the holder of another role's DS cell, named as the authorising cell (the
    supplier for a CoS mode, the CoS party for the others): only the mode's authorisation is wrong."""
    probes = []
    for mode in _signed_modes(rig):
        rule = MODE_RULES[mode]
        other = R.TRANSITIONAL_COS if rule.authorising_role == R.SUPPLIER else R.SUPPLIER
        target = "cos" if R.TRANSITIONAL_COS in rule.target_roles else "supplier"
        if _has_party(rig, now.of(other)):
            probes.append(Probe(mode, now.of(other), other, target))
    return probes


def wrong_target_probes(rig: RigSession, now: Holders) -> list[Probe]:
    """Per mode: signed by the holder of the mode's own authorising cell, replacing cells of a role
    the mode does not target (the supplier's cells, or the transitionalCoS cell for a mode that
    targets suppliers)."""
    probes = []
    for mode in _signed_modes(rig):
        rule = MODE_RULES[mode]
        target = "cos" if R.SUPPLIER in rule.target_roles else "supplier"
        if target == "cos" and R.TRANSITIONAL_COS in rule.target_roles:
            continue  # the mode targets both (recovery, contingency): nothing of ours is outside it
        signer = now.of(rule.authorising_role)
        if _has_party(rig, signer):
            probes.append(Probe(mode, signer, rule.authorising_role, target))
    return probes


def _replacements(rig: RigSession, target: str, now: Holders):
    """Certificates of the party that does not hold the target cells now (a change would show)."""
    if target == "supplier":
        return supplier_replacements(rig, now.other(R.SUPPLIER))
    return cos_replacement(rig, now.other(R.TRANSITIONAL_COS))


def mode_authorisation(rig: RigSession) -> None:
    """For every mode a device of this type can be sent signed: a command authorised by another
    role's cell (and signed by that role's party) is discarded with 0x8F30, and the cells read back
    unchanged. Afterwards a genuine command is accepted (verified response, every cell SUCCESS)."""
    steps.ensure_state(rig, "tcos")
    before = holders(rig)
    now = Holders(*before)
    probes = wrong_authoriser_probes(rig, now)
    if not probes:
        raise Inconclusive("set-up: the rig's PKI holds no party to sign a wrongly authorised probe")
    rig.evidence.note("probes", ", ".join(f"{p.mode.name} by {p.signer} ({p.authorising_role.name} cell)"
                                          for p in probes))
    for probe in probes:
        frame = command(rig, probe.mode, probe.signer, _replacements(rig, probe.target, now),
                        authorising_role=probe.authorising_role)
        expect_refused(rig, frame, what=f"{probe.mode.name} authorised by {probe.authorising_role.name}", before=before)
    message, signer = steps.change_of_supplier_command(rig)
    steps.expect_accepted(rig, steps.seal_command(rig, message, signer), what="genuine command afterwards")


def mode_target_roles(rig: RigSession) -> None:
    """For every mode a device of this type can be sent signed, correctly authorised: a replacement
    of a cell whose role the mode does not target is answered, verified, with that cell's status
    notAuthorized (11), and the cells read back unchanged."""
    steps.ensure_state(rig, "tcos")
    before = holders(rig)
    now = Holders(*before)
    probes = wrong_target_probes(rig, now)
    if not probes:
        raise Inconclusive("set-up: the rig's PKI holds no party to sign a mode's own command")
    rig.evidence.note("probes", ", ".join(f"{p.mode.name} replacing {p.target}" for p in probes))
    for probe in probes:
        what = f"{probe.mode.name} replacing the {probe.target} cells"
        replacements = _replacements(rig, probe.target, now)
        statuses = steps.expect_answered(rig, command(rig, probe.mode, probe.signer, replacements), what=what)
        rig.evidence.check(f"{what}: cell statuses", statuses, [StatusCode.NOT_AUTHORIZED.name] * len(replacements))
        rig.evidence.check(f"{what}: cells read back unchanged", holders(rig), before)
