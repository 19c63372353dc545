"""The scalar engine against independent references: PyTorch (float64), sympy, finite differences."""

from __future__ import annotations

import math
import types
from functools import partial

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from microgradcli.engine import Value, dense, vsum
from microgradcli.errors import MathDomainError, MgError

REL = 1e-9


def close(a: float, b: float, rel: float = REL, scale: float = 1.0) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel * 1e-3 * max(1.0, scale))


# -- one namespace of functions per backend, so a case is written once -------------------

VALUE_NS = types.SimpleNamespace(
    exp=Value.exp,
    log=Value.log,
    sqrt=Value.sqrt,
    tanh=Value.tanh,
    sigmoid=Value.sigmoid,
    relu=Value.relu,
    sin=Value.sin,
    cos=Value.cos,
    abs=abs,
)

SYMPY_NS = types.SimpleNamespace(
    exp=sympy.exp,
    log=sympy.log,
    sqrt=sympy.sqrt,
    tanh=sympy.tanh,
    sigmoid=lambda x: 1 / (1 + sympy.exp(-x)),
    relu=lambda x: sympy.Max(0, x),
    sin=sympy.sin,
    cos=sympy.cos,
    abs=sympy.Abs,
)


def torch_ns(torch):
    return types.SimpleNamespace(
        exp=torch.exp,
        log=torch.log,
        sqrt=torch.sqrt,
        tanh=torch.tanh,
        sigmoid=torch.sigmoid,
        relu=torch.relu,
        sin=torch.sin,
        cos=torch.cos,
        abs=torch.abs,
    )


# Every operation of SPEC section 9, each a one-line case: (name, f(ns, a, b), a, b).
CASES = [
    ("add", lambda ns, a, b: a + b, 1.5, -2.0),
    ("add number right", lambda ns, a, b: a + 3 + b * 0, 1.5, 0.3),
    ("add number left", lambda ns, a, b: 3 + a + b, 1.5, 0.3),
    ("sub", lambda ns, a, b: a - b, 1.5, -2.0),
    ("rsub", lambda ns, a, b: 1 - a + b, 1.5, -2.0),
    ("mul", lambda ns, a, b: a * b, 1.5, -2.0),
    ("rmul", lambda ns, a, b: 3 * a * b, 1.5, -2.0),
    ("div", lambda ns, a, b: a / b, 1.5, -2.0),
    ("div number", lambda ns, a, b: a / 4 + b, 1.5, -2.0),
    ("rdiv", lambda ns, a, b: 2 / a + b, 1.5, -2.0),
    ("neg", lambda ns, a, b: -a * b, 1.5, -2.0),
    ("pow int", lambda ns, a, b: a**3 + b**2, 1.5, -2.0),
    ("pow negative base", lambda ns, a, b: b**3, 1.5, -2.0),
    ("pow fraction", lambda ns, a, b: a**0.5 + a**-1.5, 1.5, -2.0),
    ("pow value", lambda ns, a, b: a**b, 1.5, -2.0),
    ("rpow", lambda ns, a, b: 2**a + b, 1.5, -2.0),
    ("exp", lambda ns, a, b: ns.exp(a * b), 0.7, -1.2),
    ("log", lambda ns, a, b: ns.log(a) * b, 0.7, -1.2),
    ("sqrt", lambda ns, a, b: ns.sqrt(a) * b, 0.7, -1.2),
    ("tanh", lambda ns, a, b: ns.tanh(a * b), 0.7, -1.2),
    ("sigmoid", lambda ns, a, b: ns.sigmoid(a * b), 0.7, -1.2),
    ("sigmoid positive", lambda ns, a, b: ns.sigmoid(a - b), 0.7, -1.2),
    ("relu on", lambda ns, a, b: ns.relu(a) * b, 0.7, -1.2),
    ("relu off", lambda ns, a, b: ns.relu(b) + a, 0.7, -1.2),
    ("sin", lambda ns, a, b: ns.sin(a * b), 0.7, -1.2),
    ("cos", lambda ns, a, b: ns.cos(a * b), 0.7, -1.2),
    ("abs", lambda ns, a, b: abs(b) * a + ns.abs(a), 0.7, -1.2),
    ("reuse", lambda ns, a, b: a * a + a * b + a, 0.7, -1.2),
    (
        "tanh neuron",
        lambda ns, a, b: ns.tanh(a * -3.0 + b * 0.0 + 6.8813735870195432),
        2.0,
        1.0,
    ),
]


def ours(f, a, b):
    va, vb = Value(a), Value(b)
    out = f(VALUE_NS, va, vb)
    out.backward()
    return out.data, va.grad, vb.grad


