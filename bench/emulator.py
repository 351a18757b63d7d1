"""Emulator benchmark: an emulated ESME processing CS02b change-of-supplier commands against its
crypto floor, measured in the same rounds (issue 14).

Run: ``python bench/emulator.py [--rounds 9] [--batch 100] [--profile] [--json OUT]``.

The floor is exactly the cryptography the emulator performs for one command, nothing more:
the bench first runs the emulator once on a command with the crypto primitives wrapped to count
their calls (ECDSA verify, including certification path checks; ECDSA sign; ECDH actually
computed, i.e. cache misses; KDF; GMAC), builds the floor from those counts on the same bytes
(the command's signature, its replacement and CA certificates, the device's real response, the
command's MAC inputs), and asserts that the floor, counted the same way, makes the same calls.
In steady state the emulator's ECDH secret is cached, so the floor has no ECDH.

Each round runs emulator, floor, floor, emulator (ABBA) on one pinned core, each leg a batch of
fresh commands (built before timing); the ratio of a round is emulator time over floor time.
The median and the spread of at least 7 rounds are printed against the 1.2x target. The fleet
figure lives in ``bench/fleet.py`` (end to end, through the DCC).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from bench.codec import pin_one_core, profile_summary  # noqa: E402
from firmware_emu import ManualClock, cpv  # noqa: E402
from firmware_emu.certificates import parse_certificate  # noqa: E402
from rig.crypto import Usage, seal  # noqa: E402
from rig.crypto import frames as crypto_frames  # noqa: E402
from rig.crypto.mac import ECDH_CACHE, EcdhCache  # noqa: E402
from rig.gbcs import KeyUsage, RemotePartyRole, decode  # noqa: E402
from rig.gbcs import build as b  # noqa: E402
from rig.provision import create_device, default_pki  # noqa: E402

TARGET = 1.2


def _der(cert) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)


def change_of_supplier(pki, device, counter: int) -> bytes:
    """CS02b mode 7 signed by ECoS and MACed by the ACB: 3 supplier certificates, the issuing CA."""
    replacements = [
        b.replacement(_der(pki.credential("supplier_b", Usage.DS).certificate), RemotePartyRole.SUPPLIER,
                      KeyUsage.DIGITAL_SIGNATURE),
        b.replacement(_der(pki.credential("supplier_b", Usage.KA).certificate), RemotePartyRole.SUPPLIER,
                      KeyUsage.KEY_AGREEMENT),
        b.replacement(_der(pki.credential("supplier_b", Usage.PP_KA).certificate), RemotePartyRole.SUPPLIER,
                      KeyUsage.KEY_AGREEMENT, 1),
    ]
    message = b.cs02b_command(mode=7, originator_id=pki.entity("ecos"), recipient_id=device.entity_id, counter=counter,
                              replacements=replacements, certification_path=[_der(pki.issuing_ca.certificate)],
                              other_changes=(b.supplier_floor(0, 0),))
    return seal(message, signer=pki.credential("ecos", Usage.DS).private_key,
                mac_private_key=pki.credential("acb", Usage.KA).private_key,
                mac_peer=device.identity.ka_key.public_key())


def migration(pki, device, counter: int = 6000) -> bytes:
    """CS02b mode 6 signed by TCoS: the ECoS certificate into the transitionalCoS cell."""
    message = b.cs02b_command(
        mode=6, originator_id=pki.entity("tcos"), recipient_id=device.entity_id, counter=counter,
        replacements=[b.replacement(_der(pki.credential("ecos", Usage.DS).certificate),
                                    RemotePartyRole.TRANSITIONAL_COS, KeyUsage.DIGITAL_SIGNATURE)],
        certification_path=[_der(pki.issuing_ca.certificate)], disapply_time_checks=True)
    return seal(message, signer=pki.credential("tcos", Usage.DS).private_key,
                mac_private_key=pki.credential("acb", Usage.KA).private_key,
                mac_peer=device.identity.ka_key.public_key())


# -- counting the crypto primitives -----------------------------------------------------------


@contextlib.contextmanager
def patched(replacements: list[tuple[object, str, Callable[[Callable], Callable]]]) -> Iterator[None]:
    """Each ``(owner, name, make)``: ``owner.name`` becomes ``make(original)`` inside the block
    and is put back after it (module attributes and methods, looked up at call time)."""
    originals = [(owner, name, getattr(owner, name)) for owner, name, _make in replacements]
    try:
        for (owner, name, original), (_owner, _name, make) in zip(originals, replacements, strict=True):
            setattr(owner, name, make(original))
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


@contextlib.contextmanager
def counting() -> Iterator[Counter]:
    """Wrap the primitives the emulator reaches, counting the calls that compute."""
    counts: Counter = Counter()

    def counted(kind: str, counts_call: Callable[..., bool] | None = None) -> Callable[[Callable], Callable]:
        def make(original: Callable) -> Callable:
            def wrapper(*args, **kwargs):
                if counts_call is None or counts_call(*args, **kwargs):
                    counts[kind] += 1
                return original(*args, **kwargs)
            return wrapper
        return make

    def cpv_computes(child, issuer, verified=None) -> bool:  # memoised checks are not computed
        key = (id(child), id(issuer))
        return not (verified is not None and key in verified) and issuer.public_key is not None \
            and child.ecdsa_sha256

    def ecdh_misses(cache: EcdhCache, private_key, peer) -> bool:
        return (id(private_key), id(peer)) not in cache._entries

    with patched([(crypto_frames, "verify_raw", counted("ecdsa_verify")),
                  (crypto_frames, "sign_raw", counted("ecdsa_sign")),
                  (crypto_frames, "derive_key", counted("kdf")),
                  (crypto_frames, "gmac", counted("gmac")),
                  (cpv, "_signature_ok", counted("ecdsa_verify", cpv_computes)),
                  (EcdhCache, "shared_secret", counted("ecdh", ecdh_misses))]):
        yield counts


def floor_ops(pki, device, frame: bytes, response: bytes) -> list[tuple[str, Callable[[], object]]]:
    """The primitives one change-of-supplier command costs the device, on its own bytes."""
    message = decode(frame)
    answer = decode(response)
    ecos = pki.credential("ecos", Usage.DS).certificate.public_key()
    ca = parse_certificate(_der(pki.issuing_ca.certificate))
    root = parse_certificate(_der(pki.root.certificate))
    leaves = [parse_certificate(_der(pki.credential("supplier_b", u).certificate))
              for u in (Usage.DS, Usage.KA, Usage.PP_KA)]
    command_data = crypto_frames.signed_bytes(frame, message.layout)
    response_data = crypto_frames.signed_bytes(response, answer.layout)
    aad, iv = crypto_frames.mac_aad(frame, message.layout, message), crypto_frames.mac_iv(message)
    secret = ECDH_CACHE.shared_secret(device.identity.ka_key, pki.credential("acb", Usage.KA).certificate.public_key())
    key_args = (secret, message.originator_id, int(message.cra_flag), message.originator_counter, message.recipient_id)
    key = crypto_frames.derive_key(*key_args)
    ops: list[tuple[str, Callable[[], object]]] = [
        ("ecdsa_verify", lambda: crypto_frames.verify_raw(ecos, command_data, message.signature)),
        *(("ecdsa_verify", lambda leaf=leaf: cpv._signature_ok(leaf, ca, None)) for leaf in leaves),
        ("ecdsa_verify", lambda: cpv._signature_ok(ca, root, None)),
        ("ecdsa_sign", lambda: crypto_frames.sign_raw(device.identity.ds_key, response_data)),
        ("kdf", lambda: crypto_frames.derive_key(*key_args)),
        ("gmac", lambda: crypto_frames.gmac(key, iv, aad)),
    ]
    return ops


def crypto_stubbed() -> contextlib.AbstractContextManager[None]:
    """The primitives the floor counts replaced by answers that pass: what is left is the
    emulator's Python (a profile only, never a ratio or a verdict: the device accepts anything)."""
    return patched([(crypto_frames, "verify_raw", lambda _: lambda key, data, signature: True),
                    (crypto_frames, "sign_raw", lambda _: lambda key, data, deterministic=False: bytes(64)),
                    (crypto_frames, "gmac", lambda _: lambda key, iv, aad: bytes(12)),
                    (crypto_frames, "equal", lambda _: lambda a, b: True),
                    (cpv, "_signature_ok", lambda _: lambda child, issuer, verified: True)])


