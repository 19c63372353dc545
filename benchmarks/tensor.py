"""The tensor engine against its peers: `python benchmarks/tensor.py [--rounds 3] [--quick]`.

Every measurement runs in a fresh process (`tensor.py --one NAME ARGS`), the workloads
interleaved round by round so a slow moment of the machine hits every peer alike; the
table gives medians and ratios measured in the same run. Peers: hand-written numpy
(forward and backward by hand, BLAS), PyTorch float64 on one thread, mg's scalar engine,
and the tensor engine in its exact mode (bit for bit the scalar engine) and fast mode
(BLAS and numpy's functions). Writes benchmarks/tensor_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

# -- the workloads ---------------------------------------------------------------------------


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _median_step(step, n: int, warm: int = 1) -> float:
    for _ in range(warm):
        step()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _traced_peak(step) -> float:
    """The peak of memory allocated during one step (tracemalloc sees numpy's buffers too)."""
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def _timed_epoch(step, batches) -> dict:
    """step(batch) for every batch, one epoch to warm up, then one epoch timed."""

    def epoch():
        for bt in batches:
            step(bt)

    epoch()
    t0 = time.perf_counter()
    epoch()
    secs = time.perf_counter() - t0
    return {
        "seconds": secs,
        "step_seconds": secs / len(batches),
        "steps": len(batches),
        "rss_mib": _rss_mib(),
    }


def _layer_arrays(model) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weights (nout, nin), biases (nout,)) of each layer of an nn.MLP."""
    return [
        (
            np.array([[w.data for w in n.w] for n in layer.neurons]),
            np.array([n.b.data for n in layer.neurons]),
        )
        for layer in model.layers
    ]


def _mg_run(overrides: list[str], config: str = "configs/moons.yaml"):
    """mg's own training state (train._Run) for a config: the code `mg train` runs."""
    import tempfile

    from microgradcli.config import load_config
    from microgradcli.data import load_dataset
    from microgradcli.train import _Run

    cfg, base = load_config(ROOT / config, overrides)
    return _Run(cfg, load_dataset(cfg, base), Path(tempfile.mkdtemp()))


def _mnist_overrides(engine: str, exact: bool, batch: int, width: int) -> list[str]:
    return [
        "data.n_samples=5000",
        "data.val_split=0.2",  # 4000 to train on
        f"model.hidden=[{width}, {width}]",
        "model.init=he",
        "train.loss=cross_entropy",
        "train.optimizer=adam",
        "train.lr=0.001",
        f"train.batch_size={batch}",
        "train.l2=0",
        f"train.engine={engine}",
        f"train.exact={'true' if exact else 'false'}",
    ]


def _mg_engine_step(run, engine: str):
    """One training step of mg on its first minibatch (or the full batch)."""
    batch = run.batches(0)[0]
    if engine == "scalar":
        return lambda: run.scalar_step(batch, 0.01)
    return lambda: run.tensor_step(batch, 0.01)


def _nodes(run, engine: str) -> int:
    """Nodes in one step's graph (the forward, the loss and the L2 term)."""
    from microgradcli.losses import l2_penalty, sample_loss, total
    from microgradcli.tensor_mlp import objective

    tc = run.tc
    if engine == "scalar":
        losses = [
            sample_loss(tc.loss, run.model(x), t)
            for x, t in zip(run.x_train, run.t_train, strict=True)
        ]
        obj = total(losses, tc.reduction) + l2_penalty(run.params, tc.l2)
    else:
        obj = objective(run.net, run.x_array, run.t_array, tc.loss, tc.reduction, tc.l2)[2]
    return len(obj.topological_order())


def w_moons(engine: str, steps: str = "20") -> dict:
    """One step of the moons demo (2-16-16-1 ReLU, hinge, L2, 100 samples, full batch)."""
    import gc

    gc.disable()  # as mg train does
    exact = engine != "tensor_fast"
    run = _mg_run(
        [
            "train.engine=" + ("scalar" if engine == "scalar" else "tensor"),
            f"train.exact={str(exact).lower()}",
        ]
    )
    step = _mg_engine_step(run, "scalar" if engine == "scalar" else "tensor")
    secs = _median_step(step, int(steps))
    return {
        "seconds": secs,
        "nodes": _nodes(run, "scalar" if engine == "scalar" else "tensor"),
        "rss_mib": _rss_mib(),
        "traced_mib": _traced_peak(step),
    }


def _moons_arrays():
    run = _mg_run([])
    x = np.array(run.x_train)
    t = np.array(run.t_train, dtype=np.float64)
    return x, t, _layer_arrays(run.model)


