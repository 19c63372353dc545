"""Pictures with matplotlib: loss curves, decision boundaries, a function and its derivative.

Imported only by `mg plot` (matplotlib costs about a second to import). Each figure has a
`*_data` function that computes the numbers and a `*_figure` function that draws them, so
tests can check what is plotted without reading pixels. Figures are rendered to bytes in
memory and written atomically; SVG output is deterministic (fixed hash salt, no date).
"""

from __future__ import annotations

import ast
import io
import json
import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: no display, no GUI toolkit

import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap, Normalize, to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from microgradcli import fileio  # noqa: E402
from microgradcli.checkpoint import Checkpoint, format_label  # noqa: E402
from microgradcli.errors import InputError, MathDomainError, option_error  # noqa: E402
from microgradcli.fileio import check_numbers, json_lines, read_input, write_output  # noqa: E402
from microgradcli.nn import MLP  # noqa: E402

__all__ = [
    "BoundaryData",
    "FunctionData",
    "LossData",
    "boundary_data",
    "boundary_figure",
    "function_data",
    "function_figure",
    "grid_forward",
    "loss_data",
    "loss_figure",
    "output_format",
    "parse_range",
    "read_log",
    "save_figure",
]

FORMATS = {".svg": "svg", ".png": "png"}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]  # fmt: skip
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linestyle": "-",
    "legend.frameon": True,
    "legend.framealpha": 0.9,
    "legend.fontsize": 9,
    "svg.hashsalt": "mg",  # fixed ids: the same data gives the same SVG bytes
    "svg.fonttype": "path",  # text as shapes: looks the same without the fonts installed
    "path.simplify": True,
}
SURFACE = "viridis"  # a regression model's output and its targets


# -- output ------------------------------------------------------------------------------
def output_format(path: str | Path, fmt: str | None = None) -> str:
    """'svg' or 'png' from --format or the output file's extension; anything else is an error."""
    return fileio.output_format(path, fmt, FORMATS)


def render(fig: Figure, fmt: str) -> bytes:
    """The figure as SVG or PNG bytes, with no timestamps in them."""
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    # numpy's overflow warnings from ticks of extreme axes (a loss of 1e308) are noise here
    with matplotlib.rc_context(STYLE), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fig.savefig(buf, format=fmt, metadata=metadata, bbox_inches="tight", pad_inches=0.15)
    return buf.getvalue()


def save_figure(fig: Figure, path: str | Path, fmt: str | None = None) -> int:
    """Render and write atomically (or to stdout for '-'); returns the number of bytes."""
    fmt = output_format(path, fmt)
    data = render(fig, fmt)
    write_output(path, data, "picture")
    return len(data)


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def _axes(fig: Figure):
    with matplotlib.rc_context(STYLE):
        ax = fig.add_subplot()
    return ax


# -- loss curves -------------------------------------------------------------------------
@dataclass
class LossData:
    """The columns of a training log (NaN where a value is missing), one entry per epoch."""

    source: str
    epoch: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    val_loss: np.ndarray
    val_accuracy: np.ndarray
    lr: np.ndarray

    def run_name(self) -> str:
        """The run's folder name (runs/moons -> moons), or '' for a bare log file."""
        p = Path(self.source)
        folder = p if p.is_dir() else p.parent
        return folder.resolve().name if (folder / "log.jsonl").exists() else ""

    def has(self, column: str) -> bool:
        return bool(np.isfinite(getattr(self, column)).any())


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a log.jsonl (or of RUN_DIR/log.jsonl, or of stdin: '-'), each line checked."""
    if str(path) != "-" and Path(path).is_dir():
        path = Path(path) / "log.jsonl"
    text, name = read_input(path, "log file", missing_hint="give a run folder or its log.jsonl")
    return _log_records(name, text)


def _log_records(path: str | Path, text: str) -> list[dict[str, Any]]:
    records = []
    for where, rec in json_lines(text, str(path), "log.jsonl"):
        if not isinstance(rec, dict) or "epoch" not in rec or "loss" not in rec:
            raise InputError(f'{where}: not a training log line (it needs "epoch" and "loss")')
        epoch = rec["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, (int, float)):
            raise InputError(f'{where}: "epoch" is {json.dumps(epoch)}, not a number')
        check_numbers(rec, ("loss", "accuracy", "val_loss", "val_accuracy", "lr"), where)
        records.append(rec)
    if not records:
        raise InputError(f"{path}: the log has no epochs yet")
    return records


def loss_data(path: str | Path) -> LossData:
    """Read a log into columns; a resumed run that logged an epoch twice keeps the last."""
    records = read_log(path)
    by_epoch: dict[float, dict[str, Any]] = {}
    for rec in records:
        by_epoch[rec["epoch"]] = rec
    rows = [by_epoch[k] for k in sorted(by_epoch)]

    def column(key: str) -> np.ndarray:
        return np.array([np.nan if r.get(key) is None else float(r[key]) for r in rows])

    return LossData(
        source=str(path),
        epoch=column("epoch"),
        loss=column("loss"),
        accuracy=column("accuracy"),
        val_loss=column("val_loss"),
        val_accuracy=column("val_accuracy"),
        lr=column("lr"),
    )


def loss_scale(runs: list[LossData], scale: str | None = None) -> str:
    """'log' when the losses span more than three decades, else 'linear' ('symlog' when
    a log scale must also show losses of exactly 0, as hinge reaches); `scale` forces
    'log' or 'linear'."""
    values = np.concatenate([np.concatenate([d.loss, d.val_loss]) for d in runs])
    values = values[np.isfinite(values)]
    positive = values[values > 0]
    if scale is None:
        wide = positive.size > 1 and positive.max() > 1e3 * positive.min()
        scale = "log" if wide and values.min() >= 0 else "linear"
    if scale == "log" and (values <= 0).any():
        return "symlog" if positive.size else "linear"
    return scale


def _epoch_axis(ax, epochs: np.ndarray) -> None:
    """Whole-number epoch ticks, every epoch when there are few; a lone epoch centred."""
    lo, hi = float(epochs.min()), float(epochs.max())
    pad = 0.5 if hi - lo < 1 else 0.25 if hi - lo <= 10 else 0.01 * (hi - lo)
    ax.set_xlim(lo - pad, hi + pad)  # room for the first and last markers
    if hi - lo <= 10 and np.all(epochs == np.round(epochs)):
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(np.unique(epochs)))
    else:
        ax.xaxis.set_major_locator(
            matplotlib.ticker.MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10])
        )
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%d"))


def _run_labels(runs: list[LossData]) -> list[str]:
    """Each run's folder name, or the path given when two runs share a name."""
    names = [d.run_name() or Path(d.source).stem for d in runs]
    if len(set(names)) < len(names):
        return [d.source for d in runs]
    return names


