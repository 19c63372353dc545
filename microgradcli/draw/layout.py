"""The built-in layered layout (Sugiyama style): boxes, ellipses and edges in pixels.

Each numbered step is one function, called in order by `layout()`:

1. `assign_layers`: layers by longest path, then leaves and fan-out nodes pulled right
   next to their consumers (shorter edges, the output at the right);
2. `add_lanes`: a chain of dummy nodes for every edge longer than one layer, so long
   edges get a reserved lane through each layer they pass and never cross a box;
3. `order_layers`: crossing reduction by barycentre sweeps (down and up, keeping the
   best order), then the mirror image that reads like the expression;
4. `place_rows`: vertical positions by repeated averaging over neighbours with a minimum
   gap between boxes (an isotonic regression per layer), which straightens chains; then
   `straighten_lanes` puts each long edge's lane at one height where there is room;
5. `place_columns`: each layer a column (op slot, then records of one width each), each
   operation a small ellipse glued to the left of the value it computes;
6. `route_edges`: cubic Béziers that only bend in the free space between layers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from microgradcli.draw.style import (
    ARROW_HALF,
    ARROW_LEN,
    LANE_GAP,
    MARGIN,
    NODE_GAP,
    OP_FONT_SIZE,
    OP_GAP,
    OP_RY,
    PAD,
    ROW_H,
    TITLE_SIZE,
    text_width,
)
from microgradcli.draw.trace import (
    Notes,
    Text,
    graph_texts,
    op_text,
    printable,
    root_ids,
    roots_of,
)
from microgradcli.draw.trace import trace as trace_graph
from microgradcli.engine import Value

Point = tuple[float, float]


@dataclass
class Record:
    """A value's box: top-left corner, size, its rows of text (name first), hover text."""

    id: int
    x: float
    y: float
    w: float
    h: float
    rows: tuple[str, ...]
    kind: str
    tooltip: str


@dataclass
class Op:
    """An operation's ellipse, its centre and radii."""

    id: int
    cx: float
    cy: float
    rx: float
    ry: float
    text: str


@dataclass
class Edge:
    """A start point, cubic segments (c1, c2, end), and the arrowhead triangle."""

    start: Point
    curves: list[tuple[Point, Point, Point]]
    arrow: tuple[Point, Point, Point]
    src: int = -1  # the value it leaves (-1: an op's arrow into its own value)
    dst: int = -1  # the value whose op it enters


@dataclass
class Layout:
    """Everything needed to paint the picture, in pixels (y grows downwards)."""

    width: float
    height: float
    title: list[str]
    records: list[Record] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


@dataclass
class Lanes:
    """The layout graph: real nodes 0..n-1, then dummies; every edge spans one layer."""

    layer: list[int]  # layer of every layout node, real then dummy
    key: list[float]  # initial order inside a layer
    up: list[list[int]]  # neighbours in the layer before / after
    down: list[list[int]]
    chain: dict[tuple[int, int], list[int]]  # (child, parent) -> its dummies, left to right

    @property
    def total(self) -> int:
        return len(self.layer)


def layout(
    root: Value | Sequence[Value],
    title: Sequence[str] = (),
    notes: Mapping[Value, Notes] | None = None,
    columns: Sequence[Sequence[Value]] = (),
) -> Layout:
    """Place every box, ellipse and edge of the graph (no size limit: check it first).

    notes add rows and hover text to values; each group in columns shares one layer
    (inputs in the first, each network layer's neurons in one).
    """
    roots = roots_of(root)
    nodes, edges = trace_graph(roots)
    texts = graph_texts(nodes, root_ids(nodes, roots), notes)
    preds, succs = unique_edges(len(nodes), edges)
    layer = assign_layers(preds, succs)
    align_layers(layer, preds, nodes, columns)
    lanes = add_lanes(layer, preds, succs)
    layers = order_layers(lanes, len(nodes), max(layer, default=0))
    sizes = _Sizes(nodes, texts)
    y = place_rows(layers, lanes, sizes)
    straighten_lanes(layers, lanes, sizes, y)
    out, cols = place_columns(nodes, texts, layers, lanes, sizes, y, title)
    route_edges(out, edges, lanes, cols, y)
    return out


