"""A self-contained HTML report: inline SVG charts, tables and glyph images (PNG data URIs), no scripts,
no external files, so that one file opens offline in any browser and can be mailed.  [no torch]"""

from __future__ import annotations

import base64
import html
import io
from typing import Sequence

import numpy as np

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC",sans-serif;margin:2em auto;
max-width:980px;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;
vertical-align:middle}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#777;font-size:.9em}.glyph{image-rendering:pixelated;vertical-align:middle;border:1px solid #eee}
.mask{background:#ffe9a8;padding:0 .15em}code{background:#f4f4f4;padding:0 .2em}
"""
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def esc(value) -> str:
    return html.escape(str(value))


def page(title: str, sections: list[str]) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="zh"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{esc(title)}</h1>\n" + "\n".join(sections) + "\n</body></html>\n"
    )


def section(title: str, *parts: str) -> str:
    return f"<h2>{esc(title)}</h2>\n" + "\n".join(parts)


def paragraph(text: str, muted: bool = False) -> str:
    attribute = ' class="muted"' if muted else ""
    return f"<p{attribute}>{esc(text)}</p>"


def table(header: Sequence[str], rows: Sequence[Sequence], raw_columns: Sequence[int] = ()) -> str:
    """An HTML table; cells of ``raw_columns`` are HTML already, numbers are right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if i in raw_columns:
                cells.append(f"<td>{cell}</td>")
            elif isinstance(cell, (int, float)) and not isinstance(cell, bool):
                cells.append(
                    f'<td class="num">{cell:.2f}</td>' if isinstance(cell, float) else f'<td class="num">{cell}</td>'
                )
            else:
                cells.append(f"<td>{esc(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def line_chart(
    series: dict[str, list[tuple[float, float]]],
    x_label: str,
    y_label: str,
    width: int = 720,
    height: int = 300,
    y_range: tuple[float, float] | None = None,
) -> str:
    """Lines (name -> [(x, y)]) as inline SVG with axes, ticks and a legend."""
    points = [p for values in series.values() for p in values]
    if not points:
        return paragraph("(no data)", muted=True)
    left, right, top, bottom = 56, 150, 14, 40
    xs = [p[0] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = y_range or (min(p[1] for p in points), max(p[1] for p in points))
    y1 = y1 if y1 > y0 else y0 + 1

    def sx(x):
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def sy(y):
        return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">',
        f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
        'fill="none" stroke="#999"/>',
    ]
    for i in range(5):
        yv = y0 + (y1 - y0) * i / 4
        xv = x0 + (x1 - x0) * i / 4
        parts.append(f'<text x="{left - 6}" y="{sy(yv) + 4:.1f}" text-anchor="end">{yv:.3g}</text>')
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{sy(yv):.1f}" y2="{sy(yv):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{sx(xv):.1f}" y="{height - bottom + 16}" text-anchor="middle">{xv:.4g}</text>')
    parts.append(f'<text x="{(width - right + left) / 2}" y="{height - 6}" text-anchor="middle">{esc(x_label)}</text>')
    parts.append(
        f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" text-anchor="middle">'
        f"{esc(y_label)}</text>"
    )
    for k, (name, values) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        if values:
            path = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y) in enumerate(values))
            parts.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="1.6"/>')
        ly = top + 14 + 16 * k
        parts.append(
            f'<line x1="{width - right + 10}" x2="{width - right + 28}" y1="{ly - 4}" y2="{ly - 4}" '
            f'stroke="{color}" stroke-width="2"/><text x="{width - right + 32}" y="{ly}">{esc(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def glyph_image(bitmaps: np.ndarray, scale: int = 2) -> str:
    """A character's glyph bitmaps (F, S, S) uint8, side by side, as an inline PNG ``<img>``."""
    from PIL import Image

    planes = [np.asarray(b, dtype=np.uint8) for b in bitmaps]
    strip = np.concatenate([np.pad(p, ((1, 1), (1, 1)), constant_values=0) for p in planes], axis=1)
    image = Image.fromarray(255 - strip).resize((strip.shape[1] * scale, strip.shape[0] * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="glyph" alt="glyph" src="data:image/png;base64,{data}">'
