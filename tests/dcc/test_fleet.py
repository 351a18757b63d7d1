"""Fleet migrations (issue 14): per-device cost independent of the inventory's size, batched
writes with the counter commit rule kept, the hubs' device log order, and model classification
unchanged from the implementation that re-read every attempt.

Costs are counted, never timed: SQL statements run and sqlite virtual machine steps (the
progress handler) per migration. A full scan of the attempts shows up as VM steps growing with
the number of rows; an index lookup or an appended row does not.
"""

from __future__ import annotations

import io
import sqlite3

import pytest

from firmware_emu import ManualClock
from rig.crypto import Usage
from rig.dcc import (
    AttemptRecord,
    AttemptResult,
    CredentialStatus,
    Dcc,
    DccConfig,
    DeviceRecord,
    Inventory,
    ModelVerdict,
    ProgressBar,
    RetryPolicy,
    classify_model,
)
from rig.dcc.db import Database
from rig.dcc.ids import eui_text
from rig.gbcs import decode
from rig.provision import create_device, create_hub, fleet_ids
from rig.transport import Direction
from rig.transport.emulated import EmulatedTransport

POLICY = RetryPolicy(attempts=2, interval_s=0.0, response_timeout_s=0.05)
CONFIG = DccConfig(response_timeout_s=0.05, retry=POLICY)


class Fleet:
    """Comms hubs with emulated devices, each registered in the inventory and on its hub's log."""

    def __init__(self, pki, path, *, prefix: bytes = bytes.fromhex("7E5720")):
        self.pki = pki
        self.clock = ManualClock()
        self.inventory = Inventory.open(path)
        self.dcc = Dcc.from_pki(pki, self.inventory, config=CONFIG, sleep=lambda s: None)
        self.prefix = prefix
        self.made = 0
        self.links: dict[bytes, EmulatedTransport] = {}
        self.hubs = {}

    def hub(self, index: int):
        chf_id = self.prefix[:2] + bytes([0xC0 + index]) + bytes(5)
        if chf_id not in self.hubs:
            hub = create_hub(pki=self.pki, clock=self.clock, chf_id=chf_id, gpf=False)
            self.hubs[chf_id] = hub
            self.links[chf_id] = EmulatedTransport(hub)
            self.links[chf_id].open()
        return chf_id, self.hubs[chf_id]

    def add(self, *, model: str, profile: str = "default", hub: int = 0, status=CredentialStatus.TCOS) -> bytes:
        self.made += 1
        entity = fleet_ids(self.made, self.prefix)[-1]
        kind = "ESME" if self.made % 2 else "GSME"
        device = create_device(kind, pki=self.pki, entity_id=entity, clock=self.clock, profile=profile)
        hub_id, emulated_hub = self.hub(hub)
        emulated_hub.join(device)
        for usage in (Usage.DS, Usage.KA):
            self.dcc.keystore.add(entity, usage, self.pki.credentials[(entity, usage)].certificate)
        self.inventory.add_device(DeviceRecord(device_id=entity, device_type=kind, model=model,
                                               credential_status=status))
        self.inventory.add_to_device_log(hub_id, entity)
        return entity

    def sent_to(self) -> list[bytes]:
        return [decode(frame.data).recipient_id for link in self.links.values() for frame in link.log
                if frame.direction is Direction.TX]

    def close(self) -> None:
        self.inventory.close()


@pytest.fixture
def fleet(fixture_pki, tmp_path):
    made = Fleet(fixture_pki, tmp_path / "fleet.sqlite")
    yield made
    made.close()


def prefill(inventory: Inventory, count: int, model: str) -> None:
    """``count`` devices of ``model`` with one recorded attempt each (history the migrations must not re-read)."""
    ids = fleet_ids(count, bytes.fromhex("7E5799"))
    with inventory.db.transaction():
        for number, device_id in enumerate(ids):
            inventory.add_device(DeviceRecord(device_id=device_id, device_type="ESME", model=model))
            result = AttemptResult.SUCCESS if number % 3 else AttemptResult.NO_RESPONSE
            inventory.record_attempts([AttemptRecord(device_id, 1, number + 1, result, 1.0, 2.0,
                                                     {"command": "DD" * 200, "detail": "history"})])


