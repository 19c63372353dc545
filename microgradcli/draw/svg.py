"""Painting a Layout as standalone SVG: white background, monospace text, escaped labels."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from microgradcli.draw.layout import Edge, Layout, Point
from microgradcli.draw.style import (
    EDGE,
    FILL,
    FONT_SIZE,
    MARGIN,
    MONO,
    OP_FILL,
    OP_FONT_SIZE,
    REC_H,
    STROKE,
    TITLE_SIZE,
    title_baseline,
)


def _f(x: float) -> str:
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _pt(p: Point) -> str:
    return f"{_f(p[0])},{_f(p[1])}"


def _svg_path(e: Edge) -> str:
    d = [f"M{_pt(e.start)}"]
    for c1, c2, end in e.curves:
        d.append(f"C{_pt(c1)} {_pt(c2)} {_pt(end)}")
    return "".join(d)


def svg_from_layout(lay: Layout) -> str:
    """Paint a Layout as SVG text: white background, monospace text, escaped labels."""
    w, h = _f(lay.width), _f(lay.height)
    o = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" font-family={quoteattr(MONO)} font-size="{_f(FONT_SIZE)}">',
        "<title>computation graph (mg draw)</title>",
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
    ]
    for i, t in enumerate(lay.title):
        ty = title_baseline(i)
        o.append(
            f'<text x="{_f(MARGIN)}" y="{_f(ty)}" font-size="{_f(TITLE_SIZE)}" '
            f'fill="#333333">{escape(t)}</text>'
        )
    o.append(f'<g fill="none" stroke="{EDGE}" stroke-width="1.2">')
    for e in lay.edges:
        o.append(f'<path d="{_svg_path(e)}"/>')
    o.append("</g>")
    o.append(f'<g fill="{EDGE}" stroke="none">')
    for e in lay.edges:
        a, b, c = e.arrow
        o.append(f'<path d="M{_pt(a)}L{_pt(b)}L{_pt(c)}Z"/>')
    o.append("</g>")
    o.append(f'<g stroke="{STROKE}" stroke-width="1">')
    for op in lay.ops:
        o.append(
            f'<ellipse cx="{_f(op.cx)}" cy="{_f(op.cy)}" rx="{_f(op.rx)}" ry="{_f(op.ry)}" '
            f'fill="{OP_FILL}"/>'
        )
        o.append(
            f'<text x="{_f(op.cx)}" y="{_f(op.cy + 0.35 * OP_FONT_SIZE)}" stroke="none" '
            f'fill="#000000" text-anchor="middle">{escape(op.text)}</text>'
        )
    for r in lay.records:
        o.append(f'<g id="v{r.id}"><title>{escape(r.tooltip)}</title>')
        o.append(
            f'<rect x="{_f(r.x)}" y="{_f(r.y)}" width="{_f(r.w)}" height="{_f(REC_H)}" '
            f'fill="{FILL[r.kind]}"/>'
        )
        x = r.x
        for k, (fw, text) in enumerate(zip(r.widths, r.fields, strict=True)):
            if k:
                o.append(f'<line x1="{_f(x)}" y1="{_f(r.y)}" x2="{_f(x)}" y2="{_f(r.y + REC_H)}"/>')
            o.append(
                f'<text x="{_f(x + fw / 2)}" y="{_f(r.y + REC_H / 2 + 0.35 * FONT_SIZE)}" '
                f'stroke="none" fill="#000000" text-anchor="middle">{escape(text)}</text>'
            )
            x += fw
        o.append("</g>")
    o.append("</g>")
    o.append("</svg>")
    return "\n".join(o) + "\n"