def python_share(device, frames: list[bytes]) -> str:
    """The emulator's time per command with its crypto stubbed, split by stage (perf_counter
    around each stage: a few tenths of a microsecond of wrapper per stage are included)."""
    import firmware_emu.cs02b as cs02b_module
    import firmware_emu.device as device_module

    spent: Counter = Counter()

    def timed(label: str) -> Callable[[Callable], Callable]:
        def make(original: Callable) -> Callable:
            def wrapper(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    spent[label] += time.perf_counter() - start
            return wrapper
        return make

    stages = [(device_module, "decode", timed("decode")),
              (device_module.EmulatedDevice, "authenticate", timed("authenticate")),
              (cs02b_module, "execute", timed("execute")),
              (device_module.EmulatedDevice, "sign", timed("response encode + seal"))]
    with patched(stages), crypto_stubbed():
        gc.collect()
        start = time.perf_counter()
        for frame in frames:
            device.receive(frame)
        total = time.perf_counter() - start
    per = {label: seconds / len(frames) * 1e6 for label, seconds in spent.items()}
    rest = total / len(frames) * 1e6 - sum(per.values())
    split = ", ".join(f"{label} {us:.1f}" for label, us in per.items())
    return (f"\n  the emulator's Python alone (crypto stubbed, {len(frames)} commands, one core): "
            f"{total / len(frames) * 1e6:.1f} us/command: {split}, the rest of receive {rest:.1f}")


def run_floor(ops, times: int) -> None:
    for _ in range(times):
        for _kind, op in ops:
            op()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--profile", action="store_true", help="also print where the emulator's time goes")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.rounds < 7:
        parser.error("at least 7 rounds")
    pin_one_core()
    pki = default_pki()
    device = create_device("ESME", pki=pki, clock=ManualClock())
    device.receive(migration(pki, device))  # the ECoS party now signs for the device
    counter = [7000]

    def fresh(count: int) -> list[bytes]:
        out = []
        for _ in range(count):
            counter[0] += 1
            out.append(change_of_supplier(pki, device, counter[0]))
        return out

    warm = fresh(3)
    for frame in warm[:2]:
        device.receive(frame)
    with counting() as emulator_counts:
        [response] = device.receive(warm[2])
    answer = decode(response)
    if not answer.payload.execution_outcome.all_succeeded:
        raise SystemExit("the emulator did not accept the change of supplier: nothing to measure")
    ops = floor_ops(pki, device, warm[2], response)
    with counting() as floor_counts:
        run_floor(ops, 1)
    assert floor_counts == emulator_counts == Counter(kind for kind, _ in ops), (emulator_counts, floor_counts)

    legs = [fresh(args.batch) for _ in range(2 * args.rounds)]
    gc.collect()
    emulator_s, floor_s, ratios, cpu_ratios = [], [], [], []
    for number in range(args.rounds):
        first, second = legs[2 * number], legs[2 * number + 1]
        timings = []
        for leg in ("A", "B", "B", "A"):
            start, start_cpu = time.perf_counter(), time.process_time()
            if leg == "A":
                for frame in (first if not timings else second):
                    device.receive(frame)
            else:
                run_floor(ops, args.batch)
            timings.append((leg, time.perf_counter() - start, time.process_time() - start_cpu))
        a = sum(t for leg, t, _ in timings if leg == "A") / (2 * args.batch)
        f = sum(t for leg, t, _ in timings if leg == "B") / (2 * args.batch)
        emulator_s.append(a)
        floor_s.append(f)
        ratios.append(a / f)
        cpu_ratios.append(sum(c for leg, _, c in timings if leg == "A") / sum(c for leg, _, c in timings if leg == "B"))
    median = statistics.median(ratios)
    cpu_median = statistics.median(cpu_ratios)
    print("Emulated ESME, CS02b change of supplier (3 replacements + issuing CA path, signed + MACed), one core,")
    print(f"{args.rounds} ABBA rounds of {args.batch} commands per leg:")
    print(f"  crypto per command (counted in the emulator, the same in the floor): "
          f"{', '.join(f'{k} x{v}' for k, v in sorted(emulator_counts.items()))}"
          f"{'' if emulator_counts['ecdh'] else ' (ECDH secret cached: no ECDH)'}")
    print(f"  emulator {statistics.median(emulator_s) * 1e6:7.1f} us/command ({1 / statistics.median(emulator_s):,.0f}/s)"
          f", floor {statistics.median(floor_s) * 1e6:7.1f} us (medians)")
    print(f"  ratio to the floor: median {median:.2f}x, spread {min(ratios):.2f}-{max(ratios):.2f}x over "
          f"{args.rounds} rounds (target <= {TARGET}x: {'met' if median <= TARGET else 'NOT met'})")
    print(f"  same rounds on CPU time (moved less by other load on the machine): median {cpu_median:.2f}x, "
          f"spread {min(cpu_ratios):.2f}-{max(cpu_ratios):.2f}x ({'met' if cpu_median <= TARGET else 'NOT met'})")
    result = {"rounds": args.rounds, "batch": args.batch, "counts": dict(emulator_counts), "ratios": ratios,
              "median_ratio": median, "cpu_ratios": cpu_ratios, "median_cpu_ratio": cpu_median, "emulator_us": [s * 1e6 for s in emulator_s],
              "floor_us": [s * 1e6 for s in floor_s]}
    if args.profile or min(median, cpu_median) > TARGET:
        print(python_share(device, fresh(max(args.batch, 500))))
        frames = fresh(args.batch)

        def leg() -> None:
            for frame in frames:
                device.receive(frame)
        print(profile_summary(leg, f"the emulator on {args.batch} commands"))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
