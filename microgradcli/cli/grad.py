"""`mg grad`: the value and gradient of an expression, from the engine's backward pass."""

from __future__ import annotations

import math
import sys

import typer
from typer.core import TyperCommand

from microgradcli.cli._app import app, light_params
from microgradcli.cli._common import emit, emit_json, warn
from microgradcli.errors import InputError, MathDomainError, MgError

_AT_HELP = (
    "Values of the variables: NAME=VALUE pairs separated by commas (x=3,y=2); "
    "repeatable. '-' reads one set per line from stdin (x=1,y=2 or a JSON object) "
    "and prints one result per line."
)
_AT_EXPECTED = "expected NAME=NUMBER pairs separated by commas, e.g. --at x=3 or --at x=3,y=-0.5"


class _GradCommand(TyperCommand):
    """`mg grad`'s parsing: EXPR may start with '-' (-x**2), text passes through as is.

    Unknown short options are left to EXPR (context_settings below), so an expression
    such as -x**2 needs no '--'; a mistyped long option is still an error.
    """

    def get_params(self, ctx):
        return light_params(super().get_params(ctx))  # no pydantic on the `mg grad` path

    def parse_args(self, ctx, args):
        known = [o for p in self.get_params(ctx) for o in (*p.opts, *p.secondary_opts)]
        for arg in args:
            if arg == "--":
                break
            name = arg.split("=", 1)[0]
            if name.startswith("--") and name not in known:
                from difflib import get_close_matches

                from typer._click.exceptions import NoSuchOption

                raise NoSuchOption(name, possibilities=get_close_matches(name, known), ctx=ctx)
        return super().parse_args(ctx, args)


@app.command(cls=_GradCommand, context_settings={"ignore_unknown_options": True})
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
        expr = _read_stdin_text().strip()
    expression = parse_expression(expr)
    fixed: dict[str, float] = {}
    for text in at or []:
        if text != "-":
            _merge(fixed, _parse_assignments(text, f"--at {text!r}"), "--at")
    warned: set[str] = set()
    try:
        if not stream:
            _warn_unused(expression, fixed, warned, "")
            _output(_evaluate(expression, fixed, check, steps), json_out, steps, batch=False)
            return
        if sys.stdin.isatty():
            warn("reading one set of values per line, such as x=1,y=2; end with Ctrl-D")
        for lineno, line in _stdin_lines():
            where = f"stdin line {lineno}"
            point = dict(fixed)
            _merge(point, _parse_line(line, where), where)
            missing = [name for name in expression.variables if name not in point]
            if missing:
                raise InputError(
                    f"{where}: no value for {missing[0]} (add {missing[0]}=... to each line, "
                    f"or --at {missing[0]}=... for all lines)"
                )
            _warn_unused(expression, point, warned, f"{where}: ")
            try:
                result = _evaluate(expression, point, check, steps)
            except MgError as e:
                kind = MathDomainError if isinstance(e, MathDomainError) else InputError
                raise kind(f"{where} ({_assignments(result_at(expression, point))}): {e}") from None
            _output(result, json_out, steps, batch=True)
    except BrokenPipeError:  # `mg grad ... --at - | head -1`: the reader left; stop quietly
        _silence_stdout()


# -- input ---------------------------------------------------------------------------


def _read_stdin_text() -> str:
    try:
        return sys.stdin.read()
    except UnicodeDecodeError:
        raise InputError("stdin is not UTF-8 text") from None


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


def _parse_line(line: str, where: str) -> dict[str, float]:
    """One stdin line: `x=1,y=2` or a JSON object `{"x": 1, "y": 2}`."""
    if not line.startswith("{"):
        return _parse_assignments(line, where)
    import json

    def no_duplicates(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise InputError(f"{where}: {key} is given twice")
            seen[key] = value
        return seen

    try:
        obj = json.loads(line, object_pairs_hook=no_duplicates)
    except ValueError as e:
        raise InputError(
            f"{where}: not valid JSON ({e}); expected x=1,y=2 or an object such as "
            '{"x": 1, "y": 2}'
        ) from None
    if not isinstance(obj, dict):
        raise InputError(f'{where}: expected a JSON object such as {{"x": 1, "y": 2}}')
    point = {}
    for name, value in obj.items():
        _check_name(name, where)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(
                f"{where}: the value of {name} must be a number, not {json.dumps(value)}"
            )
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise InputError(f"{where}: the value of {name} must be a finite number")
        point[name] = value
    return point


def _parse_assignments(text: str, where: str) -> dict[str, float]:
    """`x=3,y=-0.5` -> {"x": 3.0, "y": -0.5}; a value may also be pi/2 or 1e-3."""
    point: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, raw = (part.strip() for part in item.partition("="))
        if not sep or not name or not raw:
            raise InputError(f"{where}: {_AT_EXPECTED}")
        _check_name(name, where)
        if name in point:
            raise InputError(f"{where}: {name} is given twice")
        point[name] = _number(raw, name, where)
    if not point:
        raise InputError(f"{where}: {_AT_EXPECTED}")
    return point


def _number(raw: str, name: str, where: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = _constant_expression(raw, name, where)
    if not math.isfinite(value):
        raise InputError(f"{where}: the value of {name} must be a finite number, not {raw}")
    return value


def _constant_expression(raw: str, name: str, where: str) -> float:
    """A value written as an expression without variables, such as pi/2 or -1/3."""
    from microgradcli.expr import parse_expression

    expected = (
        f"{where}: the value of {name} must be a number (such as 3, -0.5 or pi/2), not {raw!r}"
    )
    try:
        expression = parse_expression(raw)
    except InputError:
        raise InputError(expected) from None
    if expression.variables:
        raise InputError(expected)
    try:
        root, _ = expression.build({})
    except MathDomainError as e:
        raise InputError(f"{where}: the value of {name}: {e}") from None
    return root.data


def _check_name(name: str, where: str) -> None:
    from keyword import iskeyword

    from microgradcli.expr import NAME_PATTERN

    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or iskeyword(name):
        raise InputError(
            f"{where}: {name!r} is not a variable name (letters, digits and _, "
            "not starting with a digit)"
        )


def _merge(into: dict[str, float], new: dict[str, float], where: str) -> None:
    for name, value in new.items():
        if name in into:
            raise InputError(
                f"{where}: {name} is given twice ({name}={into[name]:.10g} and "
                f"{name}={value:.10g}); to evaluate at several points, pipe one set per "
                "line into --at -"
            )
        into[name] = value


def _warn_unused(expression, point: dict[str, float], warned: set[str], prefix: str) -> None:
    from microgradcli.expr import CONSTANTS, FUNCTIONS

    for name in point:
        if name in expression.variables or name in warned:
            continue
        warned.add(name)
        if name in CONSTANTS:
            why = f"{name} is the constant {CONSTANTS[name]:.10g}, not a variable"
        elif name in FUNCTIONS:
            why = f"{name} is a function, not a variable"
        else:
            known = ", ".join(expression.variables) or "none"
            why = f"{name} is not in the expression (its variables: {known})"
        warn(f"{prefix}{why}; {name}={point[name]:.10g} is ignored")


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


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the exit flush cannot fail."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
