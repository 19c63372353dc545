"""`mg grad`: the value and gradient of an expression, from the engine's backward pass."""

from __future__ import annotations

import sys

import typer

from microgradcli.assignments import merge, parse_assignments, parse_line
from microgradcli.cli._app import ExprCommand, app
from microgradcli.cli._common import emit, emit_json, read_stdin_text, warn, warn_unused
from microgradcli.errors import InputError, MathDomainError, MgError

_AT_HELP = (
    "Values of the variables: NAME=VALUE pairs separated by commas (x=3,y=2); "
    "repeatable. '-' reads one set per line from stdin (x=1,y=2 or a JSON object) "
    "and prints one result per line."
)
_AT_EXPECTED = "expected NAME=NUMBER pairs separated by commas, e.g. --at x=3 or --at x=3,y=-0.5"


@app.command(cls=ExprCommand, context_settings={"ignore_unknown_options": True})
def grad(
    expr: str = typer.Argument(
        ...,
        metavar="EXPR",
        help="The expression, e.g. '3*x**2 - 4*x + 5' (quote it); '-' reads it from stdin.",
    ),
    at: list[str] = typer.Option(None, "--at", metavar="NAME=VALUE,...|-", help=_AT_HELP),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per result."),
    check: bool = typer.Option(
        False, "--check", help="Also compare each partial with central finite differences."
    ),
    steps: bool = typer.Option(
        False, "--steps", help="Show the backward pass node by node (the chain rule at work)."
    ),
) -> None:
    """The value of EXPR and its partial derivatives, by backpropagation.

    EXPR uses numbers, variables, + - * / ** (or ^), unary minus, parentheses, pi, e and the functions exp log sqrt tanh sigmoid relu sin cos abs. It is parsed, never run as Python.

    Gradients come from one backward pass through the scalar engine; --check compares them with central finite differences.

    Examples:

      mg grad "3*x**2 - 4*x + 5" --at x=3

      mg grad "tanh(x*w + b)" --at x=2,w=-3,b=6.88 --steps

      printf 'x=0\\nx=1\\n' | mg grad "x**3" --at - --json
    """
    from microgradcli.expr import parse_expression

    stream = "-" in (at or [])
    if expr == "-":
        if stream:
            raise InputError("EXPR and --at cannot both be '-' (stdin); give one of them inline")
        expr = read_stdin_text().strip()
    expression = parse_expression(expr)
    fixed: dict[str, float] = {}
    for text in at or []:
        if text != "-":
            merge(fixed, parse_assignments(text, f"--at {text!r}"), "--at")
    warned: set[str] = set()
    if not stream:
        warn_unused(expression, fixed, warned, "")
        _output(_evaluate(expression, fixed, check, steps), json_out, steps, batch=False)
        return
    if sys.stdin.isatty():
        warn("reading one set of values per line, such as x=1,y=2; end with Ctrl-D")
    for lineno, line in _stdin_lines():
        where = f"stdin line {lineno}"
        point = dict(fixed)
        merge(point, parse_line(line, where), where)
        missing = [name for name in expression.variables if name not in point]
        if missing:
            raise InputError(
                f"{where}: no value for {missing[0]} (add {missing[0]}=... to each line, "
                f"or --at {missing[0]}=... for all lines)"
            )
        warn_unused(expression, point, warned, f"{where}: ")
        try:
            result = _evaluate(expression, point, check, steps)
        except MgError as e:
            kind = MathDomainError if isinstance(e, MathDomainError) else InputError
            raise kind(f"{where} ({_assignments(result_at(expression, point))}): {e}") from None
        _output(result, json_out, steps, batch=True)


# -- input ---------------------------------------------------------------------------


def _stdin_lines():
    """(line number, text) for each non-blank stdin line, read one at a time (streaming)."""
    lineno = 0
    while True:
        lineno += 1
        try:
            line = sys.stdin.readline()
        except UnicodeDecodeError:
            raise InputError(f"stdin line {lineno} is not UTF-8 text") from None
        if not line:
            return
        if line.strip():
            yield lineno, line.strip()


# -- computing -----------------------------------------------------------------------