def loss_figure(
    data: LossData | list[LossData], title: str | None = None, scale: str | None = None
) -> Figure:
    """Loss against epoch on top, accuracy below (classifiers only), validation dashed,
    the legend below the plot where it hides nothing. Several runs are overlaid, one
    colour each. The loss axis is logarithmic when the loss spans more than three
    decades (scale 'log' or 'linear' chooses)."""
    runs = data if isinstance(data, list) else [data]
    accuracy = any(d.has("accuracy") or d.has("val_accuracy") for d in runs)
    validation = any(d.has("val_loss") or d.has("val_accuracy") for d in runs)
    several = len(runs) > 1
    fig = _figure(7.0, 5.4 if accuracy else 4.2)
    with matplotlib.rc_context(STYLE), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a loss of 1e308 overflows the ticks
        if accuracy:
            loss_ax, acc_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
        else:
            loss_ax, acc_ax = fig.add_subplot(), None
        kinds = [("loss", "val_loss", loss_ax), ("accuracy", "val_accuracy", acc_ax)]
        for i, (d, name) in enumerate(zip(runs, _run_labels(runs), strict=True)):
            colour = PALETTE[i % len(PALETTE)] if several else None
            marker = "o" if len(d.epoch) <= 30 else None
            kw = {"marker": marker, "markersize": 3, "linewidth": 1.8}
            for train_key, val_key, ax in kinds:
                if ax is None:
                    continue
                c = colour or (PALETTE[0] if train_key == "loss" else PALETTE[3])
                prefix = f"{name} " if several else ""
                if d.has(train_key):
                    ax.plot(d.epoch, getattr(d, train_key), color=c, label=f"{prefix}{train_key} (train)", **kw)  # fmt: skip
                if d.has(val_key):
                    ax.plot(d.epoch, getattr(d, val_key), color=c, linestyle="--", label=f"{prefix}{train_key} (validation)", **kw)  # fmt: skip
        _loss_axis(loss_ax, runs, loss_scale(runs, scale))
        if acc_ax is not None:
            acc_ax.set_ylim(-0.03, 1.03)
            acc_ax.set_ylabel("accuracy")
            acc_ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        for ax in fig.axes:
            ax.spines["right"].set_visible(False)
        bottom = acc_ax if acc_ax is not None else loss_ax
        bottom.set_xlabel("epoch")
        _epoch_axis(bottom, np.concatenate([d.epoch for d in runs]))
        handles = _loss_handles(fig, runs, validation)
        if len(handles) > 1:
            fig.legend(
                handles=handles,
                labels=[h.get_label() for h in handles],
                loc="outside lower center",
                ncols=min(len(handles), 4),
                frameon=False,
            )
        loss_ax.set_title(title or _loss_title(runs))
    return fig


def _loss_axis(loss_ax, runs: list[LossData], chosen: str) -> None:
    """The loss axis on the chosen scale: symlog (a loss that reaches 0), log or linear."""
    if chosen == "symlog":
        values = np.concatenate([np.concatenate([d.loss, d.val_loss]) for d in runs])
        # linear below the smallest loss that is not 0, so 0 sits a little below it
        tiny = float(values[np.isfinite(values) & (values > 0)].min())
        loss_ax.set_yscale("symlog", linthresh=10 ** math.floor(math.log10(tiny)), linscale=0.6)
        loss_ax.set_ylim(bottom=0)
    elif chosen == "log":
        loss_ax.set_yscale("log")
    else:
        finite = np.concatenate([d.loss[np.isfinite(d.loss)] for d in runs])
        if finite.size and finite.min() >= 0:
            loss_ax.set_ylim(bottom=0)
        loss_ax.yaxis.set_major_formatter(_readable_ticks())
    loss_ax.set_ylabel("loss" + (" (log scale)" if chosen != "linear" else ""))


def _loss_handles(fig: Figure, runs: list[LossData], validation: bool) -> list:
    """The legend's entries: every line of one run; for several, colour = run and line
    style = train / validation."""
    if len(runs) == 1:
        return [ln for a in fig.axes for ln in a.get_lines()]
    handles = [
        Line2D([], [], color=PALETTE[i % len(PALETTE)], linewidth=1.8, label=name)
        for i, name in enumerate(_run_labels(runs))
    ]
    if validation:
        handles += [
            Line2D([], [], color="#555555", linewidth=1.8, label="train"),
            Line2D([], [], color="#555555", linewidth=1.8, linestyle="--", label="validation"),
        ]
    return handles


def _loss_title(runs: list[LossData]) -> str:
    if len(runs) > 1:
        return f"Training — {len(runs)} runs"
    d = runs[0]
    last = int(d.epoch[-1])
    run = d.run_name()
    epochs = f"{last} epoch{'s' if last != 1 else ''}"
    return f"Training — {run} ({epochs})" if run else f"Training — {epochs}"


# -- decision boundary -------------------------------------------------------------------
def grid_forward(ckpt: Checkpoint, x: np.ndarray) -> np.ndarray:
    """The model's raw outputs for many rows at once: shape (rows, outputs).

    The tensor engine's forward in its fast mode (BLAS, numpy's functions) after the same
    normalisation: equal to Checkpoint.predict within rounding; `grid_labels` rechecks the
    few points that sit on a decision boundary with the exact mode.
    """
    from microgradcli.tensor_mlp import forward_rows

    z = np.asarray(x, dtype=float)
    if ckpt.normalize is not None:
        z = (z - np.asarray(ckpt.normalize["mean"], float)) / np.asarray(
            ckpt.normalize["std"], float
        )
    return forward_rows(ckpt.model, z, exact=False)


