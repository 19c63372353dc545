"""Derivatives of derivatives (issue 13): the engine's backward pass recorded as Values
and differentiated again, against sympy, PyTorch float64 and finite differences."""

from __future__ import annotations

import ast
import math
import random

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_expr import _SYMBOLS, _SYMPY_FUNCTIONS, VARIABLES, _expressions, _real, _to_sympy

from microgradcli.derivatives import central_difference, derivatives, hessian
from microgradcli.engine import Value, dense, grad, vsum
from microgradcli.errors import GraphTooLarge, MathDomainError
from microgradcli.expr import FUNCTIONS, parse_expression
from microgradcli.newton import SingularMatrix, gradient_descent, newton, solve

X = sympy.Symbol("x", real=True)


def _scale(root: Value) -> float:
    """1 + the largest magnitude in a graph: how much cancellation it can hide."""
    return 1.0 + max(abs(v.data) for v in root.topological_order())


def _close(ours: float, exact: float, scale: float = 1.0) -> bool:
    return math.isclose(ours, exact, rel_tol=1e-9, abs_tol=1e-12 * scale)


# -- the library: engine.grad ---------------------------------------------------------------


# d^k/dx^k tanh(x) at x = 1 for k = 1..6 (sympy, 30 digits); test_cli_newton uses them too
TANH_AT_1 = [
    0.41997434161402607,
    -0.6397000084492245,
    0.62162668077129626,
    0.66509104475050168,
    -5.5568935584737198,
    13.624075441312104,
]


def test_tanh_first_six_derivatives_at_1():
    x = Value(1.0)
    d = x.tanh()
    for want in TANH_AT_1:
        d = grad(d, x, create_graph=True)
        assert math.isclose(d.data, want, rel_tol=1e-12), (d.data, want)


def test_grad_returns_values_that_are_graphs_and_leaves_dot_grad_alone():
    x, y = Value(2.0), Value(3.0)
    f = x * x * y
    gx, gy = grad(f, [x, y], create_graph=True)
    assert (gx.data, gy.data) == (12.0, 4.0) and x.grad == 0.0 and y.grad == 0.0
    assert gx.children  # a graph, not a number
    assert grad(gx, y).data == 4.0 and grad(gx, x).data == 6.0
    flat = grad(f, x)  # without create_graph: a new leaf holding the number
    assert flat.data == 12.0 and flat.children == ()
    assert grad(f, Value(5.0)).data == 0.0  # not in the graph: 0


def test_only_paths_to_the_variable_are_differentiated():
    x = Value(0.5)
    c = Value(3.0).exp().log().sin()  # a constant subgraph
    g = grad(x * c, x, create_graph=True)
    assert g is c  # d(x*c)/dx is c itself: no node built for the constant part


def test_sum_has_its_rule_and_fused_ops_ask_to_be_expanded():
    x = Value(1.5)
    s = vsum([x * x, x])
    assert grad(grad(s, x, create_graph=True), x).data == 2.0
    w = [Value(2.0)]
    n = dense([w], [Value(0.0)], [x])[0]
    assert grad(n, x).data == 2.0  # a float pass is fine
    with pytest.raises(ValueError, match="fused 'dot' node has no Value rule"):
        grad(n, x, create_graph=True)


def test_relu_and_abs_have_constant_derivatives():
    x = Value(-2.0)
    for f in (x.relu(), abs(x)):
        d1 = grad(f, x, create_graph=True)
        assert grad(d1, x).data == 0.0


def test_power_exponents_read_back_exactly():
    x = Value(1.3)
    k = 1 / 3
    f = x**k
    assert f.op == "**0.3333333333333333" and (x**2).op == "**2"
    d2 = grad(grad(f, x, create_graph=True), x)
    assert math.isclose(d2.data, k * (k - 1) * 1.3 ** (k - 2), rel_tol=1e-14)


def test_max_nodes_refuses_a_growing_graph():
    x = Value(1.0)
    d = x.tanh()
    with pytest.raises(GraphTooLarge) as info:
        for _ in range(10):
            d = grad(d, x, create_graph=True, max_nodes=500)
    assert info.value.limit == 500 and info.value.nodes > 500


def test_an_overflowing_higher_derivative_is_a_domain_error():
    x = Value(1e-100)
    d = x.log()
    with pytest.raises(MathDomainError):
        for _ in range(4):  # d^k log x = (-1)^(k-1) (k-1)! / x^k
            d = grad(d, x, create_graph=True)


# -- against sympy ---------------------------------------------------------------------------