def unique_edges(n: int, edges: list[tuple[int, int]]) -> tuple[list[list[int]], ...]:
    """Predecessors and successors, each pair once (x*x is one lane; both arrows are drawn)."""
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for c, p in edges:
        if c not in preds[p]:
            preds[p].append(c)
            succs[c].append(p)
    return preds, succs


# -- 1. layers --------------------------------------------------------------------------


def assign_layers(preds: list[list[int]], succs: list[list[int]]) -> list[int]:
    """Longest path from the leaves (ids put children first), then nodes moved right.

    Parents first, a node moves right, next to its first consumer, when that shortens
    edges as network simplex would: when it has more consumers than inputs (a leaf
    always). A leaf used only by this node moves along, so it does not count; on a tie
    (w*x with a private w) moving right keeps each neuron's chain together.
    """
    n = len(preds)
    layer = [0] * n
    for v in range(n):
        if preds[v]:
            layer[v] = 1 + max(layer[c] for c in preds[v])
    top = max(layer, default=0)
    for v in range(n - 1, -1, -1):
        if not succs[v]:
            layer[v] = top  # outputs at the right
            continue
        shared = sum(1 for c in preds[v] if preds[c] or len(succs[c]) > 1)  # integer sum
        private = len(preds[v]) - shared
        if len(succs[v]) > shared or (private and len(succs[v]) == shared == 1):
            layer[v] = min(layer[s] for s in succs[v]) - 1
    return layer


def align_layers(
    layer: list[int], preds: list[list[int]], nodes: list[Value], columns: Sequence
) -> None:
    """Put each group of values in one layer: leaves at the left, others as far right as
    the rightmost member; every later value then stays right of its inputs."""
    index = {v: i for i, v in enumerate(nodes)}
    for group in columns:
        ids = [index[v] for v in group if v in index]
        if not ids:
            continue
        target = 0 if all(not preds[i] for i in ids) else max(layer[i] for i in ids)
        for i in ids:
            layer[i] = target
        for v in range(len(layer)):  # ids put children first
            if preds[v]:
                layer[v] = max(layer[v], 1 + max(layer[c] for c in preds[v]))
    top = max(layer, default=0)
    for v in range(len(layer)):
        if preds[v] and not any(v in p for p in preds):
            layer[v] = top  # outputs stay at the right


# -- 2. lanes for long edges ---------------------------------------------------------------


def add_lanes(layer: list[int], preds: list[list[int]], succs: list[list[int]]) -> Lanes:
    """A dummy node in every layer a long edge passes, chained from child to parent."""
    n = len(layer)
    lanes = Lanes(
        layer=list(layer),
        key=[float(v) for v in range(n)],
        up=[list(p) for p in preds],
        down=[list(s) for s in succs],
        chain={},
    )
    for p in range(n):
        for c in preds[p]:
            if layer[p] - layer[c] > 1:
                _add_lane(lanes, c, p)
    return lanes


def _add_lane(lanes: Lanes, c: int, p: int) -> None:
    prev = c
    lane = []
    for lv in range(lanes.layer[c] + 1, lanes.layer[p]):
        d = lanes.total
        lanes.layer.append(lv)
        lanes.key.append(c + 0.5)  # just after its source: the right place in a tree
        lanes.up.append([prev])
        lanes.down.append([])
        if prev == c:
            lanes.down[c] = [d if x == p else x for x in lanes.down[c]]
        else:
            lanes.down[prev] = [d]
        lane.append(d)
        prev = d
    lanes.down[prev] = [p]
    lanes.up[p] = [lane[-1] if x == c else x for x in lanes.up[p]]
    lanes.chain[(c, p)] = lane


# -- 3. order inside each layer ---------------------------------------------------------------