class SqlCost:
    """Statements and VM steps run on one connection while active."""

    def __init__(self, db: Database):
        self.conn = db.connection
        self.statements = 0
        self.steps = 0

    def __enter__(self) -> SqlCost:
        self.conn.set_trace_callback(self._statement)
        self.conn.set_progress_handler(self._step, 1)
        return self

    def _statement(self, _sql: str) -> None:
        self.statements += 1

    def _step(self) -> int:
        self.steps += 1
        return 0

    def __exit__(self, *exc) -> None:
        self.conn.set_trace_callback(None)
        self.conn.set_progress_handler(None, 1)


def cost_per_migration(pki, path, history: int, *, fleet_api: bool) -> tuple[float, float]:
    setup = Fleet(pki, path)
    try:
        prefill(setup.inventory, history, "EMU-DEFAULT")
        devices = [setup.add(model="EMU-DEFAULT") for _ in range(4)]
        hub_id = next(iter(setup.links))
        with SqlCost(setup.inventory.db) as cost:
            if fleet_api:
                outcomes = setup.dcc.migrate_fleet(setup.links)
            else:
                outcomes = [setup.dcc.migrate(device, setup.links[hub_id]) for device in devices]
        assert [o.success for o in outcomes] == [True] * 4
        assert setup.inventory.model_stats("EMU-DEFAULT") == (history + 4, history + 4,
                                                              sum(1 for n in range(history) if n % 3) + 4)
        return cost.statements / 4, cost.steps / 4
    finally:
        setup.close()


@pytest.mark.parametrize("fleet_api", [False, True], ids=["migrate", "migrate_fleet"])
def test_per_device_sql_cost_does_not_grow_with_the_inventory(fixture_pki, tmp_path, fleet_api):
    small = cost_per_migration(fixture_pki, tmp_path / "n.sqlite", 150, fleet_api=fleet_api)
    large = cost_per_migration(fixture_pki, tmp_path / "10n.sqlite", 1500, fleet_api=fleet_api)
    assert large[0] == small[0]  # the same statements per migration
    # B-tree depth may add a step here and there; a scan of 1,500 attempts would add thousands
    assert large[1] <= small[1] * 1.1 + 20, (small, large)


def test_a_batch_costs_fewer_statements_per_device_than_single_migrations(fixture_pki, tmp_path):
    single = cost_per_migration(fixture_pki, tmp_path / "a.sqlite", 10, fleet_api=False)
    batched = cost_per_migration(fixture_pki, tmp_path / "b.sqlite", 10, fleet_api=True)
    assert batched[0] < single[0]


def old_classify(inventory: Inventory, model: str, min_devices: int) -> tuple[ModelVerdict, tuple, tuple]:
    """The implementation before issue 14 (re-read every attempt of the model), as the oracle."""
    attempts = inventory.attempts(model=model)
    devices = tuple(dict.fromkeys(a.device_id for a in attempts))
    successes = tuple(a for a in attempts if a.result is AttemptResult.SUCCESS)
    if successes:
        return ModelVerdict.MIGRATABLE, devices, successes
    if len(devices) >= min_devices and attempts:
        return ModelVerdict.NON_MIGRATABLE, devices, tuple(attempts)
    return ModelVerdict.UNPROVEN, devices, tuple(attempts)


MIXED_FLEET = [  # (inventory model, device profile, hub, initial status)
    ("GOOD", "default", 0, CredentialStatus.TCOS),
    ("REFUSES", "fails-cells", 0, CredentialStatus.TCOS),
    ("MIXED", "fails-cells", 1, CredentialStatus.TCOS),
    ("GOOD", "default", 1, CredentialStatus.TCOS),
    ("MUTE", "mute", 0, CredentialStatus.TCOS),
    ("MIXED", "default", 1, CredentialStatus.TCOS),
    ("REFUSES", "fails-cells", 1, CredentialStatus.TCOS),
    ("INSTALLED", "default", 0, CredentialStatus.ECOS),
    ("GOOD", "default", 0, CredentialStatus.TCOS),
]
MODELS = ("GOOD", "REFUSES", "MIXED", "MUTE", "INSTALLED", "NEVER-SEEN")


