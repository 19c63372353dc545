"""Graphviz DOT text: a record per value (name | data | grad), an ellipse per operation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from microgradcli.draw.style import EDGE, FILL, OP_FILL, STROKE
from microgradcli.draw.trace import (
    DEFAULT_MAX_NODES,
    Notes,
    check_size,
    graph_texts,
    op_text,
    printable,
    root_ids,
    roots_of,
    trace,
)
from microgradcli.engine import Value

FONT = "DejaVu Sans Mono,Menlo,Consolas,monospace"


def _dot_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _record_escape(s: str) -> str:
    return "".join("\\" + ch if ch in '\\{}|<>" ' else ch for ch in s)


def _header(title: list[str]) -> list[str]:
    lines = ["// mg draw: the computation graph, every value with its data and its gradient"]
    lines += [f"// {t}" for t in title]
    lines.append("digraph mg {")
    graph = f'rankdir=LR, bgcolor="white", fontname="{FONT}", fontsize=14'
    if title:
        # each line ends in \l so every line is left-aligned, not only the block
        label = "".join(_dot_string(t)[1:-1] + "\\l" for t in title)
        graph += f', labelloc=t, labeljust=l, label="{label}"'
    lines.append(f"  graph [{graph}];")
    lines.append(
        f'  node [fontname="{FONT}", fontsize=14, color="{STROKE}", style=filled, penwidth=1];'
    )
    lines.append(f'  edge [color="{EDGE}", arrowsize=0.7];')
    return lines


def to_dot(
    root: Value | Sequence[Value],
    title: Sequence[str] = (),
    max_nodes: int | None = DEFAULT_MAX_NODES,
    notes: Mapping[Value, Notes] | None = None,
    columns: Sequence[Sequence[Value]] = (),
) -> str:
    """Graphviz DOT text: a record per value (name over data over grad, hover text in its
    tooltip), an ellipse per op; each group in columns shares a rank."""
    roots = roots_of(root)
    nodes, edges = trace(roots)
    if max_nodes is not None:
        check_size(len(nodes), max_nodes)
    texts = graph_texts(nodes, root_ids(nodes, roots), notes)
    lines = _header([printable(t) for t in title])
    for i, (v, t) in enumerate(zip(nodes, texts, strict=True)):
        # rankdir=LR lays a record's top-level fields out top to bottom
        label = " | ".join(_record_escape(f) for f in t.rows)
        lines.append(
            f'  v{i} [shape=record, fillcolor="{FILL[t.kind]}", label="{label}", '
            f"tooltip={_dot_string(t.tip)}];"
        )
        if v.children:
            lines.append(
                f'  op{i} [shape=ellipse, fillcolor="{OP_FILL}", margin="0.04,0.02", '
                f"width=0.35, height=0.3, label={_dot_string(op_text(v.op))}];"
            )
            lines.append(f"  op{i} -> v{i};")
    for c, p in edges:
        lines.append(f"  v{c} -> op{p};")
    index = {v: i for i, v in enumerate(nodes)}
    for group in columns:
        ids = " ".join(f"v{index[v]};" for v in group if v in index)
        if ids:
            lines.append(f"  {{ rank=same; {ids} }}")
    lines.append("}")
    return "\n".join(lines) + "\n"
