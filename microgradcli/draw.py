"""Computation graphs as pictures: trace the graph, then write DOT, SVG or PNG.

Collecting the graph is apart from rendering. Node ids come from a counter in a fixed
order (depth first, children in order), never from id(), so the same input gives the
same bytes. SVG and PNG use Graphviz's `dot` when it is on PATH; otherwise a built-in
layered layout (Sugiyama style) draws the same picture with no system package:

1. layers by longest path, then leaves and fan-out nodes pulled right next to their
   consumers (shorter edges, the output at the right);
2. a chain of dummy nodes for every edge longer than one layer, so long edges get a
   reserved lane through each layer they pass and never cross a box;
3. crossing reduction by barycentre sweeps (down and up, keeping the best order);
4. vertical positions by repeated averaging over neighbours with a minimum gap between
   boxes (an isotonic regression per layer), which straightens chains;
5. each operation drawn as a small ellipse glued to the left of the value it computes,
   edges as cubic Béziers that only bend in the free space between layers.
"""

from __future__ import annotations

import math
import shutil
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from microgradcli.engine import Value, lsum
from microgradcli.errors import InputError, MgError

__all__ = [
    "DEFAULT_MAX_NODES",
    "FORMATS",
    "check_size",
    "layout",
    "model_graph",
    "node_label",
    "render",
    "to_dot",
    "to_png",
    "to_svg",
    "trace",
]

DEFAULT_MAX_NODES = 2000
FORMATS = ("svg", "dot", "png")

# -- what a node says -------------------------------------------------------------------

_OP_TEXT = {"dot": "w·x+b", "sum": "Σ"}


def fmt_number(x: float) -> str:
    """4 decimals as in the lecture's %.4f; scientific notation when that would mislead."""
    if x == 0.0:
        return "0.0000"  # also turns -0.0 into 0.0000
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if 1e-4 <= abs(x) < 1e7:
        return f"{x:.4f}"
    return f"{x:.4e}"


def op_text(op: str) -> str:
    """The operation as shown in its small node (the fused neuron reads w·x+b)."""
    return _OP_TEXT.get(op, op)


def printable(text: str) -> str:
    """Text safe for one line of SVG, DOT or a terminal: control characters become '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


def node_name(v: Value) -> str:
    """Variables by name, constants by value, intermediate values by label, else their op."""
    if v.label:
        return printable(v.label)
    if not v.children:
        return f"{v.data:g}"
    return op_text(v.op)


def node_label(v: Value) -> tuple[str, str, str]:
    """The three fields of a value's box: name, data=..., grad=..."""
    return node_name(v), f"data={fmt_number(v.data)}", f"grad={fmt_number(v.grad)}"


def _kind(v: Value, is_root: bool) -> str:
    if is_root:
        return "output"
    if v.children:
        return "value"
    return "constant" if _is_number(v.label) else "leaf"


def _is_number(label: str) -> bool:
    """An unlabelled leaf, or one labelled with its number (as expressions label 2.5)."""
    if not label:
        return True
    try:
        float(label)
    except ValueError:
        return False
    return True


# -- collecting the graph ----------------------------------------------------------------


def _roots(root: Value | Sequence[Value]) -> list[Value]:
    roots = [root] if isinstance(root, Value) else list(root)
    if not roots or not all(isinstance(r, Value) for r in roots):
        raise TypeError("draw needs a Value or a non-empty sequence of Values")
    return roots


def trace(root: Value | Sequence[Value]) -> tuple[list[Value], list[tuple[int, int]]]:
    """All values the root(s) depend on, and the edges (child id, parent id) between them.

    A value's id is its index in the returned list: depth first, children in order, each
    value after its children (so leaves of the first operand come first and the root
    last). An operand used twice (x*x) gives two edges. Iterative: any depth works.
    """
    ids: dict[Value, int] = {}
    nodes: list[Value] = []
    for r in _roots(root):
        if r in ids:
            continue
        stack: list[tuple[Value, int]] = [(r, 0)]
        while stack:
            v, i = stack[-1]
            kids = v.children
            while i < len(kids) and kids[i] in ids:
                i += 1
            if i < len(kids):
                stack[-1] = (v, i + 1)
                child = kids[i]
                # a node already on the stack cannot be a child again: graphs are acyclic
                stack.append((child, 0))
            else:
                stack.pop()
                if v not in ids:
                    ids[v] = len(nodes)
                    nodes.append(v)
    edges = [(ids[c], pid) for pid, v in enumerate(nodes) for c in v.children]
    return nodes, edges


