"""The tensor engine against the scalar engine (bit for bit in exact mode), PyTorch float64
and central finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradcli import tensor as T
from microgradcli.activations import ACTIVATIONS, lookup
from microgradcli.engine import Value, dense, vsum
from microgradcli.errors import MathDomainError
from microgradcli.losses import bce, cross_entropy, hinge, l2_penalty, mse
from microgradcli.tensor import Tensor

# -- the scalar reference: one Value per element, created in row-major order ------------------


def values(a: np.ndarray) -> np.ndarray:
    out = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(a.shape):
        out[idx] = Value(float(a[idx]))
    return out


def scalar_binop(a: np.ndarray, b: np.ndarray, op) -> np.ndarray:
    shape = np.broadcast_shapes(a.shape, b.shape)
    ab, bb = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        out[idx] = op(ab[idx], bb[idx])
    return out


def scalar_unary(a: np.ndarray, name: str) -> np.ndarray:
    out = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(a.shape):
        out[idx] = getattr(a[idx], name)()
    return out


def data_of(a: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda v: v.data, otypes=[float])(a)


def grad_of(a: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda v: v.grad, otypes=[float])(a)


def bits(a) -> list:
    return np.asarray(a, dtype=np.float64).ravel().view(np.uint64).tolist()


BINOPS = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
}
UNARY = ("tanh", "sigmoid", "relu", "exp")

shapes = st.sampled_from(
    [
        ((3, 4), (4,)),
        ((3, 1), (1, 4)),
        ((2, 3, 4), (3, 1)),
        ((5,), ()),
        ((4, 3), (4, 3)),
        ((1,), (3, 2)),
    ]
)


@given(
    shapes,
    st.sampled_from(sorted(BINOPS)),
    st.sampled_from(UNARY),
    st.sampled_from(sorted(BINOPS)),
    st.integers(0, 2**32 - 1),
)
def test_random_graphs_match_the_scalar_engine_bit_for_bit(pair, op1, fn, op2, seed):
    # f = sum(g(a op1 b) op2 a): a and b broadcast, a is used twice.
    rng = np.random.default_rng(seed)
    sa, sb = pair
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    ta, tb = Tensor(a), Tensor(b)
    f = BINOPS[op2](getattr(BINOPS[op1](ta, tb), fn)(), ta).sum()
    f.backward()
    va, vb = values(a), values(b)
    inner = scalar_unary(scalar_binop(va, vb, BINOPS[op1]), fn)
    outer = scalar_binop(inner, va, BINOPS[op2])
    s = vsum(outer.ravel().tolist())
    s.backward()
    assert bits(f.data) == bits(s.data)
    assert bits(ta.grad) == bits(grad_of(va))
    assert bits(tb.grad) == bits(grad_of(vb))


def test_division_power_log_mean_match_the_scalar_engine():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.5, 2.0, size=(3, 4)), rng.uniform(0.5, 2.0, size=(4,))
    ta, tb = Tensor(a), Tensor(b)
    f = ((ta / tb).log() + ta**1.5 + tb**ta).mean()
    f.backward()
    va, vb = values(a), values(b)
    # op by op over all elements, as the tensor graph is built (not element by element)
    q = scalar_unary(scalar_binop(va, vb, lambda x, y: x / y), "log")
    q = scalar_binop(q, scalar_binop(va, np.array(1.5), lambda x, k: x**k), BINOPS["+"])
    q = scalar_binop(q, scalar_binop(vb, va, lambda y, x: y**x), BINOPS["+"])
    s = vsum(q.ravel().tolist()) * (1.0 / q.size)
    s.backward()
    assert bits(f.data) == bits(s.data)
    assert bits(ta.grad) == bits(grad_of(va)) and bits(tb.grad) == bits(grad_of(vb))


def test_sum_over_an_axis_adds_left_to_right():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(6, 5, 3)) * 10.0 ** rng.integers(-8, 8, size=(6, 5, 3))
    for axis in (0, 1, 2):
        got = Tensor(a).sum(axis=axis).data
        moved = np.moveaxis(a, axis, 0)
        want = np.zeros(moved.shape[1:])
        for row in moved:
            want = want + row
        assert bits(got) == bits(want)


def test_numpy_sum_over_axis_0_adds_rows_one_after_another():
    # Not documented by numpy, measured: a reduction over the outer axis of a C-contiguous
    # array adds whole rows in order (the pairwise sum is only used along the inner axis).
    # The exact mode uses np.add.accumulate, which is sequential by definition; this pins
    # the behaviour the issue measured, in case a future numpy changes it.
    # Rows of a single number are summed pairwise, which is why tensor._rows_sum sends
    # those through add.accumulate.
    rng = np.random.default_rng(5)
    for shape in [(300, 7), (9, 2), (1000, 3, 1), (101, 16, 16), (65, 100, 10), (4001, 2)]:
        a = rng.normal(size=shape) * 10.0 ** rng.integers(-10, 10, size=shape)
        want = np.zeros(shape[1:])
        for row in a:
            want = want + row
        assert bits(a.sum(axis=0)) == bits(want), shape
        assert bits(T._rows_sum(a)) == bits(want)
    a = rng.normal(size=(1000, 1)) * 10.0 ** rng.integers(-10, 10, size=(1000, 1))
    want = np.zeros(1)
    for row in a:
        want = want + row
    assert bits(T._rows_sum(a)) == bits(want)


@pytest.mark.parametrize(("n", "k", "m"), [(3, 5, 4), (40, 30, 35)])
def test_matmul_is_a_chain_of_scalar_dots(n, k, m):
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(n, k)), rng.normal(size=(k, m))
    ta, tb = Tensor(a), Tensor(b)
    f = (ta @ tb).tanh().sum()
    f.backward()
    va, vb = values(a), values(b)
    outs = [
        vsum([va[i, q] * vb[q, j] for q in range(k)]).tanh() for i in range(n) for j in range(m)
    ]
    s = vsum(outs)
    s.backward()
    assert bits(f.data) == bits(s.data)
    assert bits(ta.grad) == bits(grad_of(va)) and bits(tb.grad) == bits(grad_of(vb))


@pytest.mark.parametrize("size", [(6, 5, 4), (70, 24, 30)])  # products at once / row by row
@pytest.mark.parametrize("hidden_input", [False, True])
@pytest.mark.parametrize(
    "layer",  # the fused node of each activation, and linear then the activation's own node
    ["relu", "tanh", "sigmoid", "linear", "linear().relu", "linear().tanh"],
)
def test_a_layer_is_engine_dense_for_every_row(layer, hidden_input, size):
    rng = np.random.default_rng(7)
    n, k, m = size
    x, w, b = rng.normal(size=(n, k)), rng.normal(size=(m, k)), rng.normal(size=m)
    tw, tb = Tensor(w), Tensor(b)
    tx = Tensor(x) if hidden_input else x
    act = layer.split(".")[-1]
    if layer.startswith("linear()"):
        out = getattr(T.linear(tx, tw, tb), act)().sum()
    else:
        out = T.dense(tx, tw, tb, act).sum()
    out.backward()
    vw, vb, vx = values(w), values(b), values(x)
    rows = []
    for i in range(n):
        xi = list(vx[i]) if hidden_input else x[i].tolist()
        rows += [lookup(act).value(v) for v in dense(vw.tolist(), list(vb), xi)]
    s = vsum(rows)
    s.backward()
    assert bits(out.data) == bits(s.data)
    assert bits(tw.grad) == bits(grad_of(vw)) and bits(tb.grad) == bits(grad_of(vb))
    if hidden_input:
        assert bits(tx.grad) == bits(grad_of(vx))


# -- losses ------------------------------------------------------------------------------------------
def _targets(name, n, rng):
    if name == "cross_entropy":
        return rng.integers(0, 3, size=n)
    if name == "hinge":
        return rng.choice([-1.0, 1.0], size=n)
    if name == "bce":
        return rng.choice([0.0, 1.0], size=n)
    return rng.normal(size=n)


SCALAR_LOSS = {"mse": mse, "hinge": hinge, "bce": bce}


@pytest.mark.parametrize("name", ["mse", "hinge", "bce", "cross_entropy"])
def test_losses_match_the_scalar_losses_bit_for_bit(name):
    rng = np.random.default_rng(8)
    z = rng.normal(size=(9, 3 if name == "cross_entropy" else 1)) * 3.0
    t = _targets(name, 9, rng)
    tz = Tensor(z)
    obj = T.total(getattr(T, name)(tz, t)) + T.l2_penalty([tz], 0.01)
    obj.backward()
    vz = values(z)
    if name == "cross_entropy":
        per = [cross_entropy(list(vz[i]), int(t[i])) for i in range(9)]
    else:
        per = [SCALAR_LOSS[name](vz[i, 0], float(t[i])) for i in range(9)]
    s = vsum(per) * (1.0 / 9) + l2_penalty(vz.ravel().tolist(), 0.01)
    s.backward()
    assert bits(obj.data) == bits(s.data)
    assert bits(tz.grad) == bits(grad_of(vz))


# -- PyTorch float64 and finite differences, in both modes ---------------------------------------
CASES = {
    "add_mul_broadcast": lambda a, b: ((a * b) + a - b).sum(),
    "div": lambda a, b: (a / (b * b + 1.0)).sum(),
    "pow": lambda a, b: ((a * a + 1.0) ** 1.5).sum() + ((b * b + 1.0) ** -0.5).sum(),
    "matmul": lambda a, b: (a @ b.reshape(4, 1)).tanh().sum(),
    "mean_axis": lambda a, b: (a.mean(axis=0) * b).sum() + a.sum(axis=1).exp().sum(),
    "exp_log": lambda a, b: ((a * 0.5).exp() + (b * b + 0.5).log()).sum(),
    "sigmoid_relu": lambda a, b: (a.sigmoid() * b.relu()).sum(),
    "transpose": lambda a, b: (a.T * b.reshape(4, 1)).tanh().sum(),
}


def _inputs():
    rng = np.random.default_rng(9)
    return rng.normal(size=(3, 4)), rng.normal(size=(4,))


def _torch_grads(torch, case, a, b):
    ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)

    f = case(_TorchView(ta), _TorchView(tb)).t
    f.backward()
    return f.item(), ta.grad.numpy(), tb.grad.numpy()


class _TorchView:
    """A torch tensor spelled like a Tensor for CASES (mean/sum axis=, relu, sigmoid)."""

    def __init__(self, t):
        self.t = t

    def _w(self, r):
        return _TorchView(r)

    def __add__(self, o):
        return self._w(self.t + _raw(o))

    __radd__ = __add__

    def __sub__(self, o):
        return self._w(self.t - _raw(o))

    def __mul__(self, o):
        return self._w(self.t * _raw(o))

    __rmul__ = __mul__

    def __truediv__(self, o):
        return self._w(self.t / _raw(o))

    def __pow__(self, k):
        return self._w(self.t**k)

    def __matmul__(self, o):
        return self._w(self.t @ _raw(o))

    @property
    def T(self):
        return self._w(self.t.T)

    def reshape(self, *s):
        return self._w(self.t.reshape(*s))

    def sum(self, axis=None):
        return self._w(self.t.sum() if axis is None else self.t.sum(dim=axis))

    def mean(self, axis=None):
        return self._w(self.t.mean() if axis is None else self.t.mean(dim=axis))

    def exp(self):
        return self._w(self.t.exp())

    def log(self):
        return self._w(self.t.log())

    def tanh(self):
        return self._w(self.t.tanh())

    def sigmoid(self):
        return self._w(self.t.sigmoid())

    def relu(self):
        return self._w(self.t.relu())


def _raw(o):
    return o.t if isinstance(o, _TorchView) else o


def _ours(case, a, b, exact):
    with T.exact(exact):
        ta, tb = Tensor(a), Tensor(b)
        f = case(ta, tb)
        f.backward()
    return float(f.data), ta.grad, tb.grad


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("name", sorted(CASES))
def test_ops_match_pytorch_float64(name, exact):
    torch = pytest.importorskip("torch")
    a, b = _inputs()
    want = _torch_grads(torch, CASES[name], a, b)
    got = _ours(CASES[name], a, b, exact)
    assert got[0] == pytest.approx(want[0], rel=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(CASES))
def test_ops_match_central_finite_differences(name):
    a, b = _inputs()
    _, ga, gb = _ours(CASES[name], a, b, True)
    h = 1e-6
    for x, g, is_a in ((a, ga, True), (b, gb, False)):
        for idx in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[idx] += h
            down[idx] -= h
            args_up = (up, b) if is_a else (a, up)
            args_down = (down, b) if is_a else (a, down)
            fd = (
                _ours(CASES[name], *args_up, True)[0] - _ours(CASES[name], *args_down, True)[0]
            ) / (2 * h)
            assert g[idx] == pytest.approx(fd, rel=1e-5, abs=1e-7), (name, idx)


@pytest.mark.parametrize("name", ["mse", "hinge", "bce", "cross_entropy"])
@pytest.mark.parametrize("exact", [True, False])
def test_losses_match_pytorch_float64(name, exact):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(10)
    z = rng.normal(size=(8, 4 if name == "cross_entropy" else 1)) * 2.0
    t = _targets(name, 8, rng)
    with T.exact(exact):
        tz = Tensor(z)
        f = T.total(getattr(T, name)(tz, t))
        f.backward()
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    tt = torch.tensor(t)
    if name == "cross_entropy":
        ref = F.cross_entropy(zt, tt.long())
    elif name == "bce":
        ref = F.binary_cross_entropy_with_logits(zt[:, 0], tt.double())
    elif name == "mse":
        ref = ((zt[:, 0] - tt) ** 2).mean()
    else:
        ref = torch.relu(1.0 - tt * zt[:, 0]).mean()
    ref.backward()
    assert float(f.data) == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(tz.grad, zt.grad.numpy(), rtol=1e-12, atol=1e-15)


# -- the domain-error policy: a MathDomainError naming the op, never a silent nan ---------------
@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Tensor([1.0, 0.0]).log(), "log"),
        (lambda: Tensor([1.0, -2.0]).log(), "log"),
        (lambda: Tensor([1.0, 800.0]).exp(), "exp"),
        (lambda: Tensor([-1.0]) ** 0.5, "negative base"),
        (lambda: Tensor([0.0]) ** -1.0, "division by zero"),
        (lambda: Tensor([1.0]) / 0.0, "division by zero"),
        (lambda: Tensor([1e308]) * 10.0, "overflow in *"),
        (lambda: Tensor([1e308]) + 1e308, "overflow in +"),
        (lambda: Tensor([-1.0]) ** Tensor([2.0]), "positive base"),
    ],
)
def test_domain_errors_name_the_op(make, words):
    for exact in (True, False):
        with T.exact(exact), pytest.raises(MathDomainError, match=words):
            make()


def test_the_finiteness_check_looks_at_every_element_not_only_their_sum():
    for exact in (True, False):
        with T.exact(exact):
            big = Tensor([1e308, 1e308, -1.0]) * 1.0  # finite, though their sum is not
            assert big.data.tolist() == [1e308, 1e308, -1.0]
            with pytest.raises(MathDomainError, match="overflow in [*]"):
                Tensor([1e308, -1e308, 1.0]) * 10.0  # sum nan, elements infinite
            # relu would turn the -inf into 0 (a finite loss): still an error, at once
            with pytest.raises(MathDomainError, match="overflow in a neuron's w·x [+] b"):
                with np.errstate(over="ignore"):  # (numpy's warning; train_step silences it)
                    T.dense([[1e300]], Tensor([[-1e300]]), Tensor([0.0]), "relu")


def test_every_activation_has_a_tensor_form():
    assert sorted(T.ACTIVATIONS) == sorted(ACTIVATIONS)


def test_backward_has_no_depth_limit_and_accumulates_leaf_gradients():
    x = Tensor([0.5, -0.25])
    y = x
    for _ in range(5000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_fast_mode_is_close_to_exact_mode():
    rng = np.random.default_rng(11)
    x, w, b = rng.normal(size=(50, 30)), rng.normal(size=(20, 30)), rng.normal(size=20)
    got = {}
    for exact in (True, False):
        with T.exact(exact):
            tw, tb = Tensor(w), Tensor(b)
            f = T.total(T.cross_entropy(T.linear(x, tw, tb).tanh(), np.arange(50) % 20))
            f.backward()
            got[exact] = (float(f.data), tw.grad.copy())
    assert got[False][0] == pytest.approx(got[True][0], rel=1e-13)
    np.testing.assert_allclose(got[False][1], got[True][1], rtol=1e-10, atol=1e-15)
    assert math.isfinite(got[True][0])


# -- the optimisers on flat arrays ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_step_flat_is_step_bit_for_bit_and_state_dict_a_snapshot(name):
    from types import SimpleNamespace

    from microgradcli.optim import make_optimizer

    tc = SimpleNamespace(optimizer=name, momentum=0.9, beta2=0.999, eps=1e-8)
    rng = np.random.default_rng(3)
    flat = rng.normal(size=7)
    params = [Value(v) for v in flat.tolist()]
    on_values, on_flat = make_optimizer(tc, params), make_optimizer(tc, list(params))
    snapshots = []
    for _ in range(3):
        g = rng.normal(size=7)
        for p, gi in zip(params, g.tolist(), strict=True):
            p.grad = gi
        on_values.step(0.1)
        on_flat.step_flat(flat, g, 0.1)  # its state is updated in place
        snapshots.append((on_flat.state_dict(), on_values.state_dict()))
    assert bits(flat) == bits([p.data for p in params])
    for flat_state, value_state in snapshots:  # each taken then, not a view of the state now
        assert flat_state == value_state