def grid_labels(ckpt: Checkpoint, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Class index per row (binary: 1 = classes[1]), as Checkpoint.predict decides it."""
    out = grid_forward(ckpt, x) if out is None else out
    labels, close = ckpt.task.decide_array(out)
    close |= ~np.isfinite(out).all(axis=1)
    # Points on (or within rounding of) the boundary: ask the exact forward, in one call.
    at = np.flatnonzero(close)
    if len(at):
        outs = ckpt.outputs([[float(v) for v in x[i]] for i in at])
        labels[at] = [ckpt.task.decide(o) for o in outs]
    return labels


@dataclass
class BoundaryData:
    """The grid (xs by ys), the class index or output at each grid point, and the points."""

    xs: np.ndarray  # (nx,)
    ys: np.ndarray  # (ny,)
    labels: np.ndarray | None  # (ny, nx) class index; None for regression
    output: np.ndarray  # (ny, nx) raw output (binary, regression) or top probability
    points: np.ndarray  # (n, 2) inputs, raw (as in the data, before any normalisation)
    point_labels: np.ndarray | None  # (n,) class index, or target for regression
    classes: list[str]
    features: list[str]
    scores: np.ndarray | None = None  # (ny, nx, classes) raw outputs, multi-class only
    accuracy: float | None = None  # classifiers: the share of the points labelled right
    rmse: float | None = None  # regression: root mean squared error on the points
    rows: str = ""  # which rows the points are, e.g. "all 100 rows", "20 val rows"

    @property
    def regression(self) -> bool:
        return self.labels is None

    def grid_points(self) -> np.ndarray:
        """Every grid point as a row, in the order of labels.ravel()."""
        gx, gy = np.meshgrid(self.xs, self.ys)
        return np.column_stack([gx.ravel(), gy.ravel()])

    def score_text(self) -> str:
        """'accuracy 97% on all 100 rows' (or the RMSE), '' without labelled points."""
        on = f" on {self.rows}" if self.rows else ""
        if self.accuracy is not None:
            return f"accuracy {100 * self.accuracy:.0f}%{on}"
        if self.rmse is not None:
            return f"RMSE {readable(self.rmse)}{on}"
        return ""


def readable(v: float, digits: int = 4) -> str:
    """A number for a person: 4 significant digits, 1e12 rather than 1000000000000."""
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    if v == 0 or 1e-4 <= abs(v) < 1e6:
        return f"{v:.{digits}g}"
    mantissa, exponent = f"{v:.{digits - 1}e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def _label_text(label: Any) -> str:
    if isinstance(label, (int, float)) and not isinstance(label, bool):
        return readable(label) if abs(label) >= 1e6 else format_label(label)
    return format_label(label)


def boundary_score(ckpt: Checkpoint, points: np.ndarray, point_labels: np.ndarray | None):
    """(accuracy, rmse) of the model on the points, each None where it does not apply.

    Accuracy counts the labels `mg predict` would give (grid_labels); RMSE is the
    regression output's error against the targets.
    """
    if point_labels is None or not len(points):
        return None, None
    if not ckpt.task.classifier:
        err = grid_forward(ckpt, points)[:, 0] - np.asarray(point_labels, float)
        with np.errstate(over="ignore", invalid="ignore"):
            return None, float(np.sqrt(np.mean(err * err)))
    return float((grid_labels(ckpt, points) == point_labels).mean()), None


def boundary_data(
    ckpt: Checkpoint,
    points: Any,
    point_labels: Any = None,
    resolution: int = 200,
    margin: float = 0.1,
    rows: str = "",
) -> BoundaryData:
    """Predict over a resolution x resolution grid covering the points with a margin.

    Points and grid are raw inputs: the checkpoint's normalisation is applied inside
    grid_forward, so the axes read in the data's own units. `rows` says which rows the
    points are, for the title's accuracy.
    """
    if ckpt.nin != 2:
        raise InputError(
            f"decision boundaries are drawn for models with 2 inputs; this one takes {ckpt.nin}"
        )
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    if pts.size == 0:
        raise option_error(
            InputError, "no data points to cover with the grid; give {o[data]} CONFIG_OR_CSV"
        )
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, np.maximum(np.abs(hi), 1.0))
    lo, hi = lo - margin * span, hi + margin * span
    xs = np.linspace(lo[0], hi[0], resolution)
    ys = np.linspace(lo[1], hi[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    out = grid_forward(ckpt, grid)
    shape = (len(ys), len(xs))
    task = ckpt.task
    labels = grid_labels(ckpt, grid, out).reshape(shape) if task.classifier else None
    value = task.confidence_array(out).reshape(shape)
    classes = [_label_text(c) for c in ckpt.class_list]
    features = ckpt.input_names  # the boundary is drawn for 2-input models only
    pl = None if point_labels is None else np.asarray(point_labels)
    if pl is not None and pl.shape != (len(pts),):
        raise InputError(f"{len(pts)} points but {pl.size} labels")
    scores = out.reshape(*shape, -1) if task.n_outputs > 1 else None
    accuracy, rmse = boundary_score(ckpt, pts, pl)
    return BoundaryData(
        xs, ys, labels, value, pts, pl, classes, [str(f) for f in features], scores,
        accuracy, rmse, rows,
    )  # fmt: skip


def boundary_title(data: BoundaryData, run: str = "") -> str:
    """'Decision boundary — moons (accuracy 100% on all 100 rows)'; regression says so."""
    kind = "Regression surface" if data.regression else "Decision boundary"
    head = f"{kind} — {run}" if run else kind
    score = data.score_text()
    return f"{head} ({score})" if score else head


def _lighten(colour: str, amount: float) -> tuple[float, float, float]:
    r, g, b = to_rgb(colour)
    return (1 - amount * (1 - r), 1 - amount * (1 - g), 1 - amount * (1 - b))


def _output_norm(data: BoundaryData) -> Normalize:
    """One colour scale for a regression surface and its targets, so a dot's colour
    against the surface behind it shows the error."""
    values = [data.output[np.isfinite(data.output)]]
    if data.point_labels is not None:
        values.append(np.asarray(data.point_labels, float))
    v = np.concatenate(values)
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    return Normalize(lo, hi if hi > lo else lo + 1.0)


def _class_colours(data: BoundaryData) -> list[str]:
    k = max(len(data.classes), int(data.labels.max()) + 1)
    return [PALETTE[i % len(PALETTE)] for i in range(k)]


def _draw_boundary(ax, data: BoundaryData, threshold: float, norm: Normalize | None) -> list:
    """Everything inside the axes (regions or surface, the boundary, the points), drawn the
    same way for every frame of a movie; returns what changes from frame to frame (the
    image first, then the boundary lines), for _redraw."""
    ax.grid(False)
    extent = (data.xs[0], data.xs[-1], data.ys[0], data.ys[-1])
    if data.regression:
        # the output as a heat map, lighter than the points coloured by their targets on
        # the same scale: a dot that stands out from its background is a miss
        image = ax.imshow(data.output, origin="lower", extent=extent, aspect="auto", cmap=SURFACE, norm=norm, interpolation="bilinear", alpha=0.6)  # fmt: skip
        if data.points.size and data.point_labels is not None:
            ax.scatter(data.points[:, 0], data.points[:, 1], c=np.asarray(data.point_labels, float), cmap=SURFACE, norm=norm, edgecolors="#222222", linewidths=0.7, s=34, zorder=3)  # fmt: skip
        elif data.points.size:
            ax.scatter(data.points[:, 0], data.points[:, 1], color="#444444", s=14, zorder=3)
        changing = [image]
    else:
        colours = _class_colours(data)
        k = len(colours)
        cmap = ListedColormap([_lighten(c, 0.28) for c in colours])
        image = ax.imshow(data.labels, origin="lower", extent=extent, aspect="auto", cmap=cmap, vmin=-0.5, vmax=k - 0.5, interpolation="nearest")  # fmt: skip
        changing = [image, *_draw_edges(ax, data, threshold)]
        for i in range(k):
            if data.point_labels is not None and data.points.size:
                mask = data.point_labels == i
                ax.scatter(data.points[mask, 0], data.points[mask, 1], color=colours[i], edgecolors="white", linewidths=0.7, s=30, zorder=3)  # fmt: skip
        if data.point_labels is None and data.points.size:
            ax.scatter(data.points[:, 0], data.points[:, 1], color="#444444", s=14, zorder=3)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel(data.features[0])
    ax.set_ylabel(data.features[1])
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(_readable_ticks())
    return changing


def _draw_edges(ax, data: BoundaryData, threshold: float) -> list:
    """The boundary itself, as smooth lines through the raw outputs."""
    gx, gy = np.meshgrid(data.xs, data.ys)
    if len(data.classes) == 2 and data.scores is None:
        if np.ptp(data.labels):
            return [ax.contour(gx, gy, data.output, levels=[threshold], colors="#333333", linewidths=1.2)]  # fmt: skip
        return []
    edges = []
    if data.scores is not None:
        # Region i's edge is where its score meets the best of the others: a smooth
        # zero level, where contouring the labels themselves would draw stairs.
        for i in range(data.scores.shape[2]):
            others = np.delete(data.scores, i, axis=2).max(axis=2)
            margin = data.scores[:, :, i] - others
            if margin.min() < 0 < margin.max():
                edges.append(ax.contour(gx, gy, margin, levels=[0.0], colors="#333333", linewidths=1.0))  # fmt: skip
    return edges


def _redraw(ax, changing: list, data: BoundaryData, threshold: float) -> list:
    """The next frame of a movie: the same points, axes and colours, a new image and new
    boundary lines (far cheaper than drawing the axes again)."""
    image, *edges = changing
    image.set_data(data.output if data.regression else data.labels)
    for edge in edges:
        edge.remove()
    return [image, *([] if data.regression else _draw_edges(ax, data, threshold))]


def _decorate(fig: Figure, ax, data: BoundaryData, norm: Normalize | None) -> None:
    """What stays the same from frame to frame: the colour bar or the class legend, placed
    outside the axes by the layout."""
    if norm is not None:
        cb = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=SURFACE), ax=ax)
        cb.set_label("model output (surface) / target (points)")
        cb.formatter = _readable_ticks()
        cb.update_ticks()
        return
    colours = _class_colours(data)
    names = [data.classes[i] if i < len(data.classes) else str(i) for i in range(len(colours))]
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=7,
            markerfacecolor=c,
            markeredgecolor="white",
            label=f"class {name}",
        )  # fmt: skip
        for c, name in zip(colours, names, strict=True)
    ]
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 5),
        frameon=False,
        title="region predicted / data point",
    )


def _readable_ticks() -> matplotlib.ticker.Formatter:
    # plain text, not mathtext: parsing "$-1.0$" for every tick of every frame of a movie
    # costs a quarter of its time
    f = matplotlib.ticker.ScalarFormatter(useMathText=False)
    f.set_powerlimits((-4, 5))  # 1e12 as "1e12" beside the axis, never 1000000000000
    return f


def boundary_figure(data: BoundaryData, title: str | None = None, threshold: float = 0.0) -> Figure:
    """Decision regions as a light image, the boundary as a line, the points on top; for a
    regression model its output surface, the points coloured by their targets."""
    fig = _figure(6.0, 5.0)
    ax = _axes(fig)
    norm = _output_norm(data) if data.regression else None
    with matplotlib.rc_context(STYLE):
        _draw_boundary(ax, data, threshold, norm)
        _decorate(fig, ax, data, norm)
        ax.set_title(title or boundary_title(data))
    return fig


# -- training as a movie -----------------------------------------------------------------
ANIMATIONS = {".gif": "gif", ".html": "html"}


def animation_format(path: str | Path, fmt: str | None = None) -> str:
    """'gif' or 'html' from --format or the extension of --animate's file (stdout: html)."""
    return fileio.output_format(path, fmt, ANIMATIONS, default="html")


@dataclass
class BoundaryFrame:
    """One frame of a movie: the boundary of the weights after `epoch` epochs."""

    epoch: int
    loss: float | None
    data: BoundaryData


def thin_snapshots(snapshots: list, max_frames: int) -> list:
    """At most max_frames snapshots, evenly spread over the run, the first and last kept:
    a movie of 1,000 epochs snapshotted every epoch stays a movie, not a gigabyte."""
    n = len(snapshots)
    if n <= max_frames:
        return list(snapshots)
    picks = sorted({round(i * (n - 1) / (max_frames - 1)) for i in range(max_frames)})
    return [snapshots[i] for i in picks]


def boundary_frames(
    ckpt: Checkpoint,
    snapshots: list,
    points: Any,
    point_labels: Any = None,
    resolution: int = 200,
    rows: str = "",
) -> list[BoundaryFrame]:
    """The boundary of every snapshot (snapshots.Snapshot), over one grid and one set of
    points: only the weights change from frame to frame."""
    frames = []
    for snap in snapshots:
        try:
            model = MLP.from_state_dict(snap.model)
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"snapshot of epoch {snap.epoch}: malformed weights ({e})") from None
        if (model.nin, model.nouts[-1]) != (ckpt.nin, ckpt.model.nouts[-1]):
            raise InputError(
                f"snapshot of epoch {snap.epoch}: a {model.nin}-input, {model.nouts[-1]}-output "
                f"model, not the run's {ckpt.nin} -> {ckpt.model.nouts[-1]}; is snapshots.jsonl "
                "from another run?"
            )
        data = boundary_data(replace(ckpt, model=model), points, point_labels, resolution, rows=rows)  # fmt: skip
        frames.append(BoundaryFrame(snap.epoch, snap.loss, data))
    if not frames:
        raise InputError("no snapshots to animate")
    return frames


