"""The host's counter ledger: durable reservations, the inventory's hook, export/import, the CLI,
``state_dir``, and two runs one after the other on one stateful meter served over TCP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rig.cli.main import main
from rig.config import ConfigError, parse_config
from rig.dcc import Inventory
from rig.dcc.ledger import LEDGER_NAME, Ledger, LedgerError, default_state_dir, keeps_state, ledger_for
from rig.gbcs import CraFlag, decode
from rig.report import journal as journal_module
from rig.transport.spawn import SIGNAL_PROCESSED_ENV

from .lab_configs import served_esme_config, socket_transport
from .vectors import FIXTURE_PKI, PROJECT

PARTY, OTHER, METER = "00DB000000000001", "00DB000000000002", "7E570D00000000A0"


def _inventory(folder: Path, state: Path | None) -> Inventory:
    """A run folder's inventory, on the host ledger in ``state`` (None: no ledger)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Inventory.open(folder / "inventory.sqlite", ledger=Ledger.in_state_dir(state) if state else None)


def test_reservations_continue_across_openings_and_never_go_back(tmp_path):
    with Ledger(tmp_path / LEDGER_NAME) as ledger:
        assert [ledger.reserve(PARTY, METER) for _ in range(3)] == [1, 2, 3]
        assert ledger.reserve(PARTY, METER, above=10) == 11  # what the caller knows of counts
        assert ledger.reserve(PARTY, METER, above=2) == 12  # ... but never lowers the sequence
        ledger.raise_floor(OTHER, METER, 40)
    with Ledger(tmp_path / LEDGER_NAME) as again:  # another process, another day
        assert again.reserve(PARTY, METER) == 13
        assert again.reserve(OTHER, METER) == 41
        assert again.state(PARTY, METER) == (13, 0)
        assert [event["value"] for event in again.history(METER, limit=3)] == [40, 13, 41]


def test_ledger_is_wal_and_fsynced(tmp_path):
    with Ledger(tmp_path / LEDGER_NAME) as ledger:
        assert ledger._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert ledger._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_two_report_folders_share_one_meters_sequence(tmp_path):
    """Two runs (two report folders, two inventories) on one meter: the second continues."""
    state = tmp_path / "state"
    first = _inventory(tmp_path / "run1", state)
    used = [first.next_counter(PARTY, METER) for _ in range(5)]
    first.close()
    second = _inventory(tmp_path / "run2", state)
    assert second.next_counter(PARTY, METER) == 6
    assert second.counter_state(PARTY, METER) == (6, 0)  # the run folder keeps what it used
    second.close()
    assert used == [1, 2, 3, 4, 5]
    alone = _inventory(tmp_path / "run3", None)  # no ledger: the old per-folder sequence
    assert alone.next_counter(PARTY, METER) == 1
    alone.close()


def test_a_counter_is_durable_in_the_ledger_before_it_is_handed_out(tmp_path):
    """The crash-safety contract of ``next_counter`` holds with the ledger: when the process dies
    between "committed" and "sent", no run on the host ever gets that counter again."""
    state = tmp_path / "state"
    inventory = _inventory(tmp_path / "run1", state)
    seen = []

    def crash(party, device, value):
        with Ledger.in_state_dir(state) as other:  # what another process sees at this instant
            seen.append(other.state(party, device))
        raise KeyboardInterrupt("power cut")

    inventory.after_counter_commit = crash
    with pytest.raises(KeyboardInterrupt):
        inventory.next_counter(PARTY, METER)
    assert seen == [(1, 0)]
    inventory.close()
    fresh = _inventory(tmp_path / "run2", state)
    assert fresh.next_counter(PARTY, METER) == 2
    fresh.close()


def test_a_rolled_back_batch_burns_its_counters_in_the_ledger(tmp_path):
    state = tmp_path / "state"
    inventory = _inventory(tmp_path / "run", state)
    with pytest.raises(RuntimeError), inventory.db.transaction():
        inventory.next_counter(PARTY, METER)
        raise RuntimeError("the batch fails after the counter was chosen")
    assert inventory.counter_state(PARTY, METER) == (0, 0)  # the run folder rolled back ...
    assert inventory.next_counter(PARTY, METER) == 2  # ... the ledger did not: 1 is never reused
    inventory.raise_floor(OTHER, METER, 7)
    assert inventory.ledger.state(OTHER, METER) == (0, 7)  # floors reach the ledger too
    inventory.close()


