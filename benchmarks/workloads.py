"""One benchmark workload per process: `python benchmarks/workloads.py NAME [ARG]`.

Prints one JSON object on stdout: {"seconds": ..., ...}. The runner (run.py) starts each
workload in a fresh process, interleaves them over several rounds and takes medians.
Every workload builds its inputs first and times only the work itself.
"""

from __future__ import annotations

import gc
import json
import math
import random
import resource
import sys
import time
from contextlib import nullcontext

HIDDEN = [16, 16, 1]
ALPHA = 1e-4  # L2 strength of micrograd's demo


def moons(n: int = 100, noise: float = 0.1, seed: int = 1) -> tuple[list[list[float]], list[float]]:
    """Two interleaving half circles, labels +-1 (the same points for every peer)."""
    rng = random.Random(seed)
    xs, ys = [], []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2 == 0:
            x, y, label = math.cos(t), math.sin(t), 1.0
        else:
            x, y, label = 1.0 - math.cos(t), 0.5 - math.sin(t), -1.0
        xs.append([x + rng.gauss(0, noise), y + rng.gauss(0, noise)])
        ys.append(label)
    return xs, ys


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# -- the moons demo, end to end ------------------------------------------------------------


def micrograd_demo(steps: str = "100") -> dict:
    """micrograd's own demo loop as shipped (demo.ipynb), on the same 100 points."""
    from micrograd.engine import Value
    from micrograd.nn import MLP

    random.seed(1337)
    xs, ys = moons()
    t0 = time.perf_counter()
    model = MLP(2, HIDDEN)
    acc = 0.0
    n = int(steps)
    for k in range(n):
        inputs = [list(map(Value, xrow)) for xrow in xs]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(ys, scores, strict=True)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = ALPHA * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss
        acc = sum((yi > 0) == (s.data > 0) for yi, s in zip(ys, scores, strict=True)) / len(ys)
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
    return {"seconds": time.perf_counter() - t0, "steps": n, "accuracy": acc}


def torch_tensors(steps: str = "100") -> dict:
    """The same model and loss in PyTorch with whole tensors (float64)."""
    import torch

    torch.manual_seed(1)
    xs, ys = moons()
    x = torch.tensor(xs, dtype=torch.float64)
    y = torch.tensor(ys, dtype=torch.float64)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 1),
    ).double()
    n = int(steps)
    t0 = time.perf_counter()
    for k in range(n):
        scores = model(x).squeeze(1)
        loss = torch.relu(1 - y * scores).mean()
        loss = loss + ALPHA * sum((p * p).sum() for p in model.parameters())
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= (1.0 - 0.9 * k / 100) * p.grad
    acc = ((scores > 0) == (y > 0)).double().mean().item()
    return {"seconds": time.perf_counter() - t0, "steps": n, "accuracy": acc}


# -- the identical graph, node for node ------------------------------------------------------


