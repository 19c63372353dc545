"""Neurons, layers and multi-layer perceptrons built on the scalar engine."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from operator import mul

from microgradcli.engine import Value, dense, dot, lsum, sigmoid

__all__ = ["ACTIVATIONS", "INITS", "Layer", "MLP", "Module", "Neuron"]

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
INITS = ("uniform", "xavier", "he")


def activate(v: Value, activation: str) -> Value:
    """Apply a named activation to one value ('linear' returns it unchanged)."""
    if activation == "linear":
        return v
    if activation == "relu":
        return v.relu()
    if activation == "tanh":
        return v.tanh()
    if activation == "sigmoid":
        return v.sigmoid()
    raise ValueError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")


def activate_float(x: float, activation: str) -> float:
    """The same activation on a plain number, with the engine's arithmetic."""
    if activation == "linear":
        return x
    if activation == "relu":
        return x if x > 0.0 else 0.0
    if activation == "tanh":
        return math.tanh(x)
    return sigmoid(x)


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
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}"
            )
        rng = rng if rng is not None else random.Random(0)
        if init == "uniform":  # micrograd's U(-1, 1), bias too as in the lecture
            self.w = [Value(rng.uniform(-1, 1)) for _ in range(nin)]
            self.b = Value(rng.uniform(-1, 1))
        elif init == "xavier":  # Glorot uniform: keeps the variance across layers for tanh
            a = math.sqrt(6.0 / (nin + nout))
            self.w = [Value(rng.uniform(-a, a)) for _ in range(nin)]
            self.b = Value(0.0)
        elif init == "he":  # He normal: keeps the variance across layers for relu
            s = math.sqrt(2.0 / nin)
            self.w = [Value(rng.gauss(0.0, s)) for _ in range(nin)]
            self.b = Value(0.0)
        else:
            raise ValueError(f"unknown init {init!r}; expected one of {', '.join(INITS)}")
        for i, wi in enumerate(self.w, 1):
            wi.label = f"{name}.w{i}"
        self.b.label = f"{name}.b"
        self.activation = activation

    def __call__(self, x: Sequence, fused: bool = True) -> Value:
        """The neuron's output; fused=False builds w·x + b node by node, for drawing."""
        if fused:
            act = dot(self.w, x, self.b)
        else:
            act = self.b
            for wi, xi in zip(self.w, x, strict=True):
                act = act + wi * xi  # b + w1*x1 + ...: drawn in reading order
        return activate(act, self.activation)

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

    def __call__(self, x: Sequence, fused: bool = True) -> list[Value]:
        if not fused:
            return [n(x, fused=False) for n in self.neurons]
        acts = dense(self._ws, self._bs, x)
        if self.activation == "linear":
            return acts
        act = getattr(Value, self.activation)  # relu, tanh or sigmoid
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
        for act in (activation, output_activation):
            if act not in ACTIVATIONS:
                raise ValueError(
                    f"unknown activation {act!r}; expected one of {', '.join(ACTIVATIONS)}"
                )
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
                layer.activation,
            )
            for layer in self.layers
        ]
        outs = []
        for x in rows:
            for ws, bs, act in layers:
                x = [
                    activate_float(lsum(map(mul, w, x), b), act)
                    for w, b in zip(ws, bs, strict=True)
                ]
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
