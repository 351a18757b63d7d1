"""Run records and proof reports: JSON-lines journal, per-model HTML with sequence diagrams,
merging across hosts.

The names below load on first use (PEP 562), so ``from rig.report import journal`` or
``rig.report.model`` (stdlib only) does not pull in the HTML writer, the codec and
cryptography: ``gbcs-rig --help`` and a usage error stay quick. ``merge`` is the submodule
(``rig.report.merge.merge`` joins folders): a lazy name cannot shadow a submodule it shares.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> the submodule that defines it
_EXPORTS = {
    "render_model": "html", "write_reports": "html",
    "JOURNAL_NAME": "journal", "Journal": "journal", "read": "journal", "tests": "journal",
    "MIGRATABLE": "model", "NOT_MIGRATABLE": "model", "NOT_PROVEN": "model", "ModelResult": "model",
    "by_model": "model", "overall_exit_code": "model",
}

__all__ = ["JOURNAL_NAME", "MIGRATABLE", "NOT_MIGRATABLE", "NOT_PROVEN", "Journal", "ModelResult", "by_model",
           "overall_exit_code", "read", "render_model", "tests", "write_reports"]

if TYPE_CHECKING:
    from .html import render_model, write_reports
    from .journal import JOURNAL_NAME, Journal, read, tests
    from .model import MIGRATABLE, NOT_MIGRATABLE, NOT_PROVEN, ModelResult, by_model, overall_exit_code


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