def _frame_text(frame: BoundaryFrame, last: int) -> str:
    """'epoch 25 of 100 · train loss 0.0684 · accuracy 98% on all 100 rows'."""
    loss = "train loss —" if frame.loss is None else f"train loss {readable(frame.loss, 3)}"
    score = frame.data.score_text()
    return f"epoch {frame.epoch} of {last} · {loss}" + (f" · {score}" if score else "")


ANIMATION_DPI = 100  # 600 x 500 px frames: README size, and a GIF of a few hundred kB


def _movie(frames: list[BoundaryFrame], head: str, threshold: float):
    """(figure, draw(i)): one figure whose layout is fixed by the first frame, so every
    frame has the same axes, colours and size."""
    fig = _figure(6.4, 5.6)
    ax = _axes(fig)
    last = frames[-1].epoch
    # one colour scale for every frame: the trained model's
    norm = _output_norm(frames[-1].data) if frames[-1].data.regression else None

    changing: list = []

    def draw(i: int) -> None:
        nonlocal changing
        with matplotlib.rc_context(STYLE):
            if changing:
                changing = _redraw(ax, changing, frames[i].data, threshold)
            else:
                changing = _draw_boundary(ax, frames[i].data, threshold, norm)
            ax.set_title(_frame_text(frames[i], last), fontsize=10.5, fontweight="normal")

    draw(0)
    with matplotlib.rc_context(STYLE):
        fig.suptitle(head, fontsize=12, fontweight="bold")
        _decorate(fig, ax, frames[-1].data, norm)
        fig.get_layout_engine().set(w_pad=0.08, h_pad=0.08)  # inches: a little air
        fig.draw_without_rendering()  # lays the figure out once ...
    fig.set_layout_engine("none")  # ... and keeps that layout for every frame
    return fig, draw


