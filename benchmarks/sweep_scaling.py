"""How `mg sweep` scales: `python benchmarks/sweep_scaling.py [--trials 16] [--epochs 50]`.

Needs `pip install -e '.[sweep]'`. Runs the same sweep (micrograd's moons, `--trials`
trials: learning rates x seeds) with --jobs 1 (in this process), --jobs 2 and --jobs 4
(Dask LocalCluster) and on a Dask cluster on 127.0.0.1 (a scheduler and two workers,
started before the clock starts, as a real cluster would be). Each is one `mg sweep`
command, timed end to end (start-up, worker start, every trial, the table). Prints a
table of trials per second and writes benchmarks/sweep_results.json. The last column adds
up the seconds each trial took on its worker: on an idle machine it stays near the --jobs 1
figure; when it grows, the workers were waiting for a core, not for mg.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def sweep_file(folder: Path, trials: int, epochs: int) -> Path:
    lrs = [0.1, 0.3, 1.0, 3.0]
    seeds = list(range(1, max(1, trials // len(lrs)) + 1))
    path = folder / "bench.yaml"
    path.write_text(
        f"name: bench\nbase: {ROOT / 'configs' / 'moons.yaml'}\n"
        f"set: {{train.epochs: {epochs}}}\nparameters:\n  train.lr: {lrs}\nseeds: {seeds}\n"
        "metric: {name: loss}\n"
    )
    return path


def busy(results: Path) -> float:
    """The seconds the trials themselves took, added up (each measured on its worker)."""
    lines = results.read_text().splitlines()
    return math.fsum(json.loads(line)["seconds"] for line in lines)


def timed(args: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "microgradcli", "sweep", *args, "-q"],
        cwd=cwd,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t0


class LoopbackCluster:
    def __init__(self, folder: Path, workers: int):
        self.procs = []
        file = folder / "scheduler.json"
        self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(file))  # fmt: skip
        deadline = time.monotonic() + 60
        while not file.exists() or not file.read_text().strip():
            if time.monotonic() > deadline:
                raise SystemExit("the scheduler did not start")
            time.sleep(0.1)
        self.address = json.loads(file.read_text())["address"]
        for _ in range(workers):
            self._start("worker", "--scheduler-file", str(file), "--nworkers", "1",
                        "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard")  # fmt: skip
        from distributed import Client

        with Client(self.address, timeout=20, set_as_default=False) as c:
            c.wait_for_workers(workers, timeout=60)

    def _start(self, what: str, *args: str) -> None:
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dask", what, *args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

    def close(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=16, help="trials per sweep (default 16)")
    ap.add_argument("--epochs", type=int, default=50, help="epochs per trial (default 50)")
    ap.add_argument("--json", default=str(HERE / "sweep_results.json"), help="where to write JSON")
    opts = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mg-sweep-bench-") as tmp:
        folder = Path(tmp)
        path = sweep_file(folder, opts.trials, opts.epochs)
        n = max(1, opts.trials // 4) * 4  # 4 learning rates x seeds
        runs = [("--jobs 1 (in this process)", ["--jobs", "1"])]
        runs += [(f"--jobs {j} (Dask LocalCluster)", ["--jobs", str(j)]) for j in (2, 4)]
        for label, args in runs:
            out = f"out{len(rows)}"
            seconds = timed([str(path), *args, "--out", out], folder)
            rows.append(
                {"where": label, "trials": n, "seconds": round(seconds, 2),
                 "trial_seconds": round(busy(folder / out / "results.jsonl"), 2)}
            )  # fmt: skip
            print(f"{label}: {seconds:.2f} s", file=sys.stderr)
        cluster = LoopbackCluster(folder, 2)
        try:
            seconds = timed([str(path), "--scheduler", cluster.address, "--out", "outc"], folder)
        finally:
            cluster.close()
        rows.append(
            {
                "where": "--scheduler (loopback: 2 workers)",
                "trials": n,
                "seconds": round(seconds, 2),
                "trial_seconds": round(busy(folder / "outc" / "results.jsonl"), 2),
            }
        )
    base = rows[0]["seconds"]
    print(
        f"| where trials run | {n} trials, end to end | trials/s | speed-up | trials' own seconds, added |"
    )
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        r["trials_per_second"] = round(r["trials"] / r["seconds"], 2)
        r["speedup"] = round(base / r["seconds"], 2)
        print(
            f"| {r['where']} | {r['seconds']:.2f} s | {r['trials_per_second']:.2f} | "
            f"{r['speedup']:.2f}x | {r['trial_seconds']:.1f} s |"
        )
    info = {
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],  # other work on the machine
        "epochs": opts.epochs,
        "rows": rows,
    }
    Path(opts.json).write_text(json.dumps(info, indent=1) + "\n")


if __name__ == "__main__":
    main()
