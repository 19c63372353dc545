"""A tensor autograd engine: the scalar engine's idea for numpy float64 arrays.

A Tensor holds an array, its gradient and the operation that produced it. Each
operation below computes its output and, right beside it, its backward rule: what
it adds to each input's .grad given the output's .grad. backward() visits the graph
newest node first, as engine.py does, with no recursion.

Exact mode (the default) reproduces the scalar engine bit for bit. Two things decide
floating-point results, and the scalar engine fixes both:
- the order of additions. The scalar engine adds left to right, and its backward adds
  the contributions to a gradient newest node first. Exact mode does the same: every
  sum here is a sequential np.add.accumulate (out[i] = out[i-1] + a[i], which allows
  no reordering), never BLAS or numpy's pairwise sum.
- the transcendental functions. numpy's exp/log/tanh differ from math's in the last
  bits, so exact mode applies math.* element by element.
`exact(False)` (a context manager) allows BLAS products, numpy's sums and its own
functions: faster, equal to within rounding (about 1e-15 relative per operation).

Broadcasting works as numpy's; a gradient is summed back over the broadcast axes (in
exact mode newest element first, as the scalar engine would have added them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import count
from operator import attrgetter

import numpy as np

from microgradcli.engine import sigmoid as _sigmoid
from microgradcli.errors import MathDomainError

__all__ = [
    "ACTIVATIONS",
    "Tensor",
    "bce",
    "cross_entropy",
    "dense",
    "exact",
    "forward_data",
    "hinge",
    "is_exact",
    "l2_penalty",
    "linear",
    "mse",
    "total",
]

_ids = count()  # creation order: every node is created after its children
_by_id = attrgetter("_id")
_EXACT = [True]
_sum = np.add.reduce  # x.sum(axis) without the method's Python wrapper


@contextmanager
def exact(on: bool = True) -> Iterator[None]:
    """Within the block, ops are exact (True: bit for bit the scalar engine) or fast."""
    before = _EXACT[0]
    _EXACT[0] = bool(on)
    try:
        yield
    finally:
        _EXACT[0] = before


def is_exact() -> bool:
    return _EXACT[0]


def _array(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _check(d: np.ndarray, what: str) -> np.ndarray:
    """d, or a MathDomainError naming the op if any element is inf or nan. One sum tells
    (it is finite when every element is); only a sum that overflows needs a second look."""
    if not math.isfinite(_sum(d, None)) and not np.isfinite(d).all():
        raise MathDomainError(f"overflow in {what}: the result is not a finite number")
    return d


def _map(f: Callable[[float], float], a: np.ndarray) -> np.ndarray:
    """f (a function of one float, e.g. math.tanh) applied element by element."""
    return np.fromiter(map(f, a.ravel().tolist()), np.float64, a.size).reshape(a.shape)


def _rows_sum(stack: np.ndarray) -> np.ndarray:
    """stack[0] + stack[1] + stack[2] + ..., added strictly in that order, elementwise.

    numpy's sum over the outer axis of a C-contiguous array adds whole rows one after
    another (its pairwise summation runs along the inner axis only); that is measured,
    not documented, and pinned by tests/test_tensor.py. Rows of one number would be
    summed pairwise, so those go through add.accumulate, sequential by definition.
    """
    stack = np.ascontiguousarray(stack)
    if stack[0].size > 1:
        return stack.sum(axis=0)
    return np.add.accumulate(stack.reshape(-1))[-1].reshape(stack.shape[1:])


def _stack(first: np.ndarray, n: int) -> np.ndarray:
    """An (n + 1, *first.shape) array with first in row 0, the rest to be filled."""
    stack = np.empty((n + 1, *first.shape))
    stack[0] = first
    return stack


def _dot_rows(first: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """first + a[0]*b[0] + a[1]*b[1] + ..., strictly in that order, elementwise (a[r] and
    b[r] broadcast to first's shape): what a chain of scalar multiply-adds computes.
    Small: all products at once, then _rows_sum. Large: one row at a time, in cache."""
    n = len(a)
    if n * first.size <= 1 << 15:
        stack = _stack(first, n)
        np.multiply(a, b, out=stack[1:])
        return _rows_sum(stack)
    acc = np.empty(first.shape)
    acc[...] = first
    tmp = np.empty(first.shape)
    for ar, br in zip(a, b, strict=True):
        np.multiply(ar, br, out=tmp)
        acc += tmp  # acc = acc + tmp, elementwise
    return acc


def _seq_sum(first: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """first + rows[0] + rows[1] + ..., added strictly in that order, elementwise."""
    return _rows_sum(np.concatenate((first[None], rows)))


def _sum_back(grad: np.ndarray, contrib: np.ndarray) -> np.ndarray:
    """grad plus contrib summed back to grad's shape over the axes broadcasting added.

    Exact: the contributions of each element are added one by one, the last element
    (in row-major order) first, which is the order the scalar engine's backward visits
    the nodes it would have built, one per element.
    """
    if contrib.shape == grad.shape:
        return grad + contrib
    shape = (1,) * (contrib.ndim - grad.ndim) + grad.shape
    axes = tuple(i for i, (s, c) in enumerate(zip(shape, contrib.shape, strict=True)) if s != c)
    if not _EXACT[0]:
        return grad + contrib.sum(axis=axes).reshape(grad.shape)
    rows = np.moveaxis(np.flip(contrib, axis=axes), axes, tuple(range(len(axes))))
    kept = tuple(contrib.shape[i] for i in range(contrib.ndim) if i not in axes)
    rows = rows.reshape((-1, *kept))
    return _seq_sum(grad.reshape(kept), rows).reshape(grad.shape)


class Tensor:
    """A float64 array with a gradient, and the graph of operations that produced it."""

    __slots__ = ("data", "grad", "_prev", "_back", "_op", "_id")
    __array_priority__ = 100  # ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, _prev: tuple = (), _op: str = "", _back: Callable | None = None):
        self.data = _array(data)
        # a leaf's gradient accumulates from zero; an op's is filled in by backward()
        self.grad = None if _prev else np.zeros_like(self.data)
        self._prev = _prev  # children, in order
        self._back = _back  # g -> adds each child's contribution to its .grad
        self._op = _op
        self._id = next(_ids)

    def __repr__(self) -> str:
        return f"Tensor({self.data!r}, grad={self.grad!r})"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def _add_grad(self, contrib: np.ndarray) -> None:
        g = self.grad
        if g is None and self._prev and not _EXACT[0] and contrib.shape == self.data.shape:
            self.grad = contrib  # (exact mode adds to 0.0, which turns -0.0 into 0.0)
        elif g is not None and not self._prev and contrib.shape == g.shape:
            g += contrib  # a leaf's own buffer, in place: the same sum as g + contrib
        else:
            self._set_grad(_sum_back(_g(self), contrib))

    def _set_grad(self, value: np.ndarray) -> None:
        """A leaf's gradient is written into its buffer (TensorMLP's are views into one
        flat array); an op's is replaced."""
        if self._prev or self.grad is None:
            self.grad = value
        else:
            self.grad[...] = value

    # -- elementwise binary ops (broadcasting) --------------------------------------------
    def __add__(self, other) -> Tensor:
        other = _lift(other)
        a, b = self, other
        with np.errstate(all="ignore"):
            d = _check(a.data + b.data, "+")

        def back(g):  # d(a+b)/da = 1, d(a+b)/db = 1
            a._add_grad(g)
            b._add_grad(g)

        return Tensor(d, (a, b), "+", back)

    def __mul__(self, other) -> Tensor:
        other = _lift(other)
        a, b = self, other
        ad, bd = a.data, b.data
        with np.errstate(all="ignore"):
            d = _check(ad * bd, "*")

        def back(g):  # d(ab)/da = b, d(ab)/db = a
            a._add_grad(bd * g)
            b._add_grad(ad * g)

        return Tensor(d, (a, b), "*", back)

    def __pow__(self, other) -> Tensor:
        if isinstance(other, Tensor):
            return self._pow_tensor(other)
        k = float(other)
        x = self.data
        if k != int(k) and (x < 0).any():
            raise MathDomainError(
                f"** {k:g}: a negative base with a non-integer exponent has no real value"
            )
        if k < 0 and (x == 0).any():
            raise MathDomainError(f"division by zero in 0 ** {k:g}")
        with np.errstate(all="ignore"):
            d = _check(x**k, f"** {k:g}")
            local = np.zeros_like(x) if k == 0.0 else _check(k * x ** (k - 1.0), f"** {k:g}")

        def back(g):  # d(x**k)/dx = k x**(k-1)
            self._add_grad(local * g)

        return Tensor(d, (self,), f"**{k:g}", back)

    def _pow_tensor(self, other: Tensor) -> Tensor:
        x, y = np.broadcast_arrays(self.data, other.data)
        if (x < 0).any() or ((x == 0) & (y <= 0)).any():
            raise MathDomainError(
                "**: a variable exponent needs a positive base "
                "(the derivative with respect to the exponent involves log of the base)"
            )
        with np.errstate(all="ignore"):
            d = _check(x**y, "**")
            dx = np.where(y == 0.0, 0.0, y * x ** (y - 1.0))
            logx = _map(math.log, np.where(x > 0, x, 1.0)) if _EXACT[0] else np.log(x)
            dy = _check(np.where(x > 0, d * logx, 0.0), "the derivative of **")

        def back(g):  # d(x**y)/dx = y x**(y-1);  d(x**y)/dy = x**y log x
            self._add_grad(dx * g)
            other._add_grad(dy * g)

        return Tensor(d, (self, other), "**", back)

    # -- composed from the primitives, as in engine.py -------------------------------------
    def __neg__(self) -> Tensor:
        return self * -1.0

    def __radd__(self, other) -> Tensor:
        return self + other

    def __sub__(self, other) -> Tensor:
        return self + (-_lift(other))

    def __rsub__(self, other) -> Tensor:
        return (-self) + other

    def __rmul__(self, other) -> Tensor:
        return self * other

    def __truediv__(self, other) -> Tensor:
        other = _lift(other)
        a, b = self, other
        bd = b.data
        if (bd == 0.0).any():
            raise MathDomainError("division by zero: / 0")
        with np.errstate(all="ignore"):
            d = _check(a.data / bd, "/")
            inv = _check(1.0 / bd, "the derivative of /")
            db = _check(-d / bd, "the derivative of /")

        # d(a/b)/da = 1/b, d(a/b)/db = -(a/b)/b: engine.py's own rule (not a * b**-1), so
        # exact mode gives the scalar engine's bits
        def back(g):
            a._add_grad(inv * g)
            b._add_grad(db * g)

        return Tensor(d, (a, b), "/", back)

    def __rtruediv__(self, other) -> Tensor:
        return _lift(other) / self

    # -- matrix product ---------------------------------------------------------------------
    def __matmul__(self, other) -> Tensor:
        """a @ b for 2-D a (n, k) and b (k, m). Exact: each entry is the left-to-right
        sum a[i,0]*b[0,j] + a[i,1]*b[1,j] + ..., as a chain of scalar products would be."""
        other = _lift(other)
        a, b = self, other
        if a.data.ndim != 2 or b.data.ndim != 2:
            raise ValueError("@ takes 2-D tensors (use reshape for vectors)")
        ad, bd = a.data, b.data
        if _EXACT[0]:
            # row k of the products: a[:, k] times b[k]
            d = _dot_rows(np.zeros((ad.shape[0], bd.shape[1])), ad.T[:, :, None], bd[:, None, :])
        else:
            d = ad @ bd
        d = _check(d, "@")

        def back(g):
            # d/da[i,k] = sum_j g[i,j] b[k,j];  d/db[k,j] = sum_i a[i,k] g[i,j]
            if _EXACT[0]:  # newest product first: j descending for a, i descending for b
                a._set_grad(_dot_rows(_g(a), g.T[::-1, :, None], bd.T[::-1, None, :]))
                b._set_grad(_dot_rows(_g(b), ad[::-1, :, None], g[::-1, None, :]))
            else:
                a._add_grad(g @ bd.T)
                b._add_grad(ad.T @ g)

        return Tensor(d, (a, b), "@", back)

    @property
    def T(self) -> Tensor:
        def back(g):
            self._add_grad(g.T)

        return Tensor(self.data.T.copy(), (self,), "T", back)

    def reshape(self, *shape) -> Tensor:
        old = self.data.shape

        def back(g):
            self._add_grad(g.reshape(old))

        return Tensor(self.data.reshape(*shape), (self,), "reshape", back)

    # -- reductions -----------------------------------------------------------------------------
    def sum(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """The sum over one axis (or all). Exact: left to right from 0.0, as engine.vsum."""
        x = self.data
        moved = x.reshape(-1, 1) if axis is None else np.moveaxis(x, axis, 0)
        if _EXACT[0]:
            d = _seq_sum(np.zeros(moved.shape[1:]), moved)
        else:
            d = moved.sum(axis=0)
        d = _check(d.reshape(()) if axis is None else d, "a sum")
        if keepdims:
            d = np.expand_dims(d, tuple(range(x.ndim)) if axis is None else axis)
        shape = x.shape
        ax = axis

        def back(g):  # d(sum)/dx_i = 1: g reaches every element
            g = g if keepdims or ax is None else np.expand_dims(g, ax)
            self._add_grad(np.broadcast_to(g, shape))

        return Tensor(d, (self,), "sum", back)

    def mean(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """sum * (1/n), as losses.total computes a mean."""
        n = self.data.size if axis is None else self.data.shape[axis]
        return self.sum(axis, keepdims) * (1.0 / n)

    # -- elementwise functions ------------------------------------------------------------------
    def exp(self) -> Tensor:
        x = self.data
        if (x > 709.782712893384).any():
            big = float(x.max())
            raise MathDomainError(f"overflow in exp({big:.6g}): the result is too large")
        e = _map(math.exp, x) if _EXACT[0] else np.exp(x)

        def back(g):  # d(e**x)/dx = e**x
            self._add_grad(e * g)

        return Tensor(e, (self,), "exp", back)

    def log(self) -> Tensor:
        x = self.data
        if (x <= 0).any():
            bad = float(x[x <= 0].flat[0])
            raise MathDomainError(f"log of a non-positive number: log({bad:.6g})")
        d = _map(math.log, x) if _EXACT[0] else np.log(x)
        local = 1.0 / x

        def back(g):  # d(log x)/dx = 1/x
            self._add_grad(local * g)

        return Tensor(d, (self,), "log", back)

    def tanh(self) -> Tensor:
        return self._activation("tanh")

    def sigmoid(self) -> Tensor:
        return self._activation("sigmoid")

    def relu(self) -> Tensor:
        return self._activation("relu")

    def _activation(self, name: str) -> Tensor:
        y, local = ACTIVATIONS[name](self.data)

        def back(g):  # the chain rule: local derivative times g
            self._add_grad(local * g)

        return Tensor(y, (self,), name, back)

    # -- backpropagation ------------------------------------------------------------------------
    def topological_order(self) -> list[Tensor]:
        """Every node this tensor depends on, newest first (each before its children)."""
        seen = {self}
        stack = [self]
        while stack:
            for c in stack.pop()._prev:
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        return sorted(seen, key=_by_id, reverse=True)

    def backward(self) -> None:
        """Fill .grad of every node this tensor depends on with d(sum of self)/d(node).

        As in engine.py: leaf gradients accumulate across calls, intermediate ones are
        recomputed on each call.
        """
        inner = [t for t in self.topological_order() if t._prev]
        for t in inner:
            t.grad = None
        self.grad = np.ones_like(self.data)
        for t in inner:
            if t.grad is not None:
                t._back(t.grad)


def _g(t: Tensor) -> np.ndarray:
    """t's gradient so far (zeros before anything reached it)."""
    return np.zeros_like(t.data) if t.grad is None else t.grad


def _lift(x) -> Tensor:
    """A number or array as a constant Tensor (its gradient is computed but unused)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    z = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


# -- the activations: an array's values and local derivatives, for the ops and dense() ---------
def _tanh_local(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = _map(math.tanh, x) if _EXACT[0] else np.tanh(x)
    return t, 1.0 - t * t  # d(tanh x)/dx = 1 - tanh(x)**2


def _sigmoid_local(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = _map(_sigmoid, x) if _EXACT[0] else _np_sigmoid(x)
    return s, s * (1.0 - s)  # d(sigmoid x)/dx = s (1 - s)


def _relu_local(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    on = x > 0.0
    return np.where(on, x, 0.0), on  # d(relu x)/dx = 1 for x > 0, else 0


def _identity_local(x: np.ndarray) -> tuple[np.ndarray, None]:
    return x, None  # d(x)/dx = 1


# One entry per name in activations.ACTIVATIONS (tests/test_tensor.py checks it).
ACTIVATIONS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]] = {
    "tanh": _tanh_local,
    "relu": _relu_local,
    "sigmoid": _sigmoid_local,
    "linear": _identity_local,
}


# -- the fused layer: what nn.Layer computes, for a batch of rows ------------------------------


def _affine(xd: np.ndarray, wd: np.ndarray, bd: np.ndarray) -> np.ndarray:
    """b + x @ w.T as arrays; exact: b + w[0]*x[0] + w[1]*x[1] + ... as engine.dense adds."""
    if not _EXACT[0]:
        return xd @ wd.T + bd
    first = np.broadcast_to(bd, (xd.shape[0], wd.shape[0]))
    return _dot_rows(first, xd.T[:, :, None], wd.T[:, None, :])  # row k: x[:, k] w[:, k]


def forward_data(x, layers) -> np.ndarray:
    """An MLP's outputs for rows x from (w, b, activation name) arrays per layer, keeping
    no graph (each layer's activation node is dropped at once); like MLP.forward_floats, a
    number that overflows becomes inf or nan here."""
    h = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        for w, b, act in layers:
            h = ACTIVATIONS[act](_affine(h, w, b))[0]
    return h


def linear(x, w: Tensor, b: Tensor) -> Tensor:
    """b + x @ w.T for rows x (n, k), weights w (m, k), biases b (m,): one neuron per row of w.

    Exact: each output is b + w[0]*x[0] + w[1]*x[1] + ..., left to right, as
    engine.dense computes a neuron. A plain array x is a constant (the input layer).
    """
    return dense(x, w, b, "linear")


def dense(x, w: Tensor, b: Tensor, activation: str) -> Tensor:
    """activation(linear(x, w, b)) as one node: a layer of nn.MLP for a batch of rows.

    Its backward rule is the activation's (local derivative times g), then linear's. In
    exact mode the numbers are those of the two nodes linear and activation would be.
    """
    xt = x if isinstance(x, Tensor) else None
    xd = xt.data if xt is not None else _array(x)
    wd, bd = w.data, b.data
    y, local = ACTIVATIONS[activation](_check(_affine(xd, wd, bd), "a neuron's w·x + b"))

    def back(g):
        if local is not None:
            g = local * g
            if _EXACT[0]:
                g += 0.0  # as linear's node would hold it: added to 0.0 (-0.0 becomes 0.0)
        # d/dw[j,k] = x[i,k], d/dx[i,k] = w[j,k], d/db[j] = 1, for each sample i, neuron j
        if _EXACT[0]:
            # The scalar engine visits samples newest first (i descending) for w and b,
            # and a sample's neurons newest first (j descending) for x.
            gr = g[::-1]
            w._set_grad(_dot_rows(_g(w), gr[:, :, None], xd[::-1, None, :]))
            b._set_grad(_seq_sum(_g(b), gr))
            if xt is not None:
                xt._set_grad(_dot_rows(_g(xt), g.T[::-1, :, None], wd[::-1, None, :]))
        else:
            w._add_grad(g.T @ xd)
            b._add_grad(_sum(g, 0))
            if xt is not None:
                xt._add_grad(g @ wd)

    prev = (w, b) if xt is None else (w, xt, b)
    return Tensor(y, prev, "linear" if local is None else f"{activation}(linear)", back)


# -- losses: one node per batch, per-sample values and local derivatives side by side --------
def _loss(z: Tensor, values: np.ndarray, local: np.ndarray, op: str) -> Tensor:
    """A vector of per-sample losses with d(loss_i)/dz stored beside them."""

    def back(g):
        z._add_grad(local * (g if local.ndim == 1 else g[:, None]))

    return Tensor(values, (z,), op, back)


def _col(z: Tensor) -> np.ndarray:
    d = z.data
    return d[:, 0] if d.ndim == 2 else d


def _wrap(z: Tensor, local: np.ndarray) -> np.ndarray:
    return local[:, None] if z.data.ndim == 2 else local


def mse(z: Tensor, t) -> Tensor:
    """(z - t)**2 per sample, for outputs z (n,) or (n, 1)."""
    r = _col(z) - _array(t)
    return _loss(z, r * r, _wrap(z, 2.0 * r), "mse")  # d/dz = 2 (z - t)


def hinge(z: Tensor, t) -> Tensor:
    """relu(1 - t z) per sample, labels t = +-1."""
    t = _array(t)
    m = 1.0 - t * _col(z)
    on = m > 0.0
    # d/dz = -t where the margin is violated, 0 elsewhere
    return _loss(z, np.where(on, m, 0.0), _wrap(z, np.where(on, -t, 0.0)), "hinge")


def bce(z: Tensor, t) -> Tensor:
    """Binary cross-entropy on logits z, labels t = 0/1, in the stable form
    max(z, 0) - z t + log(1 + e^-|z|)."""
    t = _array(t)
    x = _col(z)
    if _EXACT[0]:
        soft = _map(lambda v: math.log1p(math.exp(-abs(v))), x)
        s = _map(_sigmoid, x)
    else:
        soft = np.log1p(np.exp(-np.abs(x)))
        s = _np_sigmoid(x)
    values = np.where(x > 0.0, x, 0.0) - x * t + soft
    return _loss(z, values, _wrap(z, s - t), "bce")  # d/dz = sigmoid(z) - t


def cross_entropy(z: Tensor, t) -> Tensor:
    """-log softmax(z_i)[t_i] per row of logits z (n, c), class indices t, via log-sum-exp."""
    d = z.data
    t = np.asarray(t, dtype=np.intp)
    top = d.max(axis=1, keepdims=True)
    shifted = d - top  # every exponent <= 0: no overflow
    if _EXACT[0]:
        exps = _map(math.exp, shifted)
        totals = np.array([math.fsum(r) for r in exps.tolist()])
        logs = _map(math.log, totals)
    else:
        exps = np.exp(shifted)
        totals = exps.sum(axis=1)
        logs = np.log(totals)
    rows = np.arange(d.shape[0])
    values = (top[:, 0] + logs) - d[rows, t]
    local = exps / totals[:, None]  # d/dz_ij = softmax_ij - [j == t_i]
    local[rows, t] -= 1.0
    return _loss(z, values, local, "xent")


def l2_penalty(params: Sequence[Tensor], alpha: float) -> Tensor:
    """alpha * (sum of every squared parameter) as one node (d/dp = 2 alpha p).
    The sum is math.fsum (correctly rounded), as in losses.l2_penalty."""
    datas = [p.data for p in params]
    if _EXACT[0]:
        s = alpha * math.fsum(np.concatenate([(d * d).ravel() for d in datas]).tolist())
    else:
        s = alpha * math.fsum(float(np.vdot(d, d)) for d in datas)
    if s - s != 0.0:
        raise MathDomainError("overflow in the L2 penalty: the weights are not finite")
    k = 2.0 * alpha

    def back(g):
        for p, d in zip(params, datas, strict=True):
            p._add_grad((k * d) * g)  # the local derivative 2 alpha p, times g

    return Tensor(s, tuple(params), "l2", back)


def total(losses: Tensor, reduction: str = "mean") -> Tensor:
    """The batch's loss from per-sample losses, as one node: their sum, times 1/n for the
    mean. Exact: the sum left to right from 0.0, then the product, as losses.total."""
    x = losses.data
    s = _seq_sum(np.zeros(()), x.reshape(-1)) if _EXACT[0] else x.sum()
    k = 1.0 / x.shape[0]
    d = _check(s * k if reduction == "mean" else s, "the batch's loss")

    def back(g):  # d(sum)/dx_i = 1; d(mean)/dx_i = 1/n
        losses._add_grad(np.full(x.shape, k * g if reduction == "mean" else g))

    return Tensor(d, (losses,), reduction, back)
