"""Fleet benchmark, end to end: N emulated devices behind comms hubs migrated TCoS -> ECoS
through ``rig.dcc.Dcc`` (issue 14).

Run: ``python bench/fleet.py N [--workers K] [--json OUT] [--profile]``. Each worker process
(one per core) provisions its share of the fleet (device key pairs and certificates from the
test PKI, emulated ESME/GSME, two per comms hub, each hub on its own in-process link), registers
it in its own sqlite inventory (the DCC's devices, device logs and key store), then migrates
every device with ``Dcc.migrate_fleet``: counter committed, CS02b mode 6 built, TCoS-signed,
DSP-checked and ACB-MACed, sent, processed by the emulated device, the response's signature
verified with the device key, the outcome read and recorded. Only devices whose verified answer
reports the ECoS certificate in the cell count as migrated.

Printed: devices/s for the migration (wall time from the moment every worker is provisioned to
the last one finishing) against the 1,500 devices/s target, the same with provisioning, peak
RSS per worker and resident memory per idle emulated device, and t(N)/t(N/10) from a run at
N/10 made first (target <= 11).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

TARGET_RATE = 1500.0
TARGET_RATIO = 11.0
TARGET_IDLE_BYTES = 4096
IDLE_SAMPLE = 2000  # devices in the idle-memory sample
DEVICES_PER_HUB = 2  # an ESME and a GSME, as a home's comms hub serves them


def _rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _pin(worker: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[worker % len(cores)]})


class Provisioned:
    """One worker's share: emulated hubs and devices, the DCC and its inventory."""

    def __init__(self, first: int, count: int, folder: Path):
        from firmware_emu import CommsHub, DeviceIdentity, DeviceType, EmulatedDevice, ManualClock
        from rig import pki as pki_module
        from rig.crypto import Usage
        from rig.dcc import Dcc, DccConfig, DeviceRecord, Inventory, RetryPolicy
        from rig.provision import create_device, default_pki, fleet_ids, pki_cells

        pki = default_pki()
        clock = ManualClock()
        self.inventory = Inventory.open(folder / "inventory.sqlite")
        self.dcc = Dcc.from_pki(pki, self.inventory, config=DccConfig(
            response_timeout_s=1.0, retry=RetryPolicy(attempts=1, interval_s=0.0, response_timeout_s=1.0)))
        kinds = (DeviceType.ESME, DeviceType.GSME)
        cells = {kind: pki_cells(pki, kind) for kind in kinds}  # shared by every device of a kind
        chf_proto = create_device(DeviceType.CHF, pki=pki, clock=clock)
        before = _rss_bytes()
        self.links = {}
        ids = fleet_ids(first + count)[first:]
        hubs: list[CommsHub] = []
        devices = []
        for index, entity in enumerate(ids):
            kind = kinds[index % 2]
            ds, ka = (pki_module.device_credential(pki.seed, pki.device_ca, entity, usage)
                      for usage in (Usage.DS, Usage.KA))
            identity = DeviceIdentity(kind, entity, ds.private_key, ka.private_key)
            device = EmulatedDevice(identity, cells=cells[kind], clock=clock)
            self.dcc.keystore.add(entity, Usage.DS, ds.certificate)
            self.dcc.keystore.add(entity, Usage.KA, ka.certificate)
            if index % DEVICES_PER_HUB == 0:
                chf_id = bytes.fromhex("7E57C0") + (first + index).to_bytes(5, "big")
                chf = EmulatedDevice(DeviceIdentity(DeviceType.CHF, chf_id, chf_proto.identity.ds_key,
                                                    chf_proto.identity.ka_key), cells=cells_of(chf_proto),
                                     clock=clock)
                hubs.append(CommsHub(chf))
            hubs[-1].join(device)
            devices.append((device, hubs[-1]))
        #: devices, hubs (CHF, link) and the DCC's copy of every device certificate
        self.bytes_per_device_all_in = (_rss_bytes() - before) / max(count, 1)
        self.idle_bytes_per_device = idle_device_bytes(pki, cells, clock, min(count, IDLE_SAMPLE))
        from rig.transport.emulated import EmulatedTransport

        with self.inventory.db.transaction():
            for hub in hubs:
                link = EmulatedTransport(hub)
                link.open()
                self.links[hub.chf.entity_id] = link
                self.inventory.add_device(DeviceRecord(device_id=hub.chf.entity_id, device_type="CHF",
                                                       model="EMU-CHF"))
            for device, hub in devices:
                self.inventory.add_device(DeviceRecord(
                    device_id=device.entity_id, device_type=device.device_type.value, model=device.profile.model,
                    comms_hub_id=hub.chf.entity_id))
                self.inventory.add_to_device_log(hub.chf.entity_id, device.entity_id)
        self.count = count

    def migrate(self, progress=None) -> int:
        migrated = 0

        def count(outcome) -> None:
            nonlocal migrated
            migrated += outcome.success

        self.dcc.migrate_fleet(self.links, progress=progress, on_outcome=count)
        return migrated


