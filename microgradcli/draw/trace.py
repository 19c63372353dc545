"""Collecting the graph: the values a root depends on, in a fixed order, and their labels.

Node ids come from a counter in a fixed order (depth first, children in order), never
from id(), so the same input gives the same bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from microgradcli.engine import Value
from microgradcli.errors import InputError, option_error

DEFAULT_MAX_NODES = 2000

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


SHORT_NAME = 7  # a subexpression up to this long is its own name (x*w, x1*w1)
TIP_MAX = 4000  # hover text beyond this is cut (a subexpression: at SUB_MAX)
SUB_MAX = 600


@dataclass(frozen=True)
class Notes:
    """What a picture adds to a value: rows under its name (a fused neuron's weights),
    and more hover text."""

    rows: tuple[str, ...] = ()
    tip: str = ""


@dataclass(frozen=True)
class Text:
    """Everything a value's box says: its rows (name first) and its hover text."""

    rows: tuple[str, ...]
    tip: str
    kind: str

    @property
    def name(self) -> str:
        return self.rows[0]


def graph_texts(
    nodes: list[Value], outputs: set[int], notes: Mapping[Value, Notes] | None = None
) -> list[Text]:
    """Each box's rows: a short name (variables and constants as themselves, a short
    unique subexpression as itself, n1, n2, ... in topological order, out for a single
    output), any noted rows, then data and grad; the hover text says it in full."""
    notes = notes or {}
    full = full_texts(nodes)
    counts: dict[str, int] = {}
    for v in nodes:
        counts[v.label] = counts.get(v.label, 0) + 1
    names: list[str] = []
    k = 0
    for i, v in enumerate(nodes):
        label = printable(v.label)
        if not v.children:
            names.append(node_name(v))
        elif i in outputs and len(outputs) == 1 and not _is_name(label):
            names.append("out")
        elif (
            label
            and counts[v.label] == 1
            and (len(label) <= SHORT_NAME and "…" not in label or re.fullmatch(r"[\w.:]+", label))
        ):  # a short subexpression, or a name (L1.N10, out:setosa)
            names.append(label)
        else:
            k += 1
            names.append(f"n{k}")
    out = []
    for i, v in enumerate(nodes):
        note = notes.get(v, Notes())
        tip = f"{names[i]} = {full[i]}" if full[i] != names[i] else names[i]
        tip = _cut(
            f"{tip}\ndata={v.data!r}\ngrad={v.grad!r}" + (f"\n{note.tip}" if note.tip else "")
        )
        rows = (names[i], *note.rows, f"data={fmt_number(v.data)}", f"grad={fmt_number(v.grad)}")
        out.append(Text(rows, tip, node_kind(v, i in outputs)))
    return out


def _is_name(label: str) -> bool:
    """An output label that names it (out, out:a, out2, df/dx, d2f/dx2), not its formula."""
    return label.startswith("out") or re.fullmatch(r"d\d*f/d\w+", label) is not None


def _cut_sub(text: str) -> str:
    return text if len(text) <= SUB_MAX else text[: SUB_MAX - 1] + "…"


def _cut(text: str) -> str:
    return text if len(text) <= TIP_MAX else text[: TIP_MAX - 1] + "…"


_PRECEDENCE = {"+": 1, "*": 2}


def full_texts(nodes: list[Value]) -> list[str]:
    """Each value's whole subexpression, from its label when that is complete, else
    composed from its operation and its inputs' texts (children come first in nodes)."""
    index = {v: i for i, v in enumerate(nodes)}
    texts: list[str] = []
    prec: list[int] = []
    for v in nodes:
        label = printable(v.label)
        if label and "…" not in label or not v.children:
            texts.append(node_name(v) if not v.children else label)
            prec.append(9 if not v.children or label.isidentifier() else 0)
            continue
        kids = [index[c] for c in v.children]
        op = v.op
        if op in _PRECEDENCE:
            p = _PRECEDENCE[op]
            parts = [texts[c] if prec[c] >= p else f"({texts[c]})" for c in kids]
            texts.append(_cut_sub((" + " if op == "+" else "*").join(parts)))
            prec.append(p)
        elif op.startswith("**"):
            c = kids[0]
            texts.append(_cut_sub(f"{texts[c] if prec[c] >= 9 else f'({texts[c]})'}{op}"))
            prec.append(3)
        else:
            texts.append(_cut_sub(f"{op_text(op)}({', '.join(texts[c] for c in kids)})"))
            prec.append(9)
    return texts


def node_kind(v: Value, is_root: bool) -> str:
    """How a value's box is coloured: output, value (computed), constant or leaf."""
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


def roots_of(root: Value | Sequence[Value]) -> list[Value]:
    """The root(s) as a list: one Value or a non-empty sequence of them."""
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
    for r in roots_of(root):
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
                # a node already on the stack cannot be a child again: graphs are acyclic
                stack.append((kids[i], 0))
            else:
                stack.pop()
                if v not in ids:
                    ids[v] = len(nodes)
                    nodes.append(v)
    edges = [(ids[c], pid) for pid, v in enumerate(nodes) for c in v.children]
    return nodes, edges


def root_ids(nodes: list[Value], roots: list[Value]) -> set[int]:
    """The ids of the roots among the traced nodes."""
    return {i for i, v in enumerate(nodes) if any(v is r for r in roots)}


def check_size(n: int, max_nodes: int) -> None:
    """Refuse a graph with more than max_nodes values, saying how to draw it anyway."""
    if n > max_nodes:
        raise option_error(
            InputError,
            "the graph has {n:,} nodes, more than {o[max_nodes]} {max_nodes:,} allows "
            "(too large to read as a picture); pass {o[max_nodes]} {n} to draw it anyway",
            n=n,
            max_nodes=max_nodes,
        )
