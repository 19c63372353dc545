"""A scalar autograd engine: every number is a node; backward() walks the graph in reverse.

Each operation computes its output *and* the local derivative of the output with
respect to each input, right beside each other, and stores those derivatives on the
output node (`_local`, one per child in `_prev`). backward() then applies the chain
rule with one generic loop: child.grad += local * out.grad.

Why not micrograd's closure per node: a closure that refers back to its own output is
a reference cycle, and on a training step with ~65,000 nodes Python's cyclic garbage
collector ends up taking most of the run time. Storing numbers instead of closures
leaves no cycles, so nodes are freed by reference counting as soon as a step ends.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import reduce
from itertools import chain, count
from operator import add, attrgetter, mul

from microgradcli.errors import MathDomainError

__all__ = ["Value", "dense", "grad", "lsum", "sigmoid", "vsum"]

_ids = count()  # creation order: every node is created after its children
_by_id = attrgetter("_id")
_prev_of = attrgetter("_prev")
_chain = chain.from_iterable
_ONES = (1.0, 1.0)  # shared constant local derivatives: fewer objects per node
_ONE = (1.0,)
_ZERO = (0.0,)
_INF = math.inf


def lsum(values: Iterable[float], start: float = 0.0) -> float:
    """Numbers added left to right, ((start + v0) + v1) + ..., rounding after each addition.

    Never the builtin sum() for numbers that reach results: from Python 3.12 on it
    compensates float rounding (Neumaier), so its last bit depends on the Python version,
    and mg promises the same numbers bit for bit on Python 3.11 to 3.13.
    """
    return reduce(add, values, start)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _base(x: float) -> str:
    """A power's base as text: (-2) ** 2, not -2 ** 2 (which reads as -(2**2))."""
    return f"({_fmt(x)})" if x < 0 else _fmt(x)


def _not_finite(what: str, *inputs: float) -> MathDomainError:
    """The error for a result that is not a finite number: overflow, or a bad input."""
    bad = [x for x in inputs if x - x != 0.0]
    if bad:
        return _bad_input(what, bad[0])
    return MathDomainError(
        f"overflow in {what}: the result is too large for a float; use smaller numbers"
    )


def _tiny(where: str, rule: str) -> MathDomainError:
    return MathDomainError(
        f"the derivative of {where}, {rule}, is too large for a float (x is too close "
        "to 0); evaluate it further from 0"
    )


def _bad_input(what: str, x: float) -> MathDomainError:
    kind = "nan (not a number)" if x != x else f"{x} (infinite)"
    return MathDomainError(
        f"{what}: an input is {kind}; every value must be a finite number, "
        "so find where it came from (an earlier overflow or a nan in the data)"
    )