def animation_bytes(
    frames: list[BoundaryFrame], fmt: str, head: str, threshold: float = 0.0, fps: float = 5.0
) -> bytes:
    """The movie as a GIF (matplotlib's Pillow writer) or as a self-contained HTML page."""
    from matplotlib.animation import PillowWriter

    fig, draw = _movie(frames, head, threshold)
    with matplotlib.rc_context(STYLE), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if fmt == "gif":
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "movie.gif"
                writer = PillowWriter(fps=fps)
                with writer.saving(fig, str(path), ANIMATION_DPI):
                    for i in range(len(frames)):
                        draw(i)
                        writer.grab_frame()
                return path.read_bytes()
        pngs = []
        for i in range(len(frames)):
            draw(i)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=ANIMATION_DPI, metadata={"Software": None})
            pngs.append(buf.getvalue())
    size = fig.get_size_inches() * ANIMATION_DPI
    return _html_movie(frames, pngs, head, int(round(size[0])), int(round(size[1])), fps)


def _html_movie(frames, pngs, head: str, width: int, height: int, fps: float) -> bytes:
    """One HTML file, no network: the PNG frames inline, a slider, play/pause, arrow keys."""
    import base64
    import html

    last = frames[-1].epoch
    info = [
        {
            "src": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
            "label": _frame_text(f, last),
        }
        for f, png in zip(frames, pngs, strict=True)
    ]
    data = json.dumps(info).replace("</", "<\\/")
    page = _HTML.format(
        title=html.escape(head),
        width=width,
        height=height,
        last=len(frames) - 1,
        first=info[0]["src"],
        label=html.escape(info[0]["label"]),
        delay=max(20, round(1000 / fps)),
        data=data,
    )
    return page.encode("utf-8")