_ONE_VARIABLE = {
    "exp": (sympy.exp, (-3, 3)),
    "log": (sympy.log, (0.2, 5)),
    "sqrt": (sympy.sqrt, (0.2, 5)),
    "tanh": (sympy.tanh, (-3, 3)),
    "sigmoid": (lambda a: 1 / (1 + sympy.exp(-a)), (-4, 4)),
    "relu": (lambda a: a, (0.1, 3)),  # on the positive side; the negative side is 0
    "sin": (sympy.sin, (-3, 3)),
    "cos": (sympy.cos, (-3, 3)),
    "abs": (lambda a: -a, (-3, -0.1)),
}
assert set(_ONE_VARIABLE) == set(FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_derivatives_1_to_6_match_sympy(name):
    fn, (lo, hi) = _ONE_VARIABLE[name]
    rng = random.Random(name)
    text = f"{name}(0.75*x + 0.125)"
    reference = fn(sympy.Rational(3, 4) * X + sympy.Rational(1, 8))
    expression = parse_expression(text)
    for _ in range(3):
        at = rng.uniform(lo, hi)
        r = derivatives(expression, {"x": at}, 6)
        exact = [reference.diff(X, k).evalf(30, subs={X: sympy.Rational(at)}) for k in range(1, 7)]
        for k, (ours, want) in enumerate(zip(r.grads["x"], exact, strict=True), 1):
            assert _close(ours, float(want)), (text, at, k, ours, want)


@pytest.mark.parametrize(
    ("text", "reference", "lo", "hi"),
    [
        ("x**3 - 2*x", X**3 - 2 * X, -2, 2),
        ("x**-2", X**-2, 0.5, 3),
        ("x**0.5", X**0.5, 0.5, 3),
        ("2**x", 2**X, -2, 2),
        ("x**x", X**X, 0.5, 2),
        ("1/(1 + x**2)", 1 / (1 + X**2), -2, 2),
        ("x/(x - 3)", X / (X - 3), -1, 1),
    ],
)
def test_powers_and_quotients_derivatives_1_to_6_match_sympy(text, reference, lo, hi):
    expression = parse_expression(text)
    for at in (lo + (hi - lo) * t for t in (0.13, 0.58, 0.91)):
        r = derivatives(expression, {"x": at}, 6)
        for k, ours in enumerate(r.grads["x"], 1):
            want = float(reference.diff(X, k).evalf(30, subs={X: sympy.Rational(at)}))
            assert _close(ours, want, 1e3), (text, at, k, ours, want)


def test_random_expressions_derivatives_match_sympy():
    outcomes = {"checked": 0, "skipped": 0}

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_expressions(max_ops=4), st.lists(st.integers(-20, 20), min_size=3, max_size=3))
    def check(text, eighths):
        at = {name: k / 8 + 1 / 64 for name, k in zip(VARIABLES, eighths, strict=True)}
        expression = parse_expression(text)
        if not expression.variables or "relu" in text or "abs" in text:
            outcomes["skipped"] += 1  # kinks: sympy's derivative of a step is not ours
            return
        try:
            root, leaves = expression.build(at)
            name = expression.variables[0]
            ds, d = [], root
            for _ in range(6):
                d = grad(d, leaves[name], create_graph=True)
                ds.append((d.data, _scale(d)))
        except MathDomainError:
            outcomes["skipped"] += 1
            return
        reference = _to_sympy(ast.parse(text.replace("^", "**"), mode="eval"))
        subs = {_SYMBOLS[n]: sympy.Rational(v) for n, v in at.items()}
        symbol = _SYMBOLS[name]
        for k, (ours, scale) in enumerate(ds, 1):
            want = _real(sympy.diff(reference, symbol, k).evalf(30, subs=subs))
            if want is None:
                outcomes["skipped"] += 1
                return
            assert _close(ours, want, scale), (text, at, k, ours, want)
        outcomes["checked"] += 1

    check()
    assert outcomes["checked"] >= 10, outcomes


@pytest.mark.parametrize("seed", range(6))
def test_hessians_of_random_expressions_match_sympy(seed):
    rng = random.Random(seed)
    names = ["x", "y", "z", "w"][: rng.randint(2, 4)]
    terms = []
    for _ in range(rng.randint(2, 4)):
        a, b = rng.choice(names), rng.choice(names)
        fn = rng.choice(["sin", "cos", "tanh", "exp", "sigmoid"])
        terms.append(f"{rng.randint(1, 3)}*{fn}({a}*{b} - {rng.randint(0, 2)}) + {a}**2*{b}")
    text = " + ".join(terms)
    symbols = {n: sympy.Symbol(n, real=True) for n in names}
    reference = sympy.sympify(text, locals={**symbols, **_SYMPY_FUNCTIONS})
    at = {n: rng.randint(-8, 8) / 8 for n in names}
    expression = parse_expression(text)
    h = hessian(expression, at)
    subs = {symbols[n]: sympy.Rational(at[n]) for n in names}
    order = expression.variables
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            want = float(sympy.diff(reference, symbols[a], symbols[b]).evalf(30, subs=subs))
            assert _close(h.matrix[i][j], want, 100.0), (text, a, b, h.matrix[i][j], want)
            assert h.matrix[i][j] == h.matrix[j][i]


