"""`mg sweep`: many training runs from one sweep file, locally or on a Dask cluster."""

from __future__ import annotations

import os
import signal
import sys

import typer

from microgradcli.cli._app import app
from microgradcli.cli._common import emit, emit_json, fancy_stderr

_SET_HELP = (
    "Override a field of the base config for every trial, KEY.PATH=VALUE (YAML). Repeatable."
)


def _num(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def _metric_text(value, name: str) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if "accuracy" in name else f"{value:.4g}"


def _align(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    return out


class _Progress:
    """Trials done / total, running, failed and an ETA on stderr (a terminal only); else
    one line per finished trial (unless --quiet)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.fancy = fancy_stderr(quiet)
        self.bar = None
        self.total = self.done = self.failed = 0
        self.running = 0

    def __call__(self, kind: str, data: dict) -> None:
        if kind == "start":
            self.total, self.done = data["total"], data["done"]
            if not self.quiet:
                left = self.total - self.done
                already = f" ({self.done} already done)" if self.done else ""
                where = data["backend"] if left else "nothing left to run"
                sys.stderr.write(f"{left} trials{already} -> {data['sweep_dir']}, {where}\n")
                sys.stderr.flush()
            if self.fancy and self.total > self.done:
                self._start_bar()
        elif kind == "result":
            self.done += 1
            if data["status"] == "failed":
                self.failed += 1
            if self.bar is not None:
                self._update()
                if data["status"] != "ok":
                    self.bar.console.print(self._line(data), highlight=False, markup=False)
            elif not self.quiet:
                sys.stderr.write(self._line(data) + "\n")
                sys.stderr.flush()
        elif kind == "tick":
            self.running = data["running"]
            if self.bar is not None:
                self._update()

    def _line(self, r: dict) -> str:
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in r["params"].items())
        params = f"{params}, seed {r['seed']}" if params else f"seed {r['seed']}"
        what = f"{r['metric']} {_metric_text(r['value'], r['metric'])}"
        if r["status"] == "failed":
            what = f"failed: {r['error']}"
        elif r["status"] == "diverged":
            what = "diverged"
        return f"[{self.done}/{self.total}] {r['id']} {params}: {what} ({r['seconds']:.1f}s, {r['worker']})"

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("trials"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),  # never stdout: it carries results
            redirect_stdout=False,  # rich would send our JSON lines to its console (stderr)
            redirect_stderr=False,
        )
        self.task = self.bar.add_task("sweep", total=self.total, completed=self.done, state="")
        self.bar.start()

    def _update(self) -> None:
        state = f"running {self.running}"
        if self.failed:
            state += f"  failed {self.failed}"
        self.bar.update(self.task, completed=self.done, state=state)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _fmt(v) -> str:
    from microgradcli.sweep import format_value

    return format_value(v)


def _table(plan, lines: list[dict]) -> list[str]:
    """The results by point: mean ± sd of the metric over the seeds, best first."""
    from microgradcli.sweep import group_results

    m = plan.sweep.metric
    groups = group_results(lines, m.name, m.direction)
    keys = plan.keys
    head = [
        "rank",
        *keys,
        f"{m.name} ({m.at}, {'lower' if m.direction == 'minimize' else 'higher'} is better)",
        "trials",
    ]
    rows = [head]
    for rank, g in enumerate(groups, 1):
        if g.mean is None:
            value = "-"
        elif g.sd is None:
            value = _metric_text(g.mean, m.name)
        elif "accuracy" in m.name:
            value = f"{100 * g.mean:.1f}% ± {100 * g.sd:.1f}"
        else:
            value = f"{g.mean:.4g} ± {g.sd:.2g}"
        counts = g.counts()
        n = f"{counts.get('ok', 0)} ok"
        for status in ("diverged", "failed"):
            if counts.get(status):
                n += f", {counts[status]} {status}"
        rows.append([str(rank), *(_fmt(g.params.get(k)) for k in keys), value, n])
    return _align(rows, right={0})


def _best_lines(plan, lines: list[dict]) -> list[str]:
    from microgradcli.sweep import best_trial, group_results

    m = plan.sweep.metric
    groups = group_results(lines, m.name, m.direction)
    best = best_trial(groups[0], m.name, m.direction) if groups else None
    if best is None:
        return []
    params = ", ".join(f"{k}={_fmt(v)}" for k, v in best["params"].items())
    params = f"{params}, seed {best['seed']}" if params else f"seed {best['seed']}"
    value = _metric_text(best["metrics"][m.name], m.name)
    return [
        f"best: {params} ({m.name} {value}); train it again with:",
        f"  mg train {best['run_dir']}/config.yaml",
    ]


def _dry_run(plan, sweep_dir, json_out: bool) -> None:
    if json_out:
        for t in plan.trials:
            emit_json(
                {
                    "id": t.id,
                    "params": t.params,
                    "seed": t.seed,
                    "run_dir": str(sweep_dir / t.id),
                    "config": t.config,
                }
            )
        return
    rows = [["#", "id", *plan.keys, "seed"]]
    for t in plan.trials:
        rows.append([str(t.index + 1), t.id, *(_fmt(t.params[k]) for k in plan.keys), str(t.seed)])
    for line in _align(rows, right={0}):
        emit(line)
    seeds = len({t.seed for t in plan.trials})
    dup = f" ({plan.duplicates} repeated samples dropped)" if plan.duplicates else ""
    emit(
        f"{len(plan.trials)} trials ({plan.points} points x {seeds} seeds){dup}, each "
        f"validated; nothing was run. Folder: {sweep_dir}"
    )


@app.command("sweep")
def sweep_command(
    sweep_file: str = typer.Argument(..., help="The sweep's YAML file.", metavar="SWEEP_FILE"),
    set_: list[str] = typer.Option(None, "--set", help=_SET_HELP, metavar="KEY.PATH=VALUE"),
    jobs: int = typer.Option(
        None,
        "--jobs",
        "-j",
        min=1,
        help="Local worker processes (default: the number of cores); 1 runs the trials in this process.",
    ),
    scheduler: str = typer.Option(
        None,
        "--scheduler",
        help="A running Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: $DASK_SCHEDULER_ADDRESS, else local processes).",
        metavar="ADDRESS",
    ),
    out: str = typer.Option(
        None, "--out", help="The sweep folder (default: runs/sweeps/<name>).", metavar="DIR"
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Finish a sweep: skip trials already finished, run the rest."
    ),
    force: bool = typer.Option(False, "--force", help="Start the sweep over in its folder."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the plan (every trial, validated) and run nothing."
    ),
    json_out: bool = typer.Option(
        False,
        "--json",
        help="Stream the results (one JSON line per trial) to stdout, and nothing else.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Nothing on stderr but errors."),
) -> None:
    """Train many runs from one sweep file: a base config, the parameters to vary, the seeds.

    The whole plan is validated before anything runs. Every trial is an ordinary run folder, runs/sweeps/<name>/<trial-id>/ (config.yaml, log.jsonl, model.json, summary.json), with the numbers `mg train` gives for its config.yaml, bit for bit. results.jsonl gets one line per trial as it finishes (id, params, seed, status, metrics, seconds, worker), sweep.yaml the plan. At the end: a table by point, mean ± sd of the metric over the seeds, best first, and the command that trains the best trial again.

    Where trials run: --jobs N local worker processes (Dask's LocalCluster when the sweep extra is installed, pip install 'microgradcli\\[sweep]'; else concurrent.futures.ProcessPoolExecutor); --jobs 1 in this process; --scheduler ADDRESS a Dask cluster (`dask scheduler` on one machine, `dask worker ADDRESS` on each of the others). Workers need the same mg and Python (checked before the first trial), not a shared disk.

    Exit codes: 0 done (a diverged trial is recorded as such), 1 a trial crashed (see its error in results.jsonl), 2 bad sweep file, config or scheduler, 130 interrupted (finished trials are kept: add --resume to finish).

    Example: mg sweep sweeps/moons-lr.yaml --json | jq -c '[.params, .metrics.val_loss]'
    """
    from microgradcli.errors import InputError
    from microgradcli.sweep import load_sweep, make_plan, run_sweep, sweep_dir_for

    if scheduler is None and jobs is None:
        scheduler = os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    elif scheduler is not None and jobs is not None:
        raise InputError(
            "--jobs is for local processes; with --scheduler the cluster's workers run the trials"
        )
    if resume and force:
        raise InputError("--resume keeps finished trials and --force deletes them; choose one")
    try:
        plan = make_plan(load_sweep(sweep_file, set_ or []))
    except KeyboardInterrupt:
        typer.echo("interrupted before the sweep started; nothing was written", err=True)
        raise typer.Exit(130) from None
    sweep_dir = sweep_dir_for(plan, out)
    if dry_run:
        _dry_run(plan, sweep_dir, json_out)
        return

    progress = _Progress(quiet)
    stop = {"asked": False}
    piping = {"json": json_out}

    def on_sigint(signum, frame):
        # First Ctrl-C: cancel what is pending, stop what runs, keep what finished.
        # A second one stops at once.
        stop["asked"] = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_event(kind: str, data: dict) -> None:
        if kind in ("kept", "result") and piping["json"]:
            try:
                emit_json(data)
            except BrokenPipeError:  # `--json | head`: the reader left; stop as on Ctrl-C
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                piping["json"] = False
                stop["asked"] = True
        progress(kind, data)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        outcome = run_sweep(
            plan,
            out=out,
            jobs=jobs,
            scheduler=scheduler,
            resume=resume,
            force=force,
            on_event=on_event,
            should_stop=lambda: stop["asked"],
        )
    except KeyboardInterrupt:
        progress.stop()
        sys.stdout.flush()
        typer.echo(
            f"interrupted: stopped at once; finished trials are kept in {sweep_dir}; "
            f"finish with: mg sweep {sweep_file} --resume",
            err=True,
        )
        raise typer.Exit(130) from None
    finally:
        progress.stop()
        signal.signal(signal.SIGINT, previous)
    lines = outcome.results
    resume_cmd = f"mg sweep {sweep_file}" + "".join(f" --set {s}" for s in set_ or [])
    resume_cmd += (f" --out {out}" if out else "") + " --resume"
    if outcome.interrupted or stop["asked"]:
        sys.stdout.flush()
        typer.echo(
            f"interrupted: {len(lines)} of {len(plan.trials)} trials finished, kept in "
            f"{outcome.sweep_dir}; finish with: {resume_cmd}",
            err=True,
        )
        raise typer.Exit(130)
    failed = [r for r in lines if r["status"] == "failed"]
    diverged = [r for r in lines if r["status"] == "diverged"]
    head = (
        f"{plan.sweep.name}: {len(lines)} trials ({outcome.ran} run, {outcome.skipped} "
        f"already done) in {outcome.seconds:.1f}s"
    )
    if diverged:
        head += f"; {len(diverged)} diverged"
    if failed:
        head += f"; {len(failed)} failed"
    if json_out:
        if not quiet:
            typer.echo(f"{head} -> {outcome.sweep_dir}", err=True)
    else:
        emit(head)
        emit("")
        for line in _table(plan, lines):
            emit(line)
        emit("")
        for line in _best_lines(plan, lines):
            emit(line)
        emit(f"results: {outcome.sweep_dir}/results.jsonl, one run folder per trial")
    if failed:
        first = failed[0]
        typer.echo(
            f"error: {len(failed)} of {len(lines)} trials failed; the first, {first['id']}: "
            f"{first['error']}; after fixing it, rerun them with: {resume_cmd}",
            err=True,
        )
        raise typer.Exit(1)
