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
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert fig.axes[1].get_ylabel() == "accuracy"
    assert ax.get_legend() is not None and ax.get_title()
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
    ax = fig.axes[0]
    f_line, d_line = ax.get_lines()[-2:]
    assert f_line.get_ydata().tolist() == fd.ys.tolist()
    assert d_line.get_ydata().tolist() == fd.dys.tolist() and d_line.get_linestyle() == "--"
    assert ax.get_xlabel() == "x" and ax.get_legend() is not None and ax.get_title()
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
    with pytest.raises(InputError) as e:
        plot.parse_range(text)
    assert message in str(e.value)


def test_good_ranges():
    assert plot.parse_range("-5:5") == (-5.0, 5.0)
    assert plot.parse_range("-1e-3:2.5") == (-0.001, 2.5)
