"""Re-signed payload fuzzing of the emulated meter: the issue-10 attack as a repeatable campaign.

Commands a test house would send (migration, change of supplier, supplier by supplier,
recovery, read-backs, future-dated and cancellation commands) are mutated field by field at the
typed level (counters, floors [4] [5] [6], roles, replacement certificates including ones
``cryptography`` cannot load, paths, execution times, security header values), then signed and
MACed again with the test PKI so they pass the crypto and reach the device's logic. Between
commands the clock moves, ``poll`` runs, frames are replayed and the device restarts from its
state folder. After every step the invariants are checked:

* no exception escapes ``receive`` or ``poll``;
* a rejected command (no response) leaves the trust state (cells, counters, pending commands)
  identical in memory and on disk;
* no frame is accepted twice;
* no counter ever decreases, except by a floor the device reported applying for a role whose
  control (authorising cell key) that step changed (``firmware_emu.counters``).

``pytest`` runs a bounded, seeded share of it (``tests/fuzz``); a long campaign is::

    python tools/fuzz_emulator.py --count 1000000 --seed 1

which prints its counts and exits 1 when an invariant failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout: the project root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from firmware_emu import EmulatedDevice, ManualClock
from firmware_emu.store import STATE_FILE
from rig.crypto import Usage, seal
from rig.crypto.certs import key_id_method2
from rig.gbcs import (
    CraFlag,
    Cs02bAlert,
    Cs02bResponse,
    GbcsEncodeError,
    KeyUsage,
    MacHeader,
    Message,
    RemotePartyRole,
    Replacement,
    SeqNumberChange,
    SpecialistSeqNumber,
    TrustAnchorCellId,
    decode,
)
from rig.gbcs import build as b
from rig.pki import Pki
from rig.pki import profiles as pki_profiles
from rig.provision import create_device, default_pki

UTC = dt.UTC
START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
R = RemotePartyRole
DS, KA = KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_AGREEMENT
TRUST_KEYS = ("cells", "counters", "specialist_counters", "pending")
#: values a test house tries for counters and floors
EDGES = (0, 1, 2, 1000, 2**31, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -1, -(2**63))
ROLES = (-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 42, 127)
POISONS = (
    (bytes.fromhex("a003020102"), bytes.fromhex("a003020105")),  # X.509 version -> InvalidVersion
    (bytes.fromhex("06082a8648ce3d030107"), bytes.fromhex("06082a8648ce3d030163")),  # curve -> UnsupportedAlgorithm
    (bytes.fromhex("06072a8648ce3d0201"), bytes.fromhex("06072a8648ce3d0263")),  # key type -> UnsupportedAlgorithm
)


def _der(cert) -> bytes:
    return cert.public_bytes(Encoding.DER)


class Violation(AssertionError):
    """An invariant of the emulated meter did not hold."""


@dataclass
class Material:
    """Keys and certificates of the fixture PKI, and the attack's certificate pool."""

    pki: Pki
    certificates: list[bytes] = field(default_factory=list)
    paths: list[list[bytes]] = field(default_factory=list)

    @classmethod
    def load(cls, pki: Pki | None = None) -> Material:
        pki = pki or default_pki()
        material = cls(pki)
        valid = [_der(c.certificate) for c in pki.credentials.values()]
        variants = [_der(c.certificate) for c in pki.variants.values()]
        poisoned = [der.replace(old, new, 1) for der in valid[:6] for old, new in POISONS if old in der]
        material.certificates = valid + variants + poisoned + [material.root_signed(), b"\x30\x03\x02\x01\x00"]
        issuing, root = _der(pki.issuing_ca.certificate), _der(pki.root.certificate)
        unknown = _der(pki.unknown_ca.certificate) if pki.unknown_ca else issuing
        material.paths = [[issuing], [], [root], [unknown], [issuing, issuing], [unknown, issuing],
                          [issuing.replace(old, new, 1) for old, new in POISONS[:1]], [root, issuing]]
        return material

    def root_signed(self) -> bytes:
        supplier = self.pki.credential("supplier_b", Usage.DS)
        root = self.pki.root
        issuer = pki_profiles.Issuer(root.certificate.subject, root.private_key,
                                     key_id_method2(root.private_key.public_key()))
        spec = self.pki.parties["supplier_b"]
        return _der(pki_profiles.organisation_certificate(
            supplier.private_key.public_key(), issuer, entity_id=spec.entity_id, role=int(spec.role), key_usage=DS,
            serial=0x5EED_0002, not_before=dt.datetime(2020, 1, 1, tzinfo=UTC),
            not_after=dt.datetime(2040, 1, 1, tzinfo=UTC)))

    def key(self, label: str, usage: Usage = Usage.DS) -> ec.EllipticCurvePrivateKey:
        return self.pki.credential(label, usage).private_key

    def cert(self, label: str, usage: Usage = Usage.DS) -> bytes:
        return _der(self.pki.credential(label, usage).certificate)


