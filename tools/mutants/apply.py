"""Fresh copies of the source tree and the planting of one mutant in a copy."""

from __future__ import annotations

import shutil
from pathlib import Path

from .catalogue import Mutant

#: never copied: VCS data, virtual environments, caches, earlier reports
IGNORED = (".git", ".venv", "venv", "reports", "__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info",
           "build", "dist", ".hypothesis")

ROOT = Path(__file__).resolve().parents[2]


class Stale(Exception):
    """A hunk's search text is not in the tree exactly once: the mutant no longer applies."""


def fresh_copy(destination: Path, source: Path = ROOT) -> Path:
    """Copy the source tree (without caches and environments) to ``destination``."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(*IGNORED), symlinks=True)
    return destination


def patched_texts(mutant: Mutant, root: Path) -> dict[Path, str]:
    """The new text of every file ``mutant`` touches under ``root``; raises ``Stale``.

    Hunks apply in order, so a later hunk in the same file searches the text the earlier left.
    """
    texts: dict[Path, str] = {}
    for number, hunk in enumerate(mutant.hunks, 1):
        path = root / hunk.path
        if path not in texts:
            if not path.is_file():
                raise Stale(f"hunk {number}: {hunk.path} does not exist")
            texts[path] = path.read_text()
        count = texts[path].count(hunk.old)
        if count != 1:
            first = hunk.old.strip().splitlines()[0] if hunk.old.strip() else "(empty)"
            raise Stale(f"hunk {number}: {hunk.path} holds the search text {count} times, not once: {first!r}")
        texts[path] = texts[path].replace(hunk.old, hunk.new)
    for path, text in texts.items():
        try:
            compile(text, str(path), "exec")
        except SyntaxError as err:
            raise Stale(f"{path.relative_to(root)} is no longer valid Python once patched: {err}") from None
    return texts


def plant(mutant: Mutant, root: Path) -> None:
    """Apply ``mutant`` to the tree at ``root`` (a copy); raises ``Stale`` and changes nothing then."""
    texts = patched_texts(mutant, root)
    for path, text in texts.items():
        path.unlink()  # the copy may link to the original file: never write through the link
        path.write_text(text)
        for cached in path.parent.glob(f"__pycache__/{path.stem}.*.pyc"):
            cached.unlink()
