"""Inline SVG sequence diagrams of the frames a scenario exchanged (no external assets)."""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH = 760
LEFT, RIGHT = 150, 610
ROW = 34
TOP = 56


def sequence_diagram(frames: list[dict[str, Any]], left: str = "rig (head end / DCC)", right: str = "device") -> str:
    """Two lifelines; one arrow per frame (tx left to right, rx right to left), labelled."""
    height = TOP + ROW * max(len(frames), 1) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="monospace" font-size="11" role="img">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="3" orient="auto">'
        '<path d="M0,0 L0,6 L8,3 z" fill="#333"/></marker></defs>',
    ]
    for x, name in ((LEFT, left), (RIGHT, right)):
        parts.append(f'<rect x="{x - 95}" y="8" width="190" height="24" rx="4" fill="#eef" stroke="#336"/>')
        parts.append(f'<text x="{x}" y="24" text-anchor="middle">{escape(name)}</text>')
        parts.append(f'<line x1="{x}" y1="32" x2="{x}" y2="{height - 8}" stroke="#999" stroke-dasharray="4 3"/>')
    if not frames:
        parts.append(f'<text x="{WIDTH // 2}" y="{TOP + 10}" text-anchor="middle" fill="#a00">no frames exchanged</text>')
    for index, frame in enumerate(frames):
        y = TOP + ROW * index + 12
        outgoing = frame.get("direction") == "tx"
        x1, x2 = (LEFT, RIGHT) if outgoing else (RIGHT, LEFT)
        colour = "#236" if outgoing else "#262"
        label = frame.get("label") or frame.get("summary", "")
        if len(label) > 70:
            label = label[:67] + "..."
        parts.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" stroke-width="1.5" '
                     f'marker-end="url(#arrow)"/>')
        parts.append(f'<text x="{(LEFT + RIGHT) // 2}" y="{y - 5}" text-anchor="middle" fill="{colour}">'
                     f'{escape(label)}</text>')
        if frame.get("offset") is not None:
            parts.append(f'<text x="6" y="{y + 4}" fill="#666">+{float(frame["offset"]):.3f}s</text>')
    parts.append("</svg>")
    return "".join(parts)
