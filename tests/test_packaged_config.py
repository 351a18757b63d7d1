"""The emulated default hw_config ships inside the package (issue 15): ``gbcs-rig prove`` and
``pytest --pyargs rig.scenarios`` behave the same in any folder as in a checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from rig.config import load_config
from rig.config.packaged import PACKAGED_CONFIG, render
from rig.pytest_plugin.environment import builtin_emulated_config

from .vectors import PROJECT

EXAMPLE = PROJECT / "hw_configs" / "emulated.toml"


def test_the_packaged_config_is_generated_from_the_example_and_up_to_date():
    assert PACKAGED_CONFIG.read_text() == render(EXAMPLE.read_text()), (
        "rig/data/hw_configs/emulated.toml is stale: run python -m rig.config.packaged")


def test_the_packaged_config_has_the_example_rigs_and_features_without_its_credentials_path():
    example, packaged = load_config(EXAMPLE, env={}), load_config(PACKAGED_CONFIG, env={})
    assert list(packaged.rigs) == list(example.rigs) == ["esme", "gsme", "chf", "gpf"]
    for rig_id, spec in example.rigs.items():
        mine = packaged.rigs[rig_id]
        assert (mine.device, mine.device_id, mine.features, mine.transport) == (
            spec.device, spec.device_id, spec.features, spec.transport)
        assert "future_dated" in mine.features or rig_id == "chf"
        assert spec.credentials.given() and not mine.credentials.given()
    # the plugin's fallback outside a checkout is this file, so no scenario skips for a feature
    assert builtin_emulated_config().rigs == packaged.rigs


def _run(command: list[str], cwd: Path, env: dict | None = None, timeout: float = 600):
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env or {**os.environ}, stdin=subprocess.DEVNULL)


def _prove_from(folder: Path, env: dict | None = None, *options: str) -> dict:
    """``gbcs-rig prove --json OPTIONS`` run in ``folder``: its summary, after what every such run must show
    (the package's own config, a report written, no traceback)."""
    done = _run([sys.executable, "-m", "rig.cli.main", "prove", "--json", *options], folder, env)
    assert done.returncode in (0, 3), done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["exit_code"] == done.returncode
    assert Path(summary["config"]).name == "emulated.toml" and "data" in Path(summary["config"]).parts
    assert len(summary["models"]) == 4
    assert summary["counts"]["failed"] == summary["counts"]["inconclusive"] == 0
    assert (folder / summary["report"]).exists()
    assert "Traceback" not in done.stderr
    return summary


def _migratable(summary: dict) -> None:
    """The whole catalogue ran and passed."""
    assert summary["verdict"] == "MIGRATABLE" and summary["exit_code"] == 0
    assert {m["verdict"] for m in summary["models"]} == {"MIGRATABLE"}
    assert summary["counts"]["not-run"] == 0


@pytest.mark.slow  # the fast suite proves from a folder of its own with only the installed wheel (below)
def test_prove_from_a_folder_outside_the_checkout_is_migratable(tmp_path):
    assert not (tmp_path / "hw_configs").exists()
    _migratable(_prove_from(tmp_path))


@pytest.mark.slow  # the whole catalogue; fast: the packaged rigs' features above, the guide's example below
def test_plain_pytest_outside_the_checkout_runs_every_scenario_with_features(tmp_path):
    done = _run([sys.executable, "-m", "pytest", "--pyargs", "rig.scenarios", "-q", "-p", "no:cacheprovider",
                 "-rs", "-o", "addopts=", "--rig-log-dir", str(tmp_path / "log")], tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "future_dated" not in done.stdout  # no "needs feature future_dated" skips
    assert " passed" in done.stdout.splitlines()[-1]
    records = [json.loads(line) for line in (tmp_path / "log" / "journal.jsonl").read_text().splitlines()]
    future = [r for r in records if r.get("type") == "test" and r.get("scenario") == "future-dated"]
    assert {r["rig"] for r in future if r["outcome"] == "passed"} == {"esme", "gsme", "gpf"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package built as a wheel and installed into a folder of its own (no checkout on the path)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("rig", "firmware_emu"):
        shutil.copytree(PROJECT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT / name, source / name)
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(source)], work)
    if built.returncode != 0 and ("No matching distribution" in built.stderr or "Could not find" in built.stderr):
        pytest.skip(f"cannot fetch the build backend to build a wheel: {built.stderr.strip().splitlines()[-1]}")
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((work / "dist").glob("gbcs_rig-*.whl"))
    assert "rig/data/hw_configs/emulated.toml" in zipfile.ZipFile(wheel).namelist()
    target = work / "site"
    done = _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target),
                 str(wheel)], work)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (target / "fixtures").exists() and not (target / "hw_configs").exists()
    return target


def _wheel_only(installed: Path, folder: Path) -> dict:
    """The environment of a run with no checkout on the path, and a cache of its own (the test PKI
    is regenerated from its seed)."""
    env = {**os.environ, "PYTHONPATH": str(installed), "XDG_CACHE_HOME": str(folder / "cache")}
    where = _run([sys.executable, "-c", "import rig; print(rig.__file__)"], folder, env)
    assert where.stdout.strip().startswith(str(installed)), where  # the wheel's code, not the checkout's
    return env


@pytest.mark.slow  # the whole catalogue; fast: a few scenarios on every packaged rig from the wheel (below)
def test_the_installed_wheel_proves_migratable_from_any_folder(installed, tmp_path):
    _migratable(_prove_from(tmp_path, _wheel_only(installed, tmp_path)))


def test_the_installed_wheel_runs_scenarios_on_every_packaged_rig_from_any_folder(installed, tmp_path):
    """The read-back on all four packaged rigs, and the future-dated pair, which runs only where the
    packaged config declares the future_dated feature (ESME, GSME, GPF): all pass, the rest is not run."""
    summary = _prove_from(tmp_path, _wheel_only(installed, tmp_path), "-k", "initial-read-back or future-dated")
    assert summary["verdict"] == "NOT PROVEN" and summary["exit_code"] == 3
    assert summary["counts"]["passed"] == 4 + 2 * 3 and summary["counts"]["not-run"] > 0
    rigs = {m["name"].split()[-1]: m["rigs"] for m in summary["models"]}
    assert rigs == {"ESME": ["esme"], "GSME": ["gsme"], "CHF": ["chf"], "GPF": ["gpf"]}


def test_the_guides_example_passes_with_only_the_installed_wheel(installed, tmp_path):
    """The issue's "done when": a new folder with the package installed and the guide's example."""
    shutil.copy(PROJECT / "docs" / "examples" / "test_my_meter.py", tmp_path / "test_my_meter.py")
    env = {**os.environ, "PYTHONPATH": str(installed), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = _run([sys.executable, "-m", "pytest", "test_my_meter.py", "-q", "-p", "no:cacheprovider",
                 "--rig-log-dir", str(tmp_path / "log"), "-W", "error::pytest.PytestConfigWarning"], tmp_path, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.stdout.splitlines()[-1].startswith("7 passed"), done.stdout[-500:]
    session = json.loads((tmp_path / "log" / "journal.jsonl").read_text().splitlines()[0])
    assert str(installed) in session["config"]  # the wheel's own packaged rigs