#: (label of the originator, mode or None for CS02a, authorising role) of the base commands
TEMPLATES = (("tcos", 6), ("tcos", 7), ("ecos", 7), ("ecos", 6), ("supplier_a", 2), ("supplier_b", 2),
             ("recovery", 8), ("network_operator", 3), ("tcos", None), ("supplier_a", None))
SIGNERS = ("tcos", "ecos", "supplier_a", "supplier_b", "recovery", "network_operator", "acb")


class Campaign:
    """One emulated ESME under attack; ``step`` sends one input and checks the invariants."""

    def __init__(self, material: Material, rng: random.Random, state_dir: Path | None = None):
        self.material = material
        self.rng = rng
        self.state_dir = state_dir
        self.clock = ManualClock(START)
        self.device = self._device()
        self.accepted: set[bytes] = set()
        self.sent: list[bytes] = []
        self.counter = 10_000
        self.counts: Counter[str] = Counter()

    def _device(self) -> EmulatedDevice:
        return create_device("ESME", pki=self.material.pki, clock=self.clock, state_dir=self.state_dir)

    # -- building inputs ----------------------------------------------------------------------
    def _counter(self) -> int:
        rng = self.rng
        if rng.random() < 0.8:
            self.counter += rng.randint(1, 3)
            return self.counter
        return rng.choice((*EDGES[:8], self.counter, self.counter - 1))  # the header holds 0..2^64-1

    def _seq(self) -> int:
        return self.rng.choice(EDGES) if self.rng.random() < 0.6 else self.rng.randint(0, self.counter + 10)

    def _cell(self) -> TrustAnchorCellId:
        rng = self.rng
        if rng.random() < 0.85:
            return rng.choice(list(self.device.state.cells))
        return TrustAnchorCellId(R(rng.choice(ROLES)), rng.choice((DS, KA, KeyUsage.KEY_CERT_SIGN)),
                                 rng.choice((0, 1)))

    def _changes(self) -> tuple[SeqNumberChange, ...]:
        rng = self.rng
        return tuple(SeqNumberChange(R(rng.choice(ROLES)), self._seq(), self._specialists())
                     for _ in range(rng.randint(0, 3)))

    def _specialists(self):
        rng = self.rng
        if rng.random() < 0.5:
            return None
        return tuple(SpecialistSeqNumber(rng.choice((0, 0, 0, 1, -1)), self._seq()) for _ in range(rng.randint(0, 2)))

    def _replacements(self, label: str, mode: int) -> list[Replacement]:
        rng = self.rng
        m = self.material
        if mode in (6,):
            base = [b.replacement(m.cert(rng.choice(("ecos", "tcos"))), R.TRANSITIONAL_COS, DS)]
        elif mode == 3:
            base = [b.replacement(m.cert("network_operator"), R.NETWORK_OPERATOR, DS)]
        else:
            party = rng.choice(("supplier_b", "supplier_a"))
            base = [b.replacement(m.cert(party), R.SUPPLIER, DS), b.replacement(m.cert(party, Usage.KA), R.SUPPLIER, KA),
                    b.replacement(m.cert(party, Usage.PP_KA), R.SUPPLIER, KA, 1)]
        for _ in range(rng.choice((0, 0, 1, 2))):
            kind = rng.randrange(4)
            if kind == 0 and base:
                index = rng.randrange(len(base))
                base[index] = replace(base[index], certificate=rng.choice(m.certificates))
            elif kind == 1 and base:
                index = rng.randrange(len(base))
                base[index] = replace(base[index], target_cell=self._cell())
            elif kind == 2:
                base.append(Replacement(rng.choice(m.certificates), self._cell()))
            elif base:
                del base[rng.randrange(len(base))]
        return base

    def _when(self) -> dt.datetime | None:
        rng = self.rng
        choice = rng.randrange(10)
        now = self.clock.now().replace(microsecond=0)
        if choice < 6:
            return None
        if choice == 6:
            return b.CANCELLATION_TIME
        if choice == 7:
            return now - dt.timedelta(days=1)
        return now + dt.timedelta(hours=rng.randint(1, 72))

    def command(self) -> tuple[bytes, str]:
        """A mutated, re-signed and re-MACed command; returns (frame, template name)."""
        rng = self.rng
        m = self.material
        label, mode = rng.choice(TEMPLATES)
        counter = self._counter()
        originator = m.pki.entity(label)
        if mode is None:
            role = m.pki.parties[label].role
            message = b.cs02a_command(originator_id=originator, recipient_id=self.device.entity_id, counter=counter,
                                      authorising_cell=b.ds_cell(role), roles=[rng.choice(ROLES[1:9])], macd=False)
        else:
            changes = {}
            if rng.random() < 0.5:
                changes["new_floor"] = self._seq()
                if rng.random() < 0.3:
                    changes["new_specialist_floors"] = self._specialists()
            if rng.random() < 0.6:
                changes["other_changes"] = self._changes() or None
            message = b.cs02b_command(mode=mode, originator_id=originator, recipient_id=self.device.entity_id,
                                      counter=counter, replacements=self._replacements(label, mode),
                                      certification_path=rng.choice(m.paths) if rng.random() < 0.3 else m.paths[0],
                                      execution_time=self._when(), disapply_time_checks=rng.random() < 0.7,
                                      **changes)
            if rng.random() < 0.05:
                control = replace(message.payload.control, seq_number=self._seq())
                message = replace(message, payload=replace(message.payload, control=control))
            if rng.random() < 0.03:
                control = replace(message.payload.control, authorising_cell=self._cell())
                message = replace(message, payload=replace(message.payload, control=control))
        if message.mac_header is not None and rng.random() < 0.03:
            message = replace(message, mac_header=MacHeader(rng.choice((0x10, 0x11, 0x31)), rng.choice((0, 0, 1))))
        signer = label if rng.random() < 0.95 else rng.choice(SIGNERS)
        return self.seal(message, signer), f"mode-{mode}" if mode is not None else "cs02a"

    def seal(self, message: Message, signer: str) -> bytes:
        macd = message.mac_header is not None
        return seal(message, signer=self.material.key(signer),
                    mac_private_key=self.material.key("acb", Usage.KA) if macd else None,
                    mac_peer=self.device.identity.ka_key.public_key() if macd else None)

    # -- the invariants ---------------------------------------------------------------------------
    def _trust(self) -> dict:
        document = self.device.state.to_json()
        return {k: document[k] for k in TRUST_KEYS}

    def _disk(self) -> dict | None:
        if self.state_dir is None:
            return None
        document = json.loads((self.state_dir / STATE_FILE).read_text())
        return {k: document[k] for k in TRUST_KEYS}

    def _control_keys(self) -> dict[int, bytes | None]:
        keys = {}
        for cell in self.device.state.cells:
            if cell.cell_usage == 0 and cell.key_usage in (DS, KA):
                ds = TrustAnchorCellId(cell.role, DS)
                control = ds if ds in self.device.state.cells else TrustAnchorCellId(cell.role, KA)
                keys[int(cell.role)] = self.device.state.cells.get(control)
        return keys

    def _call(self, what: str, function, *args) -> list[bytes]:
        try:
            return function(*args)
        except Exception as err:
            raise Violation(f"{what} raised {type(err).__name__}: {err}\n{traceback.format_exc()}") from None

    def _check_counters(self, before: dict, keys_before: dict, outcomes: list) -> None:
        reported: dict[tuple, set[int]] = {}
        for outcome in outcomes:
            for change in outcome.seq_number_changes:
                reported.setdefault(("c", int(change.role)), set()).add(change.floor_seq_number)
                for s in change.specialist_floor_seq_numbers or ():
                    reported.setdefault(("s", f"{int(change.role)}/{int(s.usage)}"), set()).add(s.seq_number)
        keys_after = self._control_keys()
        after = self.device.state.to_json()
        for kind, table in (("c", "counters"), ("s", "specialist_counters")):
            for name, old in before[table].items():
                new = after[table].get(name, 0)
                if new >= old:
                    continue
                role = int(str(name).split("/")[0])
                changed = keys_before.get(role) != keys_after.get(role)
                floors = reported.get((kind, int(name) if kind == "c" else name), set())
                # a floor may land higher than asked (rules own-frame, history), never lower
                if not changed or not any(floor <= new for floor in floors):
                    raise Violation(f"{table}[{name}] decreased {old} -> {new} without a floor rule "
                                    f"(control changed: {changed})")

    def deliver(self, frame: bytes, what: str) -> bool:
        """Send ``frame``; check the invariants; True when the device answered (accepted)."""
        before, disk_before = self.device.state.to_json(), self._disk()
        trust_before, keys_before = self._trust(), self._control_keys()
        out = self._call("receive", self.device.receive, frame)
        messages = [decode(f) for f in out]
        responses = [m for m in messages if m.cra_flag == CraFlag.RESPONSE]
        self.counts[f"{what}:{'accepted' if responses else 'rejected'}"] += 1
        if responses:
            if frame in self.accepted:
                raise Violation(f"frame accepted twice: {frame.hex()}")
            self.accepted.add(frame)
            outcomes = [m.payload.execution_outcome for m in responses
                        if isinstance(m.payload, Cs02bResponse) and m.payload.execution_outcome is not None]
            self._check_counters(before, keys_before, outcomes)
        else:
            if self._trust() != trust_before:
                raise Violation(f"a rejected {what} changed the trust state in memory")
            if self._disk() != disk_before:
                raise Violation(f"a rejected {what} changed the trust state on disk")
        self.sent.append(frame)
        return bool(responses)

    def tick(self) -> None:
        self.clock.advance(dt.timedelta(hours=self.rng.choice((1, 6, 24, 48))))
        before, keys_before = self.device.state.to_json(), self._control_keys()
        out = [decode(f) for f in self._call("poll", self.device.poll)]
        alerts = [m.payload for m in out if isinstance(m.payload, Cs02bAlert)]
        self.counts["polls"] += 1
        self.counts["alerts"] += len(alerts)
        self._check_counters(before, keys_before, [a.execution_outcome for a in alerts])

    def restart(self) -> None:
        if self.state_dir is None:
            return
        trust = self._trust()
        try:
            self.device = self._device()
        except Exception as err:
            raise Violation(f"restart from disk failed: {type(err).__name__}: {err}") from None
        if self._trust() != trust:
            raise Violation("restart changed the trust state")
        self.counts["restarts"] += 1

    def step(self) -> None:
        rng = self.rng
        choice = rng.random()
        if choice < 0.12 and self.sent:
            self.deliver(rng.choice(self.sent[-50:]), "replay")
        elif choice < 0.22:
            self.tick()
        elif choice < 0.25:
            self.restart()
        else:
            try:
                frame, what = self.command()
            except GbcsEncodeError:  # a value no frame can carry (the codec refuses it): not an input
                self.counts["unencodable"] += 1
            else:
                self.deliver(frame, what)
        self.counts["steps"] += 1


