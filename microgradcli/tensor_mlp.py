"""The MLP of nn.py on the tensor engine: one weight matrix and one bias vector a layer.

`TensorMLP(model)` reads the weights of an `nn.MLP` into one flat float64 array in
the order of `model.parameters()` (layer by layer, neuron by neuron, its weights then
its bias), so an optimiser's flat state lines up with the scalar engine's lists, and
writes them back with `push()` for checkpoints. The layers' gradients are views into one
flat array in the same order, which the optimiser updates from in place. A layer is one
`tensor.dense` node (its activation of b + x @ W.T) for what the scalar engine builds as
two nodes per neuron per sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from microgradcli import tensor as T
from microgradcli.errors import MathDomainError
from microgradcli.nn import MLP
from microgradcli.tasks import Task
from microgradcli.tensor import Tensor

__all__ = ["TensorMLP", "forward_rows", "objective", "train_step"]

CHUNK = 256  # rows per forward call when no graph is kept (bounds exact mode's memory)


class TensorMLP:
    """An MLP's weights as Tensors that are views into one flat parameter array."""

    def __init__(self, model: MLP):
        self.model = model
        self.params = model.parameters()
        self.flat = np.fromiter((p.data for p in self.params), np.float64, len(self.params))
        self.grad = np.zeros_like(self.flat)
        self.all = _leaf(self.flat, self.grad)  # every parameter at once (for L2)
        self.layers: list[tuple[Tensor, Tensor, str]] = []
        offset = 0
        for layer in model.layers:
            nout, nin = layer.nout, layer.nin
            span = slice(offset, offset + nout * (nin + 1))
            block = self.flat[span].reshape(nout, nin + 1)  # a neuron's weights, then its bias
            grad = self.grad[span].reshape(nout, nin + 1)
            w, b = _leaf(block[:, :nin], grad[:, :nin]), _leaf(block[:, nin], grad[:, nin])
            self.layers.append((w, b, layer.activation))
            offset += nout * (nin + 1)

    def pull(self) -> None:
        """Read the weights from the MLP's Values (after they were loaded or restored)."""
        self.flat[:] = [p.data for p in self.params]

    def push(self) -> None:
        """Write the weights into the MLP's Values (for checkpoints and the scalar path)."""
        for p, v in zip(self.params, self.flat.tolist(), strict=True):
            p.data = v

    def zero_grad(self) -> None:
        self.grad.fill(0.0)  # every layer's gradient, through the views

    def __call__(self, x) -> Tensor:
        """The outputs (n, nout) for input rows x (n, nin), with the graph."""
        h = x
        for w, b, act in self.layers:
            h = T.dense(h, w, b, act)
        return h

    def forward(self, x) -> np.ndarray:
        """The outputs for many rows as an array, in chunks, without a graph (or checks:
        as MLP.forward_floats, an overflow gives inf or nan)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.model.nin)
        layers = [(w.data, b.data, act) for w, b, act in self.layers]
        parts = [T.forward_data(x[i : i + CHUNK], layers) for i in range(0, len(x), CHUNK)]
        return np.concatenate(parts) if parts else np.zeros((0, self.model.nouts[-1]))


def _leaf(data: np.ndarray, grad: np.ndarray) -> Tensor:
    """A parameter Tensor on views: backward adds into grad in place."""
    t = Tensor(data)
    t.grad = grad
    return t


def sample_losses(loss: str, z: Tensor, targets) -> Tensor:
    """The named loss per sample (a vector), as losses.sample_loss for one sample: tensor.py
    has a function of each name in losses.LOSSES (tests/test_registries.py trains each)."""
    return getattr(T, loss)(z, targets)


def objective(
    net: TensorMLP, x: np.ndarray, targets: np.ndarray, loss: str, reduction: str, l2: float
) -> tuple[Tensor, Tensor, Tensor]:
    """A step's graph: (outputs, data loss, data loss + the L2 penalty on every weight)."""
    z = net(x)
    data_loss = T.total(sample_losses(loss, z, targets), reduction)
    obj = data_loss + T.l2_penalty([net.all], l2) if l2 else data_loss
    return z, data_loss, obj


def train_step(
    net: TensorMLP,
    x: np.ndarray,
    targets: np.ndarray,
    *,
    loss: str,
    reduction: str,
    l2: float,
    optimizer,
    lr: float,
    task: Task,
    index: np.ndarray | None = None,
) -> tuple[float, int]:
    """Forward, loss, one backward, one update: _Run.step of train.py on arrays.
    Returns (summed data loss, correct count) as the scalar step does; `index` holds the
    rows' class indices (task.target_index of each target), to count them at once."""
    net.zero_grad()
    with np.errstate(all="ignore"):  # the ops check for inf and nan: no warnings
        z, data_loss, obj = objective(net, x, targets, loss, reduction, l2)
        obj.backward()
        optimizer.step_flat(net.flat, net.grad, lr)  # an overflow here shows in the weights
    if not np.isfinite(net.flat).all():
        raise MathDomainError("a weight became infinite or NaN after the update")
    if not task.classifier:
        right = 0
    elif index is not None:
        right = int(np.count_nonzero(task.labels_array(z.data) == index))
    else:
        right = sum(map(task.correct, z.data.tolist(), targets.tolist()))  # integer sum
    return float(data_loss.data) * (len(x) if reduction == "mean" else 1.0), right


def forward_rows(model: MLP, rows: Sequence[Sequence[float]], exact: bool = True) -> np.ndarray:
    """A model's outputs for many rows through the tensor engine (exact: the same numbers
    as MLP.forward_floats)."""
    with T.exact(exact):
        return TensorMLP(model).forward(rows)
