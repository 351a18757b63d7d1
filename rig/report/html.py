"""The migration proof report: one self-contained HTML page per device model.

For each model: the attribution header (device, rig, PKI, software, run), the verdict
(migratable or not, naming the failing scenario), a table of the scenarios with outcome, codes
and timings against the target response time, and for each scenario its evidence, the link
events, the frames exchanged (each opens to the decoded tree ``gbcs-rig decode`` prints, with
signature and MAC verdicts and the alert decoded) and a sequence diagram (inline SVG).
Everything is inline (CSS, SVG, one line of script that opens every frame before printing);
the page can be mailed, printed or archived on its own.
"""

from __future__ import annotations

import datetime as _dt
import re
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

from rig.crypto.keystore import KeyStore
from rig.pki import Pki, keystore_of

from .attribution import ATTRIBUTION_CSS, Attribution, render_attribution, test_pki_banner
from .frames import NO_KEY_STORE, NOT_CHECKED, FrameEvidence, frame_evidence
from .model import MIGRATABLE, NOT_MIGRATABLE, ModelResult, by_model, outcome_of
from .svg import sequence_diagram

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.6em}h2{margin-top:2em}h3{margin-top:1.5em;font-size:1.05em}
.verdict{padding:.8em 1em;border-radius:6px;font-size:1.2em;font-weight:bold}
.MIGRATABLE{background:#e3f6e3;border:2px solid #2a2}.NOT-MIGRATABLE{background:#fde4e4;border:2px solid #c22}
.NOT-PROVEN{background:#fff4d6;border:2px solid #c90}
table{border-collapse:collapse;width:100%;font-size:.9em}td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;
vertical-align:top}th{background:#f2f2f2}.passed{color:#171}.failed,.error{color:#b11;font-weight:bold}
.skipped,.inconclusive,.not-run{color:#a70;font-weight:bold}.not-applicable{color:#777}code,pre{font-family:monospace;font-size:.85em}pre{white-space:pre-wrap;word-break:break-all;
background:#f7f7f7;padding:.5em}.ok{color:#171}.bad{color:#b11}.meta td{border:none;padding:1px 8px 1px 0}
details{margin:.3em 0}summary{cursor:pointer}.tree{font-family:monospace;font-size:.8em;margin:.3em 0}
.tree td{border:none;border-bottom:1px solid #eee;padding:1px 6px}.tree .raw{color:#666;white-space:nowrap}
.check{display:inline-block;margin-right:1em;font-size:.85em}.VALID{color:#171}.INVALID{color:#b11;font-weight:bold}
.not-checked,.NO-KEY,.ABSENT{color:#777}.alert{font-weight:bold;color:#640}.decode-error{color:#b11}
.link-events td.nonzero{color:#b11;font-weight:bold}.note{font-size:.9em;color:#444}
@media print{
body{margin:0;max-width:none;font-size:10pt;color:#000}a{color:inherit;text-decoration:none}
th,pre,.verdict,.MIGRATABLE,.NOT-MIGRATABLE,.NOT-PROVEN,.test-pki{background:none!important}
details>*{display:block}summary{list-style:none;font-weight:bold}
details::details-content{content-visibility:visible;display:block}
svg{max-width:100%;height:auto}h2,h3,h4{break-after:avoid}tr,.verdict,.test-pki{break-inside:avoid}
h3{border-top:1px solid #999;padding-top:.5em}
@page{margin:14mm}
}
"""
#: opens every frame's decoded tree before printing (browsers print closed <details> closed)
_PRINT_SCRIPT = ("<script id='open-frames-for-print'>window.addEventListener('beforeprint',function(){"
                 "document.querySelectorAll('details').forEach(function(d){d.open=true})})</script>")

#: link-level event counters (``link_events`` of a journal record) and how the report names them
LINK_EVENT_LABELS = {
    "frames": "frames", "framing_errors": "framing errors", "crc_errors": "CRC failures",
    "resyncs": "resynchronisations", "discarded_bytes": "bytes discarded", "reconnects": "reconnects",
    "timeouts": "timeouts", "injected_faults": "injected faults", "dropped": "frames dropped",
    "corrupted": "frames corrupted",
}
#: counters that are just traffic, not trouble (not highlighted when non-zero)
_TRAFFIC = {"frames"}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "model"


def _latency(record: dict[str, Any]) -> str:
    latency = record.get("latency")
    if latency is None:
        return "-"
    target = record.get("target_response_time")
    within = "" if target is None else (" (within target)" if latency <= target else " (OVER TARGET)")
    return f"{latency:.3f} s / {target} s{within}" if target is not None else f"{latency:.3f} s"


def _codes(record: dict[str, Any]) -> str:
    parts = []
    if record.get("response_codes"):
        parts.append("response: " + ", ".join(map(str, record["response_codes"])))
    if record.get("alert_codes"):
        parts.append("alerts: " + ", ".join(map(str, record["alert_codes"])))
    return "; ".join(parts) or "-"


def _evidence(record: dict[str, Any]) -> str:
    rows = []
    for item in record.get("evidence", []):
        mark = '<span class="ok">&#10003;</span>' if item.get("ok") else '<span class="bad">&#10007;</span>'
        expected = f" (expected {escape(str(item['expected']))})" if item.get("expected") not in (None, "") else ""
        rows.append(f"<li>{mark} {escape(str(item.get('name', '')))}: <code>{escape(str(item.get('value', '')))}"
                    f"</code>{expected}</li>")
    return "<ul>" + "".join(rows) + "</ul>" if rows else "<p>No evidence recorded.</p>"


def _checks_html(evidence: FrameEvidence) -> str:
    parts = []
    for name, (verdict, detail) in evidence.checks.items():
        css = verdict.replace(" ", "-")
        title = f" title='{escape(detail, quote=True)}'" if detail else ""
        inline = detail and verdict not in ("VALID", NOT_CHECKED)  # "not checked" is explained once per page
        parts.append(f"<span class='check {escape(css)}'{title}>{escape(name)}: {escape(verdict)}"
                     f"{f' ({escape(detail)})' if inline else ''}</span>")
    return "".join(parts)


#: ``escape`` of the field names, values and meanings of the trees: a proof repeats the same few
#: thousand texts some hundred thousand times, and a cached lookup is a quarter of the escape
_escape_text = lru_cache(maxsize=16384)(escape)


def _tree_html(evidence: FrameEvidence) -> str:
    rows = []
    for row in evidence.rows:
        # hex digits, spaces and " ..(N)": nothing to escape
        raw = row.raw.hex(" ").upper() if len(row.raw) <= 12 else row.raw[:12].hex(" ").upper() + f" ..({len(row.raw)})"
        meaning = f" [{_escape_text(row.meaning)}]" if row.meaning else ""
        rows.append(f"<tr><td>{row.offset}</td><td class='raw'>{raw}</td><td>{'&nbsp;&nbsp;' * row.depth}"
                    f"{_escape_text(row.name)}</td><td>{_escape_text(row.value)}{meaning}</td></tr>")
    return ("<table class='tree'><tr><th>offset</th><th>bytes</th><th>field</th><th>value</th></tr>"
            + "".join(rows) + "</table>")


def _frame_cell(frame: dict[str, Any], keystore: KeyStore | None) -> str:
    evidence = frame_evidence(str(frame.get("hex", "")), keystore)
    parts = [escape(str(frame.get("summary", "")) or evidence.headline)]
    if evidence.alert:
        parts.append(f"<div class='alert'>alert: {escape(evidence.alert)}</div>")
    if evidence.checks:
        parts.append(f"<div>{_checks_html(evidence)}</div>")
    inner = []
    if evidence.headline:
        inner.append(f"<p>{escape(evidence.headline)}</p>")
    if evidence.error:
        inner.append(f"<p class='decode-error'>{escape(evidence.error)}</p>")
    if evidence.rows:
        inner.append(_tree_html(evidence))
    inner.append(f"<pre>{escape(str(frame.get('hex', '')))}</pre>")
    label = "decoded tree" if evidence.rows else "undecodable" if evidence.error else "frame"
    parts.append(f"<details><summary>{label}, {evidence.size} bytes</summary>{''.join(inner)}</details>")
    return "".join(parts)


def _frames(record: dict[str, Any], keystore: KeyStore | None = None) -> str:
    frames = record.get("frames", [])
    if not frames:
        return "<p>No frames exchanged.</p>"
    rows = []
    for frame in frames:
        arrow = "rig &rarr; device" if frame.get("direction") == "tx" else "device &rarr; rig"
        rows.append(f"<tr><td>{escape(str(frame.get('time', '')))}</td><td>{arrow}</td>"
                    f"<td>{_frame_cell(frame, keystore)}</td></tr>")
    return "<table><tr><th>time</th><th>direction</th><th>decoded</th></tr>" + "".join(rows) + "</table>"


def link_events(record: dict[str, Any]) -> str:
    """The link-level counters of one scenario (framing errors, CRC failures, reconnects,
    injected faults ...), when the journal record carries them; '' when it does not."""
    events = record.get("link_events")
    if not isinstance(events, dict) or not events:
        return ""
    cells = []
    for key, value in events.items():
        label = LINK_EVENT_LABELS.get(str(key), str(key).replace("_", " "))
        trouble = key not in _TRAFFIC and isinstance(value, (int, float)) and value
        cells.append(f"<tr><td>{escape(label)}</td><td class='{'nonzero' if trouble else ''}'>"
                     f"{escape(str(value))}</td></tr>")
    return f"<h4>Link events</h4><table class='link-events'>{''.join(cells)}</table>"


def _attribution_html(attribution: Attribution | None, rigs: set[str] | None, banner: bool = True) -> str:
    if attribution is None:
        return ("<p class='note'>The journal carries no attribution record (device, rig kind, PKI "
                "fingerprints); this proof does not say what it was measured on.</p>")
    return render_attribution(attribution.session, resolved=attribution.resolved, end=attribution.end, rigs=rigs,
                              banner=banner)


def _banner_html(attribution: Attribution | None, rigs: set[str] | None) -> str:
    return test_pki_banner(attribution.session, rigs) if attribution is not None else ""


def render_model(result: ModelResult, *, title: str = "GBCS CS02b migration proof", run: dict[str, Any] | None = None,
                 keystore: KeyStore | Pki | None = None, attribution: Attribution | None = None,
                 integrity: str | None = None) -> str:
    """One model's page. ``keystore`` (a key store, or a PKI whose parties and devices make one)
    checks each frame's signature and MAC (else "not checked");
    ``attribution`` (``rig.report.attribution.attribution_of(journal records)``) heads the page;
    ``integrity`` is the seal the folder will get (``rig.report.manifest.describe_signing``)."""
    run = run or {}
    if isinstance(keystore, Pki):
        keystore = keystore_of(keystore)
    verdict_class = result.verdict.replace(" ", "-")
    generated = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    meta = {
        "manufacturer": result.manufacturer, "model": result.model, "firmware": result.firmware,
        "device types": ", ".join(sorted(result.device_types)), "rigs": ", ".join(sorted(result.rigs)),
        "configuration": run.get("config", ""), "host": run.get("host", ""), "gbcs-rig": run.get("version", ""),
        "generated": generated,
    }
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}: {escape(result.key)}"
           f"</title><style>{_CSS}{ATTRIBUTION_CSS}</style>{_PRINT_SCRIPT}</head><body>",
           f"<h1>{escape(title)}</h1>",
           "<table class='meta'>" + "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>"
                                           for k, v in meta.items() if v) + "</table>",
           _banner_html(attribution, result.rigs),  # above the verdict it qualifies
           f"<p class='verdict {verdict_class}'>{escape(result.verdict)}: {escape(result.verdict_reason)}</p>",
           _run_status_html(run, result),
           _attribution_html(attribution, result.rigs, banner=False)]
    if keystore is None:
        out.append(f"<p class='note'>Frame signatures and MACs: {NOT_CHECKED} ({NO_KEY_STORE}).</p>")
    if integrity:
        out.append(f"<p class='note'>Report folder seal (manifest.json): {escape(integrity)}. "
                   "Check it with <code>gbcs-rig report verify DIR</code>.</p>")
    out.append(_verdict_sections(result))
    for index, record in enumerate(result.records):
        outcome = record.get("outcome", "?")
        out.append(f"<h3 id='s{index}'>{escape(record.get('title') or record.get('scenario', ''))} on "
                   f"{escape(record.get('rig', ''))}: <span class='{escape(outcome)}'>{escape(outcome)}</span></h3>")
        if record.get("description"):
            out.append(f"<p>{escape(record['description'])}</p>")
        if record.get("reason"):
            out.append(f"<pre>{escape(str(record['reason']))}</pre>")
        if record.get("delivery"):
            out.append(f"<p class='delivery'>Delivery of the probe: <b>{escape(str(record['delivery']))}</b></p>")
        out.append("<h4>Evidence</h4>" + _evidence(record))
        out.append(link_events(record))
        out.append("<h4>Frames</h4>" + _frames(record, keystore))
        out.append(sequence_diagram(record.get("frames", []), right=f"{record.get('device', 'device')} "
                                                                     f"{record.get('device_id', '')}".strip()))
        if record.get("trace"):
            out.append(f"<p>Frame trace: <code>{escape(record['trace'])}</code></p>")
    out.append("</body></html>")
    return "".join(out)


# -- the verdict's sections (issue 9) --------------------------------------------------------------


def _run_status_html(run: dict[str, Any], result: ModelResult) -> str:
    """Whether the run(s) behind this page completed, and for a NOT PROVEN proof the exact
    ``--resume`` command that completes it."""
    out = []
    if run.get("completion"):
        out.append(f"<p class='note'>Run: {escape(str(run['completion']))}.</p>")
    if run.get("resume") and result.unproven:
        out.append(f"<p>To complete this proof: <code>{escape(run['resume'])}</code></p>")
    return "".join(out)


def _scenario_rows(records: list[dict[str, Any]], anchors: dict[int, int]) -> str:
    out = ["<table><tr><th>scenario</th><th>rig</th><th>required</th><th>outcome</th><th>codes</th>"
           "<th>response time vs target</th><th>duration</th></tr>"]
    for record in records:
        outcome = outcome_of(record)
        title = escape(record.get("title") or record.get("scenario", ""))
        link = f"<a href='#s{anchors[id(record)]}'>{title}</a>" if id(record) in anchors else title
        inferred = " (delivery inferred)" if record.get("delivery") == "delivery inferred" else ""
        out.append(
            f"<tr><td>{link}</td><td>{escape(record.get('rig', ''))}</td>"
            f"<td>{'yes' if record.get('required', True) else 'no'}</td>"
            f"<td class='{escape(outcome)}'>{escape(outcome)}{escape(inferred)}</td><td>{escape(_codes(record))}</td>"
            f"<td>{escape(_latency(record))}</td><td>{float(record.get('duration', 0) or 0):.3f} s</td></tr>")
    out.append("</table>")
    return "".join(out)


def _verdict_sections(result: ModelResult) -> str:
    """Device conformance (what the verdict counts: the number at the top is that count) and,
    apart, the rig's own DCC-side checks."""
    anchors = {id(record): index for index, record in enumerate(result.records)}
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result.counts().items()))
    not_applicable = [r for r in result.device_records if outcome_of(r) == "not-applicable"]
    out = [f"<h2>Device conformance</h2><p>{len(result.required)} required scenario results counted for the verdict:"
           f" {escape(counts) or 'none'}"
           + (f"; {len(not_applicable)} not applicable (not counted)" if not_applicable else "") + ".</p>",
           _scenario_rows(result.device_records, anchors)]
    if result.dcc_records:
        dcc_counts = {}
        for record in result.dcc_records:
            dcc_counts[outcome_of(record)] = dcc_counts.get(outcome_of(record), 0) + 1
        out.append("<h2>The rig's own DCC-side checks</h2><p>These check the rig's DCC / ECoS side (SRV 6.23 checks, "
                   "anomaly detection), not the device: they are not counted for the device verdict. "
                   + escape(", ".join(f"{n} {k}" for k, n in sorted(dcc_counts.items()))) + ".</p>")
        out.append(_scenario_rows(result.dcc_records, anchors))
    return "".join(out)


def write_reports(records: list[dict[str, Any]], directory: str | Path, run: dict[str, Any] | None = None, *,
                  keystore: KeyStore | Pki | None = None, attribution: Attribution | None = None,
                  integrity: str | None = None) -> list[Path]:
    """One HTML file per device model, plus ``index.html`` linking them with their verdicts.

    The keyword arguments are those of ``render_model``; the index carries the attribution of
    every rig and the test-PKI banner too."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(keystore, Pki):
        keystore = keystore_of(keystore)  # once, not once per page
    paths, rows = [], []
    for result in by_model(records):
        path = folder / f"proof-{_slug(result.key)}.html"
        path.write_text(render_model(result, run=run, keystore=keystore, attribution=attribution, integrity=integrity),
                        encoding="utf-8")
        paths.append(path)
        css = {MIGRATABLE: "passed", NOT_MIGRATABLE: "failed"}.get(result.verdict, "skipped")
        rows.append(f"<tr><td><a href='{path.name}'>{escape(result.key)}</a></td>"
                    f"<td>{escape(', '.join(sorted(result.device_types)))}</td>"
                    f"<td class='{css}'>{escape(result.verdict)}</td><td>{escape(result.verdict_reason)}</td></tr>")
    index = folder / "index.html"
    index.write_text(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>gbcs-rig proof reports</title>"
                     f"<style>{_CSS}{ATTRIBUTION_CSS}</style></head><body><h1>gbcs-rig migration proof</h1>"
                     f"{_banner_html(attribution, None)}<table><tr><th>model</th>"
                     f"<th>device types</th><th>verdict</th><th>why</th></tr>{''.join(rows)}</table>"
                     f"{_attribution_html(attribution, None, banner=False)}</body></html>",
                     encoding="utf-8")
    return [index, *paths]