def result_at(expression, point: dict[str, float]) -> dict[str, float]:
    """The values of the expression's variables, in order of first appearance."""
    return {name: point[name] for name in expression.variables if name in point}


def _evaluate(expression, point: dict[str, float], check: bool, steps: bool) -> dict:
    from microgradcli.expr import backward_steps

    root, leaves = expression.build(point)
    root.backward()  # one backward pass gives every partial
    result = {
        "expr": expression.text,
        "at": result_at(expression, point),
        "value": root.data,
        "grad": {name: leaf.grad for name, leaf in leaves.items()},
    }
    if check:
        result["check"] = {
            name: _numeric(expression, point, name, leaf.grad) for name, leaf in leaves.items()
        }
    if steps:
        result["steps"] = backward_steps(root)
    return result


def _numeric(expression, point: dict[str, float], name: str, exact: float) -> dict:
    """Central difference (f(x+h) - f(x-h)) / 2h, h scaled to x; None where undefined."""
    x = point[name]
    h = 1e-6 * max(1.0, abs(x))
    hi, lo = x + h, x - h
    try:
        f_hi = expression.build({**point, name: hi})[0].data
        f_lo = expression.build({**point, name: lo})[0].data
    except MathDomainError:
        return {"numeric": None, "abs_error": None}
    numeric = (f_hi - f_lo) / (hi - lo)  # hi - lo: the step actually taken, after rounding
    return {"numeric": numeric, "abs_error": abs(numeric - exact)}


# -- output --------------------------------------------------------------------------


def _fmt(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x + 0.0:.10g}"  # + 0.0 turns -0.0 into 0.0


def _assignments(at: dict[str, float]) -> str:
    return ",".join(f"{name}={_fmt(value)}" for name, value in at.items())


def _output(result: dict, json_out: bool, steps: bool, batch: bool) -> None:
    if json_out:
        emit_json(result)
        return
    grads, checks = result["grad"], result.get("check", {})
    if batch:  # one line per input line
        parts = [f"value = {_fmt(result['value'])}"]
        for name, g in grads.items():
            part = f"d/d{name} = {_fmt(g)}"
            if name in checks:
                c = checks[name]
                part += f" (numeric {_fmt(c['numeric'])}, abs error {_err(c['abs_error'])})"
            parts.append(part)
        head = _assignments(result["at"])
        emit(f"{head}: " * bool(head) + ", ".join(parts))
    else:
        width = max([5] + [len(name) + 3 for name in grads])
        rows = [(f"{'value':<{width}}", _fmt(result["value"]), "")]
        for name, g in grads.items():
            extra = ""
            if name in checks:
                c = checks[name]
                extra = f"(numeric {_fmt(c['numeric'])}, abs error {_err(c['abs_error'])})"
            rows.append((f"{'d/d' + name:<{width}}", _fmt(g), extra))
        value_width = max(len(r[1]) for r in rows)
        emit("\n".join(f"{a} = {b:<{value_width}}  {c}".rstrip() for a, b, c in rows))
    if steps:
        emit(_steps_table(result["steps"], blank_first=not batch))


def _err(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2g}"


def _steps_table(steps: list[dict], blank_first: bool) -> str:
    """The backward pass as a plain-text table, one row per (node, input) edge."""
    lines = [""] if blank_first else []
    if not steps:
        lines.append("backward pass: no operations (the expression is a single value)")
        return "\n".join(lines)
    header = ("step", "node", "op", "data", "grad", "input", "local d", "passed back")
    rows = []
    for i, step in enumerate(steps, 1):
        for j, inp in enumerate(step["inputs"]):
            node_cols = (
                (str(i), step["node"], step["op"], _fmt(step["data"]), _fmt(step["grad"]))
                if j == 0
                else ("", "", "", "", "")
            )
            rows.append((*node_cols, inp["node"], _fmt(inp["local"]), _fmt(inp["passed"])))
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    lines.append("backward pass, in the order it runs (each input's grad += local d * grad):")
    for r in [header, *rows]:
        cells = [r[0].rjust(widths[0])] + [
            c.ljust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
