"""`mg plot loss|boundary|fn|sweep`: pictures as SVG or PNG (matplotlib, imported only here)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from microgradcli.cli._app import ExprCommand, MgGroup, app
from microgradcli.cli._common import refuse_binary_on_terminal

plot_app = typer.Typer(
    name="plot",
    cls=MgGroup,
    no_args_is_help=True,
    help=(
        "Pictures as SVG or PNG (by the output's extension): loss curves (one run or "
        "several overlaid), a decision boundary (with --animate: the boundary forming, "
        "as a GIF or an HTML page), a function and its derivative, a sweep.\n\n"
        'Example: mg plot fn "tanh(x)" --range -5:5 -o tanh.svg'
    ),
)
app.add_typer(plot_app, name="plot")

_OUT_HELP = "Output file: .svg or .png (- writes SVG to stdout)."
_FORMAT_HELP = "svg or png, whatever the output's extension (e.g. with -o -)."


def _save(fig: Any, out: str, fmt: str | None) -> None:
    from microgradcli.plot import save_figure

    size = save_figure(fig, out, fmt)
    if out != "-":
        sys.stderr.write(f"wrote {out} ({size / 1024:.1f} kB)\n")
        sys.stderr.flush()


def _check_output(out: str, fmt: str | None) -> None:
    """Fail on a bad extension before any work is done."""
    from microgradcli.plot import output_format

    refuse_binary_on_terminal(output_format(out, fmt), out == "-", "-o plot.png")


@plot_app.command("loss")
def plot_loss(
    runs: list[str] = typer.Argument(
        ..., help="Run folders (runs/NAME) or their log.jsonl files; several are overlaid."
    ),
    out: str = typer.Option("loss.svg", "--output", "-o", help=_OUT_HELP),
    log: bool = typer.Option(False, "--log", help="Loss on a log scale."),
    linear: bool = typer.Option(False, "--linear", help="Loss on a linear scale."),
    fmt: str | None = typer.Option(None, "--format", "-f", help=_FORMAT_HELP),
    title: str | None = typer.Option(None, "--title", help="Title (default: from the log)."),
) -> None:
    """Loss against epoch, accuracy below it (classifiers), validation curves dashed.

    The loss axis turns logarithmic when the loss spans more than three decades
    (--log or --linear to choose). Several runs are overlaid, one colour each,
    the legend naming them. Writes loss.svg unless -o says otherwise.

    Example: mg plot loss runs/a runs/b runs/c -o compare.svg
    """
    from microgradcli.errors import InputError
    from microgradcli.plot import loss_data, loss_figure

    if log and linear:
        raise InputError("give --log or --linear, not both")
    if runs.count("-") > 1:
        raise InputError("only one log can come from stdin (-)")
    _check_output(out, fmt)
    scale = "log" if log else "linear" if linear else None
    _save(loss_figure([loss_data(r) for r in runs], title, scale), out, fmt)


def _training_points(ckpt: Any, data: str | None, split: str) -> tuple[list, list | None, str]:
    """The points to draw and which rows they are: --data's rows, else the data the
    checkpoint's config describes (its train or val rows with --split)."""
    from microgradcli.errors import InputError
    from microgradcli.predict import read_dataset, training_dataset

    if split not in ("all", "train", "val"):
        raise InputError(f"--split {split!r}: use all, train or val")
    dataset = read_dataset(data, ckpt, split) if data else training_dataset(ckpt, split)
    if dataset is None:
        if split != "all":
            raise InputError(f"--split {split}: the model has no config to split; give --data")
        return [], None, ""
    n = len(dataset.x)
    rows = f"all {n} rows" if split == "all" else f"{n} {split} rows"
    labels = [
        ckpt.task.label_value(y, f"{dataset.name}: row {i}") for i, y in enumerate(dataset.y, 1)
    ]
    return dataset.x, labels, rows


