"""`mg sweep`: many training runs from one sweep file, locally or on a Dask cluster."""

from __future__ import annotations

import os
import shlex
import signal
import sys

import typer

from microgradcli.cli._app import app
from microgradcli.cli._common import emit, emit_json, emit_json_piped, fancy_stderr, table

_SET_HELP = (
    "Override a field of the base config for every trial, KEY.PATH=VALUE (YAML). Repeatable."
)


def _metric_text(value, name: str) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if "accuracy" in name else f"{value:.4g}"


def _fmt(v) -> str:
    from microgradcli.sweep import format_value

    return format_value(v)


def _point(r: dict) -> str:
    from microgradcli.sweep import format_params

    return format_params(r["params"], r["seed"])


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
            self._start(data)
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

    def _start(self, data: dict) -> None:
        self.total, self.done = data["total"], data["done"]
        if not self.quiet:
            left = self.total - self.done
            already = f" ({self.done} already done)" if self.done else ""
            where = data["backend"] if left else "nothing left to run"
            sys.stderr.write(f"{left} trials{already} -> {data['sweep_dir']}, {where}\n")
            sys.stderr.flush()
        if self.fancy and self.total > self.done:
            self._start_bar()

    def _line(self, r: dict) -> str:
        what = f"{r['metric']} {_metric_text(r['value'], r['metric'])}"
        if r["status"] == "failed":
            what = f"failed: {r['error']}"
        elif r["status"] == "diverged":
            what = "diverged"
        where = f"({r['seconds']:.1f}s, {r['worker']})"
        return f"[{self.done}/{self.total}] {r['id']} {_point(r)}: {what} {where}"

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


def _mean_text(group, name: str) -> str:
    """A point's metric over its seeds: mean ± sd."""
    if group.mean is None:
        return "-"
    if group.sd is None:
        return _metric_text(group.mean, name)
    if "accuracy" in name:
        return f"{100 * group.mean:.1f}% ± {100 * group.sd:.1f}"
    return f"{group.mean:.4g} ± {group.sd:.2g}"


def _table(plan, lines: list[dict]) -> str:
    """The results by point: mean ± sd of the metric over the seeds, best first."""
    from microgradcli.sweep import group_results

    m = plan.sweep.metric
    better = "lower" if m.direction == "minimize" else "higher"
    header = ["rank", *plan.keys, f"{m.name} ({m.at}, {better} is better)", "trials"]
    rows = []
    for rank, g in enumerate(group_results(lines, m.name, m.direction), 1):
        counts = g.counts()
        n = f"{counts.get('ok', 0)} ok"
        for status in ("diverged", "failed"):
            if counts.get(status):
                n += f", {counts[status]} {status}"
        params = [_fmt(g.params.get(k)) for k in plan.keys]
        rows.append([str(rank), *params, _mean_text(g, m.name), n])
    return table(header, rows, right=frozenset({0}))


