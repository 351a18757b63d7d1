"""Codec benchmark: decode, encode, and decode + signature + MAC against DCC's gbcs-parser
timed in the same run on the same frames (issue 14).

Run: ``python bench/codec.py [--rtds DIR] [--peer DIR] [--rounds 7] [--profile] [--json OUT]``.

Frames: the RTDS 4.5.0 vectors from ``../shared/rtds`` (every ``*.HEX``, and the CS02b subset),
else the generated ``fixtures/samples/*.hex`` with the fixture PKI (and then only the project's
figures are printed). The peer is the built gbcs-parser in ``../shared/peers/gbcs-parser``, an
external GPL tool driven through its own ``decode.js`` in a long-lived node process (never part
of this repository); without node or the peer only the project's figures are printed.

"decode + signature + MAC" is the same work on both sides: parse the frame, verify its
signature with the originator's DS key when the key store has it, verify its MAC with the KA
key pair (the access control broker's for commands) when the key store has a private key of
that pair. Both sides look their keys up per message in a caching key store. The verdicts are
counted and printed for both, so a side that skipped a check would show.

Rounds are interleaved ABBA (project, peer, peer, project) on one pinned core (node on the same
core), each leg long enough to time (>= 0.2 s); the ratio per round is peer time over project
time; the median and spread of the rounds are printed against the targets (>= 3x on CS02b,
>= 8x on the whole set), on wall-clock time and on each process's own CPU time (which other
load on a shared machine moves least). A missed target prints the profile of our side.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from rig.crypto import KeyStore, KeyStoreError, Usage  # noqa: E402
from rig.crypto.frames import verify_mac, verify_signature  # noqa: E402
from rig.crypto.verify import access_control_brokers, check_mac, check_signature  # noqa: E402
from rig.gbcs import CraFlag, Message, decode, encode  # noqa: E402
from rig.gbcs.codec import compiled_frame  # noqa: E402

TARGETS = {"cs02b": 3.0, "corpus": 8.0}
MIN_LEG_S = 0.2

#: the peer side: loads the frames once, then times one pass of gbcs-parser's own decodeOne
#: (through its decode.js driver) per "run <loops>" line, reporting nanoseconds and verdicts
_NODE_TIMER = r"""
const driver = require(process.argv[1])
const readline = require('node:readline')
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
let setup = null
let stores = null
rl.on('line', async (line) => {
  rl.pause()
  const req = JSON.parse(line)
  if (req.setup) {
    setup = req.setup
    stores = setup.keystores.map((d) => new driver.FolderKeyStore([d]))
    process.stdout.write(JSON.stringify({ ready: true }) + '\n')
  } else {
    const frames = setup.sets[req.set]
    const verdicts = {}
    const cpu = process.cpuUsage()
    const start = process.hrtime.bigint()
    for (let loop = 0; loop < req.loops; loop++) {
      for (const hex of frames) {
        const res = await driver.decodeOne(hex, stores, setup.acb, false)
        if (loop === 0) {
          const key = `ok=${res.ok} signature=${res.signature} mac=${res.mac}`
          verdicts[key] = (verdicts[key] || 0) + 1
        }
      }
    }
    const ns = Number(process.hrtime.bigint() - start)
    const used = process.cpuUsage(cpu)
    process.stdout.write(JSON.stringify({ ns, cpu_us: used.user + used.system, verdicts }) + '\n')
  }
  rl.resume()
})
"""


#: builtin functions that are the crypto primitives (cProfile names them by their C/Rust method)
CRYPTO_NAMES = ("ECPublicKey", "ECPrivateKey", "AESGCM", "sha256", "openssl")


def profile_summary(run: Callable[[], None], title: str, top: int = 15) -> str:
    """Where ``run``'s time goes: the crypto primitives' share, then the top functions by tottime."""
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    total = sum(row[2] for row in stats.stats.values()) or 1.0
    crypto = sum(row[2] for (file, _line, name), row in stats.stats.items()
                 if file == "~" and any(word in name for word in CRYPTO_NAMES))
    groups: Counter = Counter()
    for (file, _line, name), row in stats.stats.items():
        if file == "~":
            group = ("crypto primitives" if any(word in name for word in CRYPTO_NAMES)
                     else "sqlite" if "sqlite3" in name else "other builtins")
        elif not file or file.startswith("<"):
            group = "codec (compiled Construct)"
        else:
            group = next((label for part, label in _GROUPS if part in file), "other Python (stdlib)")
        groups[group] += row[2]
    stats.sort_stats("tottime").print_stats(top)
    lines = [line for line in out.getvalue().splitlines()[4:] if line.strip()]
    shares = ", ".join(f"{group} {seconds / total:.0%}" for group, seconds in groups.most_common())
    return (f"\n  where the time goes, {title} (cProfile, its overhead included): {shares}; "
            f"crypto primitives {crypto / total:.0%} in all. Top functions by own time:\n"
            + "\n".join("    " + line for line in lines))


#: profile groups by source path (first match wins); compiled Construct parsers have no file
_GROUPS = (("rig/gbcs", "codec (rig.gbcs)"), ("firmware_emu", "device logic (firmware_emu)"),
           ("rig/crypto", "rig.crypto wrappers"), ("rig/dcc", "DCC (rig.dcc)"), ("rig/transport", "transport"),
           ("construct", "construct"))


def pin_one_core() -> int | None:
    """Pin this process to the last core it may use; that core's number."""
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[-1]})
        return cores[-1]
    return None