@plot_app.command("boundary")
def plot_boundary(
    model: str = typer.Argument(
        ..., help="A run folder or its model.json (a model with 2 inputs)."
    ),
    out: str | None = typer.Option(
        None, "--output", "-o", help=_OUT_HELP + " Default boundary.svg."
    ),
    animate: str | None = typer.Option(
        None,
        "--animate",
        "-a",
        help="Write a movie instead, one frame per snapshot of the run (output.snapshot_every): "
        "a .gif or an .html page with a slider and a play button.",
    ),
    data: str | None = typer.Option(
        None,
        "--data",
        "-d",
        help="Points to draw: a config (.yaml) or a CSV file (default: the model's training data).",
    ),
    split: str = typer.Option(
        "all", "--split", help="all rows, or only the train or val rows of data.val_split."
    ),
    resolution: int = typer.Option(
        200, "--resolution", min=10, max=1000, help="Grid points along each axis."
    ),
    fps: float = typer.Option(
        5.0, "--fps", min=0.5, max=50.0, help="Frames per second (--animate)."
    ),
    max_frames: int = typer.Option(
        100,
        "--max-frames",
        min=2,
        max=1000,
        help="At most this many frames (--animate): more snapshots are thinned evenly, "
        "keeping the first and the last.",
    ),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help=_FORMAT_HELP + " With --animate: gif or html."
    ),
    title: str | None = typer.Option(None, "--title", help="Title (default: from the run)."),
) -> None:
    """Decision regions over a grid covering the data, the data points on top
    (2-D inputs only).

    Each grid point gets the label `mg predict` would give it; the title gives the
    accuracy and on which rows. A regression model's output is drawn as a surface,
    the points coloured by their targets. Writes boundary.svg unless -o says
    otherwise. --animate draws the run's snapshots as a movie (train with
    --set output.snapshot_every=5 to keep them).

    Example: mg plot boundary runs/moons --animate boundary.gif
    """
    from microgradcli import plot
    from microgradcli.errors import InputError

    if animate is not None:
        if out is not None:
            raise InputError("give -o for a picture or --animate for a movie, not both")
        movie_fmt = plot.animation_format(animate, fmt)
        refuse_binary_on_terminal(movie_fmt, animate == "-", "--animate boundary.gif")
        if model == "-":
            raise InputError("--animate reads the run's snapshots.jsonl; give the run folder")
    else:
        out = out or "boundary.svg"
        _check_output(out, fmt)
    path, ckpt = _two_input_model(model)
    run = plot.run_title(ckpt, path)
    if animate is not None:
        snaps = _movie_snapshots(path, max_frames)
    points, labels, rows = _training_points(ckpt, data, split)
    if animate is None:
        bd = plot.boundary_data(ckpt, points, labels, resolution=resolution, rows=rows)
        _save(
            plot.boundary_figure(bd, title or plot.boundary_title(bd, run), ckpt.threshold),
            out,
            fmt,
        )
        return
    frames = plot.boundary_frames(ckpt, snaps, points, labels, resolution, rows)
    kind = "Decision boundary" if ckpt.task.classifier else "Regression surface"
    head = title or f"{kind} — {run}"
    movie = plot.animation_bytes(frames, movie_fmt, head, ckpt.threshold, fps)
    from microgradcli.fileio import write_output

    write_output(animate, movie, "movie")
    if animate != "-":
        sys.stderr.write(f"wrote {animate} ({len(frames)} frames, {len(movie) / 1024:.1f} kB)\n")
        sys.stderr.flush()


def _two_input_model(model: str) -> tuple[str, Any]:
    """The model's path and checkpoint: a run folder means its model.json; 2 inputs only."""
    from microgradcli.checkpoint import load_checkpoint, model_path
    from microgradcli.errors import InputError

    path = str(model_path(model))
    ckpt = load_checkpoint(path)
    if ckpt.nin != 2:
        raise InputError(
            f"{path}: decision boundaries are drawn for models with 2 inputs; this one takes {ckpt.nin}"
        )
    return path, ckpt


