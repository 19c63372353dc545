"""Pictures: valid SVG/PNG files, and the plotted numbers are the right ones."""

from __future__ import annotations

import io
import json
import math
import random
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from microgradcli import plot
from microgradcli.checkpoint import Checkpoint
from microgradcli.engine import Value
from microgradcli.errors import InputError
from microgradcli.nn import MLP

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_log(path, epochs=12, val=True):
    lines = []
    for e in range(1, epochs + 1):
        rec = {
            "epoch": e,
            "loss": 1.0 / e,
            "accuracy": min(1.0, 0.5 + e / 20),
            "val_loss": 1.2 / e if val else None,
            "val_accuracy": min(1.0, 0.4 + e / 20) if val else None,
            "lr": 1.0 - 0.05 * e,
            "time": 0.1 * e,
        }
        lines.append(json.dumps(rec))
    path.write_text("\n".join(lines) + "\n")
    return path


# -- output formats ------------------------------------------------------------------
def test_output_format_by_extension():
    assert plot.output_format("a.svg") == "svg"
    assert plot.output_format("dir/B.PNG") == "png"
    assert plot.output_format("-") == "svg"
    assert plot.output_format("whatever.out", "png") == "png"
    with pytest.raises(
        InputError, match=r"a.gif: extension '.gif'; the output must end in .svg or .png"
    ):
        plot.output_format("a.gif")
    with pytest.raises(InputError, match="no extension"):
        plot.output_format("picture")
    with pytest.raises(InputError, match="unknown format 'jpg'"):
        plot.output_format("a.svg", "jpg")


# -- loss curves ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def loss_fig(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    write_log(run / "log.jsonl")
    data = plot.loss_data(run)  # a run folder means its log.jsonl
    return data, plot.loss_figure(data)


def test_loss_data_columns(loss_fig):
    data, _ = loss_fig
    assert data.epoch.tolist() == list(range(1, 13))
    assert data.loss.tolist() == [1.0 / e for e in range(1, 13)]
    assert data.val_loss.tolist() == [1.2 / e for e in range(1, 13)]
    assert data.has("accuracy") and data.has("val_accuracy")