def check_size(n: int, max_nodes: int) -> None:
    """Refuse a graph with more than max_nodes values, saying how to draw it anyway."""
    if n > max_nodes:
        raise InputError(
            f"the graph has {n:,} nodes, more than --max-nodes {max_nodes:,} allows "
            f"(too large to read as a picture); pass --max-nodes {n} to draw it anyway"
        )


# -- DOT ---------------------------------------------------------------------------------

_FILL = {"leaf": "#e8f1fb", "constant": "#f2f2f2", "value": "#ffffff", "output": "#e3f4e1"}
_OP_FILL = "#fff3d6"
_STROKE = "#4a4a4a"
_EDGE = "#6b6b6b"


def _dot_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _record_escape(s: str) -> str:
    out = []
    for ch in s:
        if ch in '\\{}|<>" ':
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def to_dot(
    root: Value | Sequence[Value],
    title: Sequence[str] = (),
    max_nodes: int | None = DEFAULT_MAX_NODES,
) -> str:
    """Graphviz DOT text: a record per value (name | data | grad), an ellipse per op."""
    roots = _roots(root)
    nodes, edges = trace(roots)
    if max_nodes is not None:
        check_size(len(nodes), max_nodes)
    title = [printable(t) for t in title]
    root_ids = {i for i, v in enumerate(nodes) if any(v is r for r in roots)}
    font = "DejaVu Sans Mono,Menlo,Consolas,monospace"
    lines = ["// mg draw: the computation graph, every value with its data and its gradient"]
    lines += [f"// {t}" for t in title]
    lines.append("digraph mg {")
    graph = f'rankdir=LR, bgcolor="white", fontname="{font}", fontsize=12'
    if title:
        # each line ends in \l so every line is left-aligned, not only the block
        label = "".join(_dot_string(t)[1:-1] + "\\l" for t in title)
        graph += f', labelloc=t, labeljust=l, label="{label}"'
    lines.append(f"  graph [{graph}];")
    lines.append(
        f'  node [fontname="{font}", fontsize=11, color="{_STROKE}", style=filled, penwidth=1];'
    )
    lines.append(f'  edge [color="{_EDGE}", arrowsize=0.7];')
    for i, v in enumerate(nodes):
        name, data, grad = node_label(v)
        fill = _FILL[_kind(v, i in root_ids)]
        label = " | ".join(_record_escape(f) for f in (name, data, grad))
        lines.append(f'  v{i} [shape=record, fillcolor="{fill}", label="{{ {label} }}"];')
        if v.children:
            lines.append(
                f'  op{i} [shape=ellipse, fillcolor="{_OP_FILL}", margin="0.04,0.02", '
                f"width=0.35, height=0.3, label={_dot_string(op_text(v.op))}];"
            )
            lines.append(f"  op{i} -> v{i};")
    for c, p in edges:
        lines.append(f"  v{c} -> op{p};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- the built-in layout -------------------------------------------------------------------

FONT_SIZE = 12.0
OP_FONT_SIZE = 12.0
TITLE_SIZE = 13.0
CHAR_W = 0.602  # advance of a monospace glyph, in ems (DejaVu Sans Mono: 1233/2048)
PAD = 6.0  # text padding inside a record field
REC_H = 24.0
OP_RY = 12.0
OP_GAP = 22.0  # from an op's ellipse to the box it feeds (room for the arrow)
NODE_GAP = 14.0  # vertical space between boxes in a layer
LANE_GAP = 10.0  # vertical space next to a long edge's lane
MARGIN = 16.0
ARROW_LEN = 8.0
ARROW_HALF = 3.5
MONO = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace"


def text_width(s: str, size: float = FONT_SIZE) -> float:
    """Width of text in a monospace font (wide East Asian characters count twice)."""
    n = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)  # integer sum
    return n * CHAR_W * size


@dataclass
class Record:
    """A value's box: top-left corner, field widths and texts."""

    id: int
    x: float
    y: float
    widths: list[float]
    fields: tuple[str, str, str]
    kind: str
    tooltip: str

    @property
    def w(self) -> float:
        return lsum(self.widths)


@dataclass
class Op:
    """An operation's ellipse, its centre and radii."""

    id: int
    cx: float
    cy: float
    rx: float
    ry: float
    text: str


Point = tuple[float, float]


@dataclass
class Edge:
    """A start point, cubic segments (c1, c2, end), and the arrowhead triangle."""

    start: Point
    curves: list[tuple[Point, Point, Point]]
    arrow: tuple[Point, Point, Point]