def _best_lines(plan, lines: list[dict]) -> list[str]:
    from microgradcli.sweep import best_trial, group_results

    m = plan.sweep.metric
    groups = group_results(lines, m.name, m.direction)
    best = best_trial(groups[0], m.name, m.direction) if groups else None
    if best is None:
        return []
    value = _metric_text(best["metrics"][m.name], m.name)
    return [
        f"best: {_point(best)} ({m.name} {value}); train it again with:",
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
    rows = [
        [str(t.index + 1), t.id, *(_fmt(t.params[k]) for k in plan.keys), str(t.seed)]
        for t in plan.trials
    ]
    emit(table(["#", "id", *plan.keys, "seed"], rows, right=frozenset({0})))
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
    from microgradcli.sweep import sweep_dir_for

    scheduler = _where_to_run(jobs, scheduler, resume, force)
    plan = _load_plan(sweep_file, set_ or [])
    sweep_dir = sweep_dir_for(plan, out)
    if dry_run:
        _dry_run(plan, sweep_dir, json_out)
        return
    again = _resume_command(sweep_file, set_ or [], out)
    controls = _Controls(_Progress(quiet), json_out, sweep_dir, again)
    outcome = controls.run(
        plan, out=out, jobs=jobs, scheduler=scheduler, resume=resume, force=force
    )
    _report(plan, outcome, json_out, quiet, again, interrupted=controls.asked)


def _where_to_run(jobs: int | None, scheduler: str | None, resume: bool, force: bool):
    """--scheduler, else $DASK_SCHEDULER_ADDRESS unless --jobs says local processes."""
    from microgradcli.errors import InputError

    if scheduler is not None and jobs is not None:
        raise InputError(
            "--jobs is for local processes; with --scheduler the cluster's workers run the trials"
        )
    if resume and force:
        raise InputError("--resume keeps finished trials and --force deletes them; choose one")
    if scheduler is None and jobs is None:
        return os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    return scheduler


def _load_plan(sweep_file: str, sets: list[str]):
    """The sweep file read, every trial planned and validated."""
    from microgradcli.sweep import load_sweep, make_plan

    try:
        return make_plan(load_sweep(sweep_file, sets))
    except KeyboardInterrupt:
        typer.echo("interrupted before the sweep started; nothing was written", err=True)
        raise typer.Exit(130) from None


def _resume_command(sweep_file: str, sets: list[str], out: str | None) -> str:
    """The command that finishes this sweep: the same file, --set and --out."""
    words = ["mg", "sweep", sweep_file, *(w for s in sets for w in ("--set", s))]
    return shlex.join([*words, *(["--out", out] if out else []), "--resume"])


class _Controls:
    """What a sweep hears from outside: Ctrl-C, a --json reader that left, the progress."""

    def __init__(self, progress: _Progress, json_out: bool, sweep_dir, again: str):
        self.progress = progress
        self.json = json_out  # off once the reader of --json has left
        self.asked = False  # stop: cancel what is pending, stop what runs
        self.sweep_dir, self.again = sweep_dir, again

    def on_sigint(self, signum, frame) -> None:
        # First Ctrl-C: cancel what is pending, stop what runs, keep what finished.
        # A second one stops at once.
        self.asked = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_event(self, kind: str, data: dict) -> None:
        if kind in ("kept", "result") and self.json and not emit_json_piped(data):
            self.json = False  # `--json | head`: the reader left; stop as on Ctrl-C
            self.asked = True
        self.progress(kind, data)

    def run(self, plan, **options):
        """run_sweep() with these controls; a Ctrl-C that stops it at once exits 130."""
        from microgradcli.sweep import run_sweep

        previous = signal.signal(signal.SIGINT, self.on_sigint)
        try:
            return run_sweep(
                plan, on_event=self.on_event, should_stop=lambda: self.asked, **options
            )
        except KeyboardInterrupt:
            self.progress.stop()
            sys.stdout.flush()
            typer.echo(
                f"interrupted: stopped at once; finished trials are kept in {self.sweep_dir}; "
                f"finish with: {self.again}",
                err=True,
            )
            raise typer.Exit(130) from None
        finally:
            self.progress.stop()
            signal.signal(signal.SIGINT, previous)


def _headline(plan, outcome) -> str:
    head = (
        f"{plan.sweep.name}: {len(outcome.results)} trials ({outcome.ran} run, "
        f"{outcome.skipped} already done) in {outcome.seconds:.1f}s"
    )
    for status in ("diverged", "failed"):
        if outcome.ended(status):
            head += f"; {len(outcome.ended(status))} {status}"
    return head


def _report(plan, outcome, json_out: bool, quiet: bool, again: str, interrupted: bool) -> None:
    """The table by point and the best trial (stdout; the head line on stderr under
    --json), how to finish an interrupted sweep, or the first failed trial's error."""
    from microgradcli.errors import JobFailed

    lines = outcome.results
    if outcome.interrupted or interrupted:
        sys.stdout.flush()
        typer.echo(
            f"interrupted: {len(lines)} of {len(plan.trials)} trials finished, kept in "
            f"{outcome.sweep_dir}; finish with: {again}",
            err=True,
        )
        raise typer.Exit(130)
    if json_out and not quiet:
        typer.echo(f"{_headline(plan, outcome)} -> {outcome.sweep_dir}", err=True)
    elif not json_out:
        for text in (
            _headline(plan, outcome),
            "",
            _table(plan, lines),
            "",
            *_best_lines(plan, lines),
        ):
            emit(text)
        emit(f"results: {outcome.sweep_dir}/results.jsonl, one run folder per trial")
    failed = outcome.ended("failed")
    if failed:
        raise JobFailed(
            f"{len(failed)} of {len(lines)} trials failed; the first, {failed[0]['id']}: "
            f"{failed[0]['error']}; after fixing it, rerun them with: {again}"
        )