def test_loss_figure_svg_and_png(loss_fig, tmp_path):
    _, fig = loss_fig
    plot.save_figure(fig, tmp_path / "loss.svg")
    root = ET.parse(tmp_path / "loss.svg").getroot()
    assert root.tag.endswith("svg")
    plot.save_figure(fig, tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes().startswith(PNG_SIGNATURE)
    # deterministic: the same data gives the same SVG bytes, even from a new figure
    again = plot.loss_figure(plot.loss_data(loss_fig[0].source))
    assert plot.render(again, "svg") == (tmp_path / "loss.svg").read_bytes()
    ax = fig.axes[0]
    labels = [line.get_label() for a in fig.axes for line in a.get_lines()]
    assert labels == [
        "loss (train)",
        "loss (validation)",
        "accuracy (train)",
        "accuracy (validation)",
    ]
    styles = [line.get_linestyle() for a in fig.axes for line in a.get_lines()]
    assert styles == ["-", "--", "-", "--"]  # validation dashed
    assert fig.axes[1].get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert fig.axes[1].get_ylabel() == "accuracy"  # its own panel, below the loss
    assert fig.legends and ax.get_title()
    assert list(ax.get_lines()[0].get_ydata()) == [1.0 / e for e in range(1, 13)]


def test_loss_without_validation_or_accuracy(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text('{"epoch": 1, "loss": 2.0}\n{"epoch": 2, "loss": 1.0, "accuracy": null}\n')
    data = plot.loss_data(p)
    assert not data.has("val_loss") and not data.has("accuracy")
    fig = plot.loss_figure(data)
    assert len(fig.axes) == 1 and [ln.get_label() for ln in fig.axes[0].get_lines()] == [
        "loss (train)"
    ]


def test_resumed_log_keeps_the_last_record_of_an_epoch(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text('{"epoch": 1, "loss": 3}\n{"epoch": 2, "loss": 2}\n{"epoch": 2, "loss": 1.5}\n')
    assert plot.loss_data(p).loss.tolist() == [3.0, 1.5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"epoch": 1, "loss": 1}\n{"epoch": 2, "lo', "log.jsonl:2:14: not valid JSON"),
        (
            '{"epoch": 1, "loss": 1}\n\n[1, 2]\n',
            'log.jsonl:3: not a training log line (it needs "epoch" and "loss")',
        ),
        ('{"epoch": 1, "loss": "high"}\n', 'log.jsonl:1: "loss" is "high", not a number or null'),
        ('{"epoch": "one", "loss": 1}\n', 'log.jsonl:1: "epoch" is "one", not a number'),
        ("\n", "log.jsonl: the log has no epochs yet"),
    ],
)
def test_bad_logs(tmp_path, text, message):
    (tmp_path / "log.jsonl").write_text(text)
    with pytest.raises(InputError) as e:
        plot.loss_data(tmp_path / "log.jsonl")
    assert message in str(e.value)


def test_log_from_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO('{"epoch": 1, "loss": 3}\n{"epoch": 2, "lo'))
    with pytest.raises(InputError, match="<stdin>:2:"):
        plot.loss_data("-")
    monkeypatch.setattr("sys.stdin", io.StringIO('{"epoch": 1, "loss": 3}\n'))
    assert plot.loss_data("-").loss.tolist() == [3.0]


def test_extreme_losses_render_without_warnings(tmp_path, recwarn):
    p = tmp_path / "log.jsonl"
    p.write_text('{"epoch": 1, "loss": 1}\n{"epoch": 2, "loss": 1e308}\n')
    plot.render(plot.loss_figure(plot.loss_data(p)), "svg")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_missing_log(tmp_path):
    with pytest.raises(InputError, match="no such log file"):
        plot.loss_data(tmp_path)  # a folder without log.jsonl


# -- decision boundaries -------------------------------------------------------------
def _points(n=40, seed=0):
    rng = random.Random(seed)
    return [[rng.uniform(-2, 3), rng.uniform(-1, 2)] for _ in range(n)]


@pytest.fixture(scope="module")
def binary():
    return Checkpoint(
        model=MLP(2, [8, 8, 1], activation="tanh", rng=random.Random(1)),
        task="binary",
        classes=[0, 1],
        threshold=0.0,
        normalize={"mean": [0.5, 0.5], "std": [1.5, 0.75]},
    )


def _predict_index(ckpt, row):
    res = ckpt.predict(row)
    return ckpt.classes.index(res["label"])


def test_boundary_grid_labels_equal_predict(binary):
    pts = _points()
    labels = [_predict_index(binary, p) for p in pts]
    bd = plot.boundary_data(binary, pts, labels, resolution=30)
    grid = bd.grid_points()
    want = [_predict_index(binary, [float(a), float(b)]) for a, b in grid]
    assert bd.labels.ravel().tolist() == want
    assert 0 < bd.labels.sum() < bd.labels.size  # the boundary crosses the picture
    # the grid covers the points with a margin
    assert bd.xs[0] < min(p[0] for p in pts) and bd.xs[-1] > max(p[0] for p in pts)
    assert bd.ys[0] < min(p[1] for p in pts) and bd.ys[-1] > max(p[1] for p in pts)
    # the raw outputs are the model's, normalisation included
    for (a, b), out in list(zip(grid, bd.output.ravel(), strict=True))[::97]:
        assert out == pytest.approx(
            binary.predict([float(a), float(b)])["output"], rel=1e-12, abs=1e-12
        )


def test_points_on_the_boundary_are_decided_by_predict():
    # w.x + b == 0 exactly on the line x1 == x2: numpy and the engine must agree there too
    model = MLP(2, [1], activation="linear", rng=random.Random(0))
    model.load_state_dict({"layers": [[{"w": [1.0, -1.0], "b": 0.0}]]})
    ckpt = Checkpoint(model=model, task="binary", classes=[-1, 1])
    grid = np.array([[v, v] for v in np.linspace(-1, 1, 11)] + [[0.5, 0.25], [0.25, 0.5]])
    got = plot.grid_labels(ckpt, grid).tolist()
    assert got == [_predict_index(ckpt, [float(a), float(b)]) for a, b in grid]
    assert got[-2:] == [1, 0]


def test_multiclass_boundary_and_figure(tmp_path):
    ckpt = Checkpoint(
        model=MLP(2, [8, 3], activation="relu", rng=random.Random(7)),
        task="multiclass",
        classes=["a", "b", "c"],
    )
    pts = _points(60, seed=1)
    labels = [_predict_index(ckpt, p) for p in pts]
    bd = plot.boundary_data(ckpt, pts, labels, resolution=25)
    want = [_predict_index(ckpt, [float(a), float(b)]) for a, b in bd.grid_points()]
    assert bd.labels.ravel().tolist() == want
    assert bd.classes == ["a", "b", "c"]
    fig = plot.boundary_figure(bd, "three classes")
    ax = fig.axes[0]
    assert ax.get_title() == "three classes"
    legend = fig.legends[0]  # below the axes, outside the data
    assert [t.get_text() for t in legend.get_texts()] == ["class a", "class b", "class c"]
    plot.save_figure(fig, tmp_path / "b.png")
    assert (tmp_path / "b.png").read_bytes().startswith(PNG_SIGNATURE)


def test_binary_boundary_figure_svg(binary, tmp_path):
    pts = _points()
    bd = plot.boundary_data(binary, pts, [_predict_index(binary, p) for p in pts], resolution=40)
    fig = plot.boundary_figure(bd, threshold=binary.threshold)
    plot.save_figure(fig, tmp_path / "b.svg")
    assert ET.parse(tmp_path / "b.svg").getroot().tag.endswith("svg")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    from matplotlib.collections import PathCollection

    dots = [c for c in ax.collections if type(c) is PathCollection]
    scattered = np.concatenate([c.get_offsets() for c in dots])
    assert sorted(map(tuple, scattered.tolist())) == sorted(map(tuple, pts))


def test_boundary_needs_two_inputs():
    ckpt = Checkpoint(model=MLP(3, [4, 1], rng=random.Random(0)), task="binary", classes=[-1, 1])
    with pytest.raises(InputError, match="models with 2 inputs; this one takes 3"):
        plot.boundary_data(ckpt, [[0, 0, 0]])


def test_regression_boundary_is_a_heat_map(tmp_path):
    ckpt = Checkpoint(model=MLP(2, [4, 1], rng=random.Random(0)), task="regression")
    bd = plot.boundary_data(ckpt, _points(10), [1.0] * 10, resolution=12)
    assert bd.labels is None
    want = [ckpt.predict([float(a), float(b)])["output"] for a, b in bd.grid_points()]
    assert bd.output.ravel().tolist() == pytest.approx(want, rel=1e-12, abs=1e-12)
    fig = plot.boundary_figure(bd)
    plot.save_figure(fig, tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes().startswith(PNG_SIGNATURE)


# -- a function and its derivative ---------------------------------------------------
def test_derivative_is_the_engines_gradient(tmp_path):
    fd = plot.function_data("x**3 - 2*sin(x)", -2.0, 2.0, points=41)
    assert fd.var == "x" and len(fd.xs) == 41
    assert fd.xs[0] == -2.0 and fd.xs[-1] == 2.0
    for x, y, dy in zip(fd.xs, fd.ys, fd.dys, strict=True):
        v = Value(float(x))
        out = v**3 - 2 * v.sin()
        out.backward()
        assert y == out.data and dy == v.grad
        assert dy == pytest.approx(3 * x * x - 2 * math.cos(x), rel=1e-12, abs=1e-12)
    fig = plot.function_figure(fd)
    f_ax, d_ax = fig.axes
    f_line, d_line = f_ax.get_lines()[-1], d_ax.get_lines()[-1]
    assert f_line.get_ydata().tolist() == fd.ys.tolist()
    assert d_line.get_ydata().tolist() == fd.dys.tolist()
    assert d_ax.get_xlabel() == "x" and f_ax.get_title()
    assert (f_ax.get_ylabel(), d_ax.get_ylabel()) == ("f(x)", "df/dx  (backward pass)")
    plot.save_figure(fig, tmp_path / "f.svg")
    assert ET.parse(tmp_path / "f.svg").getroot().tag.endswith("svg")


def test_any_variable_name_and_gaps_where_undefined():
    fd = plot.function_data("log(t)", -1.0, 1.0, points=21)
    assert fd.var == "t"
    defined = fd.xs > 0
    assert np.isnan(fd.ys[~defined]).all() and np.isnan(fd.dys[~defined]).all()
    assert np.allclose(fd.dys[defined], 1 / fd.xs[defined], rtol=1e-12)
    pole = plot.function_data("1/x", -1.0, 1.0, points=3)
    assert np.isnan(pole.ys[1]) and pole.ys[0] == -1.0 and pole.dys[2] == -1.0


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("x*y", "'x*y' has 2 variables (x, y); plot fn needs exactly one"),
        ("3 + pi", "'3 + pi' has 0 variables; plot fn needs exactly one"),
        ("sqrt(-1 - x*x)", "is undefined everywhere on [-5, 5]"),
    ],
)
def test_function_errors(expr, message):
    with pytest.raises(InputError) as e:
        plot.function_data(expr, -5.0, 5.0, points=11)
    assert message in str(e.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5:-5", "range '5:-5' is empty: A must be less than B, e.g. --range -5:5"),
        ("1:1", "range '1:1' is empty: A must be less than B, e.g. --range 0:2"),
        ("-1e308:1e308", "too wide"),
        ("a:b", "A and B must be numbers"),
        ("5", "give it as A:B"),
        ("1:2:3", "give it as A:B"),
        ("-inf:0", "finite"),
    ],
)
def test_bad_ranges(text, message):
    from microgradcli.cli._app import _render

    with pytest.raises(InputError) as e:
        plot.parse_range(text)
    assert message in _render(e.value)  # the CLI's words: --range
    assert "--" not in str(e.value)  # the library's: it names no flag