def test_export_import_round_trip_and_import_never_lowers(tmp_path):
    with Ledger(tmp_path / "old" / LEDGER_NAME) as old:
        for _ in range(30):
            old.reserve(PARTY, METER)
        old.raise_floor(OTHER, METER, 5)
        exported = old.export()
    with Ledger(tmp_path / "new" / LEDGER_NAME) as new:
        for _ in range(50):
            new.reserve(OTHER, METER)  # the new lab already went further for this originator
        new.raise_floor(PARTY, METER, 3)
        new.import_(json.loads(json.dumps(exported)))
        assert new.state(PARTY, METER) == (30, 3)  # raised to the export's
        assert new.state(OTHER, METER) == (50, 5)  # last used kept: 50 > 0, floor raised to 5
        assert new.reserve(PARTY, METER) == 31 and new.reserve(OTHER, METER) == 51
        new.import_(exported)  # an older export again changes nothing
        assert new.state(PARTY, METER) == (31, 3)
        assert {(row["device"], row["party"]) for row in new.export()["counters"]} == {
            (row["device"], row["party"]) for row in exported["counters"]}


@pytest.mark.parametrize("bad", [
    {}, {"format": "gbcs-rig counter ledger", "version": 9, "counters": []},
    {"format": "gbcs-rig counter ledger", "version": 1, "counters": {}},
    {"format": "gbcs-rig counter ledger", "version": 1, "counters": [{"device": "zz", "party": PARTY}]},
    {"format": "gbcs-rig counter ledger", "version": 1,
     "counters": [{"device": METER, "party": PARTY, "last_used": 9}, {"device": METER, "party": OTHER, "last_used": -1}]},
    {"format": "gbcs-rig counter ledger", "version": 1, "counters": [{"device": METER, "party": PARTY, "floor": "9"}]},
])
def test_a_malformed_import_is_refused_and_writes_nothing(tmp_path, bad):
    with Ledger(tmp_path / LEDGER_NAME) as ledger:
        with pytest.raises(LedgerError):
            ledger.import_(bad)
        assert ledger.rows() == []


def test_cli_show_export_import(tmp_path, capsys):
    old, new = tmp_path / "old", tmp_path / "new"
    with Ledger.in_state_dir(old, source="run A") as ledger:
        for _ in range(4):
            ledger.reserve(PARTY, METER)
    assert main(["ledger", "--state-dir", str(old), "show", "7e:57:0d:00:00:00:00:a0"]) == 0
    out = capsys.readouterr().out
    assert "originator 00-DB-00-00-00-00-00-01: last used 4, floor 0, next 5" in out and "reserved 4 by run A" in out
    export = tmp_path / "meter.json"
    assert main(["ledger", "--state-dir", str(old), "export", str(export)]) == 0
    with Ledger.in_state_dir(new) as ledger:
        for _ in range(9):
            ledger.reserve(PARTY, METER)
    assert main(["ledger", "--state-dir", str(new), "import", str(export)]) == 0
    assert "next 10" in capsys.readouterr().out  # 9 > 4: never lowered
    assert main(["ledger", "--state-dir", str(new), "show", "not-an-eui"]) == 2
    export.write_text("{not json")
    assert main(["ledger", "--state-dir", str(new), "import", str(export)]) == 2
    assert "not a JSON counter ledger export" in capsys.readouterr().err
    assert main(["ledger", "--state-dir", str(tmp_path / "none"), "show", METER]) == 0
    assert "no counter ledger in" in capsys.readouterr().out
    assert not (tmp_path / "none").exists()  # show creates nothing


def test_state_dir_default_follows_xdg(tmp_path):
    assert default_state_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "gbcs-rig"
    assert default_state_dir({"XDG_STATE_HOME": "relative", "HOME": str(tmp_path)}) == \
        tmp_path / ".local" / "state" / "gbcs-rig"
    assert default_state_dir({"HOME": str(tmp_path)}) == tmp_path / ".local" / "state" / "gbcs-rig"


RIG = '[rigs.lab]\ndevice = "ESME"\ntransport = { kind = "serial", url = "socket://127.0.0.1:4000" }\n'


def test_state_dir_in_the_hw_config(tmp_path):
    top = parse_config('state_dir = "state"\n' + RIG, path=tmp_path / "lab.toml")
    assert top.rigs["lab"].state_dir == tmp_path / "state"  # relative to the config's folder
    defaults = parse_config('[defaults]\nstate_dir = "/srv/gbcs"\n' + RIG, path=tmp_path / "lab.toml")
    assert defaults.rigs["lab"].state_dir == Path("/srv/gbcs")
    assert parse_config(RIG).rigs["lab"].state_dir is None
    with pytest.raises(ConfigError, match="given twice"):
        parse_config('state_dir = "a"\n[defaults]\nstate_dir = "b"\n' + RIG)
    with pytest.raises(ConfigError, match="string"):
        parse_config('state_dir = 3\n' + RIG)
    ledger = ledger_for(top.rigs["lab"])
    assert ledger is not None and ledger.path == tmp_path / "state" / LEDGER_NAME
    ledger.close()


