"""Every mutant applies to the tree and changes the observation of its probe (``tools.mutants.trace``).

Runs in one process to stay cheap (the test suite runs it): the probes run once on the unmutated
tree, then, per mutant, with the mutant's patched modules served by an import hook in front of
the normal finders while every module above the untouched lower layers (``KEPT``) is imported
afresh. No copy is made here; ``python -m tools.mutants`` is the one that proves fresh copies.
Prints one JSON line per mutant; exit 0 when every mutant applied, was imported by its probe and
changed its observation.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
from pathlib import Path

from .apply import ROOT, Stale, patched_texts
from .catalogue import MUTANTS, Mutant

OURS = ("rig", "firmware_emu", "tools", "tests")
#: the lower layers (codec, crypto, test PKI) no mutant patches: imported once, shared by every run
KEPT = ("rig", "rig.gbcs", "rig.crypto", "rig.pki")


def _kept(name: str) -> bool:
    return name == "rig" or any(name == k or name.startswith(k + ".") for k in KEPT[1:])


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class PatchedSources(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the patched text of some modules; everything else imports as usual."""

    def __init__(self, texts: dict[Path, str]):
        self.texts = {module_name(path): (path, text) for path, text in texts.items()}

    def find_spec(self, name, path=None, target=None):
        if name not in self.texts:
            return None
        filename = self.texts[name][0]
        package = [str(filename.parent)] if filename.name == "__init__.py" else None
        return importlib.util.spec_from_file_location(name, filename, loader=self,
                                                      submodule_search_locations=package)

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        path, text = self.texts[module.__spec__.name]
        exec(compile(text, str(path), "exec"), module.__dict__)


class _CompiledOnce(importlib.machinery.SourceFileLoader):
    """A source file loader that compiles each file once per process: every mutant's run executes
    the unpatched modules afresh (new module objects, their bodies run again), from the code object
    of the first compilation. Without bytecode caches (``PYTHONDONTWRITEBYTECODE``, a read-only
    tree) re-importing ~35 modules per mutant otherwise compiles them from source every time."""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        code = _CODES.get(path)
        if code is None:
            code = _CODES[path] = super().get_code(fullname)
        return code


#: code objects by source path, for the process lifetime (the tree does not change under it)
_CODES: dict[str, object] = {}


class CompiledOnce(importlib.abc.MetaPathFinder):
    """Finds our re-imported modules as usual and loads them with ``_CompiledOnce`` (behind
    ``PatchedSources``, which serves the patched ones from their text)."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in OURS or _kept(name):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader:
            return spec
        spec.loader = _CompiledOnce(spec.loader.name, spec.loader.path)
        return spec


def _observe(probes: list[str], pki, hook: PatchedSources | None = None) -> dict[str, object]:
    for name in [n for n in sys.modules if n.split(".")[0] in OURS and not _kept(n)]:
        del sys.modules[name]
    if hook is not None:
        sys.meta_path.insert(0, hook)
    try:
        trace = importlib.import_module("tools.mutants.trace")
        observed = {name: _plain(trace.observe(name, pki)) for name in probes}
        if hook is not None:
            unused = [n for n in hook.texts if getattr(sys.modules.get(n), "__loader__", None) is not hook]
            if unused:
                observed["(patched modules the probe never imported)"] = unused
        return observed
    finally:
        if hook is not None:
            sys.meta_path.remove(hook)


def _plain(value):
    return json.loads(json.dumps(value, default=repr))


def check(mutant: Mutant, clean: dict, pki) -> dict:
    row = {"name": mutant.name, "probe": mutant.probe, "clean": clean[mutant.probe]}
    try:
        texts = patched_texts(mutant, ROOT)
    except Stale as err:
        row.update(stale=str(err), changed=False)
        return row
    observed = _observe([mutant.probe], pki, PatchedSources(texts))
    row["mutated"] = observed.pop(mutant.probe)
    row["changed"] = row["mutated"] != row["clean"] and not observed
    if observed:
        row.update(observed)
    return row


def main(names: list[str]) -> int:
    mutants = [m for m in MUTANTS if not names or m.name in names]
    touched = [m.name for m in mutants for h in m.hunks if _kept(module_name(ROOT / h.path))]
    if touched:
        raise SystemExit(f"mutants {touched} patch a layer the selftest imports only once ({', '.join(KEPT)})")
    sys.meta_path.insert(0, CompiledOnce())  # PatchedSources, inserted in front per mutant, comes first
    pki = importlib.import_module("rig.pki").load(ROOT / "fixtures" / "pki")
    clean = _observe(sorted({m.probe for m in mutants}), pki)
    ok = True
    for mutant in mutants:
        row = check(mutant, clean, pki)
        ok &= row["changed"]
        print(json.dumps(row), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