def test_good_ranges():
    assert plot.parse_range("-5:5") == (-5.0, 5.0)
    assert plot.parse_range("-1e-3:2.5") == (-0.001, 2.5)


# -- poles, y ranges, and sqrt at 0 -----------------------------------------------------
def _curve(ax):
    line = ax.get_lines()[-1]  # the curve (the zero lines come first)
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def _segments(xs, ys):
    """The drawn pieces of a line: runs of finite points, as (first x, last x)."""
    finite = np.isfinite(ys)
    pieces, start = [], None
    for i, ok in enumerate(finite):
        if ok and start is None:
            start = i
        if not ok and start is not None:
            pieces.append((xs[start], xs[i - 1]))
            start = None
    if start is not None:
        pieces.append((xs[start], xs[-1]))
    return pieces


@pytest.mark.parametrize(
    ("expr", "poles"),
    [
        ("1/x", [0.0]),
        ("1/(x-1)", [1.0]),
        ("sin(x)/cos(x)", [-3 * math.pi / 2, -math.pi / 2, math.pi / 2, 3 * math.pi / 2]),
    ],
)
def test_curves_break_at_poles(expr, poles, tmp_path):
    # 400 points: no sample lands on a pole, so the break must come from the jump itself
    fig = plot.function_figure(plot.function_data(expr, -5.0, 5.0, points=400))
    f_ax, d_ax = fig.axes
    pieces = _segments(*_curve(f_ax))
    assert len(pieces) == len(poles) + 1, (expr, pieces)
    for (_, end), (start, _), pole in zip(pieces[:-1], pieces[1:], poles, strict=True):
        assert end < pole < start and start - end < 0.03  # the gap is at the pole, and small
    # f' (the same sign on both sides of these poles) leaves the window instead: no
    # segment drawn inside the window comes near a pole
    xs, ys = _curve(d_ax)
    lo, hi = d_ax.get_ylim()
    for a, b, ya, yb in zip(xs, xs[1:], ys, ys[1:], strict=False):
        if any(a - 0.03 < p < b + 0.03 for p in poles) and np.isfinite([ya, yb]).all():
            assert min(ya, yb) > hi or max(ya, yb) < lo
    # in the SVG too: the path of f is cut into as many pieces (one moveto each)
    plot.save_figure(fig, tmp_path / "f.svg")
    root = ET.parse(tmp_path / "f.svg").getroot()
    paths = root.iter("{http://www.w3.org/2000/svg}path")
    (curve,) = [p for p in paths if "stroke: #1f77b4" in (p.get("style") or "")]  # f's colour
    assert curve.get("d").count("M") == len(poles) + 1


