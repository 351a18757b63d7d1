"""Rig sessions: what scenarios and the pytest plugin act through."""

from .evidence import Evidence, EvidenceError, Measurement
from .outcomes import Inconclusive, NotApplicable, cause_of
from .session import EMULATED_EPOCH, Exchange, NotEmulated, RigSession, pki_for

__all__ = ["EMULATED_EPOCH", "Evidence", "EvidenceError", "Exchange", "Inconclusive", "Measurement", "NotApplicable",
           "NotEmulated", "RigSession", "cause_of", "pki_for"]
