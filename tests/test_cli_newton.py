"""`mg grad --order/--hessian` and `mg newton` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_higher_order import TANH_AT_1
from typer.testing import CliRunner

from microgradcli.cli import app

runner = CliRunner()
MG = [sys.executable, "-m", "microgradcli"]


def mg(*args: str, input: str | None = None, code: int = 0):
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


def one_error(*args: str, code: int = 2) -> str:
    result = mg(*args, code=code)
    lines = result.stderr.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_order_json_gives_a_list_per_variable():
    out = json.loads(mg("grad", "tanh(x)", "--at", "x=1", "--order", "6", "--json").stdout)
    assert out["order"] == 6 and out["value"] == pytest.approx(0.7615941559557649)
    assert out["grad"]["x"] == pytest.approx(TANH_AT_1, rel=1e-12)


def test_order_table_has_one_row_per_order_and_checks_each():
    out = mg("grad", "x**4 - 2*x**2", "--at", "x=2", "--order", "4", "--check").stdout
    lines = out.splitlines()
    assert lines[0] == "value = 8"
    assert lines[1].split() == ["order", "d^k/dx^k", "numeric", "abs", "error"]
    assert [line.split()[:2] for line in lines[2:]] == [["1", "24"], ["2", "44"], ["3", "48"]] + [
        ["4", "24"]
    ]
    out = json.loads(
        mg("grad", "x*y**3", "--at", "x=2,y=1", "--order", "3", "--json", "--check").stdout
    )
    assert out["grad"] == {"x": [1.0, 0.0, 0.0], "y": [6.0, 12.0, 12.0]}
    assert all(c["abs_error"] < 1e-4 for c in out["check"]["y"])


def test_hessian_table_and_json_are_symmetric_and_checked():
    text = "x*y**2 + sin(x*y)"
    out = json.loads(mg("grad", text, "--at", "x=1,y=2", "--hessian", "--check", "--json").stdout)
    assert out["vars"] == ["x", "y"]
    (hxx, hxy), (hyx, hyy) = out["hessian"]
    import math

    assert hxy == hyx and hxx == pytest.approx(-4 * math.sin(2))
    assert hyy == pytest.approx(2 - math.sin(2))
    assert hxy == pytest.approx(2 * 2 + math.cos(2) - 2 * math.sin(2))
    assert max(max(row) for row in out["check"]["abs_error"]) < 1e-5
    human = mg("grad", text, "--at", "x=1,y=2", "--hessian").stdout
    assert "hessian (d2f/da db, rows and columns x, y):" in human


def test_steps_show_the_node_count_of_each_order():
    out = mg("grad", "tanh(x)", "--at", "x=1", "--order", "4", "--steps").stdout
    assert "graph size" in out
    counts = json.loads(
        mg("grad", "tanh(x)", "--at", "x=1", "--order", "4", "--steps", "--json").stdout
    )["nodes"]["x"]
    assert counts[0] == 2 and all(b > a for a, b in zip(counts, counts[1:], strict=False))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--order", "0"], "--order must be a whole number 1..10, not '0'"),
        (["--order", "11"], "not '11'"),
        (["--order", "abc"], "not 'abc'"),
        (["--order", "2", "--hessian"], "--hessian and --order cannot be combined"),
        (["--order", "10", "--max-nodes", "1000"], "raise the limit with --max-nodes N"),
        (["--order", "3", "--max-nodes", "x"], "--max-nodes must be a whole number"),
    ],
)
def test_bad_orders_are_one_error_line(args, words):
    assert words in one_error("grad", "tanh(x)*sin(x)", "--at", "x=1", *args)


def test_streaming_with_order_and_hessian_in_a_real_process():
    p = subprocess.Popen(
        [*MG, "grad", "x**3*y", "--at", "-", "--order", "2", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    p.stdin.write("x=1,y=2\n")
    p.stdin.flush()
    first = json.loads(p.stdout.readline())  # printed before the next line is read
    assert first["grad"] == {"x": [6.0, 12.0], "y": [1.0, 0.0]}
    p.stdin.write('{"x": 2, "y": 1}\n')
    p.stdin.close()
    assert json.loads(p.stdout.readline())["grad"]["x"] == [12.0, 12.0]
    assert p.wait(timeout=30) == 0
    out = subprocess.run(
        [*MG, "grad", "x*y", "--at", "-", "--hessian"],
        input="x=1,y=2\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.stdout == "x=1,y=2: value = 2, hessian = [[0, 1], [1, 0]]\n"


def test_newton_table_and_summary():
    out = mg("newton", "x**4 - 2*x**2", "--at", "x=2").stdout.splitlines()
    assert out[0].split() == ["step", "x", "f(x)", "|grad", "f|", "step", "size"]
    assert out[1].split()[:3] == ["0", "2", "8"]
    assert out[-1] == "converged after 6 steps: x=1, f(x) = -1"


def test_newton_against_gradient_descent():
    out = mg("newton", "x**4 - 2*x**2", "--at", "x=2", "--compare-gd", "--lr", "0.01").stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()[-2:]}
    assert rows["newton"][1:3] == ["6", "converged"]
    assert 150 <= int(rows["gradient"][4]) <= 300 and rows["gradient"][5] == "converged"
    lines = mg("newton", "x**4 - 2*x**2", "--at", "x=2", "--compare-gd", "--json").stdout
    objs = [json.loads(line) for line in lines.splitlines()]
    assert [o["step"] for o in objs if "step" in o] == list(range(7))
    assert [(o["method"], o["result"]) for o in objs if "result" in o] == [
        ("newton", "converged"),
        ("gd", "converged"),
    ]


def test_newton_several_variables_and_root():
    out = mg("newton", "(1-x)**2 + 100*(y-x**2)**2", "--at", "x=-1.2,y=1", "--json").stdout
    last = json.loads(out.splitlines()[-1])
    assert last["result"] == "converged" and last["x"]["x"] == pytest.approx(1.0)
    out = mg("newton", "x**2 - 2", "--at", "x=1", "--root").stdout
    assert out.splitlines()[-1].startswith("converged after 4 steps: x=1.414213562")


def test_newton_failures_exit_1_with_the_reason():
    result = mg("newton", "x**3", "--at", "x=0", code=1)
    assert "the Hessian is singular" in result.stdout.splitlines()[-1]
    assert result.stderr.startswith("error: newton: the Hessian is singular")
    result = mg("newton", "x/sqrt(1 + x**2)", "--at", "x=2", "--root", code=1)
    assert "diverged: the steps grow" in result.stderr
    result = mg("newton", "x**4", "--at", "x=1", "--iters", "3", code=1)
    assert "did not converge in 3 steps" in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["3*2"], "has no variable to move"),
        (["log(x)", "--at", "x=-1"], "f is not defined at the start (x=-1)"),
        (["x**2"], "no start for x; add --at x=..."),
        (["x**2", "--at", "x=1", "--iters", "0"], "--iters must be a whole number"),
        (["x**2", "--at", "x=1", "--tol", "abc"], "--tol must be a number"),
        (["x*y", "--at", "x=1,y=1", "--root"], "--root solves f(x) = 0 for one variable"),
        (["x**2", "--at", "x=1", "--root", "--compare-gd"], "cannot be used with --root"),
    ],
)
def test_newton_bad_input(args, words):
    assert words in one_error("newton", *args)


def test_draw_order_2_draws_the_graph_of_the_derivative():
    out = mg("draw", "tanh(x)", "--at", "x=1", "--order", "2", "-f", "dot").stdout
    assert "// df/dx of tanh(x): the backward pass recorded as Values" in out
    assert "so x's grad is d2f/dx2" in out
    plain = mg("draw", "tanh(x)", "--at", "x=1", "-f", "dot").stdout
    assert out.count("->") > plain.count("->")  # the derivative's graph holds f's and more
    assert "no derivative to draw" in one_error("draw", "3", "--order", "2")
    assert "not of --model" in one_error(
        "draw", "--model", "m.json", "--input", "1", "--order", "2"
    )