def test_only_devices_that_outlive_the_run_use_the_ledger():
    config = parse_config(
        RIG + '[rigs.emu]\ndevice = "ESME"\ntransport = { kind = "emulated" }\n'
        '[rigs.spawned]\ndevice = "ESME"\ntransport = { kind = "serial", spawn = "gbcs-rig emulate --pty" }\n'
        '[rigs.radio]\ndevice = "ESME"\ntransport = { kind = "zigbee", backend = "emulated",'
        ' eui64 = "000D6F0000000001" }\n')
    assert [rig_id for rig_id, spec in config.rigs.items() if keeps_state(spec)] == ["lab"]
    assert ledger_for(config.rigs["emu"]) is None


# -- two runs on one stateful meter served over TCP -------------------------------------------------


REPLAY_ALERT = "0x8F53"  # the emulator's alert for a counter at or below the last accepted one


def _two_runs(folder: Path, *select: str):
    """One emulated ESME served over TCP and kept alive across two ``prove`` runs (it keeps its
    counters and its trust anchors, like a meter on a bench), the second from another config
    spelling the meter ``localhost``; both configs name one ``state_dir``. The emulator sends
    its processed signal and the configs declare it (``processed_signal``), so the rig's
    silence waits end there instead of at the response timeout. ``select``: prove options
    (``-k EXPR``) for both runs."""
    env = dict(os.environ, PYTHONPATH=str(PROJECT), **{SIGNAL_PROCESSED_ENV: "1"})
    process = subprocess.Popen([sys.executable, "-m", "rig.cli.main", "emulate", "--device-type", "ESME", "--tcp", "0",
                                "--framing", "length-prefixed", "--pki", str(FIXTURE_PKI)],
                               env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("READY tcp=127.0.0.1:"), line + process.stderr.read()
        port = int(line.rsplit(":", 1)[1])
        first = prove(lab_config(folder, port), folder / "run1", *select)
        second = prove(lab_config(folder, port, host="localhost"), folder / "run2", *select)
    finally:
        process.stdin.close()
        process.wait(timeout=20)
        process.stdout.close()
        process.stderr.close()
    return folder, first, second


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The whole catalogue, twice (``pytest -m slow``)."""
    return _two_runs(tmp_path_factory.mktemp("two-runs"))


#: enough of the catalogue for the second run to show the counters continue: the migration
#: (the first run's, then one that cannot be set up again) and a change of supplier (both runs)
FEW = ("-k", "initial_read_back or test_migration or test_change_of_supplier")


@pytest.fixture(scope="module")
def two_few_runs(tmp_path_factory):
    return _two_runs(tmp_path_factory.mktemp("two-few-runs"), *FEW)


def lab_config(folder: Path, port: int, host: str = "127.0.0.1") -> Path:
    config = folder / f"lab-{host}.toml"
    config.write_text(served_esme_config(
        pki=FIXTURE_PKI, rig="esme-tcp", features=("cs02b", "future_dated", "serial", "processed_signal"),
        transport=socket_transport(host, port), response=2, alert=5, join=5, preamble='state_dir = "state"\n'))
    return config


def prove(config: Path, report: Path, *options: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(PROJECT))
    return subprocess.run([sys.executable, "-m", "rig.cli.main", "prove", "--config", str(config), "--report",
                           str(report), *options], cwd=report.parent, env=env, capture_output=True, text=True,
                          timeout=240)


#: scenarios that send a used counter again on purpose (the device must refuse the replay)
REPLAY_PROBES = {"replayed-counter", "replayed-read"}


def sent_counters(report: Path) -> dict[tuple[str, str], list[int]]:
    """(originator, recipient) -> the counters of every command the run wrote to the link (the
    deliberate replay probes left out)."""
    sent: dict[tuple[str, str], list[int]] = {}
    for record in journal_module.tests(report / "journal.jsonl"):
        if record.get("scenario") in REPLAY_PROBES:
            continue
        for frame in record.get("frames", []):
            try:
                message = decode(bytes.fromhex(frame["hex"]))
            except ValueError:
                continue  # a deliberately broken probe
            if frame["direction"] == "tx" and message.cra_flag == CraFlag.COMMAND:
                sent.setdefault((message.originator_id.hex(), message.recipient_id.hex()), []).append(
                    message.originator_counter)
    return sent


def outcomes(report: Path) -> dict[str, str]:
    return {record["scenario"]: record["outcome"] for record in journal_module.tests(report / "journal.jsonl")}


#: the scenarios that need a factory (TCoS) device: after the first run's migration they cannot
#: be set up on this meter again (a real device only migrates forwards)
PRE_MIGRATION = {"cos-before-migration", "forged-signature", "bad-mac", "wrong-recipient", "truncated-frame", "oversized-length",
                 "replayed-counter", "wrong-key-usage", "wrong-role", "unknown-ca", "missing-issuing-ca", "migration"}
POST_MIGRATION = {"change-of-supplier", "future-dated", "future-dated-failing", "cancellation",
                  "anomaly-detection-breach"}


def _assert_the_counters_continue(folder: Path, second: subprocess.CompletedProcess) -> list[dict]:
    """Every command of the second run went out on a counter above every one the first run sent
    for that originator and meter (and the meter never refused one as replayed); the ledger holds
    the highest. Returns the second run's results."""
    before, after = sent_counters(folder / "run1"), sent_counters(folder / "run2")
    assert after, second.stdout[-3000:] + second.stderr[-2000:]
    assert set(after) & set(before), (before, after)  # the same originator and meter in both runs
    for pair, counters in after.items():
        assert len(set(counters)) == len(counters), f"a counter sent twice in run 2 for {pair}"
        if pair in before:
            assert min(counters) > max(before[pair]), f"counter reused for {pair}: {before[pair]} then {counters}"
    results = journal_module.tests(folder / "run2" / "journal.jsonl")
    assert not any(REPLAY_ALERT in (r.get("alert_codes") or []) for r in results
                   if r["scenario"] not in REPLAY_PROBES)  # never rejected as replayed
    with Ledger.in_state_dir(folder / "state") as ledger:  # the ledger holds the highest counter either run used
        for (party, device), counters in after.items():
            assert ledger.state(party, device)[0] >= max(counters)
    return results


def test_a_second_few_scenario_run_continues_its_counters(two_few_runs):
    """A ``-k`` subset of the two runs below: the first migrates the meter and changes its
    supplier; the second cannot migrate it again (inconclusive, never failed) and changes its
    supplier on fresh counters the meter accepts."""
    folder, first, second = two_few_runs
    assert first.returncode == 3, first.stdout[-3000:] + first.stderr[-2000:]  # -k: the rest is not run
    ran = ("initial-read-back", "migration", "change-of-supplier")
    assert {name: outcomes(folder / "run1")[name] for name in ran} == dict.fromkeys(ran, "passed")
    results = _assert_the_counters_continue(folder, second)
    got = outcomes(folder / "run2")
    assert (got["initial-read-back"], got["migration"], got["change-of-supplier"]) == (
        "inconclusive", "inconclusive", "passed"), got
    reason = next(r["reason"] for r in results if r["scenario"] == "migration")
    assert "already holds the ECoS trust anchor" in reason, reason
    assert second.returncode == 3 and "verdict: NOT PROVEN (exit 3)" in second.stdout


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_a_second_run_on_a_stateful_meter_continues_its_counters(two_runs):
    folder, first, second = two_runs
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert "verdict: MIGRATABLE (exit 0)" in first.stdout
    results = _assert_the_counters_continue(folder, second)
    got = outcomes(folder / "run2")
    # the meter is migrated: the pre-migration scenarios cannot be set up, and the rig says so as
    # inconclusive (the rig could not establish the evidence: never the meter's fault) ...
    inconclusive = {name for name, outcome in got.items() if outcome == "inconclusive"}
    assert PRE_MIGRATION <= inconclusive and "failed" not in got.values(), got
    for record in results:
        if record["scenario"] in inconclusive:
            assert "already holds the ECoS trust anchor" in record["reason"], record["reason"]
    # ... and the post-migration ones pass again, on fresh counters the meter accepted
    assert {name: got[name] for name in POST_MIGRATION} == dict.fromkeys(POST_MIGRATION, "passed")


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_the_second_run_is_not_proven_never_not_migratable(two_runs):
    _folder, _first, second = two_runs
    assert outcomes(_folder / "run2")["initial-read-back"] == "inconclusive"
    assert second.returncode == 3 and "verdict: NOT PROVEN (exit 3)" in second.stdout


def test_an_unusable_state_dir_is_a_clear_ledger_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(LedgerError, match="counter ledger folder"):
        Ledger.in_state_dir(blocker / "state")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / LEDGER_NAME).write_text("this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="counter ledger"):
        Ledger.in_state_dir(tmp_path / "bad")


def test_cli_reads_the_state_dir_of_a_hw_config(tmp_path, capsys):
    config = tmp_path / "lab.toml"
    config.write_text('state_dir = "lab-state"\n' + RIG)
    with Ledger.in_state_dir(tmp_path / "lab-state") as ledger:
        ledger.reserve(PARTY, METER)
    assert main(["ledger", "--config", str(config), "show", METER]) == 0
    assert "last used 1, floor 0, next 2" in capsys.readouterr().out
