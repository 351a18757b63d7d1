"""Power cuts during a CS02b: after any cut the device holds the old state or the new, never a mix,
and carries on.

GBCS needs a trust anchor store that survives losing power: a meter that writes its cells in
place can be left with half a certificate store; one that answers before saving reports a change
it forgets at the next power cut. The rig can cut power only where the device model runs in its
own process (its store has a fault hook at every write point, ``firmware_emu.store``): there the
device persists its state in the run folder, as ``gbcs-rig emulate`` does, and the rig kills and
restarts it. Over a link this is not applicable: the rig has no hand on the meter's supply.
"""

from __future__ import annotations

from firmware_emu.store import WRITE_POINTS, PowerCut
from rig.harness import NotApplicable, RigSession

from . import steps

NEEDS = "cutting the device's power at a persistence point needs the device model in the rig's process"


def _cut_at(point: str):
    def hook(reached: str) -> None:
        if reached == point:
            raise PowerCut(point)
    return hook


def _restart(rig: RigSession, what: str) -> None:
    """Power the device on again; one that cannot start from its own store fails the scenario."""
    try:
        rig.power_cycle()
    except Exception as err:  # a store left unreadable by the cut: the device does not come back
        rig.evidence.check(f"{what}: the device restarts from its store", f"{type(err).__name__}: {err}", "restarted")
    rig.evidence.note(f"{what}: restarted", "the device restarted from the state it persisted")


def power_cut_during_migration(rig: RigSession) -> None:
    """A migration CS02b answered SUCCESS survives a power cycle right after its response (read
    back: ECoS). Then, at each persistence point of the CS02b in turn, power is cut while the
    device handles it: restarted from its store, it reads back the TCoS (old) or ECoS (new) party,
    and still works: a fresh migration command is accepted (verified, SUCCESS) when it was old."""
    if not rig.in_process:
        raise NotApplicable(NEEDS)
    steps.ensure_state(rig, "tcos")
    steps.expect_accepted(rig, steps.seal_command(rig, steps.migration_command(rig), "tcos"),
                          what="migration before a power cycle")
    _restart(rig, "power cycle after the response")
    steps.expect_cos_holder(rig, "ecos")
    for point in WRITE_POINTS:
        rig.reset()
        steps.ensure_state(rig, "tcos")
        frame = steps.seal_command(rig, steps.migration_command(rig), "tcos")
        rig.device.store.fault_hook = _cut_at(point)
        try:
            rig.exchange(frame)
            cut = False
        except PowerCut:
            cut = True
        finally:
            rig.device.store.fault_hook = None
        rig.evidence.check(f"power cut at {point!r} while the device handled the CS02b", cut, True)
        _restart(rig, f"cut at {point}")
        holder = steps.cos_cell_holder(rig, record=f"CS02a after the cut at {point}")
        name = steps.party_name(rig, holder) if holder else None
        rig.evidence.check(f"cut at {point}: old or new transitionalCoS holder", name, "tcos or ecos",
                           ok=name in ("tcos", "ecos"))
        if name == "tcos":
            steps.expect_accepted(rig, steps.seal_command(rig, steps.migration_command(rig), "tcos"),
                                  what=f"cut at {point}: migration again")
            steps.expect_cos_holder(rig, "ecos")
