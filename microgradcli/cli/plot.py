"""`mg plot loss|boundary|fn`: pictures as SVG or PNG (matplotlib, imported only here)."""

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
        "Pictures as SVG or PNG (by the output's extension): a loss curve, a decision "
        "boundary, a function and its derivative.\n\n"
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

    refuse_binary_on_terminal(output_format(out, fmt), out == "-", "plot.png")


@plot_app.command("loss")
def plot_loss(
    run: str = typer.Argument(..., help="A run folder (runs/NAME) or its log.jsonl."),
    out: str = typer.Option("loss.svg", "--output", "-o", help=_OUT_HELP),
    fmt: str | None = typer.Option(None, "--format", "-f", help=_FORMAT_HELP),
    title: str | None = typer.Option(None, "--title", help="Title (default: from the log)."),
) -> None:
    """Loss against epoch, accuracy on a second axis, validation curves dashed.

    Writes loss.svg in the current folder unless -o says otherwise.

    Example: mg plot loss runs/moons/log.jsonl -o loss.svg
    """
    from microgradcli.plot import loss_data, loss_figure

    _check_output(out, fmt)
    _save(loss_figure(loss_data(run), title), out, fmt)


def _training_points(ckpt: Any, data: str | None) -> tuple[list, list | None]:
    """The points to draw: --data's rows, else the data the checkpoint's config describes."""
    from microgradcli.predict import read_dataset, training_dataset

    dataset = read_dataset(data, ckpt) if data else training_dataset(ckpt)
    if dataset is None:
        return [], None
    labels = [
        ckpt.task.label_value(y, f"{dataset.name}: row {i}") for i, y in enumerate(dataset.y, 1)
    ]
    return dataset.x, labels


@plot_app.command("boundary")
def plot_boundary(
    model: str = typer.Argument(..., help="A model.json with 2 inputs."),
    out: str = typer.Option("boundary.svg", "--output", "-o", help=_OUT_HELP),
    data: str | None = typer.Option(
        None,
        "--data",
        "-d",
        help="Points to draw: a config (.yaml) or a CSV file (default: the model's training data).",
    ),
    resolution: int = typer.Option(
        200, "--resolution", min=10, max=1000, help="Grid points along each axis."
    ),
    fmt: str | None = typer.Option(None, "--format", "-f", help=_FORMAT_HELP),
    title: str | None = typer.Option(None, "--title", help="Title (default: from the run)."),
) -> None:
    """Decision regions over a grid covering the data, the data points on top
    (2-D inputs only).

    Each grid point gets the label `mg predict` would give it. For regression
    models the output is drawn as a heat map. Writes boundary.svg unless
    -o says otherwise.

    Example: mg plot boundary runs/moons/model.json -o boundary.png
    """
    from microgradcli.checkpoint import load_checkpoint
    from microgradcli.errors import InputError
    from microgradcli.plot import boundary_data, boundary_figure, run_title

    _check_output(out, fmt)
    ckpt = load_checkpoint(model)
    if ckpt.nin != 2:
        raise InputError(
            f"{model}: decision boundaries are drawn for models with 2 inputs; this one takes {ckpt.nin}"
        )
    points, labels = _training_points(ckpt, data)
    bd = boundary_data(ckpt, points, labels, resolution=resolution)
    if title is None:
        title = f"Decision boundary — {run_title(ckpt, model)}"
        if labels is not None and bd.labels is not None and len(points):
            from microgradcli.plot import grid_labels

            acc = float((grid_labels(ckpt, bd.points) == bd.point_labels).mean())
            title += f" (accuracy {100 * acc:.0f}%)"
    _save(boundary_figure(bd, title, ckpt.threshold), out, fmt)


@plot_app.command("fn", cls=ExprCommand)
def plot_fn(
    expr: str = typer.Argument(..., help='An expression of one variable, e.g. "tanh(x)".'),
    range_: str = typer.Option(
        "-5:5", "--range", "-r", help="A:B, the interval to plot (write --range=-5:5 or -r -5:5)."
    ),
    out: str = typer.Option("fn.svg", "--output", "-o", help=_OUT_HELP),
    points: int = typer.Option(401, "--points", "-n", min=2, max=100_000, help="Sample points."),
    fmt: str | None = typer.Option(None, "--format", "-f", help=_FORMAT_HELP),
    title: str | None = typer.Option(None, "--title", help="Title (default: the expression)."),
) -> None:
    """A function of one variable and its derivative, computed by the engine's
    backward pass.

    Where the function is undefined (log of a negative number, a pole) the
    curves have a gap. Writes fn.svg unless -o says otherwise.

    Example: mg plot fn "tanh(x)" --range -5:5 -o tanh.svg
    """
    from microgradcli.plot import function_data, function_figure, parse_range

    _check_output(out, fmt)
    lo, hi = parse_range(range_)
    _save(function_figure(function_data(expr, lo, hi, points), title), out, fmt)