def test_a_sample_on_the_pole_is_a_gap_too():
    fig = plot.function_figure(plot.function_data("1/x", -1.0, 1.0, points=201))
    xs, ys = _curve(fig.axes[0])
    assert np.isnan(ys[xs == 0.0]).all() and len(_segments(xs, ys)) == 2


def test_f_and_its_derivative_have_their_own_y_ranges():
    fig = plot.function_figure(plot.function_data("1/x", -5.0, 5.0, points=400))
    f_ax, d_ax = fig.axes
    (f_lo, f_hi), (d_lo, d_hi) = f_ax.get_ylim(), d_ax.get_ylim()
    # f is odd and readable around +-1; f' = -1/x**2 is all below 0: neither flattened
    assert -10 < f_lo < -1 and 1 < f_hi < 10 and f_lo == pytest.approx(-f_hi)
    assert -40 < d_lo < -2 and 0 <= d_hi < 1
    # a bounded curve is shown whole: tanh and its derivative, exp
    for expr in ("tanh(x)", "exp(x)"):
        fd = plot.function_data(expr, -5.0, 5.0, points=101)
        for ax, values in zip(plot.function_figure(fd).axes, (fd.ys, fd.dys), strict=True):
            lo, hi = ax.get_ylim()
            assert lo <= values.min() and values.max() <= hi


