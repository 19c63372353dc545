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

__all__ = ["Value", "dense", "dot", "lsum", "sigmoid", "vsum"]

_ids = count()  # creation order: every node is created after its children
_by_id = attrgetter("_id")
_prev_of = attrgetter("_prev")
_chain = chain.from_iterable
_ONES = (1.0, 1.0)  # shared constant local derivatives: fewer objects per node
_ONE = (1.0,)
_ZERO = (0.0,)


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


def _not_finite(what: str) -> MathDomainError:
    return MathDomainError(f"overflow in {what}: the result is not a finite number")


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
            raise _not_finite(f"{_fmt(self.data)} + {_fmt(other.data)}")
        # d(a+b)/da = 1, d(a+b)/db = 1
        return Value(d, (self, other), "+", _ONES)

    def __mul__(self, other) -> Value:
        if not isinstance(other, Value):
            other = Value(other)
        a, b = self.data, other.data
        d = a * b
        if d - d != 0.0:
            raise _not_finite(f"{_fmt(a)} * {_fmt(b)}")
        # d(ab)/da = b, d(ab)/db = a
        return Value(d, (self, other), "*", (b, a))

    def __pow__(self, other) -> Value:
        if isinstance(other, Value):
            return self._pow_value(other)
        k = float(other)
        x = self.data
        what = f"{_base(x)} ** {_fmt(k)}"
        out = _power(x, k, what)
        # d(x**k)/dx = k * x**(k-1)
        local = 0.0 if k == 0.0 else k * _power(x, k - 1.0, f"the derivative of {what}")
        return Value(out, (self,), f"**{_fmt(k)}", (local,))

    def _pow_value(self, other: Value) -> Value:
        x, y = self.data, other.data
        what = f"{_base(x)} ** {_fmt(y)}"
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
        if dy - dy != 0.0:
            raise _not_finite(f"the derivative of {what}")
        return Value(out, (self, other), "**", (dx, dy))

    def exp(self) -> Value:
        x = self.data
        try:
            e = math.exp(x)
        except OverflowError:
            raise MathDomainError(f"overflow in exp({_fmt(x)}): the result is too large") from None
        # d(e**x)/dx = e**x
        return Value(e, (self,), "exp", (e,))

    def log(self) -> Value:
        x = self.data
        if x <= 0.0:
            raise MathDomainError(f"log of a non-positive number: log({_fmt(x)})")
        # d(log x)/dx = 1/x
        return Value(math.log(x), (self,), "log", (1.0 / x,))

    def sqrt(self) -> Value:
        x = self.data
        if x < 0.0:
            raise MathDomainError(f"square root of a negative number: sqrt({_fmt(x)})")
        if x == 0.0:
            raise MathDomainError("sqrt(0): the derivative of sqrt is infinite at 0")
        s = math.sqrt(x)
        # d(sqrt x)/dx = 1 / (2 sqrt x)
        return Value(s, (self,), "sqrt", (0.5 / s,))

    def tanh(self) -> Value:
        t = math.tanh(self.data)  # math.tanh saturates to +-1, it never overflows
        # d(tanh x)/dx = 1 - tanh(x)**2
        return Value(t, (self,), "tanh", (1.0 - t * t,))

    def sigmoid(self) -> Value:
        s = sigmoid(self.data)
        # d(sigmoid x)/dx = s (1 - s)
        return Value(s, (self,), "sigmoid", (s * (1.0 - s),))

    def relu(self) -> Value:
        x = self.data
        # d(relu x)/dx = 1 for x > 0, else 0
        if x > 0.0:
            return Value(x, (self,), "relu", _ONE)
        return Value(0.0, (self,), "relu", _ZERO)

    def sin(self) -> Value:
        x = self.data
        # d(sin x)/dx = cos x
        return Value(math.sin(x), (self,), "sin", (math.cos(x),))

    def cos(self) -> Value:
        x = self.data
        # d(cos x)/dx = -sin x
        return Value(math.cos(x), (self,), "cos", (-math.sin(x),))

    def __abs__(self) -> Value:
        x = self.data
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

    def __truediv__(self, other) -> Value:
        if not isinstance(other, Value):
            if other == 0:
                raise MathDomainError(f"division by zero: {_fmt(self.data)} / 0")
            return self * (1.0 / other)
        return self * other**-1

    def __rtruediv__(self, other) -> Value:
        return other * self**-1

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
        intermediate gradients are recomputed on each call.
        """
        inner = list(filter(_prev_of, self.topological_order()))  # leaves have nothing to pass on
        for v in inner:
            v.grad = 0.0
        self.grad = 1.0
        for v in inner:
            g = v.grad
            if g:
                for child, local in zip(v._prev, v._local):  # noqa: B905 (hot loop)
                    child.grad += local * g


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


def dot(w: Sequence[Value], x: Sequence, b: Value) -> Value:
    """w·x + b as one node (a fused neuron), with the local gradients of every input.

    The same value as building sum(wi*xi) + b node by node, with 1 node instead of 2n+1:
    d/dwi = xi, d/dxi = wi, d/db = 1. `x` holds Values or plain numbers (numbers are
    constants and get no gradient).
    """
    return dense([w], [b], x)[0]


def dense(ws: Sequence[Sequence[Value]], bs: Sequence[Value], x: Sequence) -> list[Value]:
    """[w·x + b for each (w, b)]: a layer of fused neurons reading the inputs once."""
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
            raise _not_finite("a neuron's w·x + b")
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
        raise _not_finite("a sum")
    return Value(d, vs, "sum", (1.0,) * len(vs))
