"""Scenario outcomes, and the exceptions that carry them out of a scenario.

A scenario's result is one of ``OUTCOMES``. Only an ``EvidenceError`` (a check saw the device do
something GBCS forbids) is the meter's fault: ``failed``. Anything else that stops a scenario
(the link lost or refused, no answer where the link shows no sign of delivery, a set-up that
could not be made, a bug in the rig) means the rig could not establish the evidence:
``inconclusive``, with a one-line cause a lab engineer can act on. ``not-applicable`` is declared
by the catalogue (device type, features, what the rig can set up); ``not-run`` is what a run left
out (``-k``, ``--rig``, Ctrl-C, a crash).
"""

from __future__ import annotations

from rig.report.model import FAILED, INCONCLUSIVE, NOT_APPLICABLE, NOT_RUN, OUTCOMES, PASSED

__all__ = ["FAILED", "INCONCLUSIVE", "NOT_APPLICABLE", "NOT_RUN", "OUTCOMES", "PASSED", "Inconclusive",
           "NotApplicable", "cause_of"]


class Inconclusive(Exception):
    """The rig could not establish the evidence; ``reason`` says why, in one line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NotApplicable(Exception):
    """The scenario does not apply to this rig (device type, features, what it can set up)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


def cause_of(err: BaseException) -> str:
    """A one-line cause for an exception that ended a scenario without evidence.

    Never only a Python exception text: the cause names what the rig was doing (the link, the
    set-up, the rig's own code) and then the detail.
    """
    from rig.discovery.search import DiscoveryError
    from rig.transport import TransportError, TransportTimeout
    from rig.transport.base import LinkLost
    from rig.transport.spawn import EmulatorError

    detail = _one_line(str(err)) or type(err).__name__
    if isinstance(err, (Inconclusive, NotApplicable)):
        return _one_line(err.reason)
    if isinstance(err, TransportTimeout):
        return f"no answer before the deadline (the link shows no sign of delivery): {detail}"
    if isinstance(err, LinkLost):
        return f"link lost: {detail}"
    if isinstance(err, ConnectionError | OSError):
        return f"link lost: {detail}"
    if isinstance(err, TransportError):
        return f"link error: {detail}"
    if isinstance(err, DiscoveryError):
        return f"adapter not found: {detail}"
    if isinstance(err, EmulatorError):
        return f"emulator did not start: {detail}"
    if isinstance(err, KeyError):
        return f"rig set-up error: the rig's credentials or tables lack {detail}"
    if isinstance(err, LookupError) and not isinstance(err, IndexError):
        return f"rig set-up error: {detail}"
    return f"rig error ({type(err).__name__}): {detail}"
