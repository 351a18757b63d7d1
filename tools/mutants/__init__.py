"""Mutation testing of the rig itself: plant one realistic firmware or DCC-side bug at a time in a
fresh copy of the source tree, run ``gbcs-rig prove`` (and optionally the suite) on the copy, and
report which bugs the rig catches. See ``docs/mutants.md``.
"""

from .catalogue import MUTANTS, Hunk, Mutant, by_name

__all__ = ["MUTANTS", "Hunk", "Mutant", "by_name"]
