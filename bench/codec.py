"""Codec benchmark: decode, encode, decode + signature verify, and that as a ratio to verify alone.

Run: ``python bench/codec.py [--rtds DIR] [--json OUT]``. Reads the RTDS vectors from
``../shared/rtds`` when present (else the generated ``fixtures/samples``, and says so). One core,
GC enabled, median of 7 repeats of at least 0.25 s (the method of construct-perf.md).

Reference: the DCC's TypeScript gbcs-parser decodes and checks the RTDS CS02b vectors at about
5,500 msg/s on this machine class; the target is 1.5x that (8,250 msg/s) for decode + verify.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from rig.crypto import KeyStore, Usage, verify_raw  # noqa: E402
from rig.crypto.frames import signed_bytes  # noqa: E402
from rig.gbcs import decode, encode  # noqa: E402
from rig.gbcs.codec import compiled_frame  # noqa: E402

REFERENCE_TS_MSG_PER_S = 5500.0


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[-1]})


def measure(run: Callable[[], None], ops: int, repeats: int = 7, min_time: float = 0.25) -> float:
    """Median seconds per operation; ``run`` performs ``ops`` operations."""
    gc.enable()
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            run()
        if time.perf_counter() - start >= min_time:
            break
        loops *= 2
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            run()
        samples.append((time.perf_counter() - start) / (loops * ops))
    return statistics.median(samples)


def load_corpus(rtds: Path) -> tuple[str, list[tuple[str, bytes]], KeyStore]:
    vectors = rtds / "RTDS-4.5.0"
    if vectors.is_dir():
        files = sorted(vectors.glob("*/*.HEX"))
        return "RTDS 4.5.0", [(p.name, bytes.fromhex(p.read_text().strip())) for p in files], KeyStore(rtds / "keystore")
    files = sorted((PROJECT / "fixtures" / "samples").glob("*.HEX"))
    return ("generated fixtures (RTDS absent)", [(p.name, bytes.fromhex(p.read_text().strip())) for p in files],
            KeyStore(PROJECT / "fixtures" / "pki" / "keystore"))


def bench_set(name: str, frames: list[bytes], keystore: KeyStore) -> dict[str, float]:
    messages = [decode(f) for f in frames]
    signed = []
    for frame, message in zip(frames, messages, strict=True):
        if message.signature is not None and keystore.has_certificate(message.originator_id, Usage.DS):
            signed.append((frame, keystore.public_key(message.originator_id, Usage.DS),
                           signed_bytes(frame, message.layout), message.signature))
    figures: dict[str, float] = {"messages": len(frames), "signed": len(signed)}

    def decode_all():
        for frame in frames:
            decode(frame)

    def encode_all():
        for message in messages:
            encode(message)

    def decode_verify():
        for frame, _key, _data, _sig in signed:
            message = decode(frame)
            key = keystore.public_key(message.originator_id, Usage.DS)
            if not verify_raw(key, signed_bytes(frame, message.layout), message.signature):
                raise AssertionError("signature failed")

    def verify_only():
        for _frame, key, data, signature in signed:
            verify_raw(key, data, signature)

    figures["decode_msg_s"] = 1 / measure(decode_all, len(frames))
    figures["encode_msg_s"] = 1 / measure(encode_all, len(frames))
    if signed:
        dv = measure(decode_verify, len(signed))
        vo = measure(verify_only, len(signed))
        figures["decode_verify_msg_s"] = 1 / dv
        figures["verify_only_msg_s"] = 1 / vo
        figures["decode_verify_over_verify"] = dv / vo
    print(f"\n{name}: {len(frames)} messages, {len(signed)} signed with a known key")
    print(f"  decode                  {figures['decode_msg_s']:>10,.0f} msg/s")
    print(f"  encode                  {figures['encode_msg_s']:>10,.0f} msg/s")
    if signed:
        print(f"  decode + verify         {figures['decode_verify_msg_s']:>10,.0f} msg/s")
        print(f"  verify only             {figures['verify_only_msg_s']:>10,.0f} msg/s")
        print(f"  (decode + verify) / verify-only cost: {figures['decode_verify_over_verify']:.2f}x")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtds", default=str(PROJECT.parent / "shared" / "rtds"))
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    pin_one_core()
    compiled_frame()
    source, corpus, keystore = load_corpus(Path(args.rtds))
    print(f"gbcs-rig codec benchmark on {source}; one core, median of 7")
    results = {"source": source, "corpus": bench_set("corpus", [f for _, f in corpus], keystore)}
    subset = [f for name, f in corpus if "CS02b" in name]
    results["cs02b"] = bench_set("CS02b subset", subset, keystore)
    rate = results["cs02b"].get("decode_verify_msg_s")
    if rate:
        print(f"\nCS02b decode + verify vs gbcs-parser reference ({REFERENCE_TS_MSG_PER_S:,.0f} msg/s): "
              f"{rate / REFERENCE_TS_MSG_PER_S:.2f}x (target 1.5x)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