class Value:
    """A scalar with a gradient, and the graph of operations that produced it."""

    __slots__ = ("data", "grad", "_prev", "_local", "_op", "label", "_id")

    def __init__(self, data, _prev: tuple = (), _op: str = "", _local: tuple = (), label: str = ""):
        if type(data) is not float:
            data = float(data)
        self.data = data
        self.grad = 0.0
        self._prev = _prev  # children, in order (never a set: drawings must not change)
        self._local = _local  # d(self)/d(child) for each child, computed by the op
        self._op = _op
        self.label = label
        self._id = next(_ids)

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data}, grad={self.grad}{label})"

    # -- read-only views used by drawing and the --steps table ------------------------
    @property
    def children(self) -> tuple[Value, ...]:
        """The inputs of the operation that produced this value, in order."""
        return self._prev

    @property
    def local_grads(self) -> tuple[float, ...]:
        """d(self)/d(child) for each child, as computed in the forward pass."""
        return self._local

    @property
    def op(self) -> str:
        """The operation that produced this value ('' for a leaf)."""
        return self._op

    # -- primitives: each computes data and its local derivatives together -----------
    def __add__(self, other) -> Value:
        if not isinstance(other, Value):
            other = Value(other)
        d = self.data + other.data
        if d - d != 0.0:  # inf or nan (cheaper than math.isfinite on this hot path)
            raise _not_finite(f"{_fmt(self.data)} + {_fmt(other.data)}", self.data, other.data)
        # d(a+b)/da = 1, d(a+b)/db = 1
        return Value(d, (self, other), "+", _ONES)

    def __mul__(self, other) -> Value:
        if not isinstance(other, Value):
            other = Value(other)
        a, b = self.data, other.data
        d = a * b
        if d - d != 0.0:
            raise _not_finite(f"{_fmt(a)} * {_fmt(b)}", a, b)
        # d(ab)/da = b, d(ab)/db = a
        return Value(d, (self, other), "*", (b, a))

    def __pow__(self, other) -> Value:
        if isinstance(other, Value):
            return self._pow_value(other)
        k = float(other)
        x = self.data
        what = f"{_base(x)} ** {_fmt(k)}"
        if x - x != 0.0:
            raise _bad_input(what, x)
        out = _power(x, k, what)
        # d(x**k)/dx = k * x**(k-1)
        local = 0.0 if k == 0.0 else k * _power(x, k - 1.0, f"the derivative of {what}")
        if local - local != 0.0:
            raise _not_finite(f"the derivative of {what}")
        return Value(out, (self,), _pow_op(k), (local,))

    def _pow_value(self, other: Value) -> Value:
        x, y = self.data, other.data
        what = f"{_base(x)} ** {_fmt(y)}"
        if x - x != 0.0 or y - y != 0.0:
            raise _not_finite(what, x, y)
        out = _power(x, y, what)
        # d(x**y)/dx = y * x**(y-1);  d(x**y)/dy = x**y * log(x)
        dx = 0.0 if y == 0.0 else y * _power(x, y - 1.0, f"the derivative of {what}")
        if x > 0.0:
            dy = out * math.log(x)
        elif x == 0.0 and y > 0.0:
            dy = 0.0  # the limit of x**y * log(x) as x -> 0+
        else:
            raise MathDomainError(
                f"{what}: a variable exponent needs a positive base "
                "(the derivative with respect to the exponent involves log of the base)"
            )
        if dy - dy != 0.0 or dx - dx != 0.0:
            raise _not_finite(f"the derivative of {what}")
        return Value(out, (self, other), "**", (dx, dy))

    def __truediv__(self, other) -> Value:
        if not isinstance(other, Value):
            other = Value(other)
        a, b = self.data, other.data
        what = f"{_fmt(a)} / {_fmt(b)}"
        if b == 0.0:
            raise MathDomainError(f"division by zero: {what}")
        d = a / b
        inv = 1.0 / b
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b**2 = -(a/b)/b: computed here, not as a * b**-1,
        # whose intermediate b**-1 and its derivative -b**-2 can overflow while a/b is fine
        db = -d / b
        if d - d != 0.0 or inv - inv != 0.0 or db - db != 0.0:
            raise _not_finite(what if d - d != 0.0 else f"the derivative of {what}", a, b)
        return Value(d, (self, other), "/", (inv, db))

    def exp(self) -> Value:
        x = self.data
        if x - x != 0.0:
            raise _bad_input(f"exp({_fmt(x)})", x)
        try:
            e = math.exp(x)
        except OverflowError:
            raise MathDomainError(
                f"overflow in exp({_fmt(x)}): the result is too large for a float"
            ) from None
        # d(e**x)/dx = e**x
        return Value(e, (self,), "exp", (e,))

    def log(self) -> Value:
        x = self.data
        if x - x != 0.0:
            raise _bad_input(f"log({_fmt(x)})", x)
        if x <= 0.0:
            raise MathDomainError(f"log of a non-positive number: log({_fmt(x)})")
        # d(log x)/dx = 1/x
        local = 1.0 / x
        if local == _INF:  # x is subnormal: 1/x overflows
            raise _tiny(f"log at x = {x!r}", "1/x")
        return Value(math.log(x), (self,), "log", (local,))

    def sqrt(self) -> Value:
        x = self.data
        if x - x != 0.0:
            raise _bad_input(f"sqrt({_fmt(x)})", x)
        if x < 0.0:
            raise MathDomainError(f"square root of a negative number: sqrt({_fmt(x)})")
        if x == 0.0:
            raise MathDomainError("sqrt(0): the derivative of sqrt is infinite at 0")
        s = math.sqrt(x)
        # d(sqrt x)/dx = 1 / (2 sqrt x)
        return Value(s, (self,), "sqrt", (0.5 / s,))  # s >= 2e-162: never overflows

    def tanh(self) -> Value:
        x = self.data
        if x - x != 0.0:
            raise _bad_input(f"tanh({_fmt(x)})", x)
        t = math.tanh(x)  # math.tanh saturates to +-1, it never overflows
        # d(tanh x)/dx = 1 - tanh(x)**2
        return Value(t, (self,), "tanh", (1.0 - t * t,))

    def sigmoid(self) -> Value:
        x = self.data
        if x - x != 0.0:
            raise _bad_input(f"sigmoid({_fmt(x)})", x)
        s = sigmoid(x)
        # d(sigmoid x)/dx = s (1 - s)
        return Value(s, (self,), "sigmoid", (s * (1.0 - s),))

    def relu(self) -> Value:
        x = self.data
        # d(relu x)/dx = 1 for x > 0, else 0
        if 0.0 < x < _INF:
            return Value(x, (self,), "relu", _ONE)
        if -_INF < x <= 0.0:
            return Value(0.0, (self,), "relu", _ZERO)
        raise _bad_input(f"relu({_fmt(x)})", x)  # nan or infinite: as every other op

    def sin(self) -> Value:
        x = self.data
        if x - x != 0.0:
            raise _bad_input(f"sin({_fmt(x)})", x)
        # d(sin x)/dx = cos x
        return Value(math.sin(x), (self,), "sin", (math.cos(x),))

    def cos(self) -> Value:
        x = self.data
        if x - x != 0.0:
            raise _bad_input(f"cos({_fmt(x)})", x)
        # d(cos x)/dx = -sin x
        return Value(math.cos(x), (self,), "cos", (-math.sin(x),))

    def __abs__(self) -> Value:
        x = self.data
        if x - x != 0.0:
            raise _bad_input(f"abs({_fmt(x)})", x)
        # d|x|/dx = sign(x), taken as 0 at 0 (as PyTorch does)
        sign = 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)
        return Value(abs(x), (self,), "abs", (sign,))

    def abs(self) -> Value:
        return self.__abs__()

    # -- composed from the primitives: their gradients come for free ------------------
    def __neg__(self) -> Value:
        return self * -1.0

    def __radd__(self, other) -> Value:
        return self + other

    def __sub__(self, other) -> Value:
        return self + (-other)

    def __rsub__(self, other) -> Value:
        return (-self) + other

    def __rmul__(self, other) -> Value:
        return self * other

    def __rtruediv__(self, other) -> Value:
        return Value(other) / self

    def __rpow__(self, other) -> Value:
        return Value(other) ** self

    # -- backpropagation -------------------------------------------------------------
    def topological_order(self) -> list[Value]:
        """Every node this value depends on, each before its children (self first)."""
        # Level by level, each level gathered by C-level iteration (chain/map/set): no
        # recursion, so any depth works, and no Python bytecode per node or per edge.
        seen = {self}
        frontier: set[Value] = seen.copy()
        while frontier:
            # (`a - b` walks the small new set; `a -= b` would walk all of `seen`)
            reached = set(_chain(map(_prev_of, frontier))) - seen
            seen |= reached
            frontier = reached
        # Children are always created before their outputs, so creation order, newest
        # first, puts every node before all of its children.
        return sorted(seen, key=_by_id, reverse=True)

    def backward(self) -> None:
        """Fill .grad of every node this value depends on with d(self)/d(node).

        Leaf gradients accumulate across calls (use zero_grad between steps);
        intermediate gradients are recomputed on each call. A gradient that is not a
        finite number (a product of finite local derivatives that overflowed) is a
        MathDomainError naming the node where it first appeared.
        """
        order = self.topological_order()
        inner = list(filter(_prev_of, order))  # leaves have nothing to pass on
        for v in inner:
            v.grad = 0.0
        self.grad = 1.0
        for v in inner:
            g = v.grad
            if g:
                for child, local in zip(v._prev, v._local):  # noqa: B905 (hot loop)
                    child.grad += local * g
        # One C-level pass instead of a test per edge: is every gradient finite?
        if not all(map(_isfinite, map(_grad_of, order))):
            raise _gradient_error(_first_non_finite(order))