def idle_device_bytes(pki, cells: dict, clock, sample: int) -> float:
    """Resident bytes per idle emulated ESME/GSME alone (keys, state, cells), from a sample made
    and measured after the fleet (so no freed memory is reused): nothing else is created
    meanwhile and the device certificates (which only the DCC side keeps) are dropped."""
    from firmware_emu import DeviceIdentity, EmulatedDevice
    from rig import pki as pki_module
    from rig.crypto import Usage
    from rig.provision import fleet_ids

    gc.collect()
    before = _rss_bytes()
    kinds = list(cells)
    devices = []
    for index, entity in enumerate(fleet_ids(sample, bytes.fromhex("7E57EE"))):
        ds, ka = (pki_module.device_credential(pki.seed, pki.device_ca, entity, usage).private_key
                  for usage in (Usage.DS, Usage.KA))
        kind = kinds[index % len(kinds)]
        devices.append(EmulatedDevice(DeviceIdentity(kind, entity, ds, ka), cells=cells[kind], clock=clock))
    gc.collect()
    measured = (_rss_bytes() - before) / max(sample, 1)
    del devices
    gc.collect()
    return measured


def cells_of(device) -> dict:
    return {cell: der for cell, der in device.state.cells.items() if der is not None}


def _worker(args: tuple[int, int, int, object, bool, bool]) -> dict:
    worker, first, count, barrier, show_progress, profile = args
    _pin(worker)
    from rig.dcc import ProgressBar

    with tempfile.TemporaryDirectory(prefix="gbcs-fleet-") as folder:
        started = time.perf_counter()
        fleet = Provisioned(first, count, Path(folder))
        # the provisioned fleet is long-lived: keep the cyclic GC from re-traversing it on every
        # full collection (what a long-running head end would do with its resident state)
        gc.collect()
        gc.freeze()
        provisioned = time.perf_counter()
        if barrier is not None:
            barrier.wait()
        begin, begin_cpu = time.perf_counter(), time.process_time()
        # one bar (worker 0; the shares are equal to within a few devices) keeps the terminal readable
        progress = ProgressBar("worker 0", every_s=2.0) if show_progress and worker == 0 else None
        summary = None
        if profile:
            from bench.codec import profile_summary

            box: dict[str, int] = {}
            summary = profile_summary(lambda: box.setdefault("migrated", fleet.migrate(progress)),
                                      f"worker {worker}'s migration of {count:,} devices", top=25)
            migrated = box["migrated"]
        else:
            migrated = fleet.migrate(progress)
        end, cpu = time.perf_counter(), time.process_time() - begin_cpu
        report = {"cpu_s": cpu, "worker": worker, "devices": count, "migrated": migrated, "provision_s": provisioned - started,
                  "start": begin, "end": end, "migrate_s": end - begin, "provision_start": started,
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "idle_bytes_per_device": fleet.idle_bytes_per_device,
                  "bytes_per_device_all_in": fleet.bytes_per_device_all_in}
        if summary:
            report["profile"] = summary
        fleet.inventory.close()
    return report


def run(size: int, workers: int, *, show_progress: bool = True, profile: bool = False) -> dict:
    """Provision and migrate ``size`` devices over ``workers`` processes; the figures of the run."""
    context = multiprocessing.get_context("spawn")
    share = size // workers
    jobs = [(w, w * share, share if w < workers - 1 else size - share * (workers - 1)) for w in range(workers)]
    manager = context.Manager()
    barrier = manager.Barrier(workers)
    with context.Pool(workers) as pool:
        reports = pool.map(_worker, [(w, first, count, barrier, show_progress, profile) for w, first, count in jobs])
    manager.shutdown()
    wall = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    total_wall = max(r["end"] for r in reports) - min(r["provision_start"] for r in reports)
    return {"devices": size, "workers": workers, "migrated": sum(r["migrated"] for r in reports),
            "migrate_wall_s": wall, "devices_per_s": size / wall, "total_wall_s": total_wall,
            "devices_per_s_with_provisioning": size / total_wall, "workers_detail": reports}