def test_classification_of_a_mixed_fleet_is_unchanged(fixture_pki, tmp_path):
    runs = {}
    for name in ("fleet", "one-by-one"):
        setup = Fleet(fixture_pki, tmp_path / f"{name}.sqlite")
        ids = [setup.add(model=m, profile=p, hub=h, status=s) for m, p, h, s in MIXED_FLEET]
        if name == "fleet":
            outcomes = setup.dcc.migrate_fleet(setup.links, batch_size=4)
            assert [o.device_id for o in outcomes] == [i for i, (*_, h, _s) in zip(ids, MIXED_FLEET, strict=True)
                                                       if h == 0] + [i for i, (*_, h, _s) in
                                                                     zip(ids, MIXED_FLEET, strict=True) if h == 1]
        else:
            links = {hub: setup.links[hub] for hub in setup.links}
            hub_of = {i: list(links)[h] for i, (*_, h, _s) in zip(ids, MIXED_FLEET, strict=True)}
            outcomes = [setup.dcc.migrate(i, links[hub_of[i]]) for i in ids]
        by_device = {o.device_id: [a.result for a in o.attempts] for o in outcomes}
        stored = {m: setup.inventory.model_verdict(m) for m in MODELS}
        for model in MODELS:
            for min_devices in (1, 2, 3):
                verdict, devices, evidence = old_classify(setup.inventory, model, min_devices)
                got = classify_model(setup.inventory, model, min_devices=min_devices)
                assert (got.verdict, got.devices, got.evidence) == (verdict, devices, evidence), (model, min_devices)
        runs[name] = (by_device, stored)
        setup.close()
    (fleet_results, fleet_verdicts), (single_results, single_verdicts) = runs["fleet"], runs["one-by-one"]
    assert fleet_results == single_results
    assert fleet_verdicts == single_verdicts == {
        "GOOD": "MIGRATABLE", "REFUSES": "NON_MIGRATABLE", "MIXED": "MIGRATABLE", "MUTE": "NON_MIGRATABLE",
        "INSTALLED": None, "NEVER-SEEN": None}
    assert set(map(tuple, fleet_results.values())) == {
        (AttemptResult.SUCCESS,), (AttemptResult.DEVICE_FAILURE,) * 2, (AttemptResult.NO_RESPONSE,) * 2, ()}


def test_fleet_keeps_each_hubs_device_log_order_and_reports_progress(fleet):
    order = [fleet.add(model="GOOD", hub=n % 2) for n in range(7)]
    seen: list[tuple[int, int]] = []
    outcomes = fleet.dcc.migrate_fleet(fleet.links, batch_size=3, progress=lambda done, total: seen.append((done, total)))
    hubs = list(fleet.links)
    expected = [d for hub in hubs for d in fleet.inventory.device_log(hub)]
    assert expected == order[0::2] + order[1::2]
    assert [o.device_id for o in outcomes] == expected == fleet.sent_to()
    assert all(o.success for o in outcomes)
    assert seen == [(3, 7), (6, 7), (7, 7)]


def test_migrate_many_keeps_the_order_given(fleet):
    made = [fleet.add(model="GOOD", hub=n % 2) for n in range(5)]
    hub_of = {d: list(fleet.links)[n % 2] for n, d in enumerate(made)}
    order = made[::-1]
    outcomes = fleet.dcc.migrate_many([(d, fleet.links[hub_of[d]]) for d in order], batch_size=2)
    assert [o.device_id for o in outcomes] == order and all(o.success for o in outcomes)
    sent = [decode(f.data).recipient_id for f in sorted((f for link in fleet.links.values() for f in link.log
                                                         if f.direction is Direction.TX), key=lambda f: f.timestamp)]
    assert sent == order