def _first_non_finite(order: list[Value]) -> Value:
    """The first node, in the order backward runs, whose gradient is inf or nan."""
    return next(v for v in order if v.grad - v.grad != 0.0)


def _describe(v: Value) -> str:
    if v.label:
        return v.label
    if not v._prev:
        return f"the input {_fmt(v.data)}"
    return f"the output of {v._op!r} (value {_fmt(v.data)})"


def _gradient_error(v: Value) -> MathDomainError:
    kind = "nan" if v.grad != v.grad else "infinite"
    return MathDomainError(
        f"the gradient at {_describe(v)} is {kind}: the chain rule multiplied finite local "
        "derivatives into a number too large for a float; rescale the expression "
        "(smaller constants) or evaluate it at another point"
    )


_grad_of = attrgetter("grad")
_isfinite = math.isfinite


def _pow_op(k: float) -> str:
    """The op name of x**k: short when that is exact, so the Value rule can read k back."""
    short = _fmt(k)
    return f"**{short}" if float(short) == k else f"**{k!r}"


# -- higher-order derivatives -------------------------------------------------------------
#
# The float rules above store d(out)/d(input) as numbers: enough for one backward pass.
# To differentiate a derivative, the backward pass must itself be a graph, so each op
# also has its local derivatives written as Value expressions of its inputs (`a`, `b`,
# `x`, `y`) and output (`out`). Read them beside the float rules in the ops above:
#
#   op        float rule (stored in _local)           Value rule (built by grad())
_VALUE_RULES: dict[str, tuple] = {
    "+": (lambda out, a, b: 1.0, lambda out, a, b: 1.0),  # 1, 1
    "*": (lambda out, a, b: b, lambda out, a, b: a),  # b, a
    "/": (lambda out, a, b: 1.0 / b, lambda out, a, b: -out / b),  # 1/b, -(a/b)/b
    "**": (  # y * x**(y-1), x**y * log(x)
        lambda out, x, y: 0.0 if x.data == 0.0 == y.data else y * x ** (y - 1.0),
        lambda out, x, y: out * x.log() if x.data > 0.0 else 0.0,
    ),
    "exp": (lambda out, x: out,),  # e**x
    "log": (lambda out, x: 1.0 / x,),  # 1/x
    "sqrt": (lambda out, x: 0.5 / out,),  # 0.5 / sqrt(x)
    "tanh": (lambda out, x: 1.0 - out * out,),  # 1 - t*t
    "sigmoid": (lambda out, x: out * (1.0 - out),),  # s (1 - s)
    "relu": (lambda out, x: out._local[0],),  # 1 or 0, a constant (a step's slope is 0)
    "sin": (lambda out, x: x.cos(),),  # cos x
    "cos": (lambda out, x: -x.sin(),),  # -sin x
    "abs": (lambda out, x: out._local[0],),  # sign(x), a constant
}
# x**k for a number k (op "**2", "**-1", ...): k * x**(k-1), a constant k when k == 1.
# `sum` (vsum) needs no rule: every local derivative is the constant 1.
#
# The fused nodes of training (the `dot` nodes of dense, the losses, the L2 penalty)
# have no Value rule: they are expanded instead, i.e. build the graph from primitives
# (MLP(x, fused=False), (z - t)**2, ...) to differentiate it twice. Why: a fused node
# stores only numbers (which inputs were constants, the target, alpha are not kept), so
# a Value rule would need more state on every node of the training hot path, which is
# the one place where speed matters; the unfused graph computes the same numbers.
_FUSED = frozenset({"dot", "mse", "hinge", "bce", "xent", "l2"})


