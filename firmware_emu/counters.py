"""The anti-replay rules the emulated device applies, and the only code that changes counters.

A device keeps one counter per remote party role (plus specialist counters, e.g. the
supplier's prepayment top-up counter) and its own alert counter. Every rule below is data with
its source: a GBCS reference where the text or the RTDS vectors settle it, "project reading"
where GBCS (as far as ``docs/reference/gbcs-cs02b.md`` could read it) is silent. Where it is
silent and a real meter might read it otherwise, ``ModelProfile.floor_rules`` switches between
the strict reading (the default) and the literal one (``"as-requested"``).

Nothing else in ``firmware_emu`` writes ``DeviceState.counters``, ``specialist_counters`` or
``alert_counter``; ``docs/emulator.md`` repeats the table for lab engineers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from rig.gbcs import AuthorisingControl, RemotePartyRole, SeqNumberChange
from rig.gbcs.tables import SeqNumberUsage

from .store import DeviceState

#: counters and floors are unsigned 64-bit (the grouping header's originator counter is 8 octets)
SEQ_MIN, SEQ_MAX = 0, 2**64 - 1
#: ``ModelProfile.floor_rules`` values
STRICT, AS_REQUESTED = "strict", "as-requested"
FLOOR_RULES = (STRICT, AS_REQUESTED)


@dataclass(frozen=True)
class CounterRule:
    key: str
    rule: str
    source: str


RULES: tuple[CounterRule, ...] = (
    CounterRule("fresh", "a command is accepted only when its originator counter is greater than the stored "
                "counter of its authorising role", "GBCS anti-replay; gbcs-cs02b.md section 8 step 4"),
    CounterRule("commit", "the authorising role's counter becomes the command's originator counter once every "
                "receipt check passed (future-dated commands too: at receipt)",
                "gbcs-cs02b.md section 8 step 6; section 9 (future dated: project reading)"),
    CounterRule("range", "[3] [4] [5] [6] values outside 0..2^64-1, [6] roles the device holds no trust anchor "
                "cell for and specialist usages other than prepaymentTopUp make the command malformed: it is "
                "discarded (0x8F1E) and nothing is stored", "project reading"),
    CounterRule("execution", "floors [4] [5] [6] are applied when the command executes (future-dated: at its "
                "execution time) and reported in remotePartySeqNumberChanges",
                "RTDS: the 0x8F66/0x8F67 alerts report them"),
    CounterRule("scope", "a floor is applied only to a role at least one of whose trust anchor cells this "
                "command replaced successfully; so never when every replacement failed, and never to a role "
                "the command did not touch ([6] naming TCoS in a supplier's command)", "project reading (strict)"),
    CounterRule("control", "a floor lowers a role's counter only when the command changed control of the role: "
                "its authorising cell (DS; KA for a role without a DS cell) now holds a different public key. "
                "Otherwise the counter becomes max(floor, stored): the same party keeps its sequence",
                "project reading (strict)"),
    CounterRule("history", "when a command changes control of a role, the displaced key's counter is kept; a key "
                "installed again resumes at no less than the counter it had, floor or not, so its old frames stay "
                "spent", "project reading (strict)"),
    CounterRule("own-frame", "the authorising role's counter never goes below the originator counter of the "
                "frame carrying the floor, so that frame cannot be accepted again", "project reading (strict)"),
    CounterRule("as-requested", "profile floor_rules='as-requested': every [4] [5] [6] value is written as given "
                "whenever the command executes (the earlier emulator; reopens replay windows, for modelling "
                "meters that read GBCS that way)", "GBCS literal reading of 'floor'"),
    CounterRule("alert", "the device's alert counter increases by one for every alert it originates",
                "RTDS: alerts 2000, 2001, 2002"),
)


def stored(state: DeviceState, role: int) -> int:
    return state.counters.get(int(role), 0)


def is_fresh(state: DeviceState, role: int, counter: int) -> bool:
    """Rule ``fresh``."""
    return counter > stored(state, role)


def commit(state: DeviceState, role: int, counter: int) -> None:
    """Rule ``commit``: only after ``is_fresh``; a counter never moves backwards here."""
    if not SEQ_MIN <= counter <= SEQ_MAX or not is_fresh(state, role, counter):
        raise ValueError(f"counter {counter} cannot be committed for role {int(role)}")
    state.counters[int(role)] = counter


def next_alert_counter(state: DeviceState) -> int:
    """Rule ``alert``."""
    state.alert_counter += 1
    return state.alert_counter


def _in_range(value: object) -> bool:
    return isinstance(value, int) and SEQ_MIN <= value <= SEQ_MAX


def _specialists_problem(specialists, where: str) -> str | None:
    for specialist in specialists or ():
        if int(specialist.usage) not in SeqNumberUsage._value2member_map_:
            return f"{where}: unknown specialist counter usage {int(specialist.usage)}"
        if not _in_range(specialist.seq_number):
            return f"{where}: specialist floor {specialist.seq_number} outside 0..2^64-1"
    return None


def control_problem(control: AuthorisingControl, held_roles: Collection[int]) -> str | None:
    """Rule ``range``: why the command's counter fields are unacceptable, or None."""
    if not _in_range(control.seq_number):
        return f"[3] {control.seq_number} outside 0..2^64-1"
    if control.new_floor_seq_number is not None and not _in_range(control.new_floor_seq_number):
        return f"[4] {control.new_floor_seq_number} outside 0..2^64-1"
    problem = _specialists_problem(control.new_specialist_floor_seq_numbers, "[5]")
    if problem:
        return problem
    for change in control.other_seq_number_changes or ():
        if int(change.role) not in held_roles:
            return f"[6] role {int(change.role)} has no trust anchor cell on this device"
        if not _in_range(change.floor_seq_number):
            return f"[6] floor {change.floor_seq_number} for role {int(change.role)} outside 0..2^64-1"
        problem = _specialists_problem(change.specialist_floor_seq_numbers, f"[6] role {int(change.role)}")
        if problem:
            return problem
    return None


