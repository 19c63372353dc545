"""Painting a Layout as standalone SVG: white background, monospace text, escaped labels."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from microgradcli.draw.layout import Edge, Layout, Point, Record
from microgradcli.draw.style import (
    EDGE,
    FILL,
    FONT_SIZE,
    MARGIN,
    MONO,
    OP_FILL,
    OP_FONT_SIZE,
    ROW_H,
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
    """Paint a Layout as SVG text: white background, monospace text, escaped labels.

    Every value is a group with id v<N> (its rows classed name, data, grad; its hover
    text a <title>), every op o<N>, every edge into an op carries data-src/data-dst: the
    HTML step-through finds them by these names.
    """
    w, h = _f(lay.width), _f(lay.height)
    o = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" font-family={quoteattr(MONO)} font-size="{_f(FONT_SIZE)}">',
        "<title>computation graph (mg draw)</title>",
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
    ]
    for i, t in enumerate(lay.title):
        o.append(
            f'<text x="{_f(MARGIN)}" y="{_f(title_baseline(i))}" font-size="{_f(TITLE_SIZE)}" '
            f'fill="#333333">{escape(t)}</text>'
        )
    o.append(f'<g class="edges" fill="none" stroke="{EDGE}" stroke-width="1.2">')
    o += [f'<path{_edge_ends(e)} d="{_svg_path(e)}"/>' for e in lay.edges]
    o.append("</g>")
    o.append(f'<g class="arrows" fill="{EDGE}" stroke="none">')
    for e in lay.edges:
        a, b, c = e.arrow
        o.append(f'<path{_edge_ends(e)} d="M{_pt(a)}L{_pt(b)}L{_pt(c)}Z"/>')
    o.append("</g>")
    o.append(f'<g stroke="{STROKE}" stroke-width="1">')
    for op in lay.ops:
        o.append(
            f'<g id="o{op.id}"><ellipse cx="{_f(op.cx)}" cy="{_f(op.cy)}" rx="{_f(op.rx)}" '
            f'ry="{_f(op.ry)}" fill="{OP_FILL}"/>'
        )
        o.append(
            f'<text x="{_f(op.cx)}" y="{_f(op.cy + 0.35 * OP_FONT_SIZE)}" stroke="none" '
            f'fill="#000000" text-anchor="middle">{escape(op.text)}</text></g>'
        )
    for r in lay.records:
        o += _record(r)
    o.append("</g>")
    o.append("</svg>")
    return "\n".join(o) + "\n"


def _edge_ends(e: Edge) -> str:
    return f' data-src="{e.src}" data-dst="{e.dst}"' if e.src >= 0 else ""


def _row_class(k: int, n: int) -> str:
    if k == 0:
        return "name"
    return {n - 2: "data", n - 1: "grad"}.get(k, "row")


def _record(r: Record) -> list[str]:
    """A value's box: a group with its hover text, a rectangle, one text per row."""
    o = [f'<g id="v{r.id}"><title>{escape(r.tooltip)}</title>']
    o.append(
        f'<rect x="{_f(r.x)}" y="{_f(r.y)}" width="{_f(r.w)}" height="{_f(r.h)}" '
        f'fill="{FILL[r.kind]}"/>'
    )
    cx = r.x + r.w / 2
    n = len(r.rows)
    for k, text in enumerate(r.rows):
        top = r.y + k * ROW_H
        if k:
            o.append(f'<line x1="{_f(r.x)}" y1="{_f(top)}" x2="{_f(r.x + r.w)}" y2="{_f(top)}"/>')
        o.append(
            f'<text class="{_row_class(k, n)}" x="{_f(cx)}" y="{_f(top + ROW_H / 2 + 0.35 * FONT_SIZE)}" '
            f'stroke="none" fill="#000000" text-anchor="middle">{escape(text)}</text>'
        )
    o.append("</g>")
    return o