def _value_local(node: Value, i: int):
    """d(node)/d(its i-th input) as a Value (or a constant float), from the table above."""
    op = node._op
    if op == "sum":
        return 1.0
    rule = _VALUE_RULES.get(op)
    if rule is not None:
        return rule[i](node, *node._prev)
    if op.startswith("**"):
        k = float(op[2:])
        return k if k == 1.0 or k == 0.0 else k * node._prev[0] ** (k - 1.0)
    if op in _FUSED:
        raise ValueError(
            f"create_graph: the fused {op!r} node has no Value rule; build the graph from "
            "primitives to differentiate it again (e.g. MLP(x, fused=False))"
        )
    raise ValueError(f"create_graph: no Value rule for the operation {op!r}")


def _times(local, g):
    """local * g without building a node for a factor of 1 (None for a factor of 0)."""
    if type(local) is float:
        if local == 0.0:
            return None
        if local == 1.0:
            return g
        return local * g if type(g) is float else g * local
    if type(g) is float:
        return local if g == 1.0 else local * g
    return local * g


def grad(out: Value, wrt, create_graph: bool = False, max_nodes: int | None = None):
    """d(out)/d(w) for each w in `wrt` (one Value, or a sequence: a list back).

    With create_graph=True the backward pass is recorded as Values (the local
    derivatives of each op come from the Value rules above), so each result is the
    root of a graph that can be differentiated again, as in PyTorch's
    torch.autograd.grad(..., create_graph=True):

        x = Value(1.0)
        d1 = grad(x.tanh(), x, create_graph=True)    # 1 - tanh(x)**2, as a graph
        d2 = grad(d1, x)                             # -2 tanh(x) (1 - tanh(x)**2)

    Nothing is written to .grad, and only nodes on a path from `out` to some w get a
    gradient (constants cost nothing). With create_graph=False the results are new
    leaves holding the numbers. max_nodes bounds the nodes this call may create
    (GraphTooLarge past it): each order roughly multiplies the graph's size.

    Supported: nested derivatives of one function with respect to its own inputs
    (d2/dx2, mixed partials, Hessians), as mg grad --order and mg newton use them. Not
    supported: mixing traces, i.e. differentiating a function that closes over the
    derivative of another function whose input is also being differentiated (f(x) =
    x * d/dy (x + y), differentiated in x). The graph records no "which derivative is
    this" tag, so the inner derivative's dependence on x is wrongly counted by the
    outer one (perturbation confusion, Siskind & Pearlmutter 2005); JAX tags each
    trace, PyTorch leaves it to the user as we do.
    """
    from microgradcli.errors import GraphTooLarge

    single = isinstance(wrt, Value)
    targets = [wrt] if single else list(wrt)
    order = out.topological_order()
    live = set(targets)  # the nodes that lie on a path to a target
    for v in reversed(order):  # children first
        if v._prev and not live.isdisjoint(v._prev):
            live.add(v)
    start = next(_ids)
    # A gradient is a float while it is a constant (the seed 1, d(2x)/dx = 2) and a
    # Value once it depends on an input: constants build no nodes (no "c*1").
    grads: dict[Value, object] = {}
    if out in live:
        grads[out] = 1.0
    for v in order:
        g = grads.get(v)
        if g is None or not v._prev:
            continue
        if max_nodes is not None and next(_ids) - start > max_nodes:
            raise GraphTooLarge(next(_ids) - start, max_nodes)
        for i, child in enumerate(v._prev):
            if child not in live:
                continue
            part = _times(_value_local(v, i) if create_graph else v._local[i], g)
            if part is None:
                continue
            seen = grads.get(child)
            grads[child] = part if seen is None else seen + part
    results = []
    for w in targets:
        g = grads.get(w, 0.0)
        if not isinstance(g, Value):
            if g - g != 0.0:
                raise MathDomainError(
                    f"the gradient with respect to {_describe(w)} is not a finite number: "
                    "the chain rule overflowed; rescale the expression"
                )
            g = Value(g)
        results.append(g)
    return results[0] if single else results