_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 15px system-ui, sans-serif; margin: 1.5em; color: #222; }}
.movie {{ display: inline-block; }}
.movie img {{ display: block; max-width: 100%; height: auto; }}
.controls {{ display: flex; align-items: center; gap: 0.8em; margin-top: 0.5em; }}
.controls input {{ flex: 1; }}
button {{ font: inherit; min-width: 5.5em; }}
output {{ font-variant-numeric: tabular-nums; }}
</style>
</head>
<body>
<div class="movie">
<img id="frame" src="{first}" width="{width}" height="{height}" alt="{title}">
<div class="controls">
<button id="play" type="button">&#9654; play</button>
<input id="slider" type="range" min="0" max="{last}" value="0" step="1" aria-label="frame">
</div>
<p><output id="label" for="slider">{label}</output></p>
<p><small>Arrow keys step through the frames; space plays and pauses.</small></p>
</div>
<script id="frames" type="application/json">{data}</script>
<script>
(function () {{
  "use strict";
  var frames = JSON.parse(document.getElementById("frames").textContent);
  var img = document.getElementById("frame"), slider = document.getElementById("slider");
  var label = document.getElementById("label"), play = document.getElementById("play");
  var timer = null;
  function show(i) {{
    i = Math.max(0, Math.min(frames.length - 1, i));
    slider.value = i;
    img.src = frames[i].src;
    label.textContent = frames[i].label;
  }}
  function stop() {{
    if (timer !== null) {{ clearInterval(timer); timer = null; }}
    play.innerHTML = "&#9654; play";
  }}
  function start() {{
    if (+slider.value >= frames.length - 1) show(0);
    timer = setInterval(function () {{
      var next = +slider.value + 1;
      show(next);
      if (next >= frames.length - 1) stop();
    }}, {delay});
    play.innerHTML = "&#10074;&#10074; pause";
  }}
  play.addEventListener("click", function () {{ timer === null ? start() : stop(); }});
  slider.addEventListener("input", function () {{ stop(); show(+slider.value); }});
  document.addEventListener("keydown", function (e) {{
    if (e.key === "ArrowRight") {{ stop(); show(+slider.value + 1); e.preventDefault(); }}
    else if (e.key === "ArrowLeft") {{ stop(); show(+slider.value - 1); e.preventDefault(); }}
    else if (e.key === " ") {{ timer === null ? start() : stop(); e.preventDefault(); }}
  }});
}})();
</script>
</body>
</html>
"""


# -- a function and its derivative -------------------------------------------------------
@dataclass
class FunctionData:
    """f and df/dvar at each sample point (NaN where either is undefined)."""

    expr: str
    var: str
    xs: np.ndarray
    ys: np.ndarray
    dys: np.ndarray
    higher: tuple[np.ndarray, ...] = ()  # with order N > 1: the derivatives 2..N

    def curves(self) -> list[tuple[str, np.ndarray]]:
        """(y-axis label, values) of each curve to draw, one panel each, f first."""
        v = self.var
        return [(f"f({v})", self.ys), (f"df/d{v}", self.dys)]


def parse_range(text: str) -> tuple[float, float]:
    """'A:B' -> (A, B) with A < B, both finite numbers."""
    parts = text.split(":")
    if len(parts) != 2:
        raise option_error(InputError, "range {t!r}: give it as A:B, e.g. {o[range]} -5:5", t=text)
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise option_error(
            InputError, "range {t!r}: A and B must be numbers, e.g. {o[range]} -5:5", t=text
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(f"range {text!r}: A and B must be finite numbers")
    if not lo < hi:
        example = f"{min(lo, hi):g}:{max(lo, hi):g}" if lo != hi else f"{lo - 1:g}:{hi + 1:g}"
        raise option_error(
            InputError,
            "range {t!r} is empty: A must be less than B, e.g. {o[range]} {example}",
            t=text,
            example=example,
        )
    if not math.isfinite(hi - lo):
        raise InputError(f"range {text!r} is too wide: B - A must be a finite number")
    return lo, hi


def function_data(
    expr: str, lo: float, hi: float, points: int = 401, order: int = 1
) -> FunctionData:
    """Sample f and its derivative on [lo, hi]; the derivative from the engine's backward
    (order N > 1: derivatives 1..N, the backward pass differentiated again).

    Where the engine refuses a point only because a derivative is undefined there
    (sqrt at 0), f keeps its value and only f' has a gap.
    """
    from microgradcli.expr import parse_expression, render, value_and_grad

    if points < 2:
        raise option_error(InputError, "{o[points]} must be at least 2, got {n}", n=points)
    parsed = parse_expression(expr)
    names = list(parsed.variables)
    if len(names) != 1:
        shown = f" ({', '.join(names)})" if names else ""
        raise InputError(
            f'{expr!r} has {len(names)} variables{shown}; plot fn needs exactly one, e.g. "tanh(x)"'
        )
    var = names[0]
    xs = np.linspace(lo, hi, points)
    ys = np.full(points, np.nan)
    dys = np.full(points, np.nan)
    higher: tuple[np.ndarray, ...] = ()
    if order > 1:
        ys, derivs = _derivative_samples(parsed, var, xs, order)
        dys, higher = derivs[0], tuple(derivs[1:])
    tree = None
    for i, x in enumerate(xs if order == 1 else ()):
        try:
            ys[i], grad = value_and_grad(parsed, {var: float(x)})
        except MathDomainError:
            # undefined here (log of a negative, a pole): a gap in the curve, unless
            # only the derivative is undefined and f itself has a value
            tree = tree or ast.parse(render(parsed), mode="eval").body
            ys[i] = _value_only(tree, var, float(x))
            continue
        dys[i] = grad[var]
    if not np.isfinite(ys).any():
        raise option_error(
            InputError,
            "{e!r} is undefined everywhere on [{lo:g}, {hi:g}]; try another {o[range]}",
            e=expr,
            lo=lo,
            hi=hi,
        )
    return FunctionData(expr, var, xs, ys, dys, higher)


def _derivative_samples(parsed, var: str, xs: np.ndarray, order: int):
    """f and its derivatives 1..order at each x (NaN where one of them is undefined)."""
    from microgradcli.derivatives import derivatives

    ys = np.full(len(xs), np.nan)
    derivs = [np.full(len(xs), np.nan) for _ in range(order)]
    for i, x in enumerate(xs):
        try:
            r = derivatives(parsed, {var: float(x)}, order, count_nodes=False)
        except MathDomainError:
            continue
        ys[i] = r.value
        for k, d in enumerate(r.grads[var]):
            derivs[k][i] = d
    return ys, derivs


_SUPERSCRIPT = str.maketrans(
    "0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)


def prime(k: int) -> str:
    """The k-th derivative's name in a legend: primes up to 3, then f(4) as superscripts."""
    if k <= 3:
        return "f" + "'" * k
    return "f\u207d" + str(k).translate(_SUPERSCRIPT) + "\u207e"


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


_FLOAT_FUNCTIONS = {
    "exp": math.exp, "log": math.log, "sqrt": math.sqrt, "tanh": math.tanh,
    "sigmoid": _sigmoid, "relu": lambda z: max(z, 0.0), "sin": math.sin, "cos": math.cos,
    "abs": abs,
}  # fmt: skip
_FLOAT_OPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: math.pow,  # a real power or a ValueError, never a complex number
}