def _movie_snapshots(path: str, max_frames: int) -> list:
    """The run's snapshots, thinned to max_frames (saying so on stderr when it thins)."""
    from microgradcli.plot import thin_snapshots
    from microgradcli.snapshots import read_snapshots

    every = read_snapshots(path)
    snaps = thin_snapshots(every, max_frames)
    if len(snaps) < len(every):
        sys.stderr.write(
            f"note: {len(every)} snapshots; drawing {len(snaps)} of them (--max-frames)\n"
        )
    return snaps


@plot_app.command("fn", cls=ExprCommand)
def plot_fn(
    expr: str = typer.Argument(
        ..., help='An expression of one variable, e.g. "tanh(x)"; - reads it from stdin.'
    ),
    range_: str = typer.Option(
        "-5:5", "--range", "-r", help="A:B, the interval to plot (write --range=-5:5 or -r -5:5)."
    ),
    out: str = typer.Option("fn.svg", "--output", "-o", help=_OUT_HELP),
    points: int = typer.Option(401, "--points", "-n", min=2, max=100_000, help="Sample points."),
    fmt: str | None = typer.Option(None, "--format", "-f", help=_FORMAT_HELP),
    title: str | None = typer.Option(None, "--title", help="Title (default: the expression)."),
    order: int = typer.Option(
        1, "--order", min=1, max=10, help="Plot derivatives 1..N (each order costs ~3x more)."
    ),
) -> None:
    """A function of one variable and its derivative, computed by the engine's
    backward pass (--order N: its first N derivatives, on one figure).

    f on top, f' below, each with its own y range. Where the function is
    undefined (log of a negative number, a pole) the curves have a gap, and a
    pole crossed between two samples (tan) breaks the line. Writes fn.svg
    unless -o says otherwise.

    Example: mg plot fn "tanh(x)" --range -5:5 -o tanh.svg
    """
    from microgradcli.plot import function_data, function_figure, parse_range

    _check_output(out, fmt)
    lo, hi = parse_range(range_)
    if expr == "-":
        from microgradcli.cli._common import read_stdin_text
        from microgradcli.errors import InputError

        expr = read_stdin_text().strip()
        if not expr:
            raise InputError(
                'stdin: no expression; pipe one in, e.g. echo "tanh(x)" | mg plot fn -'
            )
    _save(function_figure(function_data(expr, lo, hi, points, order), title), out, fmt)


@plot_app.command("sweep")
def plot_sweep(
    sweep_dir: str = typer.Argument(
        ..., help="A sweep folder (runs/sweeps/NAME).", metavar="SWEEP_DIR"
    ),
    by: str = typer.Option(
        ..., "--by", help="The parameter on the x axis, e.g. train.lr.", metavar="KEY"
    ),
    metric: str | None = typer.Option(
        None,
        "--metric",
        help="loss, accuracy, val_loss or val_accuracy (default: the sweep's metric).",
        metavar="NAME",
    ),
    out: str = typer.Option("sweep.svg", "--output", "-o", help=_OUT_HELP),
    fmt: str | None = typer.Option(None, "--format", "-f", help=_FORMAT_HELP),
    title: str | None = typer.Option(None, "--title", help="Title (default: from the sweep)."),
) -> None:
    """A sweep's metric against one parameter: a dot per trial, mean ± sd over the seeds
    per value, the other parameters as colours.

    A log-spaced parameter (0.01, 0.1, 1) gets a log axis. Diverged and failed trials are
    counted in the title. Writes sweep.svg unless -o says otherwise.

    Example: mg plot sweep runs/sweeps/moons-lr --by train.lr -o lr.svg
    """
    from microgradcli.plot import sweep_data, sweep_figure

    _check_output(out, fmt)
    _save(sweep_figure(sweep_data(sweep_dir, by, metric), title), out, fmt)