def order_layers(lanes: Lanes, n: int, top: int) -> list[list[int]]:
    """The nodes of each layer, top to bottom, with few crossings."""
    layers: list[list[int]] = [[] for _ in range(top + 1)]
    for v in sorted(range(lanes.total), key=lambda v: lanes.key[v]):
        layers[lanes.layer[v]].append(v)
    best = _crossings(layers, lanes)
    best_layers = [list(r) for r in layers]
    for _ in range(6):
        if best == 0:
            break
        for direction in (1, -1):
            _sweep(layers, lanes, direction)
            c = _crossings(layers, lanes)
            if c < best:
                best, best_layers = c, [list(r) for r in layers]
    return _reading_order(best_layers, n)


def _positions(layers: list[list[int]], total: int) -> list[int]:
    pos = [0] * total
    for row in layers:
        for i, v in enumerate(row):
            pos[v] = i
    return pos


def _crossings(layers: list[list[int]], lanes: Lanes) -> int:
    pos = _positions(layers, lanes.total)
    return sum(  # integer sum
        _count_crossings(layers[lv], {v: pos[v] for v in layers[lv + 1]}, lanes.down)
        for lv in range(len(layers) - 1)
    )


def _sweep(layers: list[list[int]], lanes: Lanes, direction: int) -> None:
    """One barycentre sweep, left to right (1, by predecessors) or back (-1)."""
    top = len(layers) - 1
    pos = _positions(layers, lanes.total)
    order = range(1, top + 1) if direction == 1 else range(top - 1, -1, -1)
    nb = lanes.up if direction == 1 else lanes.down

    def bary(v: int) -> float:
        if not nb[v]:
            return float(pos[v])  # nodes without neighbours on that side stay where they are
        return sum(pos[u] for u in nb[v]) / len(nb[v])  # integer sum

    for lv in order:
        layers[lv] = sorted(layers[lv], key=lambda v: (bary(v), pos[v]))
        for i, v in enumerate(layers[lv]):
            pos[v] = i


def _reading_order(layers: list[list[int]], n: int) -> list[list[int]]:
    """A mirror image has the same crossings: pick the one that keeps the first operands
    (lower ids) above the later ones, as the expression reads."""
    tilt = 0.0
    for row in layers:
        if len(row) > 1:
            for i, v in enumerate(row):
                if v < n:
                    tilt += (v - n / 2) * (i / (len(row) - 1) - 0.5)
    return [row[::-1] for row in layers] if tilt < 0 else layers


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


# -- 4. vertical positions ------------------------------------------------------------------


class _Sizes:
    """Heights of layout nodes and the gaps between them (dummies have no height)."""

    def __init__(self, nodes: list[Value], texts: list[Text]) -> None:
        self.n = len(nodes)
        self.rec_h = [len(t.rows) * ROW_H for t in texts]
        self.is_unit = [bool(v.children) for v in nodes]
        self.rx = [
            max(OP_RY, text_width(op_text(v.op), OP_FONT_SIZE) / 2 + 7.0) if v.children else 0.0
            for v in nodes
        ]
        # an op with many inputs (a fused neuron) grows taller so its arrowheads stay apart
        self.ry = [OP_RY + min(16.0, 2.0 * max(0, len(v.children) - 3)) for v in nodes]

    def height(self, v: int) -> float:
        if v >= self.n:
            return 0.0
        return max(self.rec_h[v], 2 * self.ry[v]) if self.is_unit[v] else self.rec_h[v]

    def sep(self, a: int, b: int) -> float:
        gap = NODE_GAP if (a < self.n and b < self.n) else LANE_GAP
        return (self.height(a) + self.height(b)) / 2 + gap

    def weight(self, a: int, b: int) -> float:
        dummies = (a >= self.n) + (b >= self.n)
        return (1.0, 2.0, 8.0)[dummies]  # long edges want to be straight