# -- against PyTorch float64 -----------------------------------------------------------------


def _random_graph(rng: random.Random, xs: list, ops):
    """A random graph over the inputs xs, built with `ops`: Value (its methods called as
    Value.tanh(a)) or torch."""
    pool = list(xs)
    for _ in range(rng.randint(3, 8)):
        a, b = rng.choice(pool), rng.choice(pool)
        kind = rng.choice(["+", "*", "/", "tanh", "sin", "exp", "sigmoid", "pow", "-"])
        if kind == "+":
            pool.append(a + b)
        elif kind == "-":
            pool.append(a - b * 0.5)
        elif kind == "*":
            pool.append(a * b)
        elif kind == "/":
            pool.append(a / (ops.exp(b) + 1.0))
        elif kind == "pow":
            pool.append((a * a + 1.0) ** 1.5)
        else:
            pool.append(getattr(ops, kind)(a * 0.5))
    out = pool[-1]
    for v in pool[len(xs) : -1]:
        out = out + v * 0.1
    return out


@pytest.mark.parametrize("seed", range(8))
def test_second_derivatives_and_hessians_match_torch(seed):
    torch = pytest.importorskip("torch")
    rng = random.Random(seed)
    n = rng.randint(1, 4)
    start = [rng.uniform(-1, 1) for _ in range(n)]
    xs = [Value(v) for v in start]
    out = _random_graph(random.Random(seed), xs, Value)
    tx = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in start]
    tout = _random_graph(random.Random(seed), tx, torch)
    assert _close(out.data, tout.item())
    ours = grad(out, xs, create_graph=True)
    theirs = torch.autograd.grad(tout, tx, create_graph=True, allow_unused=True)
    for i, (g, t) in enumerate(zip(ours, theirs, strict=True)):
        if t is None:
            assert g.data == 0.0
            continue
        assert _close(g.data, t.item(), _scale(g))
        rows = grad(g, xs)
        if t.requires_grad:
            trow = torch.autograd.grad(t, tx, allow_unused=True, retain_graph=True)
        else:  # torch: a constant first derivative has no graph
            trow = [None] * n
        for j, (h, th) in enumerate(zip(rows, trow, strict=True)):
            want = 0.0 if th is None else th.item()
            assert _close(h.data, want, _scale(g)), (seed, i, j, h.data, want)


# -- finite differences ----------------------------------------------------------------------


