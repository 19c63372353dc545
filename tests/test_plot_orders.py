"""`mg plot fn EXPR --order N`: f and its first N derivatives on one figure."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from microgradcli.cli import app
from microgradcli.plot import function_data, function_figure, prime


def test_function_data_samples_each_derivative():
    data = function_data("sin(x)", -1.0, 1.0, points=5, order=4)
    assert len(data.higher) == 3
    want = [np.cos(data.xs), -np.sin(data.xs), -np.cos(data.xs), np.sin(data.xs)]
    for ours, ref in zip([data.dys, *data.higher], want, strict=True):
        assert np.allclose(ours, ref, rtol=1e-12, atol=1e-15)
    single = function_data("sin(x)", -1.0, 1.0, points=5)
    assert single.higher == () and np.array_equal(single.dys, data.dys)


def test_gaps_where_the_function_is_undefined():
    data = function_data("log(x)", -1.0, 1.0, points=5, order=2)
    assert math.isnan(data.ys[0]) and math.isnan(data.higher[0][0])
    assert data.higher[0][-1] == pytest.approx(-1.0)


def test_legend_names_each_derivative():
    assert [prime(k) for k in range(1, 6)] == [
        "f'",
        "f''",
        "f'''",
        "f\u207d\u2074\u207e",
        "f\u207d\u2075\u207e",
    ]
    fig = function_figure(function_data("tanh(x)", -2.0, 2.0, points=9, order=3))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["f(x) = tanh(x)", "f'(x) (backward pass)", "f''", "f'''"]
    assert fig.axes[0].get_title() == "tanh(x) and its first 3 derivatives"


def test_cli_order(tmp_path):
    runner = CliRunner()
    out = tmp_path / "t.svg"
    result = runner.invoke(
        app, ["plot", "fn", "tanh(x)", "--order", "3", "-n", "21", "-o", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    assert out.read_text().count("<svg") == 1
    for bad in ("0", "11", "abc"):
        result = runner.invoke(app, ["plot", "fn", "tanh(x)", "--order", bad, "-o", str(out)])
        assert result.exit_code == 2 and result.stderr.startswith("error: ")
