"""`mg train`, `mg config` and `mg schema`: experiments from YAML files."""

from __future__ import annotations

import os
import signal
import sys

import typer

from microgradcli.cli._app import app
from microgradcli.cli._common import emit, emit_json, emit_json_piped, fancy_stderr

_SET_HELP = (
    "Override a config field, KEY.PATH=VALUE (VALUE is YAML), e.g. train.lr=0.5. Repeatable."
)


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--"
    m, sec = divmod(int(seconds + 0.5), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class _Progress:
    """One status line on stderr, only for a person at a terminal, redrawn as it trains.

    Its own line rather than rich's column table: at 80 or 60 columns the table squeezes
    every column to an ellipsis, while here the fields that matter most (the epoch count,
    the loss, the ETA) always stay and the others are dropped, least important first. It
    moves after every step, so a long epoch shows progress too.
    """

    def __init__(self, quiet: bool, json_out: bool = False):
        self.live = None
        # With --json on a terminal stdout, the JSON lines themselves are the progress: a
        # bar on the same screen would overwrite them.
        self.enabled = fancy_stderr(quiet) and not (json_out and sys.stdout.isatty())
        self.epochs = self.start_epoch = self.done = 0
        self.step = (0, 0)  # steps done in the epoch in progress, and steps in it
        self.rec: dict | None = None
        self.t0 = 0.0

    def start(self, info: dict) -> None:
        if not self.enabled:
            return
        import time

        from rich.console import Console
        from rich.live import Live

        self.epochs, self.start_epoch = info["epochs"], info["start_epoch"]
        self.done, self.t0 = info["start_epoch"], time.perf_counter()
        self.live = Live(
            self,
            console=Console(stderr=True),  # never stdout: it carries results
            refresh_per_second=4,
            redirect_stdout=False,  # rich would send our stdout (the JSON lines) to stderr
            redirect_stderr=False,
            transient=False,
        )
        self.live.start()

    def on_step(self, epoch: int, step: int, steps: int) -> None:
        self.step = (step, steps) if step < steps else (0, 0)

    def update(self, rec: dict) -> None:
        self.rec, self.done = rec, rec["epoch"]

    def note(self, message: str) -> None:
        """A line above the status line (or a plain line when there is none); safe in a
        signal handler: one os.write, no locks."""
        clear = "\r\x1b[2K" if self.live is not None else ""
        os.write(sys.stderr.fileno(), f"{clear}{message}\n".encode())

    def fields(self, now: float) -> list[tuple[int, str]]:
        """(priority, text) of every field in display order; 0 is kept longest."""
        rec, (step, steps) = self.rec or {}, self.step
        fraction = self.done + (step / steps if steps else 0.0)
        elapsed = now - self.t0
        run = fraction - self.start_epoch
        eta = (self.epochs - fraction) * elapsed / run if run > 0 else None
        out = [(0, f"epoch {self.done}/{self.epochs}")]
        if steps:
            out.append((3, f"step {step}/{steps}"))
        out.append((5, "{bar}"))
        out.append((0, f"loss {_num(rec.get('loss'))}"))
        if rec.get("accuracy") is not None:
            out.append((2, f"acc {_pct(rec['accuracy'])}"))
        if rec.get("val_loss") is not None:
            out.append((4, f"val {_num(rec['val_loss'])}"))
        if rec.get("val_accuracy") is not None:
            out.append((7, f"val_acc {_pct(rec['val_accuracy'])}"))
        if rec.get("lr") is not None:
            out.append((8, f"lr {rec['lr']:.3g}"))
        out.append((6, _clock(elapsed)))
        out.append((0, f"eta {_clock(eta)}"))
        return out

    def line(self, width: int, now: float) -> str:
        """The status line, as many fields as fit in `width` columns (least important go first)."""
        fields = self.fields(now)
        levels = sorted({p for p, _ in fields if p > 0}, reverse=True)
        for drop in [None, *levels]:
            kept = [t for p, t in fields if drop is None or p < drop]
            fixed = len("  ".join(t for t in kept if t != "{bar}"))
            if "{bar}" in kept:
                room = width - 1 - fixed - 2
                if room < 10:
                    continue
                kept[kept.index("{bar}")] = self.bar(min(room, 40))
            text = "  ".join(kept)
            if len(text) < width:
                return text
        return text[: max(width - 1, 0)]

    def bar(self, width: int) -> str:
        frac = 0.0
        if self.epochs:
            step, steps = self.step
            frac = min(1.0, (self.done + (step / steps if steps else 0.0)) / self.epochs)
        full = int(frac * width)
        return "━" * full + ("╺" if full < width else "") + "─" * max(width - full - 1, 0)

    def __rich_console__(self, console, options):
        import time

        from rich.text import Text

        yield Text(self.line(options.max_width, time.perf_counter()), no_wrap=True)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _summary_line(s: dict) -> str:
    head = f"{s['name']}: {s['stopped'].replace('_', ' ')} after {_plural(s['epochs'], 'epoch')}"
    if s.get("kept") == "best":
        monitor = "val_loss" if s.get("best_val_loss") is not None else "loss"
        head += f"; kept epoch {s['checkpoint_epoch']} (the best {monitor})"
    parts = [head, f"loss {_num(s['loss'])}"]
    if s["accuracy"] is not None:
        parts.append(f"accuracy {_pct(s['accuracy'])}")
    if s["val_loss"] is not None:
        parts.append(f"val_loss {_num(s['val_loss'])}")
    if s["val_accuracy"] is not None:
        parts.append(f"val_accuracy {_pct(s['val_accuracy'])}")
    parts.append(f"{s['wall_time']:.2f}s")
    return ", ".join(parts)


def _shell(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


@app.command("train")
def train_command(
    config: str = typer.Argument(
        None,
        help="The experiment's YAML file, or - for stdin (optional with --resume).",
        metavar="CONFIG",
        show_default=False,
    ),
    set_: list[str] = typer.Option(None, "--set", help=_SET_HELP, metavar="KEY.PATH=VALUE"),
    out: str = typer.Option(
        None, "--out", help="Run folder (default: output.dir, else runs/<name>).", metavar="DIR"
    ),
    force: bool = typer.Option(False, "--force", help="Replace the run already in the run folder."),
    resume: str = typer.Option(
        None,
        "--resume",
        help="Continue the run in this folder (or from this model.json); train.epochs counts "
        "all epochs. Without CONFIG, the checkpoint's own config is used.",
        metavar="RUN",
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Stream the log lines (JSON) to stdout, and nothing else."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print nothing but errors (with --json: the JSON lines)."
    ),
) -> None:
    """Train an MLP as a YAML experiment describes; leave a run folder.

    The run folder (runs/<name>, output.dir or --out) gets config.yaml (the resolved config), log.jsonl (one JSON line per epoch: epoch, loss, accuracy, val_loss, val_accuracy, lr, time), model.json (the checkpoint: enough to predict and to resume) and summary.json (the metrics of the model in model.json). A folder that already holds a run needs --force (it only ever deletes mg's own run files) or --resume. A CSV data.path is stored relative to the run folder, so a project folder can move as a whole.

    Output: a progress bar on stderr when it is a terminal; at the end, a summary on stdout. With --json, stdout carries only the log lines and the summary goes to stderr (unless --quiet).

    Ctrl-C stops after the current step; a second Ctrl-C stops at once. Either way model.json holds the last whole epoch, and mg prints the command that continues the run.

    Exit codes: 0 done (also after early stopping), 1 diverged (NaN or infinite loss: lower train.lr; the log and last good checkpoint are kept), 2 bad config or data, 130 interrupted by Ctrl-C or by a --json reader that left, as `| head` does.

    Example: mg train configs/moons.yaml --set train.lr=0.5 --json | jq .loss
    """
    cfg, base_dir = _load_config(config, set_ or [], out, resume)
    progress = _Progress(quiet, json_out)
    result = _Controls(progress, json_out).train(cfg, base_dir, out=out, force=force, resume=resume)
    _report(result, quiet, json_out)


def _load_config(config: str | None, sets: list[str], out: str | None, resume: str | None):
    """The config to train and the folder its relative paths start at: the CONFIG file's,
    or (with --resume alone) the checkpoint's own."""
    from microgradcli.config import config_from_dict, load_config
    from microgradcli.errors import InputError
    from microgradcli.train import checkpoint_path

    if out is not None and out.strip() == "-":
        raise InputError(
            "--out is a folder for the run's files, not stdout; use --json to stream the log to stdout"
        )
    if config is None and resume is None:
        raise InputError(
            "give the experiment's CONFIG file, e.g. mg train configs/moons.yaml, or --resume "
            "RUN to continue a run (see 'mg train --help')"
        )
    try:
        if config is not None:
            return load_config(config, sets)
        from microgradcli.checkpoint import load_checkpoint

        ckpt_file = checkpoint_path(resume)
        ckpt = load_checkpoint(ckpt_file)
        if not ckpt.config:
            raise InputError(f"{ckpt_file}: the checkpoint holds no config; give CONFIG too")
        base_dir = ckpt_file.resolve().parent
        return config_from_dict(ckpt.config, f"{ckpt_file} (its config)", sets, base_dir), base_dir
    except KeyboardInterrupt:
        typer.echo("interrupted before training started; nothing was written", err=True)
        raise typer.Exit(130) from None


class _Controls:
    """What a run hears from outside: Ctrl-C, a --json reader that left, the progress line."""

    def __init__(self, progress: _Progress, json_out: bool):
        self.progress = progress
        self.json = json_out  # off once the reader of --json has left
        self.asked = False  # stop after the current step
        self.started = False

    def on_sigint(self, signum, frame) -> None:
        # First Ctrl-C: say so at once, finish the step, save, exit 130. A second one
        # raises KeyboardInterrupt in the step: back to the last whole epoch, save, exit 130.
        self.asked = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.progress.note("stopping after this step (Ctrl-C again to stop now)")

    def on_start(self, info: dict) -> None:
        # Until now (reading and generating the data) Ctrl-C stops at once: nothing to save.
        self.started = True
        signal.signal(signal.SIGINT, self.on_sigint)
        self.progress.start(info)

    def on_epoch(self, rec: dict) -> None:
        if self.json and not emit_json_piped(rec):
            self.json = False  # `--json | head`: the reader left; stop as on Ctrl-C
            self.asked = True
        self.progress.update(rec)

    def train(self, cfg, base_dir, *, out, force: bool, resume):
        """train() with these controls; a Ctrl-C that stops it at once exits 130."""
        from microgradcli.train import train

        previous = signal.getsignal(signal.SIGINT)
        try:
            return train(
                cfg,
                base_dir,
                out=out,
                force=force,
                resume=resume,
                on_start=self.on_start,
                on_epoch=self.on_epoch,
                should_stop=lambda: self.asked,
                on_step=self.progress.on_step,
            )
        except KeyboardInterrupt:
            self.progress.stop()
            sys.stdout.flush()
            if not self.started:
                typer.echo("interrupted before the first epoch; nothing was trained", err=True)
            else:  # outside a step: every file on disk is whole
                typer.echo(
                    "interrupted: stopped at once; the last checkpoint written is kept", err=True
                )
            raise typer.Exit(130) from None
        finally:
            self.progress.stop()
            signal.signal(signal.SIGINT, previous)


def _report(result, quiet: bool, json_out: bool) -> None:
    """The summary (stdout, or stderr under --json), or how to continue an interrupted run."""
    s = result.summary
    if result.stopped == "interrupted":
        sys.stdout.flush()
        # The run folder holds the resolved config (overrides and all): naming it is enough.
        cmd = f"mg train --resume {_shell(str(result.run_dir))}"
        typer.echo(
            f"interrupted: saved epoch {s['checkpoint_epoch']} to {result.run_dir / 'model.json'}; "
            f"continue with: {cmd}",
            err=True,
        )
        raise typer.Exit(130)
    if quiet:
        return
    if json_out:
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