def measure(run: Callable[[], None], ops: int, repeats: int = 7, min_time: float = 0.25) -> float:
    """Median seconds per operation; ``run`` performs ``ops`` operations."""
    gc.enable()
    loops = _loops_for(run, min_time)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            run()
        samples.append((time.perf_counter() - start) / (loops * ops))
    return statistics.median(samples)


def _loops_for(run: Callable[[], None], min_time: float) -> int:
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            run()
        if time.perf_counter() - start >= min_time:
            return loops
        loops *= 2


@dataclass(frozen=True)
class Corpus:
    source: str
    frames: list[tuple[str, bytes]]
    keystore: KeyStore
    keystore_dir: Path
    acb: bytes | None
    peer_flag: str  # decode.js's ACB option for this key store

    @property
    def keys(self) -> Keys:
        if "_keys" not in self.__dict__:
            object.__setattr__(self, "_keys", Keys(self.keystore))
        return self.__dict__["_keys"]


def load_corpus(rtds: Path) -> Corpus:
    vectors = rtds / "RTDS-4.5.0"
    if vectors.is_dir() and (rtds / "keystore").is_dir():
        files = sorted(vectors.glob("*/*.HEX"))
        keystore_dir = rtds / "keystore"
        source, flag = "RTDS 4.5.0", "--rtds"
    else:
        files = sorted((PROJECT / "fixtures" / "samples").glob("*.hex"))
        keystore_dir = PROJECT / "fixtures" / "pki" / "keystore"
        source, flag = f"generated fixtures ({rtds} absent)", "--pki"
    keystore = KeyStore(keystore_dir)
    brokers = access_control_brokers(keystore)
    frames = [(p.name, bytes.fromhex(p.read_text().strip())) for p in files]
    return Corpus(source, frames, keystore, keystore_dir, brokers[0] if brokers else None, flag)


def _mac_pair(message: Message, acb: bytes | None) -> tuple[bytes, bytes]:
    """The two parties whose static KA keys MAC ``message`` (GBCS: the ACB and the device for
    commands, originator and recipient otherwise)."""
    if message.cra_flag == CraFlag.COMMAND and acb is not None:
        return acb, message.recipient_id
    return message.originator_id, message.recipient_id


class Keys:
    """Per-message key lookups through a map, as the peer's driver does (``FolderKeyStore``
    caches the loaded keys by file name); absent keys are remembered as None."""

    def __init__(self, keystore: KeyStore):
        self.keystore = keystore
        self._public: dict[tuple[bytes, Usage], object] = {}
        self._private: dict[tuple[bytes, Usage], object] = {}

    def public(self, entity_id: bytes, usage: Usage, *, certified: bool = False):
        key = (entity_id, usage, certified)
        try:
            return self._public[key]
        except KeyError:
            pass
        found = None
        if self.keystore.has_certificate(entity_id, usage) or not certified:
            try:
                found = self.keystore.public_key(entity_id, usage)
            except KeyStoreError:
                found = None
        self._public[key] = found
        return found

    def private(self, entity_id: bytes, usage: Usage):
        key = (entity_id, usage)
        try:
            return self._private[key]
        except KeyError:
            pass
        found = self.keystore.private_key(entity_id, usage) if self.keystore.has_private_key(entity_id, usage) else None
        self._private[key] = found
        return found


def check_frame(frame: bytes, keys: Keys, acb: bytes | None) -> tuple[bool | None, bool | None]:
    """Decode, then (signature valid, MAC valid); None where the frame has none or no key checks it."""
    message = decode(frame)
    signature = None
    if message.signature is not None:
        signer = keys.public(message.originator_id, Usage.DS, certified=True)
        if signer is not None:
            signature = verify_signature(frame, message, signer)
    mac = None
    if message.mac is not None:
        a, b = _mac_pair(message, acb)
        for own, peer in ((a, b), (b, a)):
            own_key = keys.private(own, Usage.KA)
            if own_key is not None:
                peer_key = keys.public(peer, Usage.KA)
                if peer_key is None:
                    continue
                mac = verify_mac(frame, message, own_key, peer_key)
                break
    return signature, mac


