"""`mg grad`: output formats, stdin batches, errors, and what a real process shows."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from microgradcli.cli import app

runner = CliRunner()
NEURON = "tanh(w1*x1 + w2*x2 + b)"
NEURON_AT = "x1=2,x2=0,w1=-3,w2=1,b=6.8813735870195432"
MG = [sys.executable, "-m", "microgradcli"]


def grad(*args: str, input: str | None = None):
    return runner.invoke(app, ["grad", *args], input=input)


def ok(*args: str, input: str | None = None):
    result = grad(*args, input=input)
    assert result.exit_code == 0, result.output
    return result


def fails(*args: str, input: str | None = None) -> str:
    """Exit 2 with one `error:` line (two for a caret under a column), no traceback."""
    result = grad(*args, input=input)
    assert result.exit_code == 2, result.output
    lines = result.stderr.rstrip("\n").split("\n")
    assert lines[0].startswith("error: "), result.stderr
    assert len(lines) <= 2, result.stderr
    if len(lines) == 2:
        assert lines[1].strip() == "^", result.stderr
    assert "Traceback" not in result.output
    return result.stderr


# -- results ---------------------------------------------------------------------------


def test_lecture_polynomial_human():
    result = ok("3*x**2-4*x+5", "--at", "x=3")
    assert result.stdout == "value = 20\nd/dx  = 14\n"
    assert result.stderr == ""


def test_lecture_neuron_human_lists_partials_in_order_of_appearance():
    lines = ok(NEURON, "--at", NEURON_AT).stdout.splitlines()
    assert lines == [
        "value = 0.7071067812",
        "d/dw1 = 1",
        "d/dx1 = -1.5",
        "d/dw2 = 0",
        "d/dx2 = 0.5",
        "d/db  = 0.5",
    ]


def test_json_has_the_spec_keys_and_exact_floats():
    out = json.loads(ok("x*y + sin(x)", "--at", "x=1", "--at", "y=2", "--json").stdout)
    assert list(out) == ["expr", "at", "value", "grad"]
    assert out["expr"] == "x*y + sin(x)"
    assert out["at"] == {"x": 1.0, "y": 2.0}
    import math

    assert out["value"] == 2.0 + math.sin(1.0)
    assert out["grad"] == {"x": 2.0 + math.cos(1.0), "y": 1.0}


def test_json_neuron_matches_the_lecture():
    out = json.loads(ok(NEURON, "--at", NEURON_AT, "--json").stdout)
    assert out["value"] == pytest.approx(0.7071067811865476, abs=1e-15)
    assert out["grad"]["x1"] == pytest.approx(-1.5)
    assert out["grad"]["w1"] == pytest.approx(1.0)
    assert out["grad"]["x2"] == pytest.approx(0.5)
    assert out["grad"]["w2"] == 0.0


def test_check_compares_with_finite_differences():
    out = json.loads(ok("x**2", "--at", "x=3", "--check", "--json").stdout)
    assert out["grad"] == {"x": 6.0}
    assert out["check"]["x"]["numeric"] == pytest.approx(6.0, abs=1e-6)
    assert out["check"]["x"]["abs_error"] == abs(out["check"]["x"]["numeric"] - 6.0)
    out = json.loads(ok(NEURON, "--at", NEURON_AT, "--check", "--json").stdout)
    assert set(out["check"]) == set(out["grad"])
    assert all(c["abs_error"] < 1e-8 for c in out["check"].values())
    human = ok("x**2", "--at", "x=3", "--check").stdout
    assert "numeric 6" in human and "abs error" in human


def test_check_where_a_neighbour_is_undefined_says_so():
    out = json.loads(ok("sqrt(x)", "--at", "x=1e-9", "--check", "--json").stdout)
    assert out["check"]["x"] == {"numeric": None, "abs_error": None}
    assert "numeric n/a" in ok("sqrt(x)", "--at", "x=1e-9", "--check").stdout


def test_steps_table_shows_the_backward_pass_in_order():
    out = ok("tanh(x*w + b)", "--at", "x=2,w=-3,b=6.88", "--steps").stdout
    table = out.split("\n\n", 1)[1]
    assert table == (
        "backward pass, in the order it runs (each input's grad += local d * grad):\n"
        "step  node           op    data          grad          input    local d       passed back\n"
        "   1  tanh(x*w + b)  tanh  0.7064193204  1             x*w + b  0.5009717438  0.5009717438\n"
        "   2  x*w + b        +     0.88          0.5009717438  x*w      1             0.5009717438\n"
        "                                                       b        1             0.5009717438\n"
        "   3  x*w            *     -6            0.5009717438  x        -3            -1.502915231\n"
        "                                                       w        2             1.001943488\n"
    )


def test_steps_json_lists_every_operation_with_local_and_passed_gradients():
    out = json.loads(ok("x*y + x", "--at", "x=2,y=3", "--steps", "--json").stdout)
    steps = out["steps"]
    assert [s["op"] for s in steps] == ["+", "*"]
    assert steps[0] == {
        "node": "x*y + x",
        "op": "+",
        "data": 8.0,
        "grad": 1.0,
        "inputs": [
            {"node": "x*y", "data": 6.0, "local": 1.0, "passed": 1.0},
            {"node": "x", "data": 2.0, "local": 1.0, "passed": 1.0},
        ],
    }
    passed_to_x = sum(i["passed"] for s in steps for i in s["inputs"] if i["node"] == "x")
    assert passed_to_x == out["grad"]["x"] == 4.0


def test_steps_of_a_single_value():
    assert "no operations" in ok("x", "--at", "x=1", "--steps").stdout


def test_expression_without_variables_and_constants():
    assert ok("2^3^2").stdout == "value = 512\n"
    out = json.loads(ok("-x^2 + pi", "--at", "x=3", "--json").stdout)
    assert out["value"] == pytest.approx(-9 + 3.141592653589793)


def test_expression_may_start_with_minus():
    assert ok("-x**2", "--at", "x=3").stdout == "value = -9\nd/dx  = -6\n"
    assert ok("--at", "x=3", "-x").stdout == "value = -3\nd/dx  = -1\n"


def test_values_may_be_constant_expressions():
    out = json.loads(ok("sin(x)", "--at", "x=pi/2", "--json").stdout)
    assert out["at"] == {"x": 1.5707963267948966} and out["value"] == 1.0
    out = json.loads(ok("x + y", "--at", " x = -1e-3 , y=+2 ,", "--json").stdout)
    assert out["at"] == {"x": -0.001, "y": 2.0}


def test_unused_assignment_warns_on_stderr_only():
    result = ok("x**2", "--at", "x=3,z=1", "--json")
    assert json.loads(result.stdout)["at"] == {"x": 3.0}
    assert result.stderr.startswith("warning: z is not in the expression")
    assert "constant" in ok("x + e", "--at", "x=1,e=2").stderr


def test_expression_from_stdin():
    assert ok("-", "--at", "x=3", input="3*x**2-4*x+5\n").stdout == "value = 20\nd/dx  = 14\n"


# -- stdin batches ---------------------------------------------------------------------------


def test_batch_of_lines_json():
    result = ok("x**3", "--at", "-", "--json", input='x=0\nx=1\n\n  \n{"x": 2}\n')
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["at"]["x"], r["value"], r["grad"]["x"]) for r in rows] == [
        (0.0, 0.0, 0.0),
        (1.0, 1.0, 3.0),
        (2.0, 8.0, 12.0),
    ]


def test_batch_human_is_one_line_per_result():
    result = ok("x*y", "--at", "-", "--at", "y=2", input="x=1\nx=3\n")
    assert (
        result.stdout
        == "x=1,y=2: value = 2, d/dx = 2, d/dy = 1\nx=3,y=2: value = 6, d/dx = 2, d/dy = 3\n"
    )


def test_batch_with_check_and_steps():
    result = ok("x**2", "--at", "-", "--json", "--check", "--steps", input="x=1\nx=2\n")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["check"]["x"]["numeric"] for r in rows] == [pytest.approx(2.0), pytest.approx(4.0)]
    assert all(r["steps"][0]["op"] == "**2" for r in rows)


def test_batch_bad_line_names_its_number_after_earlier_results():
    result = grad("x**2", "--at", "-", "--json", input="x=1\n\nx=oops\nx=3\n")
    assert result.exit_code == 2
    assert len(result.stdout.splitlines()) == 1  # the good line before the bad one
    assert result.stderr.startswith("error: stdin line 3: the value of x must be a number")


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        ("x=1\ny=2\n", "stdin line 2: no value for x"),
        ("[1, 2]\n", "stdin line 1"),
        ('{"x": "1"}\n', 'the value of x must be a number, not "1"'),
        ('{"x": true}\n', "must be a number"),
        ('{"x": 1e999}\n', "finite"),
        ('{"x": NaN}\n', "finite"),
        ('{"x": 1, "x": 2}\n', "x is given twice"),
        ('{"x": 1\n', "not valid JSON"),
        ('{"1x": 1}\n', "'1x' is not a variable name"),
        ("x=-1\n", "stdin line 1 (x=-1): log of a non-positive number"),
    ],
)
def test_batch_errors(lines, words):
    err = fails("log(x)", "--at", "-", input=lines)
    assert words in err


def test_batch_value_given_twice_by_at_and_line():
    assert "x is given twice" in fails("x*y", "--at", "x=1", "--at", "-", input="x=2,y=1\n")


# -- errors ----------------------------------------------------------------------------------


HOSTILE = [
    "__import__('os').system('touch PWNED')",
    "open('PWNED', 'w')",
    "exec(\"open('PWNED','w')\")",
    "eval('1')",
    "compile('1', 'f', 'eval')",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "__builtins__['open']('PWNED', 'w')",
    "globals()",
    "lambda: open('PWNED', 'w')",
    "[open('PWNED','w') for x in y]",
    "x if y else z",
    "'a' * 3",
    "x < y",
    "x // 2",
    "x @ y",
    "x % 2",
    "x = 1",
    "x := 1",
    "x; y",
    "import os",
    "x and y",
    "not x",
    "x[0]",
    "{x: 1}",
    "f'{x}'",
    "b'x'",
    "x\\\ny",
    "\x01x",
    "1e999",
    "0x10",
    "x ** ** 2",
    "(x",
    "x)",
    "",
    "foo(x)",
    "exp(x, y)",
    "exp()",
    "exp",
    "pi(2)",
    "x²",
    "\x00",
    "(" * 300 + "x",
]


@pytest.mark.parametrize("expr", HOSTILE)
def test_hostile_and_malformed_expressions_fail_cleanly(expr, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fails(expr, "--at", "x=1,y=2,z=3")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["log(x)", "--at", "x=-1"], "log"),
        (["sqrt(-4)"], "square root of a negative number"),
        (["1/0"], "division by zero"),
        (["x/(x - 1)", "--at", "x=1"], "division by zero: x - 1 is 0"),
        (["exp(1000)"], "overflow in exp(1000)"),
        (["0**-1"], "division by zero"),
        (["9**9**9**9"], "overflow"),
        (["x + y", "--at", "x=1"], "no value for y; add --at y=..."),
        (["x", "--at", "x"], "expected NAME=NUMBER"),
        (["x", "--at", "=1"], "expected NAME=NUMBER"),
        (["x", "--at", "x="], "expected NAME=NUMBER"),
        (["x", "--at", ","], "expected NAME=NUMBER"),
        (["x", "--at", "x=abc"], "the value of x must be a number"),
        (["x", "--at", "x=inf"], "finite"),
        (["x", "--at", "x=nan"], "finite"),
        (["x", "--at", "x=1e999"], "finite"),
        (["x", "--at", "x=1/0"], "--at 'x=1/0': the value of x: division by zero"),
        (["x", "--at", "3x=1"], "'3x' is not a variable name"),
        (["x", "--at", "lambda=1"], "'lambda' is not a variable name"),
        (["x", "--at", "x=1,x=2"], "x is given twice"),
        (["x", "--at", "x=1", "--at", "x=2"], "pipe one set per line into --at -"),
        (["-", "--at", "-"], "cannot both be '-'"),
        (["x", "--at", "x=1", "--jsn"], "No such option: --jsn"),
        (["foo(x)", "--at", "x=1"], "unknown function foo() (known functions: exp, log, sqrt"),
        (["x.real"], "attribute access ('.') is not allowed at column 2"),
    ],
)
def test_errors_say_what_and_where(args, words):
    assert words in fails(*args)


def test_syntax_error_shows_the_expression_and_a_caret_under_the_column():
    err = fails("3*x**2 +* 4", "--at", "x=1")
    first, caret = err.rstrip("\n").split("\n")
    assert first.endswith(": 3*x**2 +* 4") and "column 9" in first
    assert first[caret.index("^")] == "*" and first[caret.index("^") - 1] == "+"


def test_deep_nesting_works():
    depth = 3000
    out = json.loads(ok("(" * depth + "x" + ")" * depth, "--at", "x=2", "--json").stdout)
    assert out["grad"] == {"x": 1.0}


# -- real processes ---------------------------------------------------------------------------


def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("MG_DEBUG", None)
    return subprocess.run(
        [*MG, *args], input=input, capture_output=True, text=True, timeout=60, env=env
    )


def test_process_pipeline_json_lines_and_exit_codes():
    proc = run("grad", "x**3", "--at", "-", "--json", input="x=0\nx=1\nx=2\n")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["grad"]["x"] for line in proc.stdout.splitlines()] == [0, 3, 12]
    assert proc.stderr == ""
    proc = run("grad", "log(x)", "--at", "-", "--json", input="x=1\nx=-1\nx=2\n")
    assert proc.returncode == 2
    assert len(proc.stdout.splitlines()) == 1
    assert proc.stderr.startswith("error: stdin line 2 (x=-1): log of a non-positive number")
    assert "Traceback" not in proc.stderr
    proc = run("grad", "__import__('os')", "--at", "x=1")
    assert proc.returncode == 2 and proc.stderr.startswith("error: unknown function __import__()")


def test_process_streams_each_result_before_reading_the_next_line():
    proc = subprocess.Popen(
        [*MG, "grad", "x**2", "--at", "-", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for x in (1, 2, 3):
            proc.stdin.write(f"x={x}\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            assert ready, "no result while stdin is still open: output is not streamed"
            assert json.loads(proc.stdout.readline())["grad"] == {"x": 2.0 * x}
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
        assert proc.stdout.read() == ""
    finally:
        proc.kill()
        proc.wait()


def test_process_reader_leaving_early_is_not_an_error():
    lines = "".join(f"x={i}\n" for i in range(20000))
    shell = f"{' '.join(MG)} grad 'x**2' --at - | head -n 1"
    proc = subprocess.run(
        ["sh", "-c", shell], input=lines, capture_output=True, text=True, timeout=60
    )
    assert proc.stdout == "x=0: value = 0, d/dx = 0\n"
    assert "Traceback" not in proc.stderr and "Exception" not in proc.stderr


def test_grad_path_imports_no_heavy_libraries():
    code = (
        "import sys, runpy\n"
        "sys.argv = ['mg', 'grad', 'tanh(x*w + b)', '--at', 'x=2,w=-3,b=6.88', '--check']\n"
        "try:\n"
        "    runpy.run_module('microgradcli', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "heavy = ('numpy', 'matplotlib', 'pydantic', 'yaml', 'rich', 'sympy', 'torch')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("value = ")
    assert proc.stderr.strip() == "[]"