def _identical_graph(
    Value,
    steps: int,
    collect_outside: bool,
    const=None,
    zero=0.0,
    no_grad=nullcontext,
    natural: bool = False,
) -> dict:
    """micrograd's moons step written out with + * relu only: the same nodes for every engine.

    `const` wraps an input number (default: Value), `zero` is what a cleared gradient is,
    `no_grad` the context for the update (PyTorch needs one). natural: the loop a user
    writes (micrograd's demo): the last step's graph stays alive until the next step's
    loss replaces it, so the collector meets it during the next forward pass.
    """
    const = const or Value
    rng = random.Random(1)
    xs, ys = moons()
    sizes = [2, *HIDDEN]
    W = [
        [[Value(rng.uniform(-1, 1)) for _ in range(sizes[i])] for _ in range(sizes[i + 1])]
        for i in range(3)
    ]
    B = [[Value(0.0) for _ in range(sizes[i + 1])] for i in range(3)]
    params = [p for layer in W for n in layer for p in n] + [b for layer in B for b in layer]

    def forward(x):
        for li in range(3):
            out = []
            for w, b in zip(W[li], B[li], strict=True):
                act = sum((wi * xi for wi, xi in zip(w, x, strict=True)), b)
                out.append(act.relu() if li < 2 else act)
            x = out
        return x[0]

    times = []
    nodes = 0
    for _ in range(steps):
        if collect_outside:
            gc.collect()
            gc.disable()
        t0 = time.perf_counter()
        inputs = [[const(v) for v in row] for row in xs]
        scores = [forward(x) for x in inputs]
        losses = [(1 + -yi * s).relu() for yi, s in zip(ys, scores, strict=True)]
        loss = sum(losses) * (1.0 / len(losses)) + ALPHA * sum(p * p for p in params)
        for p in params:
            p.grad = zero
        loss.backward()
        with no_grad():
            for p in params:
                p.data -= 0.1 * p.grad
        times.append(time.perf_counter() - t0)
        if not nodes and hasattr(loss, "children"):  # mg only
            nodes = _count(loss)
        if not natural:
            del inputs, scores, losses, loss
        if collect_outside:
            gc.enable()
    times.sort()
    return {"seconds": times[len(times) // 2], "nodes": nodes}


def _count(root) -> int:
    seen, stack = {id(root)}, [root]
    while stack:
        v = stack.pop()
        for c in v.children:
            if id(c) not in seen:
                seen.add(id(c))
                stack.append(c)
    return len(seen)


def value_mg(steps: str = "5") -> dict:
    from microgradcli.engine import Value

    return _identical_graph(Value, int(steps), collect_outside=False)


def value_mg_nogc(steps: str = "5") -> dict:
    from microgradcli.engine import Value

    return _identical_graph(Value, int(steps), collect_outside=True)


def value_micrograd(steps: str = "2") -> dict:
    from micrograd.engine import Value

    return _identical_graph(Value, int(steps), collect_outside=False)


def value_micrograd_nogc(steps: str = "5") -> dict:
    from micrograd.engine import Value

    return _identical_graph(Value, int(steps), collect_outside=True)


def value_mg_natural(steps: str = "5") -> dict:
    from microgradcli.engine import Value

    return _identical_graph(Value, int(steps), collect_outside=False, natural=True)


def value_micrograd_natural(steps: str = "3") -> dict:
    from micrograd.engine import Value

    return _identical_graph(Value, int(steps), collect_outside=False, natural=True)


def value_torch_scalars(steps: str = "1") -> dict:
    """PyTorch with one 0-d tensor per scalar: the same graph shape as the scalar engines."""
    import torch

    def Value(v):
        return torch.tensor(float(v), dtype=torch.float64, requires_grad=True)

    def const(v):
        return torch.tensor(float(v), dtype=torch.float64)

    return _identical_graph(
        Value, int(steps), collect_outside=False, const=const, zero=None, no_grad=torch.no_grad
    )


# -- a deep chain --------------------------------------------------------------------------


def chain_mg(n: str = "1000000") -> dict:
    from microgradcli.engine import Value

    before = _peak_mib()
    t0 = time.perf_counter()
    x = Value(0.5)
    v = x
    for _ in range(int(n) - 1):
        v = v.relu()  # one node per link, d/dx = 1 all the way down
    t1 = time.perf_counter()
    v.backward()
    t2 = time.perf_counter()
    return {
        "seconds": t2 - t0,
        "build_seconds": t1 - t0,
        "backward_seconds": t2 - t1,
        "nodes": int(n),
        "peak_mib": _peak_mib() - before,
        "grad": x.grad,
    }


def chain_micrograd(n: str = "1000000") -> dict:
    from micrograd.engine import Value

    t0 = time.perf_counter()
    x = Value(0.5)
    v = x
    for _ in range(int(n) - 1):
        v = v.relu()
    try:
        v.backward()
    except RecursionError:
        return {
            "seconds": None,
            "error": "RecursionError",
            "build_seconds": time.perf_counter() - t0,
        }
    return {"seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    name, *args = sys.argv[1:]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    print(json.dumps(globals()[name](*args)))
