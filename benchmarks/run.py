"""Measure mg against its peers in one run: `python benchmarks/run.py [--rounds 3] [--quick]`.

Needs `pip install -e '.[bench]'` (micrograd 0.1.0); PyTorch is used when installed.
Every measurement is a fresh process; the workloads are interleaved round by round so
that a slow moment of the machine hits every peer alike. Prints a table of medians and
ratios and writes the same numbers as JSON (benchmarks/results.json by default).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKLOADS = HERE / "workloads.py"


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run_workload(name: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(WORKLOADS), name, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def wall(cmd: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="run micrograd's demo for 10 of its 100 steps each round and scale by 10 "
        "(its steps take the same time each; the full demo takes ~140 s a round)",
    )
    ap.add_argument("--json", default=str(HERE / "results.json"), help="where to write JSON")
    opts = ap.parse_args()

    if not have("micrograd"):
        sys.exit("micrograd is not installed: pip install -e '.[bench]'")
    torch = have("torch")
    env = {**os.environ, "CI": "1"}  # no progress bars in the timed runs
    samples: dict[str, list[float]] = {}
    extra: dict[str, dict] = {}

    def add(key: str, seconds: float | None, info: dict | None = None) -> None:
        if seconds is not None:
            samples.setdefault(key, []).append(seconds)
        if info:
            extra[key] = info

    demo_steps = 10 if opts.quick else 100
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(opts.rounds):
            print(f"round {r + 1}/{opts.rounds}", file=sys.stderr)
            # 1. the moons demo, end to end: a whole process each
            secs = wall(
                [sys.executable, "-m", "microgradcli", "train", "configs/moons.yaml"]
                + ["--out", f"{tmp}/moons", "--force", "--quiet", "--json"],
                env,
            )
            with open(f"{tmp}/moons/summary.json") as f:
                add("demo_mg", secs, json.load(f))
            res = run_workload("micrograd_demo", str(demo_steps))
            add("demo_micrograd", res["seconds"] * 100 / demo_steps, res)
            if torch:
                res = run_workload("torch_tensors", "100")
                add("demo_torch", res["seconds"], res)
            # 2. the identical graph, per step
            for key in (
                "value_mg",
                "value_mg_nogc",
                "value_micrograd",
                "value_micrograd_nogc",
                "value_mg_natural",
                "value_micrograd_natural",
            ):
                res = run_workload(key)
                add(key, res["seconds"], res)
            if torch and r == 0:
                res = run_workload("value_torch_scalars")
                add("value_torch_scalars", res["seconds"], res)
            # 3. a deep chain
            res = run_workload("chain_mg", "1000000")
            add("chain_mg", res["seconds"], res)
            if r == 0:
                extra["chain_micrograd_1000"] = run_workload("chain_micrograd", "1000")
            # 4. start-up of `mg grad`, the command that runs inside shell loops
            for _ in range(5):
                add("startup_typer", wall([sys.executable, "-c", "import typer"]))
                add(
                    "startup_mg_grad",
                    wall([sys.executable, "-m", "microgradcli", "grad", "x**2", "--at", "x=3"]),
                )

    med = {k: statistics.median(v) for k, v in samples.items()}

    def ratio(a: str, b: str) -> float | None:
        return med[b] / med[a] if a in med and b in med else None

    rows = [
        (
            "moons demo, 100 epochs, end to end",
            "demo_mg",
            "micrograd demo as shipped",
            "demo_micrograd",
        ),
        ("", "demo_mg", "PyTorch, tensors", "demo_torch"),
        ("identical graph, one step", "value_mg", "micrograd as shipped", "value_micrograd"),
        ("", "value_mg", "micrograd, gc outside the step", "value_micrograd_nogc"),
        (
            "  the natural loop (last graph alive)",
            "value_mg_natural",
            "micrograd, the natural loop",
            "value_micrograd_natural",
        ),
        ("", "value_mg_nogc", "micrograd, gc outside the step", "value_micrograd_nogc"),
        ("", "value_mg", "PyTorch, one 0-d tensor per scalar", "value_torch_scalars"),
        ("`mg grad` start-up", "startup_mg_grad", 'python -c "import typer"', "startup_typer"),
    ]
    table = []
    print()
    print(f"{'workload':38} {'mg':>10}  {'peer':36} {'peer s':>10} {'peer/mg':>8}")
    for label, ours, peer, theirs in rows:
        if ours not in med or theirs not in med:
            continue
        x = ratio(ours, theirs)
        mg_label = "mg (gc outside)" if ours.endswith("nogc") else ""
        print(
            f"{label:38} {med[ours]:>9.4f}s  {peer:36} {med[theirs]:>9.4f}s {x:>7.2f}x {mg_label}"
        )
        table.append(
            {
                "workload": label,
                "mg": ours,
                "peer": peer,
                "mg_seconds": med[ours],
                "peer_seconds": med[theirs],
                "peer_over_mg": x,
            }
        )
    chain = extra.get("chain_mg", {})
    print(
        f"\ndeep chain: {chain.get('nodes', 0):,} nodes, build {chain.get('build_seconds', 0):.2f}s, "
        f"backward {chain.get('backward_seconds', 0):.2f}s, peak {chain.get('peak_mib', 0):.0f} MiB; "
        f"micrograd at 1,000 links: {extra['chain_micrograd_1000'].get('error', 'ok')}"
    )
    acc_mg = extra.get("demo_mg", {}).get("final", {}).get("accuracy")
    acc_mg = acc_mg if acc_mg is not None else extra.get("demo_mg", {}).get("accuracy")
    print(
        f"final train accuracy: mg {acc_mg}, micrograd {extra['demo_micrograd']['accuracy']}"
        + (" (micrograd demo scaled from 10 steps: --quick)" if opts.quick else "")
    )
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "rounds": opts.rounds,
        "quick": opts.quick,
        "medians": med,
        "samples": samples,
        "table": table,
        "details": extra,
    }
    Path(opts.json).write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {opts.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