@pytest.mark.parametrize("name,f,a,b", CASES, ids=[c[0] for c in CASES])
def test_against_torch(name, f, a, b):
    torch = pytest.importorskip("torch")
    ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    out = f(torch_ns(torch), ta, tb)
    out.backward()
    ref = (out.item(), ta.grad.item() if ta.grad is not None else 0.0)
    ref_b = tb.grad.item() if tb.grad is not None else 0.0
    data, ga, gb = ours(f, a, b)
    assert close(data, ref[0]) and close(ga, ref[1]) and close(gb, ref_b), (
        (data, ga, gb),
        (*ref, ref_b),
    )


@pytest.mark.parametrize("name,f,a,b", CASES, ids=[c[0] for c in CASES])
def test_against_sympy(name, f, a, b):
    sa, sb = sympy.symbols("a b", real=True)
    expr = f(SYMPY_NS, sa, sb)
    at = {sa: a, sb: b}
    data, ga, gb = ours(f, a, b)
    assert close(data, float(expr.subs(at).evalf(30)))
    assert close(ga, float(sympy.diff(expr, sa).subs(at).evalf(30)))
    assert close(gb, float(sympy.diff(expr, sb).subs(at).evalf(30)))


@pytest.mark.parametrize("name,f,a,b", CASES, ids=[c[0] for c in CASES])
def test_against_finite_differences(name, f, a, b):
    data, ga, gb = ours(f, a, b)
    h = 1e-6

    def value(x, y):
        return f(VALUE_NS, Value(x), Value(y)).data

    na = (value(a + h, b) - value(a - h, b)) / (2 * h)
    nb = (value(a, b + h) - value(a, b - h)) / (2 * h)
    assert math.isclose(ga, na, rel_tol=1e-5, abs_tol=1e-6)
    assert math.isclose(gb, nb, rel_tol=1e-5, abs_tol=1e-6)


# -- random graphs that mix every operation and reuse nodes ------------------------------

# Each op maps earlier nodes to a new one; guards (x*x + c, tanh, sigmoid) keep every op
# inside its domain so all graphs are defined, while still using the raw primitive.
UNARY = {
    "exp": lambda ns, x: ns.exp(ns.tanh(x)),
    "log": lambda ns, x: ns.log(x * x + 0.1),
    "sqrt": lambda ns, x: ns.sqrt(x * x + 0.1),
    "tanh": lambda ns, x: ns.tanh(x),
    "sigmoid": lambda ns, x: ns.sigmoid(x),
    "relu": lambda ns, x: ns.relu(x),
    "sin": lambda ns, x: ns.sin(x),
    "cos": lambda ns, x: ns.cos(x),
    "abs": lambda ns, x: ns.abs(x),
    "neg": lambda ns, x: -x,
    "square": lambda ns, x: ns.tanh(x) ** 2,
    "inv": lambda ns, x: 1 / (x * x + 0.5),
    "const": lambda ns, x: 0.5 * x - 1.5,
}
BINARY = {
    "add": lambda ns, x, y: x + y,
    "sub": lambda ns, x, y: x - y,
    "mul": lambda ns, x, y: ns.tanh(x) * y,
    "div": lambda ns, x, y: x / (y * y + 0.5),
    "powv": lambda ns, x, y: (ns.sigmoid(x) + 0.5) ** ns.tanh(y),
}

step = st.one_of(
    st.tuples(st.sampled_from(sorted(UNARY)), st.integers(0, 10**6)),
    st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 10**6), st.integers(0, 10**6)),
)


def run_program(ns, inputs, program, total):
    nodes = list(inputs)
    for op, *refs in program:
        args = [nodes[r % len(nodes)] for r in refs]  # reuse any earlier node
        fn = UNARY.get(op) or BINARY[op]
        nodes.append(fn(ns, *args))
    return total(nodes[len(inputs) :] or nodes)


@given(
    inputs=st.lists(st.floats(-2, 2), min_size=1, max_size=4),
    program=st.lists(step, min_size=1, max_size=25),
)
def test_random_graphs_against_torch(inputs, program):
    torch = pytest.importorskip("torch")
    leaves = [Value(x) for x in inputs]
    out = run_program(VALUE_NS, leaves, program, vsum)
    out.backward()
    tleaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    tout = run_program(torch_ns(torch), tleaves, program, lambda ns: torch.stack(ns).sum())
    tout.backward()
    assert close(out.data, tout.item(), scale=abs(tout.item()))
    scale = max([1.0] + [abs(t.grad.item()) for t in tleaves if t.grad is not None])
    for v, t in zip(leaves, tleaves, strict=True):
        ref = t.grad.item() if t.grad is not None else 0.0
        assert close(v.grad, ref, scale=scale), (v.grad, ref)