def test_on_outcome_hands_over_every_outcome_in_order_and_keeps_none(fleet):
    order = [fleet.add(model="GOOD", profile="fails-cells" if n == 2 else "default") for n in range(5)]
    seen = []
    kept = fleet.dcc.migrate_fleet(fleet.links, batch_size=2, on_outcome=seen.append)
    assert kept == []
    assert [o.device_id for o in seen] == order[:2] + order[3:] + order[2:3]  # the retried one concludes last
    assert [o.success for o in seen] == [True, True, True, True, False]


def test_batch_counters_are_durable_before_the_first_frame_of_the_batch(fleet, tmp_path):
    devices = [fleet.add(model="GOOD") for _ in range(5)]
    link = next(iter(fleet.links.values()))
    observed = []
    probe = sqlite3.connect(fleet.inventory.db.path)  # another process's view of the file

    def check(party, device, value):
        row = probe.execute("SELECT last_used FROM counters WHERE party = ? AND device = ?",
                            (eui_text(party), eui_text(device))).fetchone()
        observed.append((device, value, row[0] if row else None, len(link.log)))

    fleet.inventory.after_counter_commit = check
    outcomes = fleet.dcc.migrate_fleet(fleet.links, batch_size=5)
    probe.close()
    assert [d for d, *_ in observed] == devices
    assert all(committed == value for _, value, committed, _ in observed)  # committed, visible outside
    assert all(frames == 0 for *_, frames in observed)  # and nothing of the batch sent yet
    assert [o.attempts[0].counter for o in outcomes] == [value for _, value, _, _ in observed]


class Crash(Exception):
    pass


class Broken(EmulatedTransport):
    """Raises an unexpected error (not a TransportError) when a frame for ``victim`` is sent."""

    def __init__(self, endpoint, victim: bytes):
        super().__init__(endpoint)
        self.victim = victim

    def _send(self, frame: bytes) -> None:
        if decode(frame).recipient_id == self.victim:
            raise RuntimeError("adapter driver bug")
        super()._send(frame)


def test_an_unexpected_error_mid_batch_still_records_the_devices_before_it(fleet):
    devices = [fleet.add(model="GOOD") for _ in range(4)]
    hub_id = next(iter(fleet.links))
    link = Broken(fleet.hubs[hub_id], devices[2])
    link.open()
    with pytest.raises(RuntimeError):
        fleet.dcc.migrate_fleet({hub_id: link}, batch_size=4)
    statuses = [fleet.inventory.require(d).credential_status for d in devices]
    assert statuses == [CredentialStatus.ECOS, CredentialStatus.ECOS, CredentialStatus.TCOS, CredentialStatus.TCOS]
    assert [len(fleet.inventory.attempts(device_id=d)) for d in devices] == [1, 1, 0, 0]
    assert fleet.inventory.model_stats("GOOD") == (2, 2, 2)


def test_crash_in_a_batch_after_the_counter_commit_never_reuses_a_counter(fixture_pki, tmp_path):
    first = Fleet(fixture_pki, tmp_path / "crash.sqlite")
    devices = [first.add(model="GOOD") for _ in range(5)]
    calls = []

    def crash(party, device, value):
        calls.append(value)
        if len(calls) == 3:
            raise Crash

    first.inventory.after_counter_commit = crash
    with pytest.raises(Crash):
        first.dcc.migrate_fleet(first.links, batch_size=5)
    assert first.sent_to() == []  # the crash came before any frame left
    lost = {d: first.inventory.counter_state(first.dcc.parties.tcos, d)[0] for d in devices}
    assert all(lost.values())  # every counter of the batch was committed, not only the first three
    first.inventory.close()
    first.inventory = Inventory.open(tmp_path / "crash.sqlite")  # the rig restarts
    first.dcc = Dcc.from_pki(fixture_pki, first.inventory, config=CONFIG, sleep=lambda s: None)
    for device in devices:
        for usage in (Usage.DS, Usage.KA):
            first.dcc.keystore.add(device, usage, fixture_pki.credentials[(device, usage)].certificate)
    outcomes = first.dcc.migrate_fleet(first.links, batch_size=5)
    assert all(o.success for o in outcomes)
    assert all(o.attempts[0].counter > lost[o.device_id] for o in outcomes)
    first.close()