def requested(control: AuthorisingControl, authorising_role: int) -> tuple[SeqNumberChange, ...]:
    """The command's floors in response order: [4]/[5] as the authorising role's entry, then [6]."""
    changes: list[SeqNumberChange] = []
    if control.new_floor_seq_number is not None:
        changes.append(SeqNumberChange(RemotePartyRole(authorising_role), control.new_floor_seq_number,
                                       control.new_specialist_floor_seq_numbers))
    changes.extend(control.other_seq_number_changes or ())
    return tuple(changes)


def _key(role: int, key_id: bytes, usage: int | None = None) -> str:
    name = f"{int(role)}/{bytes(key_id).hex()}"
    return name if usage is None else f"{name}/{int(usage)}"


def change_control(state: DeviceState, role: int, old_key_id: bytes | None, new_key_id: bytes) -> None:
    """Rule ``history``: keep the displaced key's counters (the role's and its specialist
    counters); a returning key resumes at no less than its own."""
    role = int(role)
    specialist = [usage for (r, usage) in state.specialist_counters if r == role]
    if old_key_id is not None:
        for name, value in [(_key(role, old_key_id), stored(state, role))] + [
                (_key(role, old_key_id, u), state.specialist_counters[(role, u)]) for u in specialist]:
            state.retired_counters[name] = max(state.retired_counters.get(name, 0), value)
    returning = state.retired_counters.get(_key(role, new_key_id), 0)
    if returning > stored(state, role):
        state.counters[role] = returning
    for name, value in state.retired_counters.items():
        prefix = _key(role, new_key_id) + "/"
        if name.startswith(prefix):
            usage = int(name[len(prefix):])
            if value > state.specialist_counters.get((role, usage), 0):
                state.specialist_counters[(role, usage)] = value


def apply_floors(state: DeviceState, changes: Iterable[SeqNumberChange], *, rules: str, authorising_role: int,
                 frame_counter: int, replaced: Mapping[int, bytes | None]) -> tuple[SeqNumberChange, ...]:
    """Apply the floors the rules allow; return the changes applied (as requested, RTDS form).

    ``replaced`` maps each role with at least one cell replaced successfully to the key id of
    its new control key when the command changed control of it (``change_control`` ran), or
    None when it did not (rule ``control``).
    """
    applied = []
    for change in changes:
        role = int(change.role)
        specialists = change.specialist_floor_seq_numbers or ()
        if rules == AS_REQUESTED:
            state.counters[role] = change.floor_seq_number
            for s in specialists:
                state.specialist_counters[(role, int(s.usage))] = s.seq_number
            applied.append(change)
            continue
        if role not in replaced:  # rule scope
            continue
        new_key = replaced[role]
        if new_key is not None:  # rules control and history: down to the floor, not below the key's own past
            value = max(change.floor_seq_number, state.retired_counters.get(_key(role, new_key), 0))
        else:
            value = max(change.floor_seq_number, stored(state, role))
        if role == int(authorising_role):  # rule own-frame
            value = max(value, frame_counter)
        state.counters[role] = value
        for s in specialists:
            usage = int(s.usage)
            if new_key is not None:
                lowest = state.retired_counters.get(_key(role, new_key, usage), 0)
            else:
                lowest = state.specialist_counters.get((role, usage), 0)
            state.specialist_counters[(role, usage)] = max(s.seq_number, lowest)
        applied.append(change)
    return tuple(applied)