@given(
    inputs=st.lists(st.floats(-2, 2), min_size=1, max_size=3),
    program=st.lists(step, min_size=1, max_size=12),
)
def test_random_graphs_against_finite_differences(inputs, program):
    leaves = [Value(x) for x in inputs]
    out = run_program(VALUE_NS, leaves, program, vsum)
    out.backward()
    h = 1e-6
    for i in range(len(inputs)):

        def at(d, i=i):
            vals = [Value(v + (d if j == i else 0.0)) for j, v in enumerate(inputs)]
            return run_program(VALUE_NS, vals, program, vsum).data

        numeric = (at(h) - at(-h)) / (2 * h)
        # relu and abs have kinks: skip a variable whose neighbourhood crosses one
        if any(op in ("relu", "abs") for op, *_ in program) and not math.isclose(
            at(h) - at(0.0), at(0.0) - at(-h), rel_tol=1e-3, abs_tol=1e-9
        ):
            continue
        assert math.isclose(leaves[i].grad, numeric, rel_tol=1e-4, abs_tol=1e-5)


# -- fused operations ----------------------------------------------------------------------


def test_dot_matches_unfused_graph():
    w = [Value(0.3), Value(-1.2), Value(2.0)]
    b = Value(0.1)
    xs = [Value(1.5), Value(-0.5), Value(0.25)]
    fused = dense([w], [b], xs)[0].tanh()
    fused.backward()
    g_fused = [p.grad for p in (*w, *xs, b)]
    for p in (*w, *xs, b):
        p.grad = 0.0
    act = b
    for wi, xi in zip(w, xs, strict=True):
        act = wi * xi + act
    plain = act.tanh()
    plain.backward()
    assert fused.data == plain.data
    for g, p in zip(g_fused, (*w, *xs, b), strict=True):
        assert abs(g - p.grad) <= 1e-12


def test_dot_with_numbers_and_mixed_inputs():
    w = [Value(2.0), Value(3.0)]
    b = Value(1.0)
    assert dense([w], [b], [1.0, 2.0])[0].data == 9.0
    x2 = Value(2.0)
    out = dense([w], [b], [1.0, x2])[0]
    out.backward()
    assert out.data == 9.0
    assert (w[0].grad, w[1].grad, x2.grad, b.grad) == (1.0, 2.0, 3.0, 1.0)


def test_vsum():
    vs = [Value(float(i)) for i in range(5)]
    s = vsum([*vs, 2])
    s.backward()
    assert s.data == 12.0 and all(v.grad == 1.0 for v in vs)


# -- shapes of graphs -------------------------------------------------------------------------


def test_deep_chain_has_no_recursion_limit():
    x = Value(1.0)
    v = x
    for _ in range(100_000):
        v = v * 1.0 + 0.0
    v.backward()
    assert x.grad == 1.0


def test_wide_sum():
    xs = [Value(float(i)) for i in range(20_000)]
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    total.backward()
    assert all(x.grad == 1.0 for x in xs)
    assert total.data == sum(range(20_000))


def test_reused_value_accumulates():
    x = Value(3.0)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad == 7.0


def test_leaves_accumulate_across_backward_calls_and_zero_grad_resets():
    x = Value(3.0)
    y = x * x
    y.backward()
    y.backward()
    assert x.grad == 12.0  # leaves accumulate, as in PyTorch
    z = x * 2
    x.grad = 0.0
    z.backward()
    assert x.grad == 2.0


def test_children_keep_their_order():
    a, b = Value(1.0), Value(2.0)
    assert (a * b).children == (a, b)
    assert (b * a).children == (b, a)


def test_topological_order_puts_outputs_first():
    a = Value(1.0)
    b = a * 2
    c = b + a
    order = c.topological_order()
    assert order[0] is c and order.index(b) < order.index(a)


def test_repr_and_label():
    v = Value(2.0, label="x")
    assert repr(v) == "Value(data=2.0, grad=0.0, label='x')"
    assert repr(Value(1)) == "Value(data=1.0, grad=0.0)"


# -- numerical trouble is an error with a message, never a bare exception or a silent NaN -----