def _print(result: dict) -> None:
    print(f"  {result['devices']:,} devices, {result['workers']} workers: {result['migrated']:,} migrated "
          f"(verified response, ECoS certificate in the cell)")
    cpu_rate = sum(r["devices"] / r["cpu_s"] for r in result["workers_detail"])
    print(f"  migration: {result['migrate_wall_s']:.1f} s wall, {result['devices_per_s']:,.0f} devices/s "
          f"(target >= {TARGET_RATE:,.0f}: {'met' if result['devices_per_s'] >= TARGET_RATE else 'NOT met'}); "
          f"{cpu_rate:,.0f} devices/s if each worker had its core to itself (devices per CPU second, summed)")
    print(f"  with provisioning: {result['total_wall_s']:.1f} s wall, "
          f"{result['devices_per_s_with_provisioning']:,.0f} devices/s")
    for r in result["workers_detail"]:
        print(f"    worker {r['worker']}: {r['devices']:,} devices, provisioned in {r['provision_s']:.1f} s, "
              f"migrated in {r['migrate_s']:.1f} s ({r['devices'] / r['migrate_s']:,.0f}/s; "
              f"{r['cpu_s']:.1f} CPU s, {r['cpu_s'] / r['devices'] * 1e6:,.0f} us CPU per device), "
              f"peak RSS {r['peak_rss_bytes'] / 2**20:,.0f} MiB, "
              f"{r['idle_bytes_per_device'] / 1024:.1f} KiB resident per idle emulated device "
              f"({r['bytes_per_device_all_in'] / 1024:.1f} KiB with its hub share and the DCC's key store entry)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("devices", type=int, nargs="?", default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ratio", action="store_true", help="skip the N/10 run (and t(N)/t(N/10))")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print the migration profile of worker 0")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.devices < args.workers or args.workers < 1:
        parser.error("need at least one device per worker")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"gbcs-rig fleet benchmark: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start")
    results = {}
    if not args.no_ratio and args.devices // 10 >= args.workers:
        print(f"\nrun at N/10 = {args.devices // 10:,}:")
        results["tenth"] = run(args.devices // 10, args.workers, show_progress=False)
        _print(results["tenth"])
    print(f"\nrun at N = {args.devices:,}:")
    results["full"] = run(args.devices, args.workers, show_progress=not args.no_progress, profile=args.profile)
    _print(results["full"])
    idle = max(r["idle_bytes_per_device"] for r in results["full"]["workers_detail"])
    print(f"\n  memory per idle emulated device: {idle / 1024:.1f} KiB (target <= {TARGET_IDLE_BYTES / 1024:.0f} KiB: "
          f"{'met' if idle <= TARGET_IDLE_BYTES else 'NOT met'}; private keys held as DER, "
          f"materialised on use: firmware_emu.private_keys)")
    if "tenth" in results:
        ratio = results["full"]["migrate_wall_s"] / results["tenth"]["migrate_wall_s"]
        total_ratio = results["full"]["total_wall_s"] / results["tenth"]["total_wall_s"]
        cpu_ratio = (sum(r["cpu_s"] for r in results["full"]["workers_detail"])
                     / sum(r["cpu_s"] for r in results["tenth"]["workers_detail"]))
        results["ratio"], results["cpu_ratio"] = ratio, cpu_ratio
        print(f"  t(N)/t(N/10): {ratio:.2f} migration wall, {total_ratio:.2f} with provisioning, {cpu_ratio:.2f} "
              f"migration CPU time (target <= {TARGET_RATIO:.0f}: {'met' if ratio <= TARGET_RATIO else 'NOT met'} "
              f"on wall time; the CPU figure is moved less by other load on the machine, not immune to it)")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"  load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.profile:
        print(results["full"]["workers_detail"][0]["profile"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    ok = results["full"]["migrated"] == args.devices
    if not ok:
        print(f"  {args.devices - results['full']['migrated']:,} devices NOT migrated")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
