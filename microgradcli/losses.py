"""Loss functions on the engine's Values, one node per sample.

Each per-sample loss is a single node that stores its value and its local derivatives
side by side, like the engine's own ops. Why not compose them from primitives: one node
is exact where the composition is not (the log-sum-exp and the stable bce form use
max and |z|, whose kinks at 0 would give a wrong gradient there), cannot overflow, and
costs a handful of nodes less per sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from microgradcli.engine import Value, sigmoid, vsum
from microgradcli.errors import MathDomainError

__all__ = ["LOSSES", "bce", "cross_entropy", "hinge", "l2_penalty", "mse", "sample_loss", "total"]


def mse(z: Value, t: float) -> Value:
    """(z - t)**2."""
    r = z.data - t
    # d/dz (z - t)**2 = 2 (z - t)
    return Value(r * r, (z,), "mse", (2.0 * r,))


def hinge(z: Value, t: float) -> Value:
    """micrograd's max-margin loss relu(1 - t z), labels t = +-1."""
    m = 1.0 - t * z.data
    # d/dz relu(1 - t z) = -t where the margin is violated, 0 elsewhere
    if m > 0.0:
        return Value(m, (z,), "hinge", (-t,))
    return Value(0.0, (z,), "hinge", (0.0,))


def bce(z: Value, t: float) -> Value:
    """Binary cross-entropy on a logit z, labels t = 0/1: -[t log s(z) + (1-t) log(1-s(z))]."""
    x = z.data
    # The stable form max(z, 0) - z t + log(1 + e^-|z|): exp never sees a positive argument.
    loss = max(x, 0.0) - x * t + math.log1p(math.exp(-abs(x)))
    # d/dz = sigmoid(z) - t
    return Value(loss, (z,), "bce", (sigmoid(x) - t,))


def cross_entropy(zs: Sequence[Value], t: int) -> Value:
    """-log softmax(z)[t] for logits zs and a class index t, via log-sum-exp."""
    data = [z.data for z in zs]
    top = max(data)
    exps = [math.exp(d - top) for d in data]  # every argument <= 0: no overflow
    total_exp = math.fsum(exps)
    lse = top + math.log(total_exp)
    # d/dz_i = softmax_i - [i == t]
    local = tuple(e / total_exp - (1.0 if i == t else 0.0) for i, e in enumerate(exps))
    return Value(lse - data[t], tuple(zs), "xent", local)


# The losses (train.loss): each takes one sample's outputs and its encoded target.
LOSSES: dict[str, Callable[[Sequence[Value], object], Value]] = {
    "mse": lambda outs, t: mse(outs[0], t),
    "hinge": lambda outs, t: hinge(outs[0], t),
    "bce": lambda outs, t: bce(outs[0], t),
    "cross_entropy": cross_entropy,
}


def sample_loss(loss: str, outs: Sequence[Value], target) -> Value:
    """The named loss of one sample's outputs against its encoded target."""
    try:
        fn = LOSSES[loss]
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}") from None
    return fn(outs, target)


def l2_penalty(params: Sequence[Value], alpha: float) -> Value:
    """alpha * sum(p**2) as one node (d/dp = 2 alpha p)."""
    data = [p.data for p in params]
    s = alpha * math.fsum(d * d for d in data)
    if s - s != 0.0:
        raise MathDomainError("overflow in the L2 penalty: the weights are not finite")
    return Value(s, tuple(params), "l2", tuple(2.0 * alpha * d for d in data))


def total(losses: Sequence[Value], reduction: str = "mean") -> Value:
    """The batch's loss: the mean (or sum) of the per-sample losses."""
    s = vsum(losses)
    if reduction == "sum":
        return s
    return s * (1.0 / len(losses))
