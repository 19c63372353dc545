"""Optimisers (sgd, momentum, adam) and learning-rate schedules.

Optimisers update Values in place from their .grad; their state is plain lists of
floats so it can be saved in model.json and restored for an exact resume. step_flat()
is the same update on one flat numpy array of all parameters (the tensor engine), with
the same arithmetic in the same order, so both engines move the weights identically.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from microgradcli.engine import Value

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SGD",
    "Adam",
    "Momentum",
    "learning_rate",
    "make_optimizer",
]


class SGD:
    """p -= lr * grad."""

    name = "sgd"

    def __init__(self, params: Sequence[Value]):
        self.params = list(params)

    def step(self, lr: float) -> None:
        for p in self.params:
            p.data -= lr * p.grad

    def step_flat(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        """The same update on flat arrays of every parameter and gradient (p in place)."""
        p -= lr * g

    def state_dict(self) -> dict:
        return {"name": self.name}

    def load_state_dict(self, state: dict) -> None:
        self._check(state)

    def _check(self, state: dict) -> None:
        if state.get("name") != self.name:
            raise ValueError(
                f"the checkpoint's optimizer state is for {state.get('name')!r}, not {self.name!r}"
            )

    def _floats(self, state: dict, key: str) -> list[float]:
        values = [float(v) for v in state[key]]
        if len(values) != len(self.params):
            raise ValueError(
                f"the checkpoint's optimizer state has {len(values)} values for "
                f"{len(self.params)} parameters"
            )
        return values


class Momentum(SGD):
    """Heavy-ball momentum as PyTorch's SGD(momentum=mu): v = mu v + grad; p -= lr v."""

    name = "momentum"

    def __init__(self, params: Sequence[Value], momentum: float = 0.9):
        super().__init__(params)
        self.mu = momentum
        self.v = [0.0] * len(self.params)

    def step(self, lr: float) -> None:
        mu, v = self.mu, self.v
        for i, p in enumerate(self.params):
            vi = mu * v[i] + p.grad
            v[i] = vi
            p.data -= lr * vi

    def step_flat(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        v = self.v = _array(self.v)  # updated in place: v = mu v + g
        v *= self.mu
        v += g
        p -= lr * v

    def state_dict(self) -> dict:
        return {"name": self.name, "v": _plain(self.v)}

    def load_state_dict(self, state: dict) -> None:
        self._check(state)
        self.v = self._floats(state, "v")


class Adam(SGD):
    """Adam (Kingma and Ba) with bias correction."""

    name = "adam"

    def __init__(
        self, params: Sequence[Value], beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ):
        super().__init__(params)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)
        self.t = 0

    def step(self, lr: float) -> None:
        self.t += 1
        b1, b2, eps = self.beta1, self.beta2, self.eps
        c1 = 1.0 - b1**self.t
        c2 = 1.0 - b2**self.t
        m, v = self.m, self.v
        for i, p in enumerate(self.params):
            g = p.grad
            mi = b1 * m[i] + (1.0 - b1) * g
            vi = b2 * v[i] + (1.0 - b2) * g * g
            m[i], v[i] = mi, vi
            p.data -= lr * (mi / c1) / (math.sqrt(vi / c2) + eps)

    def step_flat(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        self.t += 1
        b1, b2, eps = self.beta1, self.beta2, self.eps
        c1 = 1.0 - b1**self.t
        c2 = 1.0 - b2**self.t
        m = self.m = _array(self.m)  # updated in place, in step()'s order of operations
        v = self.v = _array(self.v)
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * g * g
        p -= lr * (m / c1) / (np.sqrt(v / c2) + eps)  # np.sqrt is correctly rounded

    def state_dict(self) -> dict:
        return {"name": self.name, "t": self.t, "m": _plain(self.m), "v": _plain(self.v)}

    def load_state_dict(self, state: dict) -> None:
        self._check(state)
        self.m = self._floats(state, "m")
        self.v = self._floats(state, "v")
        self.t = int(state["t"])


def _array(state) -> np.ndarray:
    """The state as a flat array (a list is copied into a new one, which is then kept)."""
    return state if isinstance(state, np.ndarray) else np.array(state, dtype=np.float64)


def _plain(state) -> list[float]:
    return state.tolist() if isinstance(state, np.ndarray) else list(state)


# The optimisers (train.optimizer): each built from the train section's settings.
OPTIMIZERS: dict[str, Callable[[Any, Sequence[Value]], SGD]] = {
    "sgd": lambda tc, params: SGD(params),
    "momentum": lambda tc, params: Momentum(params, tc.momentum),
    "adam": lambda tc, params: Adam(params, tc.momentum, tc.beta2, tc.eps),
}


def make_optimizer(train_config: Any, params: Sequence[Value]) -> SGD:
    """The optimiser train_config.optimizer names, over params (momentum is adam's beta1)."""
    try:
        build = OPTIMIZERS[train_config.optimizer]
    except KeyError:
        raise ValueError(
            f"unknown optimizer {train_config.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}"
        ) from None
    return build(train_config, params)


# -- learning-rate schedules (train.schedule): the rate at epoch e (0-based) ----------------
def _fraction(tc: Any, epoch: int) -> float:
    """How far through the run epoch is: 0 at the first epoch, 1 at the last."""
    return epoch / (tc.epochs - 1) if tc.epochs > 1 else 0.0


def _constant(tc: Any, epoch: int) -> float:
    return tc.lr


def _linear(tc: Any, epoch: int) -> float:
    frac = _fraction(tc, epoch)
    return tc.lr * (1.0 - frac) + tc.lr_end * frac  # exact at both ends


def _cosine(tc: Any, epoch: int) -> float:
    frac = _fraction(tc, epoch)
    return tc.lr_end + (tc.lr - tc.lr_end) * 0.5 * (1.0 + math.cos(math.pi * frac))


def _step(tc: Any, epoch: int) -> float:
    size = tc.step_size if tc.step_size else max(1, tc.epochs // 4)
    return tc.lr * tc.gamma ** (epoch // size)


SCHEDULES: dict[str, Callable[[Any, int], float]] = {
    "constant": _constant,
    "linear": _linear,
    "cosine": _cosine,
    "step": _step,
}


def learning_rate(train_config: Any, epoch: int) -> float:
    """The learning rate for epoch `epoch` (0-based) of train_config.epochs.

    constant: lr. linear, cosine: from lr at the first epoch to lr_end at the last.
    step: lr * gamma ** (epoch // step_size), step_size defaulting to a quarter of the run.
    """
    try:
        schedule = SCHEDULES[train_config.schedule]
    except KeyError:
        raise ValueError(f"unknown schedule {train_config.schedule!r}") from None
    return schedule(train_config, epoch)