def test_a_failing_statement_in_a_batch_rolls_back_only_its_savepoint(tmp_path):
    inventory = Inventory.open(tmp_path / "sp.sqlite")
    record = DeviceRecord(device_id=bytes.fromhex("7E57000000000AA1"), device_type="ESME", model="M")
    with inventory.db.transaction():
        inventory.add_device(record)
        with pytest.raises(LookupError):
            inventory.add_device(record)  # duplicate: InventoryError, nothing else undone
        inventory.next_counter(record.device_id, record.device_id)
    assert inventory.device(record.device_id) is not None
    assert inventory.counter_state(record.device_id, record.device_id) == (1, 0)
    with pytest.raises(RuntimeError), inventory.db.transaction():
        inventory.next_counter(record.device_id, record.device_id)
        raise RuntimeError
    assert inventory.counter_state(record.device_id, record.device_id) == (1, 0)  # outer exception: all undone
    inventory.close()


def test_a_schema_1_file_gets_its_model_counters_on_open(tmp_path):
    path = tmp_path / "v1.sqlite"
    inventory = Inventory.open(path)
    prefill(inventory, 9, "OLD-MODEL")
    expected = inventory.model_stats("OLD-MODEL")
    assert expected == (9, 9, 6)
    with inventory.db.transaction() as conn:  # what a file written before schema 2 looks like
        conn.execute("DELETE FROM model_stats")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    inventory.close()
    reopened = Inventory.open(path)
    assert reopened.model_stats("OLD-MODEL") == expected
    assert reopened.db.query("SELECT value FROM meta WHERE key = 'schema_version'")[0][0] == "2"
    reopened.close()


def test_progress_bar_line():
    now = [100.0]
    out = io.StringIO()
    bar = ProgressBar("fleet", stream=out, width=10, every_s=0.0, clock=lambda: now[0])
    bar(0, 200)
    now[0] = 102.0
    bar(100, 200)
    assert out.getvalue().splitlines()[-1] == "fleet [#####.....] 100/200 50/s, 2 s left"
    now[0] = 104.0
    bar(200, 200)
    assert out.getvalue().splitlines()[-1] == "fleet [##########] 200/200 50/s, 0 s left"


def cost_of_a_623(pki, path, history: int) -> tuple[int, int]:
    """One SRV 6.23 (change of supplier) with ``history`` other devices, attempts and old 6.23 events."""
    from rig.dcc.examples import example_adt, example_request

    from .conftest import TEST_CONFIG, esme_record
    from .fake_meter import FakeMeter, link

    inventory = Inventory.open(path)
    try:
        prefill(inventory, history, "OTHER")
        with inventory.db.transaction() as conn:  # a busy day long ago: outside the 1440-minute window
            conn.executemany("INSERT INTO srv_events (user_id, srv, at, request_id) VALUES (?, '6.23', ?, ?)",
                             [(eui_text(pki.entity("supplier_b")), float(n), f"old-{n}") for n in range(history)])
        inventory.add_device(esme_record(pki))
        dcc = Dcc.from_pki(pki, inventory, config=TEST_CONFIG, sleep=lambda s: None)
        dcc.submit_adt(example_adt(pki))
        with link(FakeMeter(pki)) as transport, SqlCost(inventory.db) as cost:
            outcome = dcc.submit_623(example_request(pki), transport)
        assert outcome.status == "COMPLETED"
        return cost.statements, cost.steps
    finally:
        inventory.close()


def test_a_623_costs_the_same_in_a_large_inventory(fixture_pki, tmp_path):
    small = cost_of_a_623(fixture_pki, tmp_path / "n.sqlite", 150)
    large = cost_of_a_623(fixture_pki, tmp_path / "10n.sqlite", 1500)
    assert large[0] == small[0]
    assert large[1] <= small[1] * 1.1 + 20, (small, large)