def place_rows(layers: list[list[int]], lanes: Lanes, sizes: _Sizes) -> list[float]:
    """The centre y of every layout node: stacked, then averaged over neighbours."""
    y = [0.0] * lanes.total
    for row in layers:
        acc = 0.0
        for i, v in enumerate(row):
            if i:
                acc += sizes.sep(row[i - 1], v)
            y[v] = acc
    top = len(layers) - 1
    for _ in range(8):
        for lv in range(1, top + 1):
            _place_row(layers[lv], (lanes.up,), sizes, y)
        for lv in range(top - 1, -1, -1):
            _place_row(layers[lv], (lanes.down,), sizes, y)
    for _ in range(4):
        for lv in range(top + 1):
            _place_row(layers[lv], (lanes.up, lanes.down), sizes, y)
        for lv in range(top, -1, -1):
            _place_row(layers[lv], (lanes.up, lanes.down), sizes, y)
    return y


def _place_row(row: list[int], sides: tuple, sizes: _Sizes, y: list[float]) -> None:
    """Move one layer towards the weighted mean of its neighbours, keeping the gaps."""
    targets, weights = [], []
    for v in row:
        sw = swy = 0.0
        for nb in sides:
            for u in nb[v]:
                w = sizes.weight(u, v)
                sw += w
                swy += w * y[u]
        if sw:
            targets.append(swy / sw)
            weights.append(sw)
        else:
            targets.append(y[v])
            weights.append(0.25)
    seps = [sizes.sep(row[i], row[i + 1]) for i in range(len(row) - 1)]
    for v, yy in zip(row, isotonic_place(targets, weights, seps), strict=True):
        y[v] = yy


def isotonic_place(targets: list[float], weights: list[float], seps: list[float]) -> list[float]:
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


