"""Real processes: expressions that start with '-', and numbers that are not finite."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

MG = [sys.executable, "-m", "microgradcli"]


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*MG, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def one_error(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = p.stderr.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""
    return lines[0]


# -- issue 10, item 11: never nan, never null ------------------------------------------


@pytest.mark.parametrize(
    ("expr", "at", "words"),
    [
        ("log(x)*1e200 - log(x)*1e200", "x=1e-200", "the gradient at x is nan"),
        ("log(x)", "x=5e-324", "too close to 0"),
        ("x*1e300*1e300", "x=1", "overflow"),
    ],
)
def test_non_finite_results_are_errors_in_text_and_json(expr, at, words):
    for extra in ([], ["--json"]):
        assert words in one_error(run("grad", expr, "--at", at, *extra))


def test_a_quotient_whose_parts_are_fine_is_computed():
    p = run("grad", "1e-300/x", "--at", "x=1e-160", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["value"] == pytest.approx(1e-140) and out["grad"]["x"] == pytest.approx(-1e20)


# -- issue 10, item 12: expressions that start with '-' ------------------------------------


def test_grad_of_an_expression_that_starts_with_minus():
    p = run("grad", "-tanh(x)", "--at", "x=1", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["value"] == pytest.approx(-0.7615941559557649)
    p = run("grad", "--at", "x=3", "-x**2")  # after the options too
    assert p.returncode == 0 and p.stdout.split()[:3] == ["value", "=", "-9"], p.stdout
    assert "no value for x; add --at x=..." in one_error(run("grad", "-tanh(x)"))


def test_draw_of_an_expression_that_starts_with_minus(tmp_path):
    p = run("draw", "-log(x)", "--at", "x=2", "-f", "dot", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "// -log(x)" in p.stdout and "at x=2" in p.stdout
    assert list(tmp_path.iterdir()) == []  # no file named g(x)


def test_plot_fn_of_an_expression_that_starts_with_minus(tmp_path):
    p = run("plot", "fn", "-tanh(x)", "-r", "-2:2", "-o", "f.svg", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "f.svg").read_text().count("<svg") == 1


def test_an_expression_that_starts_with_two_minuses_gets_a_hint():
    line = one_error(run("grad", "--x", "--at", "x=1"))
    assert "No such option: --x" in line and "mg grad -- '--x'" in line
    p = run("grad", "--at", "x=1", "--", "--x")
    assert p.returncode == 0 and p.stdout.startswith("value = 1"), p.stderr


# -- issue 14: the library raises data, the CLI renders it ----------------------------------


def test_the_error_boundary_draws_the_caret_and_adds_cli_hints():
    p = run("grad", "x=1")
    assert p.returncode == 2
    first, caret = p.stderr.rstrip("\n").split("\n")
    assert first == (
        "error: assignment ('=') is not allowed (give values with --at x=...) at column 2: x=1"
    )
    assert caret.index("^") == first.index(": x=1") + 3  # under the '='
    from microgradcli.expr import ExpressionError, parse_expression

    with pytest.raises(ExpressionError) as info:
        parse_expression("x=1")
    assert "\n" not in str(info.value) and "--at" not in str(info.value)
    assert "; add --at y=..." in one_error(run("grad", "x*y", "--at", "x=1"))
