"""Rasterising a Layout to PNG with matplotlib's Agg backend (imported only here)."""

from __future__ import annotations

import io
import math

from microgradcli.draw.layout import Layout
from microgradcli.draw.style import (
    CHAR_W,
    EDGE,
    FILL,
    FONT_SIZE,
    MARGIN,
    OP_FILL,
    OP_FONT_SIZE,
    ROW_H,
    STROKE,
    TITLE_SIZE,
    text_width,
    title_baseline,
)

MAX_PIXELS = 40_000_000
MAX_SIDE = 30_000


def png_from_layout(lay: Layout, scale: float = 2.0) -> bytes:
    """Rasterise a Layout with matplotlib's Agg backend (the same picture as the SVG).

    Everything of one colour is one compound path, and text is assembled from cached
    glyph outlines of a monospace font: thousands of separate artists would take
    matplotlib tens of seconds on a big graph.
    """
    # keep the bitmap within what Agg and memory allow: shrink big graphs
    scale = min(
        scale,
        math.sqrt(MAX_PIXELS / max(1.0, lay.width * lay.height)),
        MAX_SIDE / max(lay.width, lay.height),
    )
    canvas = _Canvas(lay.width, lay.height, 100.0 * scale)
    _paint_edges(canvas, lay)
    _paint_boxes(canvas, lay)
    _paint_text(canvas, lay)
    return canvas.png()


class _Canvas:
    """A figure in layout pixels (y down) that takes compound paths, one artist each."""

    def __init__(self, width: float, height: float, dpi: float) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.dpi = dpi
        self.fig = Figure(figsize=(width / 100.0, height / 100.0), dpi=dpi, facecolor="white")
        FigureCanvasAgg(self.fig)
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(height, 0)
        self.ax.set_axis_off()

    def add(self, parts: list[tuple], face="none", edge="none", lw=0.0, z=1) -> None:
        """One compound path of (vertices, codes) parts, lw in layout pixels."""
        import numpy as np
        from matplotlib.patches import PathPatch
        from matplotlib.path import Path

        if not parts:
            return
        path = Path(np.concatenate([v for v, _ in parts]), np.concatenate([c for _, c in parts]))
        pt = 0.72  # one layout pixel in points (the figure has 100 layout pixels per inch)
        # add_artist, not add_patch: no bounding-box work per Bézier (limits are set)
        self.ax.add_artist(
            PathPatch(path, facecolor=face, edgecolor=edge, linewidth=lw * pt, zorder=z)
        )

    def png(self) -> bytes:
        buf = io.BytesIO()
        self.fig.savefig(
            buf, format="png", dpi=self.dpi, facecolor="white", metadata={"Software": None}
        )
        return buf.getvalue()


def _paint_edges(canvas: _Canvas, lay: Layout) -> None:
    import numpy as np
    from matplotlib.path import Path

    edge_parts, arrow_parts = [], []
    triangle = np.array([Path.MOVETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY], np.uint8)
    for e in lay.edges:
        verts = [e.start]
        for c1, c2, end in e.curves:
            verts += [c1, c2, end]
        codes = [Path.MOVETO] + [Path.CURVE4] * (len(verts) - 1)
        edge_parts.append((np.array(verts, float), np.array(codes, np.uint8)))
        arrow_parts.append((np.array([*e.arrow, e.arrow[0]], float), triangle))
    canvas.add(edge_parts, edge=EDGE, lw=1.2, z=1)
    canvas.add(arrow_parts, face=EDGE, z=2)


def _paint_boxes(canvas: _Canvas, lay: Layout) -> None:
    import numpy as np
    from matplotlib.path import Path

    circle = Path.unit_circle()
    op_parts = [(circle.vertices * (op.rx, op.ry) + (op.cx, op.cy), circle.codes) for op in lay.ops]
    canvas.add(op_parts, face=OP_FILL, edge=STROKE, lw=1.0, z=3)
    rect_codes = np.array([Path.MOVETO, *[Path.LINETO] * 3, Path.CLOSEPOLY], np.uint8)
    line_codes = np.array([Path.MOVETO, Path.LINETO], np.uint8)
    by_fill: dict[str, list] = {}
    line_parts = []
    for r in lay.records:
        x0, y0, x1, y1 = r.x, r.y, r.x + r.w, r.y + r.h
        box = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)], float)
        by_fill.setdefault(FILL[r.kind], []).append((box, rect_codes))
        for k in range(1, len(r.rows)):
            yk = y0 + k * ROW_H
            line_parts.append((np.array([(x0, yk), (x1, yk)], float), line_codes))
    for fill in sorted(by_fill):
        canvas.add(by_fill[fill], face=fill, edge=STROKE, lw=1.0, z=3)
    canvas.add(line_parts, edge=STROKE, lw=1.0, z=4)


def _paint_text(canvas: _Canvas, lay: Layout) -> None:
    glyphs = _Glyphs()
    text_parts = []
    for op in lay.ops:
        text_parts += glyphs.line(op.text, op.cx, op.cy + 0.35 * OP_FONT_SIZE, OP_FONT_SIZE)
    for r in lay.records:
        for k, text in enumerate(r.rows):
            baseline = r.y + k * ROW_H + ROW_H / 2 + 0.35 * FONT_SIZE
            text_parts += glyphs.line(text, r.x + r.w / 2, baseline, FONT_SIZE)
    canvas.add(text_parts, face="#000000", z=5)
    title_parts = []
    for i, t in enumerate(lay.title):
        title_parts += glyphs.line(t, MARGIN, title_baseline(i), TITLE_SIZE, centre=False)
    canvas.add(title_parts, face="#333333", z=5)


class _Glyphs:
    """Outlines of DejaVu Sans Mono glyphs (shipped with matplotlib), cached per character."""

    def __init__(self) -> None:
        from matplotlib.font_manager import FontProperties
        from matplotlib.textpath import TextPath

        self._prop = FontProperties(family="DejaVu Sans Mono")
        self._textpath = TextPath
        self._cache: dict[str, tuple] = {}

    def _glyph(self, ch: str):
        got = self._cache.get(ch)
        if got is None:
            import numpy as np

            cells = 2 if text_width(ch, 1.0) > CHAR_W else 1
            try:
                path = None if ch.isspace() else self._textpath((0, 0), ch, 1.0, self._prop)
            except (AttributeError, ValueError, RuntimeError):  # no outline for it
                path = None
            if path is None or not len(path.vertices):
                got = (np.zeros((0, 2)), np.zeros(0, np.uint8), cells)
            else:
                verts = np.array(path.vertices, float)
                verts[:, 1] *= -1.0  # y grows downwards in the layout
                got = (verts, np.array(path.codes, np.uint8), cells)
            self._cache[ch] = got
        return got

    def line(self, text: str, x: float, baseline: float, size: float, centre: bool = True):
        """Glyph outlines for one line of text, centred on x or starting at x."""
        left = x - text_width(text, size) / 2 if centre else x
        out = []
        for ch in text:
            verts, codes, cells = self._glyph(ch)
            if len(verts):
                out.append((verts * size + (left, baseline), codes))
            left += cells * CHAR_W * size
        return out