def sigmoid(x: float) -> float:
    """1 / (1 + e^-x) for a number, in two forms so exp() never sees a positive argument."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _power(x: float, k: float, what: str) -> float:
    """x ** k as a float, or a MathDomainError naming `what`."""
    try:
        out = x**k
    except ZeroDivisionError:
        raise MathDomainError(f"division by zero in {what}") from None
    except OverflowError:
        raise _not_finite(what) from None
    if isinstance(out, complex):
        raise MathDomainError(
            f"{what}: a negative base with a non-integer exponent has no real value"
        )
    if out - out != 0.0:
        raise _not_finite(what)
    return out


def dense(ws: Sequence[Sequence[Value]], bs: Sequence[Value], x: Sequence) -> list[Value]:
    """[w·x + b for each (w, b)]: a layer of fused neurons reading the inputs once.

    One node per neuron instead of 2n+1: d/dwi = xi, d/dxi = wi, d/db = 1. `x` holds
    Values or plain numbers (numbers are constants and get no gradient).
    """
    n = len(x)
    try:
        if n and isinstance(x[0], Value):  # hidden layers: every input is a node
            xd = [xi.data for xi in x]
            xs = tuple(x)
            node_at = None
        else:  # the input layer: every input is a number
            xd = [float(xi) for xi in x]
            xs = ()
            node_at = ()
    except (AttributeError, TypeError):  # a mix of nodes and numbers
        xd = [xi.data if isinstance(xi, Value) else float(xi) for xi in x]
        xs = tuple(xi for xi in x if isinstance(xi, Value))
        node_at = tuple(i for i, xi in enumerate(x) if isinstance(xi, Value))
    out = []
    for w, b in zip(ws, bs, strict=True):
        if len(w) != n:
            raise ValueError(f"dot: {len(w)} weights but {n} inputs")
        wd = [wi.data for wi in w]
        d = reduce(add, map(mul, wd, xd), b.data)  # lsum, inlined: the hot path
        if d - d != 0.0:
            raise _not_finite("a neuron's w·x + b", *wd, *xd, b.data)
        # d/dwi = xi, d/dxi = wi, d/db = 1
        if node_at is None:
            out.append(Value(d, (*w, *xs, b), "dot", (*xd, *wd, 1.0)))
        else:
            local_x = [wd[i] for i in node_at]
            out.append(Value(d, (*w, *xs, b), "dot", (*xd, *local_x, 1.0)))
    return out


def vsum(values: Iterable) -> Value:
    """The sum of many values as one node (d/dvi = 1 for each)."""
    vs = tuple(v if isinstance(v, Value) else Value(v) for v in values)
    d = lsum([v.data for v in vs])
    if d - d != 0.0:
        raise _not_finite("a sum", *(v.data for v in vs))
    return Value(d, vs, "sum", (1.0,) * len(vs))