@dataclass
class Layout:
    """Everything needed to paint the picture, in pixels (y grows downwards)."""

    width: float
    height: float
    title: list[str]
    records: list[Record] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


def _isotonic_place(targets: list[float], weights: list[float], seps: list[float]) -> list[float]:
    """Positions closest to targets (weighted least squares) with y[i+1] - y[i] >= seps[i]."""
    offsets = [0.0]
    for s in seps:
        offsets.append(offsets[-1] + s)
    # z = y - offset must be non-decreasing: pool adjacent violators
    blocks: list[list[float]] = []  # [sum of w, sum of w*t, count]
    for t, w, off in zip(targets, weights, offsets, strict=True):
        blocks.append([w, w * (t - off), 1])
        while len(blocks) > 1 and (
            blocks[-2][1] * blocks[-1][0] > blocks[-1][1] * blocks[-2][0]
        ):  # mean of the previous block > mean of the last one
            w2, s2, n2 = blocks.pop()
            blocks[-1][0] += w2
            blocks[-1][1] += s2
            blocks[-1][2] += n2
    out: list[float] = []
    for w, s, n in blocks:
        out.extend([s / w] * int(n))
    return [z + off for z, off in zip(out, offsets, strict=True)]


def _count_crossings(upper: list[int], lower_pos: dict[int, int], succ: list[list[int]]) -> int:
    """Crossings between two adjacent layers (edges from upper, in upper's order)."""
    ends: list[int] = []
    for v in upper:
        ends.extend(sorted(lower_pos[s] for s in succ[v]))
    # count inversions with a Fenwick tree
    size = max(lower_pos.values(), default=0) + 2
    tree = [0] * (size + 1)
    crossings = 0
    seen = 0
    for e in ends:
        i = e + 1
        le = 0
        j = i
        while j > 0:
            le += tree[j]
            j -= j & -j
        crossings += seen - le
        seen += 1
        while i <= size:
            tree[i] += 1
            i += i & -i
    return crossings