def straighten_lanes(layers: list[list[int]], lanes: Lanes, sizes: _Sizes, y: list[float]) -> None:
    """Remove small kinks: a whole lane at one height when the boxes around leave room."""
    slot_of = {}
    for row in layers:
        for i, v in enumerate(row):
            slot_of[v] = (row, i)

    def fits(d: int, yy: float) -> bool:
        row, i = slot_of[d]
        if i > 0 and yy - y[row[i - 1]] < sizes.sep(row[i - 1], d) - 1e-6:
            return False
        return not (i + 1 < len(row) and y[row[i + 1]] - yy < sizes.sep(d, row[i + 1]) - 1e-6)

    for (c, p), lane in lanes.chain.items():
        ys = sorted(y[d] for d in lane)
        mid = ys[len(ys) // 2]
        for yy in (y[p], y[c], *sorted(ys, key=lambda t: abs(t - mid))):
            if all(fits(d, yy) for d in lane):
                for d in lane:
                    y[d] = yy
                break


# -- 5. columns ---------------------------------------------------------------------------------


def place_columns(
    nodes: list[Value],
    texts: list[Text],
    layers: list[list[int]],
    lanes: Lanes,
    sizes: _Sizes,
    y: list[float],
    title: Sequence[str],
) -> tuple[Layout, tuple[list[float], list[float]]]:
    """Records and ops in pixels, each layer a column; y is shifted in place below the title.

    Each record is as wide as its own text; the records of a layer share their left
    side, and their ops line up left of them. Returns the layout (without the edges
    into ops) and each column's left and right.
    """
    n = len(nodes)
    title = [printable(t) for t in title]
    title_h = (len(title) * (TITLE_SIZE * 1.4) + 8.0) if title else 0.0
    y_min = min((y[v] - sizes.height(v) / 2 for v in range(lanes.total)), default=0.0)
    dy = MARGIN + title_h - y_min
    y[:] = [yy + dy for yy in y]
    rec_w = [max(text_width(r) for r in t.rows) + 2 * PAD for t in texts]
    slot = [max((2 * sizes.rx[v] + OP_GAP for v in row if v < n), default=0.0) for row in layers]
    col_w = [
        s + max((rec_w[v] for v in row if v < n), default=0.0)
        for s, row in zip(slot, layers, strict=True)
    ]
    x_left = _column_lefts(col_w, lanes, y)
    width = x_left[-1] + col_w[-1] + MARGIN if n else 2 * MARGIN
    if title:
        width = max(width, 2 * MARGIN + max(text_width(t, TITLE_SIZE) for t in title))
    height = max((y[v] + sizes.height(v) / 2 for v in range(lanes.total)), default=0.0) + MARGIN
    out = Layout(width=width, height=height, title=title)
    for v, val in enumerate(nodes):
        lv = lanes.layer[v]
        left = x_left[lv] + slot[lv]
        t = texts[v]
        h = sizes.rec_h[v]
        out.records.append(Record(v, left, y[v] - h / 2, rec_w[v], h, t.rows, t.kind, t.tip))
        if sizes.is_unit[v]:
            cx = left - OP_GAP - sizes.rx[v]
            out.ops.append(Op(v, cx, y[v], sizes.rx[v], sizes.ry[v], op_text(val.op)))
            out.edges.append(_straight((cx + sizes.rx[v], y[v]), (left, y[v])))
    right = [x + w for x, w in zip(x_left, col_w, strict=True)]
    return out, (x_left, right)


def _column_lefts(col_w: list[float], lanes: Lanes, y: list[float]) -> list[float]:
    """The left of each column: the gap between two grows with the steepest edge in it."""
    steep = [0.0] * (len(col_w) - 1)
    for v in range(lanes.total):
        for s in lanes.down[v]:
            steep[lanes.layer[v]] = max(steep[lanes.layer[v]], abs(y[s] - y[v]))
    x_left = [MARGIN]
    for lv in range(len(col_w) - 1):
        gap = min(140.0, max(34.0, 0.22 * steep[lv]))
        x_left.append(x_left[-1] + col_w[lv] + gap)
    return x_left


# -- 6. edges -------------------------------------------------------------------------------------


def route_edges(
    out: Layout,
    edges: list[tuple[int, int]],
    lanes: Lanes,
    columns: tuple[list[float], list[float]],
    y: list[float],
) -> None:
    """Every edge from a record's right side, through its lane, onto the op's left arc."""
    x_left, right = columns
    incoming: dict[int, list[tuple[float, int, list[Point], int]]] = {}
    own_right = [r.x + r.w for r in out.records]
    for k, (c, p) in enumerate(edges):
        pts: list[Point] = [(own_right[c], y[c]), (right[lanes.layer[c]], y[c])]
        for d in lanes.chain.get((c, p), ()):
            pts.append((x_left[lanes.layer[d]], y[d]))
            pts.append((right[lanes.layer[d]], y[d]))
        incoming.setdefault(p, []).append((pts[-1][1], k, pts, c))
    for op in out.ops:
        ins = sorted(incoming.get(op.id, ()))
        for (tip, ux, uy), (_, _, pts, c) in zip(_entry_points(op, ins), ins, strict=True):
            edge = _curve(pts, tip, ux, uy)
            edge.src, edge.dst = c, op.id
            out.edges.append(edge)


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
    wanted = [max(-reach, min(reach, (e[2][-1][1] - op.cy) * 0.25)) for e in ins]
    gap = min(7.0, 2 * reach / (m - 1)) if m > 1 else 0.0
    offs = isotonic_place(wanted, [1.0] * m, [gap] * (m - 1))
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
        if i % 2 == 0:  # inside a layer (out of a narrower box, through a lane): straight
            if a != b:
                curves.append((a, b, b))
        else:
            h = (b[0] - a[0]) / 2
            curves.append(((a[0] + h, a[1]), (b[0] - h, b[1]), b))
    a = pts[-1]
    h = max(8.0, (base[0] - a[0]) / 2)
    tail = min(h, 18.0)
    curves.append(((a[0] + h, a[1]), (base[0] - ux * tail, base[1] - uy * tail), base))
    return Edge(pts[0], curves, tri)