def run(count: int, seed: int, *, per_device: int = 300, persist: bool = True,
        material: Material | None = None) -> Counter[str]:
    """``count`` steps over fresh devices of ``per_device`` steps each; raises ``Violation``."""
    material = material or Material.load()
    rng = random.Random(seed)
    totals: Counter[str] = Counter()
    done = 0
    with tempfile.TemporaryDirectory(prefix="gbcs-fuzz-") as folder:
        while done < count:
            state_dir = Path(folder) / f"device-{done}" if persist else None
            campaign = Campaign(material, random.Random(rng.getrandbits(64)), state_dir)
            for _ in range(min(per_device, count - done)):
                campaign.step()
                done += 1
            totals.update(campaign.counts)
            totals["devices"] += 1
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="inputs to send (default 10000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-device", type=int, default=300, help="inputs per fresh device (default 300)")
    parser.add_argument("--in-memory", action="store_true", help="no state folder (faster; no disk invariant)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        totals = run(args.count, args.seed, per_device=args.per_device, persist=not args.in_memory)
        failure = None
    except Violation as err:
        totals, failure = Counter(), err
    for key, value in sorted(totals.items()):
        print(f"{key:24} {value}")
    print(f"{'seconds':24} {time.monotonic() - started:.1f}")
    if failure is not None:
        print(f"INVARIANT FAILED (seed {args.seed}): {failure}", file=sys.stderr)
        return 1
    print("invariants held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
