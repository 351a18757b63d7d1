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

from .model import MIGRATABLE, NOT_MIGRATABLE, ModelResult, by_model
from .svg import sequence_diagram

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.6em}h2{margin-top:2em}h3{margin-top:1.5em;font-size:1.05em}
.verdict{padding:.8em 1em;border-radius:6px;font-size:1.2em;font-weight:bold}
.MIGRATABLE{background:#e3f6e3;border:2px solid #2a2}.NOT-MIGRATABLE{background:#fde4e4;border:2px solid #c22}
.NOT-PROVEN{background:#fff4d6;border:2px solid #c90}
table{border-collapse:collapse;width:100%;font-size:.9em}td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;
vertical-align:top}th{background:#f2f2f2}.passed{color:#171}.failed,.error{color:#b11;font-weight:bold}
.skipped{color:#a70}code,pre{font-family:monospace;font-size:.85em}pre{white-space:pre-wrap;word-break:break-all;
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
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result.counts().items()))
    out.append(f"<h2>Scenarios</h2><p>{escape(counts)}</p><table><tr><th>scenario</th><th>rig</th><th>required</th>"
               "<th>outcome</th><th>codes</th><th>response time vs target</th><th>duration</th></tr>")
    for index, record in enumerate(result.records):
        outcome = record.get("outcome", "?")
        out.append(
            f"<tr><td><a href='#s{index}'>{escape(record.get('title') or record.get('scenario', ''))}</a></td>"
            f"<td>{escape(record.get('rig', ''))}</td><td>{'yes' if record.get('required', True) else 'no'}</td>"
            f"<td class='{escape(outcome)}'>{escape(outcome)}</td><td>{escape(_codes(record))}</td>"
            f"<td>{escape(_latency(record))}</td><td>{float(record.get('duration', 0)):.3f} s</td></tr>")
    out.append("</table>")
    for index, record in enumerate(result.records):
        outcome = record.get("outcome", "?")
        out.append(f"<h3 id='s{index}'>{escape(record.get('title') or record.get('scenario', ''))} on "
                   f"{escape(record.get('rig', ''))}: <span class='{escape(outcome)}'>{escape(outcome)}</span></h3>")
        if record.get("description"):
            out.append(f"<p>{escape(record['description'])}</p>")
        if record.get("reason"):
            out.append(f"<pre>{escape(str(record['reason']))}</pre>")
        out.append("<h4>Evidence</h4>" + _evidence(record))
        out.append("<h4>Frames</h4>" + _frames(record))
        out.append(sequence_diagram(record.get("frames", []), right=f"{record.get('device', 'device')} "
                                                                     f"{record.get('device_id', '')}".strip()))
        if record.get("trace"):
            out.append(f"<p>Frame trace: <code>{escape(record['trace'])}</code></p>")
    out.append("</body></html>")
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
