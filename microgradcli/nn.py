"""Neurons, layers and multi-layer perceptrons built on the scalar engine."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from operator import mul

from microgradcli.activations import ACTIVATIONS, Activation, lookup
from microgradcli.engine import Value, dense, lsum

__all__ = ["ACTIVATIONS", "INITS", "Layer", "MLP", "Module", "Neuron"]

Weights = tuple[list[float], float]


def _uniform(rng: random.Random, nin: int, nout: int) -> Weights:
    """micrograd's U(-1, 1), bias too as in the lecture."""
    w = [rng.uniform(-1, 1) for _ in range(nin)]
    return w, rng.uniform(-1, 1)


def _xavier(rng: random.Random, nin: int, nout: int) -> Weights:
    """Glorot uniform: keeps the variance across layers for tanh."""
    a = math.sqrt(6.0 / (nin + nout))
    return [rng.uniform(-a, a) for _ in range(nin)], 0.0


def _he(rng: random.Random, nin: int, nout: int) -> Weights:
    """He normal: keeps the variance across layers for relu."""
    s = math.sqrt(2.0 / nin)
    return [rng.gauss(0.0, s) for _ in range(nin)], 0.0


# The weight inits (model.init): one neuron's (weights, bias) from a seeded generator.
INITS: dict[str, Callable[[random.Random, int, int], Weights]] = {
    "uniform": _uniform,
    "xavier": _xavier,
    "he": _he,
}


class Module:
    """Something with parameters."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """act(w·x + b) for one output."""

    def __init__(
        self,
        nin: int,
        activation: str = "relu",
        init: str = "uniform",
        rng: random.Random | None = None,
        nout: int = 1,
        name: str = "N",
    ):
        lookup(activation)
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; expected one of {', '.join(INITS)}")
        rng = rng if rng is not None else random.Random(0)
        w, b = INITS[init](rng, nin, nout)
        self.w = [Value(wi) for wi in w]
        self.b = Value(b)
        for i, wi in enumerate(self.w, 1):
            wi.label = f"{name}.w{i}"
        self.b.label = f"{name}.b"
        self.activation = activation

    def __call__(self, x: Sequence) -> Value:
        """act(b + w1*x1 + ...), built node by node as in the lecture (drawing, teaching;
        Layer's fused path computes the same numbers as one node per neuron)."""
        act = self.b
        for wi, xi in zip(self.w, x, strict=True):
            act = act + wi * xi  # b + w1*x1 + ...: drawn in reading order
        return lookup(self.activation).value(act)

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, {self.activation})"


class Layer(Module):
    """nout neurons reading the same inputs; always returns a list, even of one."""

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "relu",
        init: str = "uniform",
        rng: random.Random | None = None,
        name: str = "L",
    ):
        rng = rng if rng is not None else random.Random(0)
        self.neurons = [
            Neuron(nin, activation, init, rng, nout=nout, name=f"{name}.N{j}")
            for j in range(1, nout + 1)
        ]
        self.nin, self.nout, self.activation = nin, nout, activation
        # the same Value objects as the neurons hold (updated in place), gathered once
        self._ws = [n.w for n in self.neurons]
        self._bs = [n.b for n in self.neurons]

    @property
    def activation(self) -> str:
        return self.act.name

    @activation.setter
    def activation(self, name: str) -> None:
        self.act: Activation = lookup(name)  # the registry entry, looked up once

    def __call__(self, x: Sequence, fused: bool = True) -> list[Value]:
        """The layer's outputs: one w·x+b node per neuron (fused, for training), or the
        lecture's graph of every multiply and add (fused=False, for drawing)."""
        if not fused:
            return [n(x) for n in self.neurons]
        acts = dense(self._ws, self._bs, x)
        act = self.act.value
        return [act(a) for a in acts]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer({self.nin} -> {self.nout}, {self.activation})"


class MLP(Module):
    """A multi-layer perceptron: nin inputs, then one layer per entry of nouts."""

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        output_activation: str = "linear",
        init: str = "uniform",
        rng: random.Random | None = None,
    ):
        if nin < 1 or not nouts or any(n < 1 for n in nouts):
            raise ValueError(f"layer sizes must be positive, got nin={nin}, nouts={list(nouts)}")
        for name in (activation, output_activation):
            lookup(name)  # a ValueError naming the choices, before any weight is drawn
        rng = rng if rng is not None else random.Random(0)
        sizes = [nin, *nouts]
        last = len(nouts) - 1
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                output_activation if i == last else activation,
                init,
                rng,
                name=f"L{i + 1}",
            )
            for i in range(len(nouts))
        ]
        self.nin, self.nouts = nin, list(nouts)
        self.activation, self.output_activation, self.init = activation, output_activation, init

    def __call__(self, x: Sequence, fused: bool = True) -> list[Value]:
        """The outputs for one input row, as a list (of one value for one output)."""
        if len(x) != self.nin:
            raise ValueError(f"expected {self.nin} inputs, got {len(x)}")
        for layer in self.layers:
            x = layer(x, fused)
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def forward_floats(self, rows: Sequence[Sequence[float]]) -> list[list[float]]:
        """The outputs for many rows as plain numbers: no graph is built (for metrics and
        prediction), with the fused path's arithmetic, so the numbers are the same."""
        layers = [
            (
                [[w.data for w in ws] for ws in layer._ws],
                [b.data for b in layer._bs],
                layer.act.float,
            )
            for layer in self.layers
        ]
        outs = []
        for x in rows:
            for ws, bs, act in layers:
                x = [act(lsum(map(mul, w, x), b)) for w, b in zip(ws, bs, strict=True)]
            outs.append(x)
        return outs

    def state_dict(self) -> dict:
        """The architecture and weights as plain JSON-able data."""
        return {
            "nin": self.nin,
            "nouts": list(self.nouts),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "init": self.init,
            "layers": [
                [{"w": [wi.data for wi in n.w], "b": n.b.data} for n in layer.neurons]
                for layer in self.layers
            ],
        }

    def load_state_dict(self, state: dict) -> None:
        """Set the weights from state_dict() data; the architecture must match."""
        layers = state["layers"]
        if [len(layer) for layer in layers] != self.nouts:
            raise ValueError(
                f"state has layers of sizes {[len(layer) for layer in layers]}, model has {self.nouts}"
            )
        for layer, saved in zip(self.layers, layers, strict=True):
            for n, s in zip(layer.neurons, saved, strict=True):
                if len(s["w"]) != len(n.w):
                    raise ValueError(
                        f"state has a neuron with {len(s['w'])} weights, model has {len(n.w)}"
                    )
                for wi, v in zip(n.w, s["w"], strict=True):
                    wi.data = float(v)
                n.b.data = float(s["b"])

    @classmethod
    def from_state_dict(cls, state: dict) -> MLP:
        """A new MLP with the architecture and weights of state_dict() data."""
        model = cls(
            state["nin"],
            state["nouts"],
            state["activation"],
            state["output_activation"],
            state.get("init", "uniform"),
        )
        model.load_state_dict(state)
        return model

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"MLP({self.nin} -> {' -> '.join(map(str, self.nouts))}: [{inner}])"