def w_moons_numpy(steps: str = "200") -> dict:
    """The moons step in hand-written numpy: the forward, the backward by hand, SGD."""
    x, t, ws = _moons_arrays()
    (w1, b1), (w2, b2), (w3, b3) = ws
    alpha, lr, n = 1e-4, 0.01, len(x)

    def step():
        nonlocal w1, b1, w2, b2, w3, b3
        z1 = x @ w1.T + b1
        h1 = np.maximum(z1, 0.0)
        z2 = h1 @ w2.T + b2
        h2 = np.maximum(z2, 0.0)
        z3 = (h2 @ w3.T + b3)[:, 0]
        m = 1.0 - t * z3
        loss = np.maximum(m, 0.0).mean() + alpha * sum(  # noqa: F841
            float((p * p).sum()) for p in (w1, b1, w2, b2, w3, b3)
        )  # noqa: F841
        g3 = (np.where(m > 0, -t, 0.0) / n)[:, None]
        gw3, gb3 = g3.T @ h2, g3.sum(0)
        g2 = (g3 @ w3) * (z2 > 0)
        gw2, gb2 = g2.T @ h1, g2.sum(0)
        g1 = (g2 @ w2) * (z1 > 0)
        gw1, gb1 = g1.T @ x, g1.sum(0)
        k = 2 * alpha
        w1 = w1 - lr * (gw1 + k * w1)
        b1 = b1 - lr * (gb1 + k * b1)
        w2 = w2 - lr * (gw2 + k * w2)
        b2 = b2 - lr * (gb2 + k * b2)
        w3 = w3 - lr * (gw3 + k * w3)
        b3 = b3 - lr * (gb3 + k * b3)

    return {
        "seconds": _median_step(step, int(steps)),
        "rss_mib": _rss_mib(),
        "traced_mib": _traced_peak(step),
    }


def _torch_mlp(torch, ws):
    layers = []
    for i, (w, b) in enumerate(ws):
        lin = torch.nn.Linear(w.shape[1], w.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(w))
            lin.bias.copy_(torch.tensor(b))
        layers.append(lin)
        if i < len(ws) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def w_moons_torch(steps: str = "200") -> dict:
    """The moons step in PyTorch, float64, one thread, tensors and autograd."""
    import torch

    torch.set_num_threads(1)
    x, t, ws = _moons_arrays()
    model = _torch_mlp(torch, ws)
    xt, tt = torch.tensor(x), torch.tensor(t)
    params = list(model.parameters())

    def step():
        z = model(xt)[:, 0]
        loss = torch.relu(1.0 - tt * z).mean() + 1e-4 * sum((p * p).sum() for p in params)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.01 * p.grad

    return {
        "seconds": _median_step(step, int(steps)),
        "rss_mib": _rss_mib(),
        "torch": True,
        "traced_mib": 0.0,
    }


def w_moons_equal(steps: str = "10") -> dict:
    """Both engines for `steps` steps from the same start: are weights and loss bit-equal?"""
    a = _mg_run(["train.engine=scalar"])
    b = _mg_run(["train.engine=tensor"])
    la = lb = None
    for _ in range(int(steps)):
        la = a.scalar_step(a.batches(0)[0], 0.5)
        lb = b.tensor_step(b.batches(0)[0], 0.5)
    b.net.push()
    same = [p.data for p in a.params] == [p.data for p in b.params] and la == lb
    return {"seconds": 0.0, "equal": same, "steps": int(steps)}


# -- MNIST-1D shape: 4000 x 40 -> width -> width -> 10, Adam, float64 -------------------------


def w_mnist(engine: str, batch: str = "64", width: str = "64", steps: str = "0") -> dict:
    """One epoch of mg (scalar: `steps` steps timed and scaled to the epoch)."""
    import gc

    gc.disable()
    mg_engine = "scalar" if engine == "scalar" else "tensor"
    run = _mg_run(_mnist_overrides(mg_engine, engine != "tensor_fast", int(batch), int(width)))
    batches = run.batches(0)
    if engine == "scalar" or int(steps):
        k = int(steps) or 2
        step = _mg_engine_step(run, mg_engine)
        per = _median_step(step, k, warm=0 if engine == "scalar" else 1)
        return {
            "seconds": per * len(batches),
            "step_seconds": per,
            "extrapolated_from_steps": k,
            "steps": len(batches),
            "rss_mib": _rss_mib(),
        }

    res = _timed_epoch(lambda bt: run.tensor_step(bt, 0.001), batches)
    one = _mg_engine_step(run, "tensor")
    return {**res, "nodes": len(_last_graph(run)), "traced_mib": _traced_peak(one)}


