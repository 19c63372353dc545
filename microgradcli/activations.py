"""The activations, one entry each: the Value method (the scalar engine, with its
derivative), the float function (graph-free prediction), the numpy function (many rows
at once) and the Tensor method (the tensor engine, with its derivative) side by side.

`model.activation` and `model.output_activation` take their choices from this table, and
tests/test_registries.py runs every entry through every column, so a new activation is one
entry here and a forgotten column fails a test instead of predicting with another function.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from operator import methodcaller
from typing import Any

from microgradcli.engine import Value, sigmoid

__all__ = ["ACTIVATIONS", "HIDDEN", "OUTPUT", "Activation", "lookup"]


@dataclass(frozen=True)
class Activation:
    """One activation in every form the engines need; `output` says whether an output
    layer may use it."""

    name: str
    value: Callable[[Value], Value]
    float: Callable[[float], float]
    numpy: Callable[[Any], Any]
    tensor: Callable[[Any], Any]  # a tensor.Tensor to a Tensor (named here: no numpy import)
    output: bool = True


def _identity(x: Any) -> Any:
    return x


def _relu(x: float) -> float:
    return x if x > 0.0 else 0.0


def _relu_np(z: Any) -> Any:
    import numpy as np

    return np.where(z > 0.0, z, 0.0)


def _tanh_np(z: Any) -> Any:
    import numpy as np

    return np.tanh(z)


def _sigmoid_np(z: Any) -> Any:
    import numpy as np

    # engine.sigmoid's two forms, so exp never sees a positive argument
    e = np.exp(-np.abs(z))
    return np.where(z >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("tanh", Value.tanh, math.tanh, _tanh_np, methodcaller("tanh")),
        Activation("relu", Value.relu, _relu, _relu_np, methodcaller("relu"), output=False),
        Activation("sigmoid", Value.sigmoid, sigmoid, _sigmoid_np, methodcaller("sigmoid")),
        Activation("linear", _identity, _identity, _identity, _identity),
    )
}
HIDDEN = tuple(ACTIVATIONS)  # the model.activation choices
OUTPUT = tuple(n for n, a in ACTIVATIONS.items() if a.output)  # model.output_activation


def lookup(name: str) -> Activation:
    """The registered activation of that name, or a ValueError listing the choices."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}"
        ) from None