def layout(root: Value | Sequence[Value], title: Sequence[str] = ()) -> Layout:
    """Place every box, ellipse and edge of the graph (no size limit: check it first)."""
    roots = _roots(root)
    nodes, edges = trace(roots)
    n = len(nodes)
    root_ids = {i for i, v in enumerate(nodes) if any(v is r for r in roots)}

    # unique edges for the layout (x*x is one lane; both arrows are drawn at the end)
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for c, p in edges:
        if c not in preds[p]:
            preds[p].append(c)
            succs[c].append(p)

    # 1. layers: longest path from the leaves (ids put children first) ...
    layer = [0] * n
    for v in range(n):
        if preds[v]:
            layer[v] = 1 + max(layer[c] for c in preds[v])
    top = max(layer, default=0)
    # ... then, parents first, move a node right, next to its first consumer, when that
    # shortens edges as network simplex would: when it has more consumers than inputs
    # (a leaf always). A leaf used only by this node moves along, so it does not count;
    # on a tie (w*x with a private w) moving right keeps each neuron's chain together.
    for v in range(n - 1, -1, -1):
        if not succs[v]:
            layer[v] = top  # outputs at the right
            continue
        shared = sum(1 for c in preds[v] if preds[c] or len(succs[c]) > 1)  # integer sum
        private = len(preds[v]) - shared
        if len(succs[v]) > shared or (private and len(succs[v]) == shared == 1):
            layer[v] = min(layer[s] for s in succs[v]) - 1

    # 2. dummy nodes on long edges
    lay: list[int] = list(layer)  # layer of every layout node, real then dummy
    key: list[float] = [float(v) for v in range(n)]  # initial order inside a layer
    up: list[list[int]] = [list(p) for p in preds]  # layout preds / succs (adjacent layers)
    down: list[list[int]] = [list(s) for s in succs]
    chain: dict[tuple[int, int], list[int]] = {}
    for p in range(n):
        for c in preds[p]:
            if layer[p] - layer[c] <= 1:
                continue
            prev = c
            lane = []
            for lv in range(layer[c] + 1, layer[p]):
                d = len(lay)
                lay.append(lv)
                key.append(c + 0.5)  # just after its source: the right place in a tree
                up.append([prev])
                down.append([])
                down[prev] = [d if x == p else x for x in down[prev]] if prev == c else [d]
                lane.append(d)
                prev = d
            down[prev] = [p]
            up[p] = [lane[-1] if x == c else x for x in up[p]]
            chain[(c, p)] = lane
    total = len(lay)
    layers: list[list[int]] = [[] for _ in range(top + 1)]
    for v in sorted(range(total), key=lambda v: key[v]):
        layers[lay[v]].append(v)

    # 3. crossing reduction: barycentre sweeps, keeping the best order seen
    def positions() -> list[int]:
        pos = [0] * total
        for row in layers:
            for i, v in enumerate(row):
                pos[v] = i
        return pos

    def crossings() -> int:
        pos = positions()
        return sum(  # integer sum
            _count_crossings(layers[lv], {v: pos[v] for v in layers[lv + 1]}, down)
            for lv in range(top)
        )

    best = crossings()
    best_layers = [list(r) for r in layers]
    for _ in range(6):
        if best == 0:
            break
        for direction in (1, -1):
            pos = positions()
            order = range(1, top + 1) if direction == 1 else range(top - 1, -1, -1)
            for lv in order:
                nb = up if direction == 1 else down

                def bary(v: int, nb=nb, pos=pos) -> float:
                    if not nb[v]:
                        return float(pos[v])
                    return sum(pos[u] for u in nb[v]) / len(nb[v])  # integer sum

                row = layers[lv]
                # keep nodes without neighbours on that side where they are
                layers[lv] = sorted(row, key=lambda v: (bary(v), pos[v]))
                for i, v in enumerate(layers[lv]):
                    pos[v] = i
            c = crossings()
            if c < best:
                best, best_layers = c, [list(r) for r in layers]
    layers = best_layers
    # a mirror image has the same crossings: pick the one that keeps the first operands
    # (lower ids) above the later ones, as the expression reads
    tilt = 0.0
    for row in layers:
        if len(row) > 1:
            for i, v in enumerate(row):
                if v < n:
                    tilt += (v - n / 2) * (i / (len(row) - 1) - 0.5)
    if tilt < 0:
        layers = [row[::-1] for row in layers]

    # sizes
    is_unit = [v < n and bool(nodes[v].children) for v in range(total)]
    labels = [node_label(nodes[v]) for v in range(n)]
    rx = [0.0] * n
    for v in range(n):
        if is_unit[v]:
            rx[v] = max(OP_RY, text_width(op_text(nodes[v].op), OP_FONT_SIZE) / 2 + 7.0)
    # an op with many inputs (a fused neuron) grows taller so its arrowheads stay apart
    ry = [OP_RY + min(16.0, 2.0 * max(0, len(nodes[v].children) - 3)) for v in range(n)]

    def height(v: int) -> float:
        if v >= n:
            return 0.0
        return max(REC_H, 2 * ry[v]) if is_unit[v] else REC_H

    def sep(a: int, b: int) -> float:
        gap = NODE_GAP if (a < n and b < n) else LANE_GAP
        return (height(a) + height(b)) / 2 + gap

    # 4. vertical positions: start stacked, then average over neighbours repeatedly
    y = [0.0] * total
    for row in layers:
        acc = 0.0
        for i, v in enumerate(row):
            if i:
                acc += sep(row[i - 1], v)
            y[v] = acc

    def weight(a: int, b: int) -> float:
        dummies = (a >= n) + (b >= n)
        return (1.0, 2.0, 8.0)[dummies]  # long edges want to be straight

    def place(row: list[int], sides: tuple[list[list[int]], ...]) -> None:
        targets, weights = [], []
        for v in row:
            sw = swy = 0.0
            for nb in sides:
                for u in nb[v]:
                    w = weight(u, v)
                    sw += w
                    swy += w * y[u]
            if sw:
                targets.append(swy / sw)
                weights.append(sw)
            else:
                targets.append(y[v])
                weights.append(0.25)
        seps = [sep(row[i], row[i + 1]) for i in range(len(row) - 1)]
        for v, yy in zip(row, _isotonic_place(targets, weights, seps), strict=True):
            y[v] = yy

    for _ in range(8):
        for lv in range(1, top + 1):
            place(layers[lv], (up,))
        for lv in range(top - 1, -1, -1):
            place(layers[lv], (down,))
    for _ in range(4):
        for lv in range(top + 1):
            place(layers[lv], (up, down))
        for lv in range(top, -1, -1):
            place(layers[lv], (up, down))

    # long edges: remove small kinks by putting a whole lane at one height when the
    # boxes and lanes around it leave room
    slot_of = {}
    for row in layers:
        for i, v in enumerate(row):
            slot_of[v] = (row, i)

    def fits(d: int, yy: float) -> bool:
        row, i = slot_of[d]
        if i > 0 and yy - y[row[i - 1]] < sep(row[i - 1], d) - 1e-6:
            return False
        return not (i + 1 < len(row) and y[row[i + 1]] - yy < sep(d, row[i + 1]) - 1e-6)

    for (c, p), lane in chain.items():
        ys = sorted(y[d] for d in lane)
        mid = ys[len(ys) // 2]
        for yy in (y[p], y[c], *sorted(ys, key=lambda t: abs(t - mid))):
            if all(fits(d, yy) for d in lane):
                for d in lane:
                    y[d] = yy
                break

    # 5. columns: op slot, then the records (every record in a layer gets the same field
    # widths, so the boxes of a layer line up like a table)
    title = [printable(t) for t in title]
    title_h = (len(title) * (TITLE_SIZE * 1.4) + 8.0) if title else 0.0
    y_min = min((y[v] - height(v) / 2 for v in range(total)), default=0.0)
    dy = MARGIN + title_h - y_min
    y = [yy + dy for yy in y]

    fw: list[list[float]] = []
    slot: list[float] = []
    for row in layers:
        widths = [0.0, 0.0, 0.0]
        s = 0.0
        for v in row:
            if v < n:
                for k in range(3):
                    widths[k] = max(widths[k], text_width(labels[v][k]) + 2 * PAD)
                if is_unit[v]:
                    s = max(s, 2 * rx[v] + OP_GAP)
        fw.append(widths)
        slot.append(s)
    col_w = [slot[lv] + lsum(fw[lv]) for lv in range(top + 1)]

    # the gap between two layers grows with the steepest edge crossing it
    steep = [0.0] * top
    for v in range(total):
        for s in down[v]:
            steep[lay[v]] = max(steep[lay[v]], abs(y[s] - y[v]))
    x_left = [MARGIN]
    for lv in range(top):
        gap = min(140.0, max(44.0, 0.22 * steep[lv]))
        x_left.append(x_left[-1] + col_w[lv] + gap)
    width = x_left[-1] + col_w[-1] + MARGIN if n else 2 * MARGIN
    if title:
        width = max(width, 2 * MARGIN + max(text_width(t, TITLE_SIZE) for t in title))
    height_total = max((y[v] + height(v) / 2 for v in range(total)), default=0.0) + MARGIN

    out = Layout(width=width, height=height_total, title=title)
    rec_left = [x_left[lay[v]] + slot[lay[v]] if v < n else 0.0 for v in range(n)]
    for v in range(n):
        val = nodes[v]
        out.records.append(
            Record(
                id=v,
                x=rec_left[v],
                y=y[v] - REC_H / 2,
                widths=list(fw[lay[v]]),
                fields=labels[v],
                kind=_kind(val, v in root_ids),
                tooltip=f"{labels[v][0]}: data={val.data!r} grad={val.grad!r}",
            )
        )
        if is_unit[v]:
            cx = rec_left[v] - OP_GAP - rx[v]
            out.ops.append(Op(v, cx, y[v], rx[v], ry[v], op_text(val.op)))
            out.edges.append(_straight((cx + rx[v], y[v]), (rec_left[v], y[v])))

    # 6. edges: from a record's right side, through the lanes, onto the op's left arc
    right = [x_left[lv] + col_w[lv] for lv in range(top + 1)]
    incoming: dict[int, list[tuple[float, int, list[Point]]]] = {}
    for k, (c, p) in enumerate(edges):
        pts: list[Point] = [(right[lay[c]], y[c])]
        for d in chain.get((c, p), ()):
            pts.append((x_left[lay[d]], y[d]))
            pts.append((right[lay[d]], y[d]))
        incoming.setdefault(p, []).append((pts[-1][1], k, pts))
    for op in out.ops:
        ins = sorted(incoming.get(op.id, ()))
        for (tip, ux, uy), (_, _, pts) in zip(_entry_points(op, ins), ins, strict=True):
            out.edges.append(_curve(pts, tip, ux, uy))
    return out


def _entry_points(op: Op, ins: list) -> list[tuple[Point, float, float]]:
    """Where each incoming edge meets the op's ellipse, and the arrow's direction.

    Tips sit on the left half of the ellipse, in the order of their sources, towards
    the side each edge comes from and far enough apart for the arrowheads; arrows
    point at the centre but never steeper than 25 degrees, so an edge does its climbing
    in the free space between layers, not past the neighbouring boxes.
    """
    m = len(ins)
    if not m:
        return []
    reach = 0.7 * op.ry
    wanted = [max(-reach, min(reach, (pts[-1][1] - op.cy) * 0.25)) for _, _, pts in ins]
    gap = min(7.0, 2 * reach / (m - 1)) if m > 1 else 0.0
    offs = _isotonic_place(wanted, [1.0] * m, [gap] * (m - 1))
    lo, hi = offs[0], offs[-1]
    if hi - lo > 2 * reach:
        offs = [-reach + 2 * reach * (o - lo) / (hi - lo) for o in offs]
    elif lo < -reach:
        offs = [o - reach - lo for o in offs]
    elif hi > reach:
        offs = [o + reach - hi for o in offs]
    out = []
    for o in offs:
        tip = (op.cx - op.rx * math.sqrt(max(0.0, 1.0 - (o / op.ry) ** 2)), op.cy + o)
        angle = math.atan2(op.cy - tip[1], op.cx - tip[0])
        angle = max(-0.45, min(0.45, angle))
        out.append((tip, math.cos(angle), math.sin(angle)))
    return out


def _arrow(tip: Point, ux: float, uy: float) -> tuple[Point, tuple[Point, Point, Point]]:
    """The base point of an arrowhead pointing along (ux, uy), and its triangle."""
    bx, by = tip[0] - ux * ARROW_LEN, tip[1] - uy * ARROW_LEN
    left = (bx - uy * ARROW_HALF, by + ux * ARROW_HALF)
    right = (bx + uy * ARROW_HALF, by - ux * ARROW_HALF)
    return (bx, by), (tip, left, right)


def _straight(a: Point, b: Point) -> Edge:
    base, tri = _arrow(b, 1.0, 0.0)
    return Edge(a, [(a, base, base)], tri)


def _curve(pts: list[Point], tip: Point, ux: float, uy: float) -> Edge:
    """An S-curve between consecutive points, straight through lanes, onto the ellipse."""
    base, tri = _arrow(tip, ux, uy)
    curves: list[tuple[Point, Point, Point]] = []
    for i in range(len(pts) - 1):
        a, b = pts[i], pts[i + 1]
        if i % 2 == 1:  # through a lane inside a layer: straight
            curves.append((a, b, b))
        else:
            h = (b[0] - a[0]) / 2
            curves.append(((a[0] + h, a[1]), (b[0] - h, b[1]), b))
    a = pts[-1]
    h = max(8.0, (base[0] - a[0]) / 2)
    tail = min(h, 18.0)
    curves.append(((a[0] + h, a[1]), (base[0] - ux * tail, base[1] - uy * tail), base))
    return Edge(pts[0], curves, tri)


# -- painting: SVG -------------------------------------------------------------------------


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


def to_svg(
    root: Value | Sequence[Value],
    title: Sequence[str] = (),
    max_nodes: int | None = DEFAULT_MAX_NODES,
) -> str:
    """The built-in layout as standalone SVG (no Graphviz needed)."""
    if max_nodes is not None:
        check_size(len(trace(root)[0]), max_nodes)
    return svg_from_layout(layout(root, title))


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
        ty = MARGIN + TITLE_SIZE + i * TITLE_SIZE * 1.4
        o.append(
            f'<text x="{_f(MARGIN)}" y="{_f(ty)}" font-size="{_f(TITLE_SIZE)}" '
            f'fill="#333333">{escape(t)}</text>'
        )
    o.append(f'<g fill="none" stroke="{_EDGE}" stroke-width="1.2">')
    for e in lay.edges:
        o.append(f'<path d="{_svg_path(e)}"/>')
    o.append("</g>")
    o.append(f'<g fill="{_EDGE}" stroke="none">')
    for e in lay.edges:
        a, b, c = e.arrow
        o.append(f'<path d="M{_pt(a)}L{_pt(b)}L{_pt(c)}Z"/>')
    o.append("</g>")
    o.append(f'<g stroke="{_STROKE}" stroke-width="1">')
    for op in lay.ops:
        o.append(
            f'<ellipse cx="{_f(op.cx)}" cy="{_f(op.cy)}" rx="{_f(op.rx)}" ry="{_f(op.ry)}" '
            f'fill="{_OP_FILL}"/>'
        )
        o.append(
            f'<text x="{_f(op.cx)}" y="{_f(op.cy + 0.35 * OP_FONT_SIZE)}" stroke="none" '
            f'fill="#000000" text-anchor="middle">{escape(op.text)}</text>'
        )
    for r in lay.records:
        o.append(f'<g id="v{r.id}"><title>{escape(r.tooltip)}</title>')
        o.append(
            f'<rect x="{_f(r.x)}" y="{_f(r.y)}" width="{_f(r.w)}" height="{_f(REC_H)}" '
            f'fill="{_FILL[r.kind]}"/>'
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


# -- painting: PNG with matplotlib (imported only here) -------------------------------------

MAX_PIXELS = 40_000_000
MAX_SIDE = 30_000


def png_from_layout(lay: Layout, scale: float = 2.0) -> bytes:
    """Rasterise a Layout with matplotlib's Agg backend (the same picture as the SVG).

    Everything of one colour is one compound path, and text is assembled from cached
    glyph outlines of a monospace font: thousands of separate artists would take
    matplotlib tens of seconds on a big graph.
    """
    import io

    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path

    # keep the bitmap within what Agg and memory allow: shrink big graphs
    scale = min(
        scale,
        math.sqrt(MAX_PIXELS / max(1.0, lay.width * lay.height)),
        MAX_SIDE / max(lay.width, lay.height),
    )
    dpi = 100.0 * scale
    fig = Figure(figsize=(lay.width / 100.0, lay.height / 100.0), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, lay.width)
    ax.set_ylim(lay.height, 0)
    ax.set_axis_off()
    pt = 0.72  # one layout pixel in points (the figure has 100 layout pixels per inch)

    def compound(parts: list[tuple]) -> Path | None:
        if not parts:
            return None
        verts = np.concatenate([v for v, _ in parts])
        codes = np.concatenate([c for _, c in parts])
        return Path(verts, codes)

    def add(parts, face="none", edge="none", lw=0.0, z=1) -> None:
        path = compound(parts)
        if path is not None:
            # add_artist, not add_patch: no bounding-box work per Bézier (limits are set)
            ax.add_artist(
                PathPatch(path, facecolor=face, edgecolor=edge, linewidth=lw * pt, zorder=z)
            )

    curve4 = Path.CURVE4
    edge_parts, arrow_parts = [], []
    for e in lay.edges:
        verts = [e.start]
        for c1, c2, end in e.curves:
            verts += [c1, c2, end]
        codes = [Path.MOVETO] + [curve4] * (len(verts) - 1)
        edge_parts.append((np.array(verts, float), np.array(codes, np.uint8)))
        arrow_parts.append(
            (
                np.array([*e.arrow, e.arrow[0]], float),
                np.array([Path.MOVETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY], np.uint8),
            )
        )
    add(edge_parts, edge=_EDGE, lw=1.2, z=1)
    add(arrow_parts, face=_EDGE, z=2)

    circle = Path.unit_circle()
    op_parts = [(circle.vertices * (op.rx, op.ry) + (op.cx, op.cy), circle.codes) for op in lay.ops]
    add(op_parts, face=_OP_FILL, edge=_STROKE, lw=1.0, z=3)

    rect_codes = np.array([Path.MOVETO, *[Path.LINETO] * 3, Path.CLOSEPOLY], np.uint8)
    by_fill: dict[str, list] = {}
    line_parts = []
    for r in lay.records:
        x0, y0, x1, y1 = r.x, r.y, r.x + r.w, r.y + REC_H
        box = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)], float)
        by_fill.setdefault(_FILL[r.kind], []).append((box, rect_codes))
        x = r.x
        for fw in r.widths[:-1]:
            x += fw
            line_parts.append(
                (
                    np.array([(x, y0), (x, y1)], float),
                    np.array([Path.MOVETO, Path.LINETO], np.uint8),
                )
            )
    for fill in sorted(by_fill):
        add(by_fill[fill], face=fill, edge=_STROKE, lw=1.0, z=3)
    add(line_parts, edge=_STROKE, lw=1.0, z=4)

    glyphs = _Glyphs()
    text_parts = []
    for op in lay.ops:
        text_parts += glyphs.line(op.text, op.cx, op.cy + 0.35 * OP_FONT_SIZE, OP_FONT_SIZE)
    for r in lay.records:
        x = r.x
        for fw, text in zip(r.widths, r.fields, strict=True):
            text_parts += glyphs.line(
                text, x + fw / 2, r.y + REC_H / 2 + 0.35 * FONT_SIZE, FONT_SIZE
            )
            x += fw
    add(text_parts, face="#000000", z=5)
    title_parts = []
    for i, t in enumerate(lay.title):
        ty = MARGIN + TITLE_SIZE + i * TITLE_SIZE * 1.4
        title_parts += glyphs.line(t, MARGIN, ty, TITLE_SIZE, centre=False)
    add(title_parts, face="#333333", z=5)

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buf.getvalue()


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


