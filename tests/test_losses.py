"""Losses: values against their formulas, gradients against finite differences and PyTorch."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradcli.engine import Value
from microgradcli.losses import bce, cross_entropy, hinge, l2_penalty, mse, sample_loss, total

H = 1e-6


def numeric(f, z: float) -> float:
    return (f(z + H) - f(z - H)) / (2 * H)


def grad_of(loss_fn, z: float, t) -> tuple[float, float]:
    v = Value(z)
    out = loss_fn(v, t)
    out.backward()
    return out.data, v.grad


@pytest.mark.parametrize("loss_fn", [mse, hinge, bce])
@pytest.mark.parametrize("z", [-3.1, -0.4, 0.3, 2.2])
@pytest.mark.parametrize("t", [-1.0, 0.0, 1.0])
def test_binary_losses_gradient_matches_finite_differences(loss_fn, z, t):
    _, g = grad_of(loss_fn, z, t)
    assert g == pytest.approx(numeric(lambda q: loss_fn(Value(q), t).data, z), abs=1e-6)


def test_loss_values_follow_their_formulas():
    assert mse(Value(0.5), -1.0).data == 2.25
    assert hinge(Value(0.25), 1.0).data == 0.75
    assert hinge(Value(2.0), 1.0).data == 0.0  # margin met: no loss, no gradient
    assert grad_of(hinge, 2.0, 1.0)[1] == 0.0
    assert hinge(Value(0.5), -1.0).data == 1.5
    for z in (-2.0, 0.0, 0.7):
        s = 1 / (1 + math.exp(-z))
        assert bce(Value(z), 1.0).data == pytest.approx(-math.log(s))
        assert bce(Value(z), 0.0).data == pytest.approx(-math.log(1 - s))


def test_bce_is_exact_at_zero_and_stable_far_out():
    assert grad_of(bce, 0.0, 1.0) == (pytest.approx(math.log(2)), -0.5)
    assert grad_of(bce, 0.0, 0.0)[1] == 0.5
    value, g = grad_of(bce, 1000.0, 0.0)
    assert value == 1000.0 and g == 1.0
    value, g = grad_of(bce, -1000.0, 0.0)
    assert value == 0.0 and g == 0.0
    assert grad_of(bce, -800.0, 1.0) == (800.0, -1.0)


@settings(max_examples=30)
@given(
    st.lists(st.floats(-20, 20), min_size=2, max_size=5),
    st.integers(0, 4),
)
def test_cross_entropy_gradient_matches_finite_differences(logits, t):
    t %= len(logits)
    zs = [Value(z) for z in logits]
    out = cross_entropy(zs, t)
    out.backward()
    top = max(logits)
    lse = top + math.log(sum(math.exp(z - top) for z in logits))
    assert out.data == pytest.approx(lse - logits[t], abs=1e-12)
    for i in range(len(logits)):

        def f(q, i=i):
            shifted = list(logits)
            shifted[i] = q
            return cross_entropy([Value(v) for v in shifted], t).data

        assert zs[i].grad == pytest.approx(numeric(f, logits[i]), abs=1e-5)
    assert sum(z.grad for z in zs) == pytest.approx(0.0, abs=1e-12)  # softmax sums to one


def test_cross_entropy_survives_huge_logits():
    zs = [Value(1000.0), Value(-1000.0), Value(999.0)]
    out = cross_entropy(zs, 2)
    out.backward()
    assert out.data == pytest.approx(1.0 + math.log1p(math.exp(-1.0)))
    assert all(math.isfinite(z.grad) for z in zs)


def test_l2_penalty_value_and_gradient():
    ps = [Value(1.5), Value(-2.0), Value(0.0)]
    out = l2_penalty(ps, 0.1)
    out.backward()
    assert out.data == pytest.approx(0.1 * (2.25 + 4.0))
    assert [p.grad for p in ps] == pytest.approx([0.3, -0.4, 0.0])


def test_total_mean_and_sum_and_sample_loss_dispatch():
    zs = [Value(0.0), Value(1.0)]
    losses = [sample_loss("mse", [z], 1.0) for z in zs]
    mean = total(losses, "mean")
    mean.backward()
    assert mean.data == 0.5
    assert [z.grad for z in zs] == [-1.0, 0.0]
    assert total([sample_loss("hinge", [Value(0.0)], 1.0)] * 2, "sum").data == 2.0
    assert sample_loss("cross_entropy", [Value(0.0), Value(0.0)], 1).data == pytest.approx(
        math.log(2)
    )
    with pytest.raises(ValueError, match="unknown loss"):
        sample_loss("l1", zs, 1.0)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    logits = [0.3, -1.2, 2.5, 0.0]
    for t in range(4):
        zs = [Value(v) for v in logits]
        out = cross_entropy(zs, t)
        out.backward()
        tz = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
        ref = F.cross_entropy(tz.unsqueeze(0), torch.tensor([t]))
        ref.backward()
        assert out.data == pytest.approx(ref.item(), rel=1e-12)
        assert [z.grad for z in zs] == pytest.approx(tz.grad.tolist(), rel=1e-9, abs=1e-12)
    for z in (-30.0, -0.5, 0.0, 4.0):
        for t in (0.0, 1.0):
            value, g = grad_of(bce, z, t)
            tz = torch.tensor(z, dtype=torch.float64, requires_grad=True)
            ref = F.binary_cross_entropy_with_logits(tz, torch.tensor(t, dtype=torch.float64))
            ref.backward()
            assert value == pytest.approx(ref.item(), rel=1e-12, abs=1e-12)
            assert g == pytest.approx(tz.grad.item(), rel=1e-9, abs=1e-15)
