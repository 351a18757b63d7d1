"""Rig sessions: what scenarios and the pytest plugin act through."""

from .evidence import Evidence, EvidenceError, Measurement
from .session import EMULATED_EPOCH, Exchange, NotEmulated, RigSession, pki_for

__all__ = ["EMULATED_EPOCH", "Evidence", "EvidenceError", "Exchange", "Measurement", "NotEmulated", "RigSession",
           "pki_for"]
