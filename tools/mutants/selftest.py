"""Every mutant applies to the tree and changes the observation of its probe (``tools.mutants.trace``).

Runs in one process to stay cheap: the probes run once on the unmutated tree, then, per mutant,
on a scratch copy of the packages carrying that mutant, imported afresh (our modules are dropped
from ``sys.modules`` and the copy goes first on ``sys.path``; third-party modules stay loaded).
Prints one JSON line per mutant; exit 0 when every mutant applied and changed its observation.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .apply import ROOT, Stale, plant
from .catalogue import MUTANTS

OURS = ("rig", "firmware_emu", "tools", "tests")
COPIED = ("rig", "firmware_emu", "tools")
HELPERS = ("tests/__init__.py", "tests/emu_helpers.py")


def _observe(root: Path, probes: list[str]) -> dict[str, object]:
    """Import our packages afresh from ``root`` and run ``probes`` there."""
    for name in [n for n in sys.modules if n.split(".")[0] in OURS]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        for package in ("rig", "firmware_emu", "tests"):
            module = importlib.import_module(package)
            if not Path(module.__file__).is_relative_to(root):
                raise RuntimeError(f"{package} resolved to {module.__file__}, not the copy in {root}")
        trace = importlib.import_module("tools.mutants.trace")
        pki = importlib.import_module("rig.pki").load(ROOT / "fixtures" / "pki")
        return {name: _plain(trace.observe(name, pki)) for name in probes}
    finally:
        sys.path.remove(str(root))


def _copy(destination: Path) -> Path:
    """A tree of links to the packages' files: cheap, and ``plant`` replaces a link by the patched file."""
    ignore = shutil.ignore_patterns("__pycache__")
    for name in COPIED:
        shutil.copytree(ROOT / name, destination / name, ignore=ignore, copy_function=os.symlink)
    (destination / "tests").mkdir()
    for helper in HELPERS:
        os.symlink(ROOT / helper, destination / helper)
    return destination


def _plain(value):
    return json.loads(json.dumps(value, default=repr))


def main(names: list[str]) -> int:
    sys.dont_write_bytecode = True
    mutants = [m for m in MUTANTS if not names or m.name in names]
    ok = True
    with tempfile.TemporaryDirectory(prefix="gbcs-mutant-selftest-") as scratch:
        clean_root = _copy(Path(scratch) / "clean")
        clean = _observe(clean_root, sorted({m.probe for m in mutants}))
        for mutant in mutants:
            root = _copy(Path(scratch) / mutant.name)
            row = {"name": mutant.name, "probe": mutant.probe, "clean": clean[mutant.probe]}
            try:
                plant(mutant, root)
            except Stale as err:
                row.update(stale=str(err), changed=False)
            else:
                row["mutated"] = _observe(root, [mutant.probe])[mutant.probe]
                row["changed"] = row["mutated"] != row["clean"]
            ok &= row["changed"]
            print(json.dumps(row), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