def test_sqrt_keeps_its_value_where_only_the_derivative_is_undefined():
    fd = plot.function_data("sqrt(x)", -1.0, 1.0, points=21)
    at0 = int(np.flatnonzero(fd.xs == 0.0)[0])
    assert fd.ys[at0] == 0.0 and np.isnan(fd.dys[at0])  # (0, 0) is on the curve
    assert np.isnan(fd.ys[:at0]).all() and np.isnan(fd.dys[:at0]).all()
    assert np.allclose(fd.ys[at0 + 1 :], np.sqrt(fd.xs[at0 + 1 :]), rtol=1e-15)
    # the same rule inside an expression; a real pole stays a gap
    fd = plot.function_data("2 + sqrt(x)**3 - x", 0.0, 1.0, points=11)
    assert fd.ys[0] == 2.0 and np.isnan(fd.dys[0])
    assert np.isnan(plot.function_data("1/x", -1.0, 1.0, points=3).ys[1])
    assert np.isnan(plot.function_data("log(x)", -1.0, 1.0, points=3).ys[1])


# -- loss: scale, legend, ticks, several runs -----------------------------------------------
def _log_file(path, losses, acc=True, val=None):
    lines = []
    for e, loss in enumerate(losses, 1):
        rec = {"epoch": e, "loss": loss, "accuracy": 0.5 + 0.4 * e / len(losses) if acc else None}
        if val is not None:
            rec["val_loss"] = val[e - 1]
        lines.append(json.dumps(rec))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return plot.loss_data(path)


def test_log_scale_when_the_loss_spans_more_than_three_decades(tmp_path):
    wide = _log_file(tmp_path / "a" / "log.jsonl", [2.0, 0.5, 0.01, 1e-3])
    narrow = _log_file(tmp_path / "b" / "log.jsonl", [2.0, 0.5, 0.1, 0.01])
    diverged = _log_file(tmp_path / "c" / "log.jsonl", [1.0, 0.9, 6e300], acc=False)
    hinge = _log_file(tmp_path / "d" / "log.jsonl", [1.6, 0.1, 1e-3, 1e-4, 0.0, 0.0])
    assert plot.loss_scale([wide]) == "log" and plot.loss_scale([narrow]) == "linear"
    assert plot.loss_scale([diverged]) == "log"
    assert plot.loss_scale([hinge]) == "symlog"  # a log scale that still shows the zeros
    assert plot.loss_scale([wide], "linear") == "linear"
    assert plot.loss_scale([narrow], "log") == "log"
    assert plot.loss_figure(wide).axes[0].get_yscale() == "log"
    assert plot.loss_figure(wide, scale="linear").axes[0].get_yscale() == "linear"
    assert plot.loss_figure(narrow).axes[0].get_yscale() == "linear"
    ax = plot.loss_figure(hinge).axes[0]
    assert ax.get_yscale() == "symlog" and ax.get_ylim()[0] == 0.0


def _display_points(ax):
    pts = [ax.transData.transform(np.column_stack(line.get_data())) for line in ax.get_lines()]
    pts = np.concatenate(pts)
    return pts[np.isfinite(pts).all(axis=1)]


@pytest.mark.parametrize("epochs", [3, 60])
def test_the_legend_hides_no_data(tmp_path, epochs):
    losses = [1.0 / e for e in range(1, epochs + 1)]
    data = _log_file(tmp_path / "log.jsonl", losses, val=[1.2 * v for v in losses])
    fig = plot.loss_figure(data)
    renderer = fig._get_renderer()
    fig.draw_without_rendering()  # lays it out
    box = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        pts = _display_points(ax)
        inside = (
            (pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1) & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1)
        )  # fmt: skip
        assert not inside.any()
        assert not box.overlaps(ax.get_window_extent(renderer))  # outside every panel