def test_central_differences_of_each_order_agree_with_the_engine():
    expression = parse_expression("sin(x) * exp(x/2)")
    r = derivatives(expression, {"x": 0.7}, 6)
    for k, exact in enumerate(r.grads["x"], 1):
        numeric = central_difference(expression, {"x": 0.7}, "x", k)
        assert abs(numeric - exact) < 10.0 ** (k - 10) * 10 ** (k // 2), (k, numeric, exact)


# -- Newton --------------------------------------------------------------------------------


def _run(events):
    events = list(events)
    return events[:-1], events[-1]


def test_newton_on_the_lecture_quartic_and_gradient_descent_beside_it():
    expression = parse_expression("x**4 - 2*x**2")
    steps, outcome = _run(newton(expression, {"x": 2.0}))
    assert outcome.result == "converged" and 5 <= outcome.steps <= 8
    assert outcome.x["x"] == pytest.approx(1.0, abs=1e-9) and steps[0].x == {"x": 2.0}
    assert [s.k for s in steps] == list(range(outcome.steps + 1))
    _, gd = _run(gradient_descent(expression, {"x": 2.0}, 0.01, tol=1e-8))
    assert gd.result == "converged" and 150 <= gd.steps <= 300
    assert gd.x["x"] == pytest.approx(1.0, abs=1e-8)


def test_newton_at_an_inflection_point_reports_a_singular_hessian():
    _, outcome = _run(newton(parse_expression("x**3"), {"x": 0.0}))
    assert outcome.result == "singular" and outcome.steps == 0
    assert "Hessian is singular" in outcome.why


def test_newton_minimises_rosenbrock_from_the_classic_start():
    expression = parse_expression("(1 - x)**2 + 100*(y - x**2)**2")
    _, outcome = _run(newton(expression, {"x": -1.2, "y": 1.0}))
    assert outcome.result == "converged" and outcome.steps <= 10
    assert outcome.x["x"] == pytest.approx(1.0, abs=1e-8)
    assert outcome.x["y"] == pytest.approx(1.0, abs=1e-8)


def test_newton_root_mode_and_divergence():
    _, outcome = _run(newton(parse_expression("x**2 - 2"), {"x": 1.0}, root=True))
    assert outcome.result == "converged" and outcome.x["x"] == pytest.approx(math.sqrt(2))
    _, outcome = _run(newton(parse_expression("x/sqrt(1 + x**2)"), {"x": 2.0}, root=True))
    assert outcome.result == "diverged" and "the steps grow" in outcome.why
    _, outcome = _run(newton(parse_expression("x**4"), {"x": 1.0}, iters=3))
    assert outcome.result == "not converged" and outcome.steps == 3


def test_gaussian_elimination_pivots_and_detects_singular_matrices():
    a = [[0.0, 2.0, 1.0], [1.0, 1.0, 0.0], [3.0, 0.0, 1.0]]  # a zero first pivot
    b = [5.0, 3.0, 6.0]
    x = solve(a, b)
    for row, rhs in zip(a, b, strict=True):
        assert math.fsum(r * v for r, v in zip(row, x, strict=True)) == pytest.approx(rhs)
    assert a[0][0] == 0.0  # the input is not modified
    with pytest.raises(SingularMatrix):
        solve([[1.0, 2.0], [2.0, 4.0]], [1.0, 2.0])
    with pytest.raises(SingularMatrix):
        solve([[0.0]], [1.0])
    rng = random.Random(3)
    for n in range(1, 6):
        m = [[rng.uniform(-1, 1) for _ in range(n)] for _ in range(n)]
        truth = [rng.uniform(-1, 1) for _ in range(n)]
        rhs = [math.fsum(r * v for r, v in zip(row, truth, strict=True)) for row in m]
        assert solve(m, rhs) == pytest.approx(truth, abs=1e-9)


def test_derivative_graph_is_labelled_and_its_backward_gives_the_next_order():
    from microgradcli.derivatives import derivative_graph

    root, name = derivative_graph(parse_expression("tanh(x*w)"), {"x": 1.0, "w": 0.5}, 3)
    nodes = root.topological_order()
    assert name == "x" and root.label == "d2f/dx2" and all(v.label for v in nodes)
    x = next(v for v in nodes if v.label == "x")
    t = math.tanh(0.5)
    assert root.data == pytest.approx(-2 * t * (1 - t * t) * 0.25)
    assert x.grad == pytest.approx((-2 + 6 * t * t) * (1 - t * t) * 0.125)


def test_derivative_graph_with_respect_to_another_variable():
    """mg draw --order N --wrt y: the same graph by y (it was always the first variable)."""
    import subprocess
    import sys

    from microgradcli.derivatives import derivative_graph

    f = parse_expression("x*y**3 + sin(x)")
    root, name = derivative_graph(f, {"x": 2.0, "y": 3.0}, 3, wrt="y")
    nodes = root.topological_order()
    y = next(v for v in nodes if v.label == "y")
    assert name == "y" and root.label == "d2f/dy2"
    assert root.data == pytest.approx(6 * 2.0 * 3.0) and y.grad == pytest.approx(6 * 2.0)
    with pytest.raises(ValueError, match="'z' is not a variable"):
        derivative_graph(f, {"x": 2.0, "y": 3.0}, 2, wrt="z")

    def draw(*args):
        cmd = [sys.executable, "-m", "microgradcli", "draw", "x*y**3 + sin(x)", "--at", "x=2,y=3"]
        return subprocess.run([*cmd, *args], capture_output=True, text=True)

    r = draw("--order", "3", "--wrt", "y", "--format", "dot")
    assert r.returncode == 0 and "so y's grad is d3f/dy3" in r.stdout
    assert "the first variable" not in r.stdout
    assert "(with respect to x, the first variable; --wrt chooses)" in draw("--order", "2", "-f", "dot").stdout  # fmt: skip
    for args, says in (
        (
            ["--order", "2", "--wrt", "z"],
            "error: --wrt z: 'x*y**3 + sin(x)' has no variable 'z'; its variables are x, y\n",
        ),  # fmt: skip
        (["--wrt", "y"], "error: --wrt names the variable of --order N; give --order 2 or more\n"),
    ):
        r = draw(*args, "-f", "dot")
        assert (r.returncode, r.stdout, r.stderr) == (2, "", says)