@pytest.mark.parametrize(
    "make,words",
    [
        (lambda: Value(0.0).log(), "log of a non-positive number: log(0)"),
        (lambda: Value(-1.0).log(), "log(-1)"),
        (lambda: Value(1.0) / 0, "division by zero"),
        (lambda: Value(1.0) / Value(0.0), "division by zero"),
        (lambda: 1 / Value(0.0), "division by zero"),
        (lambda: Value(0.0) ** -1, "division by zero"),
        (lambda: Value(-8.0) ** 0.5, "negative base with a non-integer exponent"),
        (lambda: Value(-4.0).sqrt(), "sqrt(-4)"),
        (lambda: Value(1000.0).exp(), "overflow in exp(1000)"),
        (lambda: Value(1e200) * Value(1e200), "overflow in 1e+200 * 1e+200"),
        (lambda: Value(1e308) + Value(1e308), "overflow"),
        (lambda: Value(10.0) ** 400, "overflow"),
        (lambda: Value(-2.0) ** Value(2.0), "positive base"),
        (lambda: dense([[Value(1e200)]], [Value(0.0)], [1e200])[0], "overflow"),
    ],
)
def test_domain_errors_name_the_operation(make, words):
    with pytest.raises(MathDomainError) as info:
        make()
    assert words in str(info.value)
    assert isinstance(info.value, MgError)


@pytest.mark.parametrize("x", [-1000.0, -50.0, 0.0, 50.0, 1000.0])
def test_tanh_and_sigmoid_do_not_overflow(x):
    t = Value(x).tanh()
    s = Value(x).sigmoid()
    assert -1.0 <= t.data <= 1.0 and 0.0 <= s.data <= 1.0
    assert math.isfinite(t.local_grads[0]) and math.isfinite(s.local_grads[0])


# -- one policy for numbers that are not finite (issue 10, item 11) -----------------------

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "make",
    [
        lambda: Value(NAN) + 1,
        lambda: Value(NAN) * 2,
        lambda: Value(NAN) / 2,
        lambda: Value(NAN) ** 2,
        lambda: Value(2.0) ** Value(NAN),
        lambda: Value(INF) * 0,
        *[
            partial(lambda name, x: getattr(Value(x), name)(), name, x)
            for name in ("exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sin", "cos", "abs")
            for x in (NAN, INF, -INF)
        ],
    ],
)
def test_a_non_finite_input_is_a_domain_error_not_an_overflow(make):
    with pytest.raises(MathDomainError) as info:
        make()
    message = str(info.value)
    assert not message.startswith("overflow") and "an input is" in message
    assert "nan" in message or "inf" in message


def test_relu_of_nan_follows_the_policy_instead_of_returning_0():
    with pytest.raises(MathDomainError, match=r"relu\(nan\): an input is nan"):
        Value(NAN).relu()
    assert Value(-0.0).relu().data == 0.0 and Value(1e308).relu().data == 1e308


def test_a_gradient_that_overflows_names_the_node():
    x = Value(1e-200, label="x")
    f = x.log() * 1e200 - x.log() * 1e200  # value 0, d/dx = 1e400 - 1e400
    with pytest.raises(MathDomainError, match=r"^the gradient at x is nan: .* rescale"):
        f.backward()
    y = Value(1e-200, label="y")
    with pytest.raises(MathDomainError, match=r"the gradient at y is infinite"):
        (y.log() * 1e200).backward()


def test_huge_finite_gradients_are_not_refused():
    x, y = Value(1e-10), Value(1e-10)
    (x * 1e308 + y * 1e308).backward()
    assert x.grad == 1e308 and y.grad == 1e308


def test_log_and_sqrt_of_subnormals_refuse_an_infinite_derivative():
    with pytest.raises(MathDomainError, match="too close to 0"):
        Value(5e-324).log()
    assert Value(5e-324).sqrt().local_grads[0] == pytest.approx(0.5 / math.sqrt(5e-324))


def test_division_has_its_own_local_derivatives():
    a, b = Value(1e-300), Value(1e-160)
    q = a / b  # as a * b**-1, b**-2 = 1e320 would overflow
    q.backward()
    assert q.op == "/" and q.children == (a, b)
    assert q.data == pytest.approx(1e-140) and a.grad == pytest.approx(1e160)
    assert b.grad == pytest.approx(-1e20)
    r = 3.0 / Value(2.0)
    assert r.op == "/" and r.data == 1.5


def test_fused_ops_say_nan_for_a_nan_input_and_overflow_for_an_overflow():
    with pytest.raises(MathDomainError, match="an input is nan"):
        dense([[Value(NAN)]], [Value(0.0)], [1.0])[0]
    with pytest.raises(MathDomainError, match="an input is nan"):
        vsum([Value(1.0), Value(NAN)])
    with pytest.raises(MathDomainError, match="^overflow in a sum"):
        vsum([Value(1e308), Value(1e308)])