def test_epoch_ticks_are_whole_numbers(tmp_path):
    one = plot.loss_figure(_log_file(tmp_path / "1" / "log.jsonl", [0.7]))
    plot.render(one, "svg")
    ticks = one.axes[-1].get_xticks()
    assert ticks.tolist() == [1.0]
    assert [t.get_text() for t in one.axes[-1].get_xticklabels()] == ["1"]
    for n in (3, 7, 45, 1000):
        fig = plot.loss_figure(_log_file(tmp_path / str(n) / "log.jsonl", [1.0] * n))
        plot.render(fig, "svg")
        lo, hi = fig.axes[-1].get_xlim()
        shown = [t for t in fig.axes[-1].get_xticks() if lo <= t <= hi]
        assert len(shown) >= 2 and all(float(t).is_integer() for t in shown)
        if n <= 10:
            assert shown == list(range(1, n + 1))


def test_several_runs_overlaid(tmp_path):
    runs = [
        _log_file(
            tmp_path / name / "log.jsonl", [1.0 / (e * k) for e in range(1, 6)], val=[1.0] * 5
        )  # fmt: skip
        for k, name in enumerate(["a", "b", "c"], 1)
    ]
    fig = plot.loss_figure(runs)
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.get_lines()) == 6 and len(acc_ax.get_lines()) == 3  # train + val, acc
    colours = [line.get_color() for line in loss_ax.get_lines()]
    assert colours[0] == colours[1] != colours[2] == colours[3] != colours[4]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b", "c", "train", "validation"]  # fmt: skip
    assert loss_ax.get_title() == "Training — 3 runs"
    # two runs of the same name are told apart by their paths
    twin = _log_file(tmp_path / "x" / "a" / "log.jsonl", [1.0, 0.5])
    labels = [t.get_text() for t in plot.loss_figure([runs[0], twin]).legends[0].get_texts()]
    assert labels[:2] == [runs[0].source, twin.source]


def test_regression_log_has_no_accuracy_axis(tmp_path):
    fig = plot.loss_figure(_log_file(tmp_path / "log.jsonl", [3.0, 2.0, 1.0], acc=False))
    assert len(fig.axes) == 1 and fig.axes[0].get_xlabel() == "epoch"
    assert not fig.legends  # one line needs no legend


# -- boundary: titles, regression, numbers --------------------------------------------------
def test_boundary_title_says_which_rows_its_accuracy_counts(binary):
    pts = _points()
    labels = [_predict_index(binary, p) for p in pts]
    labels[0] = 1 - labels[0]  # one point the model gets wrong
    bd = plot.boundary_data(binary, pts, labels, resolution=20, rows="all 40 rows")
    assert bd.accuracy == 39 / 40
    assert plot.boundary_title(bd, "demo") == "Decision boundary — demo (accuracy 98% on all 40 rows)"  # fmt: skip
    assert plot.boundary_figure(bd).axes[0].get_title() == plot.boundary_title(bd)


def test_regression_surface_with_points_coloured_by_target():
    ckpt = Checkpoint(
        model=MLP(2, [4, 1], rng=random.Random(0)),
        task="regression",
        normalize={"mean": [1e12, 0.0], "std": [1e11, 1.0]},
    )
    pts = [[1e12 + 1e11 * a, b] for a, b in _points(10)]
    targets = [float(i) for i in range(10)]
    bd = plot.boundary_data(ckpt, pts, targets, resolution=12, rows="all 10 rows")
    want = math.sqrt(sum((ckpt.predict(p)["output"] - t) ** 2 for p, t in zip(pts, targets, strict=True)) / 10)  # fmt: skip
    assert bd.rmse == pytest.approx(want, rel=1e-12)
    fig = plot.boundary_figure(bd, plot.boundary_title(bd, "r"))
    ax = fig.axes[0]
    assert ax.get_title().startswith("Regression surface — r (RMSE ")
    from matplotlib.collections import PathCollection

    (dots,) = [c for c in ax.collections if type(c) is PathCollection]
    assert dots.get_array().tolist() == targets  # coloured by target
    assert dots.norm.vmin <= 0.0 and dots.norm.vmax >= 9.0  # one scale for surface and dots
    assert ax.get_images()[0].norm is not None
    # raw inputs on the axes (the grid covers the raw points), in readable numbers
    assert ax.get_xlim()[0] < 1e12 < ax.get_xlim()[1]
    plot.render(fig, "svg")
    labels = [t.get_text() for t in ax.get_xticklabels()] + [ax.xaxis.get_offset_text().get_text()]
    assert not any("000000" in t for t in labels)


def test_readable_numbers():
    assert [plot.readable(v) for v in (1e12, 0.5, 1234.5, 1e-7, 0, -2.5e9)] == [
        "1e12", "0.5", "1234", "1e-7", "0", "-2.5e9",
    ]  # fmt: skip