def to_png(
    root: Value | Sequence[Value],
    title: Sequence[str] = (),
    max_nodes: int | None = DEFAULT_MAX_NODES,
) -> bytes:
    """The built-in layout rasterised to PNG with matplotlib (no Graphviz needed)."""
    if max_nodes is not None:
        check_size(len(trace(root)[0]), max_nodes)
    return png_from_layout(layout(root, title))


# -- choosing a renderer ----------------------------------------------------------------------


def graphviz_available() -> bool:
    """True when Graphviz's `dot` program is on PATH."""
    return shutil.which("dot") is not None


def _graphviz_pipe(dot_text: str, fmt: str) -> bytes:
    import graphviz

    try:
        return graphviz.Source(dot_text).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise
    except (
        graphviz.CalledProcessError,
        OSError,
    ) as e:  # dot crashed or refused: say which tool and why
        raise MgError(
            f"Graphviz's dot failed to render the graph ({e}); "
            "remove dot from PATH to use the built-in renderer"
        ) from None


def render(
    root: Value | Sequence[Value],
    fmt: str = "svg",
    title: Sequence[str] = (),
    max_nodes: int | None = DEFAULT_MAX_NODES,
    renderer: str = "auto",
) -> bytes:
    """The picture as bytes: fmt is svg, dot or png; renderer auto, graphviz or builtin.

    The graph's size is checked before anything is laid out or rendered.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if renderer not in ("auto", "graphviz", "builtin"):
        raise ValueError(f"unknown renderer {renderer!r}")
    nodes, _ = trace(root)
    if max_nodes is not None:
        check_size(len(nodes), max_nodes)
    if fmt == "dot":
        return to_dot(root, title, None).encode("utf-8")
    use_dot = renderer == "graphviz" or (renderer == "auto" and graphviz_available())
    if use_dot:
        import graphviz

        try:
            return _graphviz_pipe(to_dot(root, title, None), fmt)
        except graphviz.ExecutableNotFound:
            if renderer == "graphviz":
                raise MgError(
                    "Graphviz's dot is not installed; install Graphviz or use the built-in renderer"
                ) from None
    lay = layout(root, title)
    if fmt == "svg":
        return svg_from_layout(lay).encode("utf-8")
    return png_from_layout(lay)


# -- graphs of a trained model --------------------------------------------------------------


def model_graph(ckpt, row: Iterable[float], source: str = "model") -> tuple[list[Value], list[str]]:
    """A checkpoint's unfused graph for one raw input row, after backward; and a title.

    Inputs are named by the checkpoint's feature names (or x1..xn), parameters as
    L1.N3.w2, each neuron's output as L1.N3, the output(s) as out (out1.. or the class
    names). With several outputs, backward runs on their sum, and the title says so.
    """
    row = list(row)
    if len(row) != ckpt.nin:
        raise InputError(
            f"the model expects {ckpt.nin} input values, got {len(row)}; "
            f"give --input with {ckpt.nin} comma-separated numbers"
        )
    names = ckpt.input_names
    try:
        x = ckpt.prepare(row)
    except (ZeroDivisionError, KeyError, TypeError, ValueError) as e:
        raise InputError(f"the model's normalisation data is malformed ({e})") from None
    xs: list = [Value(v, label=name) for v, name in zip(x, names, strict=True)]
    for li, lyr in enumerate(ckpt.model.layers, 1):
        xs = lyr(xs, fused=False)
        for j, v in enumerate(xs, 1):
            if not v.label:
                v.label = f"L{li}.N{j}"
    outs = list(xs)
    if len(outs) == 1:
        outs[0].label = "out"
        outs[0].backward()
        grad_note = "grad = d(out)/d(node)"
    else:
        classes = ckpt.classes if ckpt.classes and len(ckpt.classes) == len(outs) else None
        for j, v in enumerate(outs, 1):
            v.label = f"out:{classes[j - 1]}" if classes else f"out{j}"
        # backward on the sum: every output's gradient is 1, each parameter's is the sum
        # of its effects on all outputs (the sum node itself is not drawn)
        total = outs[0]
        for v in outs[1:]:
            total = total + v
        total.backward()
        grad_note = f"grad = d(sum of the {len(outs)} outputs)/d(node)"
    shown = ", ".join(f"{nm}={v:g}" for nm, v in zip(names, row, strict=True))
    m = ckpt.model
    sizes = " -> ".join(str(k) for k in [m.nin, *m.nouts])
    arch = f"MLP {sizes}, {m.activation}, output {m.output_activation}"
    title = [f"{source}: {arch}", f"input: {shown}", grad_note]
    if ckpt.normalize is not None:
        title[1] += "  (normalised before the first layer)"
    return outs, title
