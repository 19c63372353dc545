"""Derivatives of expressions beyond the first: N-th derivatives, Hessians, and the
finite differences that check them.

Every derivative here is a backward pass of the scalar engine: the N-th derivative is
N backward passes, each recorded as a graph of Values (engine.grad with
create_graph=True) so that the next one can differentiate it. Finite differences only
check; they never produce a result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from microgradcli.engine import Value, grad
from microgradcli.errors import GraphTooLarge, MathDomainError

__all__ = [
    "MAX_ORDER",
    "Derivatives",
    "Hessian",
    "central_difference",
    "derivatives",
    "hessian",
    "hessian_difference",
]

MAX_ORDER = 10
DEFAULT_MAX_NODES = 1_000_000


@dataclass
class Derivatives:
    """f at a point and, per variable, its pure derivatives d^k f / dx^k for k = 1..order."""

    value: float
    order: int
    grads: dict[str, list[float]]
    nodes: dict[str, list[int]] = field(default_factory=dict)  # graph sizes: f, d1, ...
    root: Value | None = None  # f's graph (for --steps)


@dataclass
class Hessian:
    value: float
    names: list[str]
    grad: list[float]
    matrix: list[list[float]]
    nodes: list[int] = field(default_factory=list)  # f, the gradient, the Hessian


def graph_size(*roots: Value) -> int:
    """The number of Values the roots depend on (themselves included), shared once."""
    seen: set[Value] = set()
    for r in roots:
        seen.update(r.topological_order())
    return len(seen)


def derivatives(
    expression,
    point: Mapping[str, float],
    order: int,
    max_nodes: int = DEFAULT_MAX_NODES,
    count_nodes: bool = True,
) -> Derivatives:
    """d^k f/dx^k for k = 1..order and every variable x of `expression`, at `point`
    (and, with count_nodes, the size of each derivative's graph)."""
    if not 1 <= order <= MAX_ORDER:
        raise ValueError(f"order must be 1..{MAX_ORDER}, not {order}")
    root, leaves = expression.build(point)
    out = Derivatives(root.data, order, {}, {}, root)
    base = graph_size(root) if count_nodes else 0
    for name, leaf in leaves.items():
        d, ds, sizes = root, [], [base]
        for k in range(1, order + 1):
            try:
                d = grad(d, leaf, create_graph=True, max_nodes=max_nodes)
            except GraphTooLarge as e:
                e.order, e.variable = k, name
                raise
            ds.append(d.data)
            sizes.append(graph_size(d) if count_nodes else 0)
        out.grads[name] = ds
        if count_nodes:
            out.nodes[name] = sizes
    return out


def hessian(expression, point: Mapping[str, float], max_nodes: int = DEFAULT_MAX_NODES) -> Hessian:
    """The matrix of second partials (one backward pass for the gradient, one per row).

    Symmetric by construction: row i gives the entries j >= i, mirrored below.
    """
    root, leaves = expression.build(point)
    names = list(leaves)
    xs = [leaves[n] for n in names]
    first = grad(root, xs, create_graph=True, max_nodes=max_nodes)
    n = len(xs)
    matrix = [[0.0] * n for _ in range(n)]
    rows = []
    for i, g in enumerate(first):
        row = grad(g, xs[i:], create_graph=True, max_nodes=max_nodes)
        rows.extend(row)
        for j, h in enumerate(row, start=i):
            matrix[i][j] = matrix[j][i] = h.data
    sizes = [graph_size(root), graph_size(*first) if first else 1]
    sizes.append(graph_size(*rows) if rows else 1)
    return Hessian(root.data, names, [g.data for g in first], matrix, sizes)


# -- finite differences (checks only) -------------------------------------------------------


def _step(x: float, order: int, richardson: bool = True) -> float:
    """A step for the order-th central difference, scaled to x. Its truncation error is
    ~ h**2 (~ h**4 after one Richardson step) and its rounding error ~ eps / h**order;
    they balance at h ~ eps**(1/(order+2)) (eps**(1/(order+4)) with Richardson)."""
    return (2.0**-52) ** (1.0 / (order + (4 if richardson else 2))) * max(1.0, abs(x))


def _value_at(expression, point: Mapping[str, float]) -> float:
    return expression.build(point)[0].data


def _difference(expression, point: Mapping[str, float], name: str, order: int, h: float):
    x = point[name]
    h = (x + h) - x  # the step actually taken, after rounding
    total = 0.0
    for k in range(order + 1):
        at = x + (order / 2 - k) * h
        total += (-1) ** k * math.comb(order, k) * _value_at(expression, {**point, name: at})
    return total / h**order


def central_difference(
    expression, point: Mapping[str, float], name: str, order: int = 1
) -> float | None:
    """The order-th derivative of f in `name` by finite differences, for checking: the
    central difference sum_k (-1)^k C(n,k) f(x + (n/2 - k) h) / h^n at h and h/2,
    combined by one Richardson step, (4 D(h/2) - D(h)) / 3.

    None where f is undefined at one of the sample points. Even so, high orders lose
    digits fast (each order divides rounding errors by another h): about 1e-16 of the
    value for order 1, 1e-5 for order 6, a few digits at most for order 10.
    """
    h = _step(point[name], order)
    try:
        coarse = _difference(expression, point, name, order, h)
        fine = _difference(expression, point, name, order, h / 2)
    except MathDomainError:
        return None
    return (4.0 * fine - coarse) / 3.0


def hessian_difference(
    expression, point: Mapping[str, float], names: Sequence[str]
) -> list[list[float | None]]:
    """Second partials by central differences (None where f is undefined nearby)."""
    n = len(names)
    out: list[list[float | None]] = [[None] * n for _ in range(n)]
    for i, a in enumerate(names):
        for j in range(i, n):
            b = names[j]
            if i == j:
                value = central_difference(expression, point, a, 2)
            else:
                ha, hb = _step(point[a], 2, False), _step(point[b], 2, False)
                try:
                    corners = [
                        _value_at(
                            expression, {**point, a: point[a] + sa * ha, b: point[b] + sb * hb}
                        )
                        for sa, sb in ((1, 1), (1, -1), (-1, 1), (-1, -1))
                    ]
                except MathDomainError:
                    value = None
                else:
                    value = (corners[0] - corners[1] - corners[2] + corners[3]) / (4 * ha * hb)
            out[i][j] = out[j][i] = value
    return out


def check(numeric: float | None, exact: float) -> dict:
    """{"numeric": ..., "abs_error": ...} as mg grad --check reports it."""
    if numeric is None:
        return {"numeric": None, "abs_error": None}
    return {"numeric": numeric, "abs_error": abs(numeric - exact)}


def derivative_graph(
    expression, point: Mapping[str, float], order: int, wrt: str | None = None
) -> tuple[Value, str]:
    """The graph of d^(order-1) f / dx^(order-1) for the variable x named wrt (default: the
    first), labelled, after its backward pass (so x's grad is the order-th derivative):
    what `mg draw --order` shows. Returns (root, the variable)."""
    from microgradcli.expr import label_graph

    if not 2 <= order <= MAX_ORDER:
        raise ValueError(f"order must be 2..{MAX_ORDER}, not {order}")
    root, leaves = expression.build(point)
    if not leaves:
        raise ValueError("an expression without variables has no derivative graph")
    name = expression.variables[0] if wrt is None else wrt
    if name not in leaves:
        raise ValueError(f"{name!r} is not a variable of the expression")
    d = root
    for _ in range(order - 1):
        d = grad(d, leaves[name], create_graph=True)
    k = order - 1
    d.label = f"df/d{name}" if k == 1 else f"d{k}f/d{name}{k}"
    label_graph(d)
    d.backward()
    return d, name
