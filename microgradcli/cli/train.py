"""`mg train`, `mg config` and `mg schema`: experiments from YAML files."""

from __future__ import annotations

import os
import signal
import sys

import typer

from microgradcli.cli._app import app
from microgradcli.cli._common import emit, emit_json, fancy_stderr

_SET_HELP = (
    "Override a config field, KEY.PATH=VALUE (VALUE is YAML), e.g. train.lr=0.5. Repeatable."
)


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x) -> str:
    return "-" if x is None else f"{x:.4g}"


class _Progress:
    """A rich progress bar on stderr (only for a person at a terminal)."""

    def __init__(self, quiet: bool):
        self.bar = None
        self.enabled = fancy_stderr(quiet)

    def start(self, info: dict) -> None:
        if not self.enabled:
            return
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
            TextColumn("epoch"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[metrics]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),  # never stdout: it carries results
            transient=False,
        )
        self.task = self.bar.add_task(
            "train", total=info["epochs"], completed=info["start_epoch"], metrics=""
        )
        self.bar.start()

    def update(self, rec: dict) -> None:
        if self.bar is None:
            return
        metrics = f"loss {_num(rec['loss'])}"
        if rec["accuracy"] is not None:
            metrics += f"  acc {_pct(rec['accuracy'])}"
        if rec["val_loss"] is not None:
            metrics += f"  val {_num(rec['val_loss'])}"
        metrics += f"  lr {rec['lr']:.3g}"
        self.bar.update(self.task, completed=rec["epoch"], metrics=metrics)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _summary_line(s: dict) -> str:
    parts = [f"{s['name']}: {s['stopped'].replace('_', ' ')} after {s['epochs']} epochs"]
    parts.append(f"loss {_num(s['loss'])}")
    if s["accuracy"] is not None:
        parts.append(f"accuracy {_pct(s['accuracy'])}")
    if s["val_loss"] is not None:
        parts.append(f"val_loss {_num(s['val_loss'])}")
    if s["val_accuracy"] is not None:
        parts.append(f"val_accuracy {_pct(s['val_accuracy'])}")
    parts.append(f"{s['wall_time']:.2f}s")
    return ", ".join(parts)


@app.command("train")
def train_command(
    config: str = typer.Argument(
        ..., help="The experiment's YAML file, or - for stdin.", metavar="CONFIG"
    ),
    set_: list[str] = typer.Option(None, "--set", help=_SET_HELP, metavar="KEY.PATH=VALUE"),
    out: str = typer.Option(
        None, "--out", help="Run folder (default: output.dir, else runs/<name>).", metavar="DIR"
    ),
    force: bool = typer.Option(False, "--force", help="Replace the run already in the run folder."),
    resume: str = typer.Option(
        None,
        "--resume",
        help="Continue from this model.json, in its folder; train.epochs counts all epochs.",
        metavar="CHECKPOINT",
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Stream the log lines (JSON) to stdout, and nothing else."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress bar or summary line on stderr."
    ),
) -> None:
    """Train an MLP as a YAML experiment describes; leave a run folder.

    The run folder (runs/<name>, output.dir or --out) gets config.yaml (the resolved config), log.jsonl (one JSON line per epoch: epoch, loss, accuracy, val_loss, val_accuracy, lr, time), model.json (the checkpoint: enough to predict and to resume) and summary.json. A folder that already holds a run needs --force (it only ever deletes mg's own run files) or --resume.

    Output: a progress bar on stderr when it is a terminal; at the end, a summary on stdout. With --json, stdout carries only the log lines and the summary goes to stderr (unless --quiet).

    Exit codes: 0 done (also after early stopping), 1 diverged (NaN or infinite loss: lower train.lr; the log and last good checkpoint are kept), 2 bad config or data, 130 interrupted by Ctrl-C or by a --json reader that left, as `| head` does (a checkpoint of the last whole epoch is saved; continue with --resume).

    Example: mg train configs/moons.yaml --set train.lr=0.5 --json | jq .loss
    """
    from microgradcli.config import load_config
    from microgradcli.train import train

    try:
        cfg, base_dir = load_config(config, set_ or [])
    except KeyboardInterrupt:
        typer.echo("interrupted before training started; nothing was written", err=True)
        raise typer.Exit(130) from None
    progress = _Progress(quiet)
    stop = {"asked": False}

    def on_sigint(signum, frame):
        # First Ctrl-C: finish the step, save, exit 130. A second one stops at once.
        stop["asked"] = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    piping = {"json": json_out}

    def on_epoch(rec: dict) -> None:
        if piping["json"]:
            try:
                emit_json(rec)
            except BrokenPipeError:  # `--json | head`: the reader left; stop as on Ctrl-C
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                piping["json"] = False
                stop["asked"] = True
        progress.update(rec)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = train(
            cfg,
            base_dir,
            out=out,
            force=force,
            resume=resume,
            on_start=progress.start,
            on_epoch=on_epoch,
            should_stop=lambda: stop["asked"],
        )
    except KeyboardInterrupt:
        # A second Ctrl-C outside a step: stop now; every file on disk is whole.
        progress.stop()
        sys.stdout.flush()
        typer.echo("interrupted: stopped at once; the last checkpoint written is kept", err=True)
        raise typer.Exit(130) from None
    finally:
        progress.stop()
        signal.signal(signal.SIGINT, previous)
    s = result.summary
    model_path = result.run_dir / "model.json"
    if result.stopped == "interrupted":
        sys.stdout.flush()
        cmd = f"mg train {config} --resume {model_path}"
        typer.echo(
            f"interrupted: saved epoch {s['checkpoint_epoch']} to {model_path}; continue with: {cmd}",
            err=True,
        )
        raise typer.Exit(130)
    if json_out:
        if not quiet:
            typer.echo(f"{_summary_line(s)} -> {result.run_dir}", err=True)
        return
    emit(_summary_line(s))
    if result.stopped == "early_stopping":
        emit(s["reason"])
    emit(f"run: {result.run_dir} (model.json, log.jsonl, summary.json, config.yaml)")


@app.command("config")
def config_command(
    config: str = typer.Argument(
        ..., help="The experiment's YAML file, or - for stdin.", metavar="CONFIG"
    ),
    set_: list[str] = typer.Option(None, "--set", help=_SET_HELP, metavar="KEY.PATH=VALUE"),
    json_out: bool = typer.Option(False, "--json", help="Print the config as one JSON line."),
) -> None:
    """Validate a config and print it resolved: defaults filled, overrides applied.

    Relative data paths are shown resolved against the config file's folder. An
    invalid config is an error naming the file, line, key, bad value and what is
    allowed (exit 2).

    Example: mg config configs/moons.yaml --set train.lr=0.3
    """
    from microgradcli.config import config_dict, dump_config, load_config

    cfg, _ = load_config(config, set_ or [])
    if json_out:
        emit_json(config_dict(cfg))
    else:
        sys.stdout.write(dump_config(cfg))
        sys.stdout.flush()


@app.command("schema")
def schema_command(
    json_out: bool = typer.Option(
        False, "--json", help="The schema as one JSON line (it is pretty-printed JSON either way)."
    ),
) -> None:
    """Print the JSON Schema of config files, for editors' YAML completion.

    Example: mg schema > mg-config.schema.json
    """
    import json

    from microgradcli.config import config_schema

    if json_out:
        emit_json(config_schema())
    else:
        emit(json.dumps(config_schema(), indent=2))
