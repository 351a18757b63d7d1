"""The report's attribution header: who and what the proof is about, from the journal.

A verdict handed on must say what it was measured on: the device (type, manufacturer, model,
firmware, EUI-64), the rig (emulated in-process, emulated over a real link, or hardware; the
transport as configured and as resolved), the PKI (by the SHA-256 of its root and issuing CA
certificates), the software (gbcs-rig version, source revision, catalogue version) and the run
(start, end, complete or interrupted). The journal's ``session`` record carries it under
``attribution``; ``rig`` records add a transport resolved later (a udev match); the ``end``
record closes the run. When the project's own published test PKI was used, the header says
so prominently: such a proof shows behaviour, not a lab credential.

The functions take those records as plain dicts, so any writer of the journal can use them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from typing import Any

TEST_PKI_WARNING = "published test PKI: not a lab credential"

#: (key in attribution, label) for the run-level rows
_RUN_FIELDS = (("gbcs_rig_version", "gbcs-rig version"), ("source_revision", "source revision"),
               ("catalogue_version", "catalogue version"), ("config", "configuration"), ("started", "started"))
#: (key in a rig entry, label) for the per-rig rows
_RIG_FIELDS = (("device_type", "device type"), ("manufacturer", "manufacturer"), ("model", "model"),
               ("firmware", "firmware"), ("eui64", "EUI-64"), ("rig_kind", "rig kind"),
               ("transport_configured", "transport (configured)"), ("transport_resolved", "transport (resolved)"))
_PKI_FIELDS = (("source", "PKI source"), ("layout", "PKI layout"), ("root_sha256", "root CA SHA-256"),
               ("issuing_ca_sha256", "issuing CA SHA-256"))

ATTRIBUTION_CSS = """
.attribution td:first-child{white-space:nowrap;color:#555;width:14em}.attribution td{font-size:.9em}
.test-pki{background:#fff0c2;border:3px solid #d80;color:#730;font-weight:bold;font-size:1.15em;padding:.6em 1em;
margin:1em 0;border-radius:6px}.interrupted{color:#b11;font-weight:bold}
"""


@dataclass
class Attribution:
    """The attribution parts of a journal: the session's, resolved transports, the end record."""

    session: dict[str, Any]
    resolved: dict[str, Any] = field(default_factory=dict)
    end: dict[str, Any] | None = None


def attribution_of(records: Iterable[dict[str, Any]]) -> Attribution | None:
    """From all journal records: the first session's attribution with the rigs of every session
    (a resumed or merged run may add rigs), the latest resolved transport per rig, and the last
    end record; None when no session record carries an attribution."""
    from .journal import expected

    records = list(records)
    found: Attribution | None = None
    resolved: dict[str, Any] = {}
    end = None
    for record in records:
        kind = record.get("type")
        if kind == "session" and isinstance(record.get("attribution"), dict) and found is None:
            found = Attribution(dict(record["attribution"]))
        elif kind == "rig" and record.get("rig") is not None and "transport_resolved" in record:
            resolved[str(record["rig"])] = record["transport_resolved"]
        elif kind == "end":
            end = record
    if found is not None:
        found.session["rigs"] = expected(records)[1]
        found.resolved, found.end = resolved, end
    return found


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items()) or "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(_text, value)) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "-" if value is None or value == "" else str(value)


def _rigs(attribution: dict[str, Any], only: Iterable[str] | None) -> dict[str, dict[str, Any]]:
    rigs = attribution.get("rigs")
    if not isinstance(rigs, dict):
        return {}
    wanted = None if only is None else set(only)
    return {str(k): v for k, v in rigs.items() if isinstance(v, dict) and (wanted is None or str(k) in wanted)}


def uses_test_pki(attribution: dict[str, Any], rigs: Iterable[str] | None = None) -> bool:
    return any(isinstance(r.get("pki"), dict) and r["pki"].get("test_pki") is True
               for r in _rigs(attribution, rigs).values())


def render_end(end: dict[str, Any] | None) -> str:
    """The run's end as a reader needs it: complete, or interrupted (and so not a full proof)."""
    if end is None:
        return "<span class='interrupted'>no end record: the run was interrupted or is still running</span>"
    when = escape(_text(end.get("ended") or end.get("time")))
    status = escape(_text(end.get("exit_status")))
    if end.get("complete") is True:
        return f"{when}, complete (exit status {status})"
    return f"{when}, <span class='interrupted'>INTERRUPTED: not every scenario ran</span> (exit status {status})"


def test_pki_banner(attribution: dict[str, Any], rigs: Iterable[str] | None = None) -> str:
    """The warning shown above the verdict when any of ``rigs`` used the published test PKI; ''."""
    if not uses_test_pki(attribution, rigs):
        return ""
    return (f"<p class='test-pki' role='alert'>&#9888; {escape(TEST_PKI_WARNING).upper()}: the device and "
            "the rig were provisioned with gbcs-rig's own published keys. This report shows behaviour, "
            "not conformance on a lab's credentials.</p>")


def render_attribution(attribution: dict[str, Any], *, resolved: dict[str, Any] | None = None,
                       end: dict[str, Any] | None = None, rigs: Iterable[str] | None = None,
                       banner: bool = True) -> str:
    """The header (HTML fragment): the test-PKI banner when it applies (unless ``banner`` is False,
    for a page that shows it elsewhere), the run, then one block per rig (``rigs`` limits it to a
    model's rigs). ``resolved`` overrides a rig's resolved transport."""
    resolved = resolved or {}
    out = [test_pki_banner(attribution, rigs)] if banner else []
    rows = [(label, _text(attribution.get(key))) for key, label in _RUN_FIELDS]
    table = "".join(f"<tr><td>{escape(label)}</td><td>{escape(value)}</td></tr>" for label, value in rows)
    table += f"<tr><td>ended</td><td>{render_end(end)}</td></tr>"
    out.append(f"<h2>Attribution</h2><table class='attribution'>{table}</table>")
    for rig_id, rig in _rigs(attribution, rigs).items():
        entry = dict(rig)
        if rig_id in resolved:
            entry["transport_resolved"] = resolved[rig_id]
        pki = entry.get("pki") if isinstance(entry.get("pki"), dict) else {}
        rig_rows = [(label, _text(entry.get(key))) for key, label in _RIG_FIELDS]
        rig_rows += [(label, _text(pki.get(key))) for key, label in _PKI_FIELDS]
        rig_rows.append(("PKI", TEST_PKI_WARNING if pki.get("test_pki") is True else
                         "lab PKI" if pki.get("test_pki") is False else "not recorded"))
        body = "".join(f"<tr><td>{escape(label)}</td><td>{escape(value)}</td></tr>" for label, value in rig_rows)
        out.append(f"<h3>rig {escape(rig_id)}</h3><table class='attribution'>{body}</table>")
    return "".join(out)
