"""Run records and proof reports: JSON-lines journal, per-model HTML with sequence diagrams,
merging across hosts."""

from .html import render_model, write_reports
from .journal import JOURNAL_NAME, Journal, read, tests
from .merge import merge
from .model import MIGRATABLE, NOT_MIGRATABLE, NOT_PROVEN, ModelResult, by_model, overall_exit_code

__all__ = ["JOURNAL_NAME", "MIGRATABLE", "NOT_MIGRATABLE", "NOT_PROVEN", "Journal", "ModelResult", "by_model",
           "merge", "overall_exit_code", "read", "render_model", "tests", "write_reports"]