def _last_graph(run):
    from microgradcli.tensor_mlp import objective

    bt, tc = run.batches(0)[0], run.tc
    obj = objective(run.net, run.x_array[bt], run.t_array[bt], tc.loss, tc.reduction, tc.l2)[2]
    return obj.topological_order()


def _mnist_arrays(width: int):
    run = _mg_run(_mnist_overrides("tensor", False, 64, width))
    x = np.array(run.x_train)
    t = np.array(run.t_train, dtype=np.intp)
    return x, t, _layer_arrays(run.model), [np.array(b) for b in run.batches(0)]


def w_mnist_numpy(batch: str = "64", width: str = "64") -> dict:
    """One epoch in hand-written numpy: forward, backward by hand, Adam."""
    x, t, ws, _ = _mnist_arrays(int(width))
    order = np.random.default_rng(0).permutation(len(x))
    bs = int(batch)
    batches = [order[i : i + bs] for i in range(0, len(x), bs)]
    params = [p for w, b in ws for p in (w, b)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    state = {"t": 0}

    def step(idx):
        xb, tb = x[idx], t[idx]
        w1, b1, w2, b2, w3, b3 = params
        z1 = xb @ w1.T + b1
        h1 = np.maximum(z1, 0.0)
        z2 = h1 @ w2.T + b2
        h2 = np.maximum(z2, 0.0)
        z3 = h2 @ w3.T + b3
        e = np.exp(z3 - z3.max(1, keepdims=True))
        p = e / e.sum(1, keepdims=True)
        g3 = p
        g3[np.arange(len(tb)), tb] -= 1.0
        g3 /= len(tb)
        g2 = (g3 @ w3) * (z2 > 0)
        g1 = (g2 @ w2) * (z1 > 0)
        grads = [g1.T @ xb, g1.sum(0), g2.T @ h1, g2.sum(0), g3.T @ h2, g3.sum(0)]
        state["t"] += 1
        c1, c2 = 1 - 0.9 ** state["t"], 1 - 0.999 ** state["t"]
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            params[i] -= 0.001 * (m[i] / c1) / (np.sqrt(v[i] / c2) + 1e-8)

    res = _timed_epoch(step, batches)
    return {**res, "traced_mib": _traced_peak(lambda: step(batches[0]))}


def w_mnist_torch(batch: str = "64", width: str = "64") -> dict:
    """One epoch in PyTorch, float64, one thread, autograd, torch.optim.Adam."""
    import torch

    torch.set_num_threads(1)
    x, t, ws, _ = _mnist_arrays(int(width))
    model = _torch_mlp(torch, ws)
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    xt, tt = torch.tensor(x), torch.tensor(t)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    bs = int(batch)
    batches = [order[i : i + bs] for i in range(0, len(x), bs)]
    lossf = torch.nn.CrossEntropyLoss()

    def step(idx):
        opt.zero_grad()
        lossf(model(xt[idx]), tt[idx]).backward()
        opt.step()

    return {**_timed_epoch(step, batches), "torch": True, "traced_mib": 0.0}


WORKLOADS = {
    "moons": w_moons,
    "moons_numpy": w_moons_numpy,
    "moons_torch": w_moons_torch,
    "moons_equal": w_moons_equal,
    "mnist": w_mnist,
    "mnist_numpy": w_mnist_numpy,
    "mnist_torch": w_mnist_torch,
}


# -- the runner ----------------------------------------------------------------------------------


def _mib(info: dict) -> str:
    """tracemalloc's peak during a step (PyTorch's own allocator is not traced)."""
    if "traced_mib" not in info:
        return "-"
    return "untraced" if info.get("torch") else f"{info['traced_mib']:.2f}"


def one(name: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--one", name, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        },
    )
    if out.returncode:
        sys.exit(f"{name} {args}: failed\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer steps, no x16 growth for exact")
    ap.add_argument("--json", default=str(HERE / "tensor_results.json"))
    ap.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.one:
        print(json.dumps(WORKLOADS[opts.one[0]](*opts.one[1:])))
        return

    plan: list[tuple[str, tuple[str, ...]]] = [
        ("moons", ("scalar", "3" if opts.quick else "5")),
        ("moons", ("tensor_exact",)),
        ("moons", ("tensor_fast",)),
        ("moons_numpy", ()),
        ("moons_torch", ()),
        ("mnist", ("scalar", "64", "64", "2")),
        ("mnist", ("tensor_exact",)),
        ("mnist", ("tensor_fast",)),
        ("mnist_numpy", ()),
        ("mnist_torch", ()),
    ]
    for batch, width in [("256", "64"), ("1024", "64"), ("64", "256"), ("64", "1024")]:
        # exact mode at the larger sizes: 3 steps timed and scaled to the epoch
        plan += [
            ("mnist", ("tensor_exact", batch, width, "3")),
            ("mnist", ("tensor_fast", batch, width)),
            ("mnist_numpy", (batch, width)),
            ("mnist_torch", (batch, width)),
        ]
    samples: dict[str, list[float]] = {}
    info: dict[str, dict] = {}
    for r in range(opts.rounds):
        print(f"round {r + 1}/{opts.rounds}", file=sys.stderr)
        for name, args in plan:
            res = one(name, *args)
            key = " ".join((name, *args))
            samples.setdefault(key, []).append(res["seconds"])
            info[key] = res
    info["moons_equal"] = one("moons_equal", "10")

    med = {k: statistics.median(v) for k, v in samples.items()}
    print(
        f"\nmachine: Python {platform.python_version()}, {os.cpu_count()} cpus, numpy {np.__version__}"
    )
    print(f"\nmoons demo, one step (2-16-16-1, 100 samples; median of {opts.rounds} runs)")
    base = med["moons scalar " + ("3" if opts.quick else "5")]
    rows = [
        ("mg scalar engine", "moons scalar " + ("3" if opts.quick else "5")),
        ("mg tensor, exact", "moons tensor_exact"),
        ("mg tensor, fast", "moons tensor_fast"),
        ("hand-written numpy", "moons_numpy"),
        ("PyTorch, 1 thread", "moons_torch"),
    ]
    print(
        f"{'':22} {'ms/step':>9} {'vs scalar':>10} {'vs numpy':>9} {'nodes':>7} {'RSS MiB':>8} {'step MiB':>9}"
    )
    for label, k in rows:
        i = info[k]
        print(
            f"{label:22} {med[k] * 1e3:9.3f} {base / med[k]:9.1f}x {med[k] / med['moons_numpy']:8.2f}x "
            f"{i.get('nodes', ''):>7} {i['rss_mib']:8.0f} {_mib(i):>9}"
        )
    eq = info["moons_equal"]
    print(
        f"scalar and tensor exact after {eq['steps']} steps: weights and loss bit-equal: {eq['equal']}"
    )

    print("\nMNIST-1D shape, one epoch (4000 x 40 -> 64 -> 64 -> 10, minibatch 64, Adam, float64)")
    rows = [
        ("mg scalar (extrapolated)", "mnist scalar 64 64 2"),
        ("mg tensor, exact", "mnist tensor_exact"),
        ("mg tensor, fast", "mnist tensor_fast"),
        ("hand-written numpy", "mnist_numpy"),
        ("PyTorch, 1 thread", "mnist_torch"),
    ]
    print(f"{'':26} {'ms/epoch':>10} {'us/step':>9} {'vs numpy':>9} {'RSS MiB':>8} {'step MiB':>9}")
    for label, k in rows:
        i = info[k]
        print(
            f"{label:26} {med[k] * 1e3:10.1f} {med[k] / i['steps'] * 1e6:9.0f} {med[k] / med['mnist_numpy']:8.2f}x "
            f"{i['rss_mib']:8.0f} {_mib(i):>9}"
        )
    sc = info["mnist scalar 64 64 2"]
    print(
        f"(scalar: {sc['extrapolated_from_steps']} steps timed, times the epoch's {sc['steps']} steps)"
    )

    print("\ngrowth: ms per step, and the factor over x1 (batch 64, width 64); tensor exact")
    print("at the larger sizes: the median of 3 steps")
    for what, sizes in (
        ("batch", [("64", "64"), ("256", "64"), ("1024", "64")]),
        ("width", [("64", "64"), ("64", "256"), ("64", "1024")]),
    ):
        print(f"{what:13} {'x1':>18} {'x4':>18} {'x16':>18}")
        for label, fmt in (
            ("tensor exact", "mnist tensor_exact {} {} 3"),
            ("tensor fast", "mnist tensor_fast {} {}"),
            ("numpy", "mnist_numpy {} {}"),
            ("torch 1thr", "mnist_torch {} {}"),
        ):
            keys = [
                fmt.format(b, w) if (b, w) != ("64", "64") else fmt.split(" {}")[0]
                for b, w in sizes
            ]
            per = [med[k] / info[k]["steps"] for k in keys]
            cells = [f"{p * 1e3:9.2f} {p / per[0]:6.1f}x" for p in per]
            print(f"{label:13} " + " ".join(f"{c:>18}" for c in cells))
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "numpy": np.__version__,
            "platform": platform.platform(),
        },
        "rounds": opts.rounds,
        "quick": opts.quick,
        "medians": med,
        "samples": samples,
        "details": info,
    }
    Path(opts.json).write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {opts.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