def _verdicts(frames: list[bytes], keys: Keys, acb: bytes | None) -> Counter:
    counts: Counter = Counter()
    for frame in frames:
        signature, mac = check_frame(frame, keys, acb)
        counts[f"signature {'valid' if signature else 'absent/no key' if signature is None else 'INVALID'}"] += 1
        counts[f"MAC {'valid' if mac else 'absent/no key' if mac is None else 'INVALID'}"] += 1
    return counts


def _agrees_with_rig_verify(frames: list[bytes], keys: Keys, acb: bytes | None) -> bool:
    """The timed check reaches the verdicts ``gbcs-rig decode --keystore`` reaches (untimed)."""
    keystore = keys.keystore
    for frame in frames:
        message = decode(frame)
        signature, mac = check_frame(frame, keys, acb)
        full_sig, full_mac = check_signature(frame, message, keystore), check_mac(frame, message, keystore)
        if (signature is True) != (full_sig.verdict.value == "VALID") or (mac is True) != (full_mac.verdict.value == "VALID"):
            return False
    return True


class Peer:
    """gbcs-parser behind its decode.js driver in one node process, pinned like us."""

    def __init__(self, folder: Path, corpus: Corpus, sets: dict[str, list[bytes]], core: int | None):
        node = shutil.which("node")
        driver = folder / "decode.js"
        if node is None or not driver.is_file() or not (folder / "dist").is_dir():
            raise FileNotFoundError("node or the gbcs-parser peer is not available")

        def pin() -> None:
            if core is not None:
                os.sched_setaffinity(0, {core})

        self.process = subprocess.Popen([node, "-e", _NODE_TIMER, str(driver)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, preexec_fn=pin)
        acb = {"--rtds": "90B3D51F30000002", "--pki": "7E57000000000002"}[corpus.peer_flag]
        self._ask({"setup": {"keystores": [str(corpus.keystore_dir)], "acb": acb,
                             "sets": {name: [f.hex().upper() for f in frames] for name, frames in sets.items()}}})

    def _ask(self, request: dict) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the gbcs-parser driver exited")
        return json.loads(line)

    def run(self, name: str, loops: int) -> tuple[float, dict]:
        """Seconds for ``loops`` passes over set ``name``, and the verdicts of one pass."""
        seconds, _cpu, verdicts = self.run_timed(name, loops)
        return seconds, verdicts

    def run_timed(self, name: str, loops: int) -> tuple[float, float, dict]:
        """Wall seconds, CPU seconds (node's own count) and the verdicts of one pass."""
        answer = self._ask({"set": name, "loops": loops})
        return answer["ns"] / 1e9, answer["cpu_us"] / 1e6, answer["verdicts"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def codec_figures(name: str, frames: list[bytes]) -> dict[str, float]:
    messages = [decode(f) for f in frames]

    def decode_all():
        for frame in frames:
            decode(frame)

    def encode_all():
        for message in messages:
            encode(message)

    return {"messages": len(frames), "decode_msg_s": 1 / measure(decode_all, len(frames)),
            "encode_msg_s": 1 / measure(encode_all, len(frames))}


def compare(name: str, frames: list[bytes], corpus: Corpus, peer: Peer | None, rounds: int) -> dict:
    """Decode + signature + MAC: ours, and the peer's in the same ABBA rounds."""

    def ours_once():
        for frame in frames:
            check_frame(frame, corpus.keys, corpus.acb)

    ours_once()
    our_loops = _loops_for(ours_once, MIN_LEG_S)
    result: dict = {"frames": len(frames), "verdicts": dict(_verdicts(frames, corpus.keys, corpus.acb))}
    peer_loops = 0
    if peer is not None:
        peer.run(name, 2)  # JIT warm-up
        peer_loops = 1
        while peer.run(name, peer_loops)[0] < MIN_LEG_S:
            peer_loops *= 2
        result["peer_verdicts"] = peer.run(name, 1)[1]
    ours_s, peer_s, ratios, cpu_ratios = [], [], [], []
    for _ in range(rounds):
        legs = []
        for side in ("A", "B", "B", "A") if peer is not None else ("A", "A"):
            if side == "A":
                start, start_cpu = time.perf_counter(), time.process_time()
                for _ in range(our_loops):
                    ours_once()
                count = our_loops * len(frames)
                legs.append((side, (time.perf_counter() - start) / count, (time.process_time() - start_cpu) / count))
            else:
                seconds, cpu, _ = peer.run_timed(name, peer_loops)
                count = peer_loops * len(frames)
                legs.append((side, seconds / count, cpu / count))
        mine = statistics.mean(t for side, t, _ in legs if side == "A")
        ours_s.append(mine)
        if peer is not None:
            theirs = statistics.mean(t for side, t, _ in legs if side == "B")
            peer_s.append(theirs)
            ratios.append(theirs / mine)
            cpu_ratios.append(statistics.mean(c for side, _, c in legs if side == "B")
                              / statistics.mean(c for side, _, c in legs if side == "A"))
    result["ours_msg_s"] = 1 / statistics.median(ours_s)
    if peer is not None:
        result["peer_msg_s"] = 1 / statistics.median(peer_s)
        result["ratios"], result["cpu_ratios"] = ratios, cpu_ratios
        result["median_ratio"], result["median_cpu_ratio"] = statistics.median(ratios), statistics.median(cpu_ratios)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtds", default=str(PROJECT.parent / "shared" / "rtds"))
    parser.add_argument("--peer", default=str(PROJECT.parent / "shared" / "peers" / "gbcs-parser"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--profile", action="store_true", help="print where the time goes even when targets are met")
    args = parser.parse_args()
    core = pin_one_core()
    compiled_frame()
    corpus = load_corpus(Path(args.rtds))
    if not corpus.frames:
        print(f"no frames found ({corpus.source})")
        return 1
    rtds = corpus.source.startswith("RTDS")
    sets = {"corpus": [f for _, f in corpus.frames], "cs02b": [f for n, f in corpus.frames if "CS02b" in n]}
    sets = {name: frames for name, frames in sets.items() if frames}
    peer = None
    if rtds:
        try:
            peer = Peer(Path(args.peer), corpus, sets, core)
        except (FileNotFoundError, RuntimeError, OSError) as err:
            print(f"peer not run: {err}")
    load = os.getloadavg()
    print(f"gbcs-rig codec benchmark on {corpus.source}: {os.cpu_count()} CPUs, load {load[0]:.2f}; one pinned core"
          f"{' (gbcs-parser on the same core)' if peer else ''}; {args.rounds} interleaved rounds")
    results: dict = {"source": corpus.source}
    try:
        for name, frames in sets.items():
            label = {"corpus": "whole set", "cs02b": "CS02b frames"}[name]
            if not _agrees_with_rig_verify(frames, corpus.keys, corpus.acb):
                print(f"  {label}: the timed check disagrees with rig.crypto.verify; not timed")
                return 1
            figures = codec_figures(name, frames)
            figures.update(compare(name, frames, corpus, peer, args.rounds))
            results[name] = figures
            print(f"\n{label}: {len(frames)} frames")
            print(f"  decode                        {figures['decode_msg_s']:>10,.0f} msg/s")
            print(f"  encode                        {figures['encode_msg_s']:>10,.0f} msg/s")
            print(f"  decode + signature + MAC      {figures['ours_msg_s']:>10,.0f} msg/s   "
                  f"({', '.join(f'{k}: {v}' for k, v in sorted(figures['verdicts'].items()))})")
            if peer is not None:
                ratio = figures["median_ratio"]
                print(f"  gbcs-parser, same work        {figures['peer_msg_s']:>10,.0f} msg/s   "
                      f"({', '.join(f'{k}: {v}' for k, v in sorted(figures['peer_verdicts'].items()))})")
                print(f"  ratio: median {ratio:.3f}x, spread {min(figures['ratios']):.2f}-{max(figures['ratios']):.2f}x "
                      f"(target >= {TARGETS[name]:.0f}x: {'met' if ratio >= TARGETS[name] else 'NOT met'})")
                cpu = figures["median_cpu_ratio"]
                print(f"  on CPU time (node counts its own, incl. its GC threads): median {cpu:.3f}x, spread "
                      f"{min(figures['cpu_ratios']):.2f}-{max(figures['cpu_ratios']):.2f}x "
                      f"({'met' if cpu >= TARGETS[name] else 'NOT met'})")
        missed = [name for name in sets if name in results and "median_ratio" in results[name]
                  and results[name]["median_ratio"] < TARGETS[name]]
        for name in (list(sets) if args.profile else missed):
            frames = sets[name]

            def leg(frames=frames):
                for _ in range(max(1, 2000 // len(frames))):
                    for frame in frames:
                        check_frame(frame, corpus.keys, corpus.acb)
            print(profile_summary(leg, f"decode + signature + MAC on the {name} set"))
    finally:
        if peer is not None:
            peer.close()
    if not rtds:
        print("\n(no RTDS vectors: project figures only; the peer targets are defined on RTDS)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