def _value_only(tree: ast.expr, var: str, x: float) -> float:
    """f(x) in plain floats (NaN where f itself is undefined), for the points where the
    engine stops because a derivative is undefined. The tree is render()'s text of an
    already-parsed expression: the expression language only, read through a whitelist."""
    from microgradcli.expr import CONSTANTS

    def ev(node: ast.expr) -> float:
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return x if node.id == var else CONSTANTS[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            return _FLOAT_OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return _FLOAT_FUNCTIONS[node.func.id](ev(node.args[0]))
        raise ValueError(f"unexpected {ast.dump(node)}")

    try:
        v = ev(tree)
    except (ValueError, ZeroDivisionError, OverflowError, KeyError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def curve_limits(values: np.ndarray) -> tuple[float, float] | None:
    """y limits that keep a curve readable next to a pole (1/x near 0), or None to let
    matplotlib show all of it.

    A pole shows as a tail far longer than the body of the values (the range beyond
    twice the middle 90%); then the window is the quartiles widened by 3 interquartile
    ranges, which holds several poles' worth of tails (tan, sec**2) out and keeps the
    curve between them. A steep but bounded curve (exp) has no such tail and is whole.
    """
    v = values[np.isfinite(values)]
    if v.size < 10:
        return None
    p5, q1, q3, p95 = np.percentile(v, [5, 25, 75, 95])
    if p95 - p5 <= 0 or v.max() - v.min() <= 2 * (p95 - p5):
        return None
    iqr = q3 - q1 if q3 > q1 else p95 - p5
    lo, hi = max(v.min(), q1 - 3 * iqr), min(v.max(), q3 + 3 * iqr)
    pad = 0.05 * (hi - lo)
    return float(lo - pad), float(hi + pad)


def broken_curve(
    xs: np.ndarray, ys: np.ndarray, limits: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """The curve with a gap (a NaN between two samples) wherever it jumps by more than
    the plotted range from one side of the window to the other: a pole crossed between
    samples (tan) is drawn as two branches, not as a vertical stroke through the
    asymptote. A steep climb towards a pole is kept: it runs to the window's edge."""
    lo, hi = limits
    mid = (lo + hi) / 2
    with np.errstate(invalid="ignore"):
        jump = np.abs(np.diff(ys)) > hi - lo
        across = (ys[:-1] - mid) * (ys[1:] - mid) < 0
    cuts = np.flatnonzero(jump & across)
    if not cuts.size:
        return xs, ys
    mids = (xs[cuts] + xs[cuts + 1]) / 2
    return np.insert(xs, cuts + 1, mids), np.insert(ys, cuts + 1, np.nan)


def function_figure(data: FunctionData, title: str | None = None) -> Figure:
    """f on top, its derivative below, one shared x axis, each with its own y range (so
    neither is flattened by the other), broken at poles, the axes through zero."""
    if data.higher:
        return _orders_figure(data, title)
    curves = data.curves()
    fig = _figure(7.0, 2.0 + 2.2 * len(curves))
    with matplotlib.rc_context(STYLE):
        axes = fig.subplots(len(curves), 1, sharex=True, squeeze=False)[:, 0]
        colours = [PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[4]]
        for i, (ax, (name, values)) in enumerate(zip(axes, curves, strict=True)):
            ax.axhline(0.0, color="#999999", linewidth=0.8, zorder=0)
            if data.xs[0] < 0 < data.xs[-1]:
                ax.axvline(0.0, color="#999999", linewidth=0.8, zorder=0)
            limits = curve_limits(values)
            if limits:
                ax.set_ylim(*limits)
                xs, ys = broken_curve(data.xs, values, limits)
            else:
                xs, ys = data.xs, values
            label = f"{name} = {data.expr}" if i == 0 else f"{name} (backward pass)"
            ax.plot(xs, ys, color=colours[i % len(colours)], linewidth=2.0, label=label)
            ax.set_ylabel(name if i == 0 else f"{name}  (backward pass)")
            ax.spines["right"].set_visible(False)
            ax.yaxis.set_major_formatter(_readable_ticks())
        axes[0].set_xlim(data.xs[0], data.xs[-1])
        axes[-1].set_xlabel(data.var)
        axes[-1].xaxis.set_major_formatter(_readable_ticks())
        axes[0].set_title(title or f"{data.expr} and its derivative")
    return fig


def _orders_figure(data: FunctionData, title: str | None) -> Figure:
    """--order N: f and its first N derivatives on one axes (HIPS autograd's tanh
    picture), legend f, f', f'', ..."""
    fig = _figure(7.0, 4.2)
    ax = _axes(fig)
    ax.axhline(0.0, color="#999999", linewidth=0.8, zorder=0)
    if data.xs[0] < 0 < data.xs[-1]:
        ax.axvline(0.0, color="#999999", linewidth=0.8, zorder=0)
    v = data.var
    ax.plot(data.xs, data.ys, color=PALETTE[0], linewidth=2.0, label=f"f({v}) = {data.expr}")
    first = f"f'({v}) (backward pass)"
    ax.plot(data.xs, data.dys, color=PALETTE[1], linewidth=1.8, linestyle="--", label=first)
    for k, ds in enumerate(data.higher, start=2):
        ax.plot(data.xs, ds, color=PALETTE[k % len(PALETTE)], linewidth=1.4, label=prime(k))
    spans = []  # each curve's own readable range (clipped only near a pole), then all of them
    for values in (data.ys, data.dys, *data.higher):
        finite = values[np.isfinite(values)]
        if finite.size:
            spans.append(curve_limits(values) or (float(finite.min()), float(finite.max())))
    if spans:
        lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlim(data.xs[0], data.xs[-1])
    ax.set_xlabel(v)
    ax.set_ylabel("value")
    ax.legend(loc="best")
    ax.set_title(title or f"{data.expr} and its first {len(data.higher) + 1} derivatives")
    return fig


def run_title(ckpt: Checkpoint, model_path: str | Path) -> str:
    """A short name for the run a checkpoint came from: its config's name, else its folder."""
    cfg = ckpt.config if isinstance(ckpt.config, dict) else {}
    return str(cfg.get("name") or Path(model_path).resolve().parent.name)


# -- sweeps ------------------------------------------------------------------------------
@dataclass
class SweepData:
    """A sweep's finished trials as points: x the value of one parameter, y the metric;
    `series` groups them by the values of the other parameters (one colour each)."""

    name: str
    key: str
    metric: str
    at: str
    ticks: list[Any]  # the parameter's distinct values, in the plan's order
    categorical: bool
    log_x: bool
    series: list[tuple[str, list[tuple[Any, float]]]]  # (label, [(x, y), ...])
    not_shown: dict[str, int]  # trials without a value, by status


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _log_spaced(values: list[float]) -> bool:
    """Positive values spread over a decade or more, more evenly on a log scale than on a
    linear one (0.01, 0.1, 1 or 2, 4, 8, 16): a log axis shows them evenly."""
    v = sorted(set(values))
    if len(v) < 2 or v[0] <= 0 or v[-1] / v[0] < 8:
        return False
    if len(v) == 2:
        return v[-1] / v[0] >= 10
    lin = np.diff(v) / v[-1]  # the ratios below do not change; squares cannot overflow
    log = np.diff(np.log(v))
    return float(np.std(log) / np.mean(log)) < float(np.std(lin) / np.mean(lin))


def _read_plan(sweep_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    """A sweep folder (or its results.jsonl or sweep.yaml) and the plan in its sweep.yaml."""
    import yaml

    folder = Path(sweep_dir)
    if folder.name in ("results.jsonl", "sweep.yaml"):
        folder = folder.parent
    plan_path = folder / "sweep.yaml"
    if not plan_path.is_file():
        raise InputError(
            f"{sweep_dir}: not a sweep folder (no sweep.yaml); give the folder mg sweep "
            "wrote, e.g. runs/sweeps/moons-lr"
        )
    try:
        plan = yaml.safe_load(fileio.read_text(plan_path, "sweep plan"))
    except yaml.YAMLError as e:
        raise InputError(f"{plan_path}: cannot read the sweep's plan ({e})") from None
    if not isinstance(plan, dict) or not isinstance(plan.get("parameters"), dict):
        raise InputError(f"{plan_path}: not a plan mg sweep wrote (no parameters)")
    return folder, plan


def _plotted_metric(plan: dict[str, Any], by: str, metric: str | None) -> tuple[str, str]:
    """The metric to plot (default: the sweep's) and the epoch it is read at."""
    from microgradcli.sweep import METRICS

    keys = list(plan["parameters"])
    if by not in keys:
        have = ", ".join(keys) if keys else "none: it varies only the seed"
        raise option_error(
            InputError,
            "{o[by]} {by}: not a parameter of sweep {name} (its parameters: {have})",
            by=by,
            name=plan.get("name"),
            have=have,
        )
    saved = plan.get("metric") or {}
    metric = metric or saved.get("name") or "loss"
    if metric not in METRICS:
        raise option_error(
            InputError,
            "{o[metric]} {metric}: must be one of {choices}",
            metric=metric,
            choices=", ".join(METRICS),
        )
    return metric, saved.get("at", "last") if metric == saved.get("name") else "last"


def _sweep_series(lines: list[dict], by: str, metric: str, order: list[str]):
    """The finished trials' (x, y) by the values of the other parameters, and how many
    trials have no value, by status; order (the x values, as JSON) grows as they come."""
    from microgradcli.sweep import format_params

    series: dict[str, list[tuple[Any, float]]] = {}
    not_shown: dict[str, int] = {}
    for r in lines:
        params = r.get("params") or {}
        y = (r.get("metrics") or {}).get(metric)
        if r.get("status") != "ok" or not _is_number(y) or by not in params:
            status = r.get("status") if r.get("status") != "ok" else f"no {metric}"
            not_shown[status] = not_shown.get(status, 0) + 1
            continue
        shown = json.dumps(params[by], sort_keys=True)
        if shown not in order:
            order.append(shown)
        rest = format_params({k: v for k, v in params.items() if k != by})
        series.setdefault(rest, []).append((params[by], float(y)))
    return series, not_shown


def sweep_data(sweep_dir: str | Path, by: str, metric: str | None = None) -> SweepData:
    """Read a sweep folder (sweep.yaml, results.jsonl) for a plot of metric against `by`."""
    from microgradcli.sweep import read_results

    folder, plan = _read_plan(sweep_dir)
    metric, at = _plotted_metric(plan, by, metric)
    order: list[str] = []  # the parameter's values in the plan's order
    for t in plan.get("plan") or []:
        shown = json.dumps((t.get("params") or {}).get(by), sort_keys=True)
        if shown not in order:
            order.append(shown)
    series, not_shown = _sweep_series(read_results(folder), by, metric, order)
    if not series:
        raise InputError(
            f"{folder}: no finished trial has a {metric} to plot"
            + (f" ({', '.join(f'{n} {s}' for s, n in not_shown.items())})" if not_shown else "")
        )
    ticks = [json.loads(s) for s in order]
    numeric = all(_is_number(v) for v in ticks)
    log_x = numeric and (
        by in (plan.get("log_scale") or []) or _log_spaced([float(v) for v in ticks])
    )
    return SweepData(
        name=str(plan.get("name", folder.name)),
        key=by,
        metric=metric,
        at=at,
        ticks=ticks,
        categorical=not numeric,
        log_x=log_x,
        series=list(series.items()),
        not_shown=not_shown,
    )


def _draw_sweep_series(ax, data: SweepData, s: int, label: str, points: list) -> None:
    """One series: a dot per trial, and mean ± sd over the seeds per value joined by a
    line (categories side by side, a little apart, when there are several series)."""
    n = len(data.series)
    colour = PALETTE[s % len(PALETTE)]
    index = {json.dumps(v, sort_keys=True): i for i, v in enumerate(data.ticks)}
    spread = 0.25 if data.categorical and n > 1 else 0.0
    shift = (s - (n - 1) / 2) * spread / max(n - 1, 1) if spread else 0.0
    xs_of: dict[str, list[float]] = {}
    for x, y in points:
        xs_of.setdefault(json.dumps(x, sort_keys=True), []).append(y)
    pos = [
        (index[k] + shift if data.categorical else float(json.loads(k)), ys)
        for k, ys in sorted(xs_of.items(), key=lambda item: index[item[0]])
    ]
    if not data.categorical:
        pos.sort(key=lambda p: p[0])
    dots_x = [x for x, ys in pos for _ in ys]
    dots_y = [y for _, ys in pos for y in ys]
    ax.scatter(dots_x, dots_y, s=16, color=colour, alpha=0.55, linewidths=0, zorder=3)
    ax.errorbar(
        [x for x, _ in pos],
        [float(np.mean(ys)) for _, ys in pos],
        yerr=[float(np.std(ys, ddof=1)) if len(ys) > 1 else 0.0 for _, ys in pos],
        color=colour,
        marker="o",
        markersize=5,
        linewidth=1.8,
        capsize=3,
        label=label or "mean ± sd over seeds",
        zorder=4,
    )


def _sweep_axes(ax, data: SweepData) -> None:
    """x: the parameter's values as ticks (categories, or a log axis); y: the metric."""
    from microgradcli.sweep import format_value

    if data.categorical:
        ax.set_xticks(range(len(data.ticks)), [format_value(v) for v in data.ticks])
        ax.set_xlim(-0.5, len(data.ticks) - 0.5)
    elif data.log_x:
        ax.set_xscale("log")
        ax.set_xticks([float(v) for v in data.ticks], [format_value(v) for v in data.ticks])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ys = [y for _, pts in data.series for _, y in pts]
    if "accuracy" in data.metric:
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    elif min(ys) > 0 and max(ys) / min(ys) > 1000:
        ax.set_yscale("log")
    ax.set_xlabel(data.key)
    ax.set_ylabel(f"{data.metric} ({'best epoch' if data.at == 'best' else 'last epoch'})")


def _sweep_legend(ax, n: int) -> None:
    """Below the axes: with many trials there is no empty corner to be sure of."""
    handles, labels = ax.get_legend_handles_labels()
    legend_title = None
    if n > 1:
        legend_title = "lines: mean ± sd over seeds; dots: one trial each"
    else:
        handles.append(
            Line2D([], [], color=PALETTE[0], marker="o", linestyle="none", markersize=4, alpha=0.55)
        )
        labels.append("one trial")
    ax.legend(
        handles,
        labels,
        title=legend_title,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=min(len(labels), 3),
        frameon=False,
    )


def sweep_figure(data: SweepData, title: str | None = None) -> Figure:
    """The metric against one parameter: a dot per trial, mean ± sd over the seeds per
    value joined by a line, one colour per combination of the other parameters."""
    fig = _figure(7.0, 4.2)
    ax = _axes(fig)
    for s, (label, points) in enumerate(data.series):
        _draw_sweep_series(ax, data, s, label, points)
    _sweep_axes(ax, data)
    _sweep_legend(ax, len(data.series))
    head = title or f"Sweep {data.name}: {data.metric} by {data.key}"
    if data.not_shown and title is None:
        head += " (" + ", ".join(f"{k} {v}" for k, v in data.not_shown.items()) + " not shown)"
        head = head.replace("(", "\n(", 1) if len(head) > 70 else head
    ax.set_title(head)
    return fig
