"""The migration proof report: one self-contained HTML page per device model.

For each model: the verdict (migratable or not, naming the failing scenario), a table of the
scenarios with outcome, codes and timings against the target response time, and for each
scenario its evidence, the decoded frames exchanged and a sequence diagram (inline SVG).
Everything is inline (CSS, SVG); the page can be mailed or archived on its own.
"""

from __future__ import annotations

import datetime as _dt
import re
from html import escape
from pathlib import Path
from typing import Any

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
details{margin:.3em 0}
"""


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


def _frames(record: dict[str, Any]) -> str:
    frames = record.get("frames", [])
    if not frames:
        return "<p>No frames exchanged.</p>"
    rows = []
    for frame in frames:
        arrow = "rig &rarr; device" if frame.get("direction") == "tx" else "device &rarr; rig"
        rows.append(f"<tr><td>{escape(str(frame.get('time', '')))}</td><td>{arrow}</td>"
                    f"<td>{escape(str(frame.get('summary', '')))}"
                    f"<details><summary>{len(frame.get('hex', '')) // 2} bytes</summary><pre>"
                    f"{escape(frame.get('hex', ''))}</pre></details></td></tr>")
    return "<table><tr><th>time</th><th>direction</th><th>decoded</th></tr>" + "".join(rows) + "</table>"


def render_model(result: ModelResult, *, title: str = "GBCS CS02b migration proof", run: dict[str, Any] | None = None) -> str:
    run = run or {}
    verdict_class = result.verdict.replace(" ", "-")
    generated = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    meta = {
        "manufacturer": result.manufacturer, "model": result.model, "firmware": result.firmware,
        "device types": ", ".join(sorted(result.device_types)), "rigs": ", ".join(sorted(result.rigs)),
        "configuration": run.get("config", ""), "host": run.get("host", ""), "gbcs-rig": run.get("version", ""),
        "generated": generated,
    }
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}: {escape(result.key)}"
           f"</title><style>{_CSS}</style></head><body>",
           f"<h1>{escape(title)}</h1>",
           "<table class='meta'>" + "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>"
                                           for k, v in meta.items() if v) + "</table>",
           f"<p class='verdict {verdict_class}'>{escape(result.verdict)}: {escape(result.verdict_reason)}</p>"]
    out.append(_attribution_header(run, result))
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
        out.append("<h4>Frames</h4>" + _frames(record))
        out.append(sequence_diagram(record.get("frames", []), right=f"{record.get('device', 'device')} "
                                                                     f"{record.get('device_id', '')}".strip()))
        if record.get("trace"):
            out.append(f"<p>Frame trace: <code>{escape(record['trace'])}</code></p>")
    out.append("</body></html>")
    return "".join(out)


# -- the verdict's sections and the attribution header (issue 9) ----------------------------------


def _attribution_header(run: dict[str, Any], result: ModelResult) -> str:
    """Per rig of this model: the device, how it was reached, the PKI by fingerprint (with the
    test-PKI warning), and the run's versions and times (from the journal's session record)."""
    attribution = run.get("attribution") or {}
    rigs = {k: v for k, v in (attribution.get("rigs") or {}).items() if k in result.rigs}
    out = []
    if any((info.get("pki") or {}).get("test_pki") for info in rigs.values()):
        out.append("<p class='verdict NOT-PROVEN'>published test PKI: not a lab credential. These results were "
                   "obtained with the project's own test keys, not a lab's.</p>")
    if attribution:
        rows = [("gbcs-rig version", attribution.get("gbcs_rig_version")),
                ("source revision", attribution.get("source_revision")),
                ("catalogue version", attribution.get("catalogue_version")),
                ("started", attribution.get("started")), ("ended", run.get("ended") or "not recorded"),
                ("run", run.get("completion", ""))]
        out.append("<table class='meta'>" + "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>"
                                                   for k, v in rows if v) + "</table>")
    if rigs:
        out.append("<h2>Devices under test</h2><table><tr><th>rig</th><th>device</th><th>EUI-64</th><th>rig kind</th>"
                   "<th>transport (configured / resolved)</th><th>PKI</th></tr>")
        for rig_id, info in sorted(rigs.items()):
            pki = info.get("pki") or {}
            device = " ".join(str(info.get(k) or "") for k in ("device_type", "manufacturer", "model", "firmware"))
            transport = f"{_plain_json(info.get('transport_configured'))} / {_plain_json(info.get('transport_resolved'))}"
            pki_text = (f"{pki.get('source', '')} ({pki.get('layout', '')}); root SHA-256 {pki.get('root_sha256', '')}; "
                        f"issuing CA SHA-256 {pki.get('issuing_ca_sha256', '')}"
                        + ("; PUBLISHED TEST PKI" if pki.get("test_pki") else ""))
            out.append(f"<tr><td>{escape(rig_id)}</td><td>{escape(device)}</td><td>{escape(str(info.get('eui64') or ''))}"
                       f"</td><td>{escape(str(info.get('rig_kind', '')))}</td><td><code>{escape(transport)}</code></td>"
                       f"<td><code>{escape(pki_text)}</code></td></tr>")
        out.append("</table>")
    if run.get("resume") and result.unproven:
        out.append(f"<p>To complete this proof: <code>{escape(run['resume'])}</code></p>")
    return "".join(out)


def _plain_json(value: Any) -> str:
    import json

    return "-" if value in (None, {}) else json.dumps(value, sort_keys=True, default=str)


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


def write_reports(records: list[dict[str, Any]], directory: str | Path, run: dict[str, Any] | None = None) -> list[Path]:
    """One HTML file per device model, plus ``index.html`` linking them with their verdicts."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths, rows = [], []
    for result in by_model(records):
        path = folder / f"proof-{_slug(result.key)}.html"
        path.write_text(render_model(result, run=run), encoding="utf-8")
        paths.append(path)
        css = {MIGRATABLE: "passed", NOT_MIGRATABLE: "failed"}.get(result.verdict, "skipped")
        rows.append(f"<tr><td><a href='{path.name}'>{escape(result.key)}</a></td>"
                    f"<td>{escape(', '.join(sorted(result.device_types)))}</td>"
                    f"<td class='{css}'>{escape(result.verdict)}</td><td>{escape(result.verdict_reason)}</td></tr>")
    index = folder / "index.html"
    index.write_text(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>gbcs-rig proof reports</title>"
                     f"<style>{_CSS}</style></head><body><h1>gbcs-rig migration proof</h1><table><tr><th>model</th>"
                     f"<th>device types</th><th>verdict</th><th>why</th></tr>{''.join(rows)}</table></body></html>",
                     encoding="utf-8")
    return [index, *paths]
