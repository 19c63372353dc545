"""`mg grad`: the value and gradient of an expression, from the engine's backward pass."""

from __future__ import annotations

import sys
from typing import NamedTuple

import typer

from microgradcli.assignments import GivenTwice, merge, parse_line
from microgradcli.cli._app import ExprCommand, app
from microgradcli.cli._common import (
    at_values,
    emit,
    emit_json,
    read_stdin_text,
    table,
    warn,
    warn_unused,
)
from microgradcli.errors import InputError, MathDomainError, MgError

_AT_HELP = (
    "Values of the variables: NAME=VALUE pairs separated by commas (x=3,y=2); "
    "repeatable. '-' reads one set per line from stdin (x=1,y=2 or a JSON object) "
    "and prints one result per line."
)


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
        False,
        "--steps",
        help="Show the backward pass node by node (the chain rule at work); with --order "
        "or --hessian also the graph's size per order.",
    ),
    order: str = typer.Option(
        None,
        "--order",
        metavar="N",
        help="Derivatives 1..N (N up to 10) of each variable: the backward pass "
        "differentiated again, N times.",
    ),
    hessian: bool = typer.Option(
        False, "--hessian", help="The matrix of second partials (the backward pass, twice)."
    ),
    max_nodes: str = typer.Option(
        None,
        "--max-nodes",
        metavar="N",
        help="With --order/--hessian: refuse a derivative graph past N nodes (default 1000000).",
    ),
) -> None:
    """The value of EXPR and its partial derivatives, by backpropagation.

    EXPR uses numbers, variables, + - * / ** (or ^), unary minus, parentheses, pi, e and the functions exp log sqrt tanh sigmoid relu sin cos abs. It is parsed, never run as Python.

    Gradients come from one backward pass through the scalar engine; --check compares them with central finite differences. --order N and --hessian differentiate the backward pass itself (recorded as a graph of Values).

    Examples:

      mg grad "3*x**2 - 4*x + 5" --at x=3

      mg grad "tanh(x)" --at x=1 --order 6

      mg grad "x*y**2 + sin(x*y)" --at x=1,y=2 --hessian

      mg grad "tanh(x*w + b)" --at x=2,w=-3,b=6.88 --steps

      printf 'x=0\\nx=1\\n' | mg grad "x**3" --at - --json
    """
    from microgradcli.expr import parse_expression

    how = _Mode(
        check, steps, _count("--order", order, 1, 10), hessian, _count("--max-nodes", max_nodes)
    )
    if hessian and how.order is not None:
        raise InputError(
            "--hessian and --order cannot be combined: --hessian gives the second partials, "
            "--order N the pure derivatives 1..N of each variable; use one"
        )
    stream = "-" in (at or [])
    if expr == "-":
        if stream:
            raise InputError("EXPR and --at cannot both be '-' (stdin); give one of them inline")
        expr = read_stdin_text().strip()
    expression = parse_expression(expr)
    try:
        fixed = at_values([text for text in at or [] if text != "-"])
    except GivenTwice as e:
        raise InputError(
            f"{e}; to evaluate at several points, pipe one set per line into --at -"
        ) from None
    warned: set[str] = set()
    if not stream:
        warn_unused(expression, fixed, warned, "")
        _output(_evaluate(expression, fixed, how), json_out, steps, batch=False)
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
            result = _evaluate(expression, point, how)
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


class _Mode(NamedTuple):
    check: bool
    steps: bool
    order: int | None  # --order N (None: the plain gradient)
    hessian: bool
    max_nodes: int | None


def _count(flag: str, text: str | None, lo: int = 1, hi: int | None = None) -> int | None:
    """An integer option read here, not by Typer (which would import pydantic)."""
    if text is None:
        return None
    try:
        n = int(text.strip())
    except ValueError:
        n = None
    if n is None or n < lo or (hi is not None and n > hi):
        within = f"{lo}..{hi}" if hi is not None else f"at least {lo}"
        raise InputError(f"{flag} must be a whole number {within}, not {text!r}")
    return n


def result_at(expression, point: dict[str, float]) -> dict[str, float]:
    """The values of the expression's variables, in order of first appearance."""
    return {name: point[name] for name in expression.variables if name in point}


def _evaluate(expression, point: dict[str, float], how: _Mode) -> dict:
    if how.order is not None or how.hessian:
        return _higher(expression, point, how)
    from microgradcli.derivatives import central_difference, check
    from microgradcli.expr import backward_steps

    root, leaves = expression.build(point)
    root.backward()  # one backward pass gives every partial
    result = {
        "expr": expression.text,
        "at": result_at(expression, point),
        "value": root.data,
        "grad": {name: leaf.grad for name, leaf in leaves.items()},
    }
    if how.check:
        result["check"] = {
            name: check(central_difference(expression, point, name), leaf.grad)
            for name, leaf in leaves.items()
        }
    if how.steps:
        result["steps"] = backward_steps(root)
    return result


def _higher(expression, point: dict[str, float], how: _Mode) -> dict:
    """--order N or --hessian: the backward pass differentiated again."""
    from microgradcli import derivatives as d
    from microgradcli.errors import GraphTooLarge

    limit = how.max_nodes or d.DEFAULT_MAX_NODES
    result: dict = {"expr": expression.text, "at": result_at(expression, point)}
    try:
        if how.hessian:
            h = d.hessian(expression, point, max_nodes=limit)
        else:
            r = d.derivatives(expression, point, how.order, max_nodes=limit)
    except GraphTooLarge as e:
        what = "the Hessian" if how.hessian else f"derivative {e.order} of {e.variable}"
        raise InputError(
            f"the graph of {what} grew past {e.limit:,} nodes (each order multiplies its "
            "size); raise the limit with --max-nodes N (memory grows with it) or use a "
            "lower --order"
        ) from None
    if how.hessian:
        result.update(value=h.value, grad=dict(zip(h.names, h.grad, strict=True)))
        result.update(vars=h.names, hessian=h.matrix)
        if how.check:
            numeric = d.hessian_difference(expression, point, h.names)
            result["check"] = {
                "numeric": numeric,
                "abs_error": [
                    [d.check(n, x)["abs_error"] for n, x in zip(nrow, xrow, strict=True)]
                    for nrow, xrow in zip(numeric, h.matrix, strict=True)
                ],
            }
        if how.steps:
            result["nodes"] = dict(zip(("f", "grad", "hessian"), h.nodes, strict=True))
        return result
    result.update(value=r.value, order=r.order, grad=r.grads)
    if how.check:
        result["check"] = {
            name: [
                d.check(d.central_difference(expression, point, name, k), ds[k - 1])
                for k in range(1, r.order + 1)
            ]
            for name, ds in r.grads.items()
        }
    if how.steps:
        from microgradcli.expr import backward_steps

        r.root.backward()
        result["steps"] = backward_steps(r.root)
        result["nodes"] = r.nodes
    return result


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
    if "hessian" in result:
        text = _hessian_text(result, batch)
    elif "order" in result:
        text = _orders_text(result, batch)
    else:
        text = _gradient_text(result, batch)
    emit(text)
    if steps:
        if "steps" in result:
            emit(_steps_table(result["steps"], blank_first=not batch))
        if "nodes" in result:
            emit(_nodes_table(result["nodes"]))


def _gradient_text(result: dict, batch: bool) -> str:
    grads, checks = result["grad"], result.get("check", {})
    if batch:  # one line per input line
        parts = [f"value = {_fmt(result['value'])}"]
        for name, g in grads.items():
            part = f"d/d{name} = {_fmt(g)}"
            if name in checks:
                c = checks[name]
                part += f" (numeric {_fmt(c['numeric'])}, abs error {_err(c['abs_error'])})"
            parts.append(part)
        return _head(result) + ", ".join(parts)
    width = max([5] + [len(name) + 3 for name in grads])
    rows = [(f"{'value':<{width}}", _fmt(result["value"]), "")]
    for name, g in grads.items():
        extra = ""
        if name in checks:
            c = checks[name]
            extra = f"(numeric {_fmt(c['numeric'])}, abs error {_err(c['abs_error'])})"
        rows.append((f"{'d/d' + name:<{width}}", _fmt(g), extra))
    value_width = max(len(r[1]) for r in rows)
    return "\n".join(f"{a} = {b:<{value_width}}  {c}".rstrip() for a, b, c in rows)


def _head(result: dict) -> str:
    head = _assignments(result["at"])
    return f"{head}: " * bool(head)


def _dk(name: str, k: int) -> str:
    return f"d/d{name}" if k == 1 else f"d{k}/d{name}{k}"


def _orders_text(result: dict, batch: bool) -> str:
    """--order N: one row per order, one column per variable (and its check)."""
    grads, checks = result["grad"], result.get("check", {})
    if batch:
        parts = [f"value = {_fmt(result['value'])}"]
        for name, ds in grads.items():
            for k, g in enumerate(ds, 1):
                part = f"{_dk(name, k)} = {_fmt(g)}"
                if name in checks:
                    part += f" (abs error {_err(checks[name][k - 1]['abs_error'])})"
                parts.append(part)
        return _head(result) + ", ".join(parts)
    if not grads:
        return f"value = {_fmt(result['value'])}\n(no variables: no derivatives)"
    header = ["order"]
    for name in grads:
        header.append(f"d^k/d{name}^k")
        if name in checks:
            header += ["numeric", "abs error"]
    rows = []
    for k in range(1, result["order"] + 1):
        row = [str(k)]
        for name, ds in grads.items():
            row.append(_fmt(ds[k - 1]))
            if name in checks:
                c = checks[name][k - 1]
                row += [_fmt(c["numeric"]), _err(c["abs_error"])]
        rows.append(row)
    return f"value = {_fmt(result['value'])}\n" + table(header, rows)


def _hessian_text(result: dict, batch: bool) -> str:
    names, matrix = result["vars"], result["hessian"]
    check = result.get("check")
    if batch:
        shown = "[" + ", ".join("[" + ", ".join(map(_fmt, row)) + "]" for row in matrix) + "]"
        line = f"{_head(result)}value = {_fmt(result['value'])}, hessian = {shown}"
        if check:
            line += f" (max abs error {_err(_max_error(check))})"
        return line
    lines = [f"value = {_fmt(result['value'])}"]
    if not names:
        return lines[0] + "\n(no variables: no Hessian)"
    lines.append(f"hessian (d2f/da db, rows and columns {', '.join(names)}):")
    lines.append(
        table(["", *names], [[a, *map(_fmt, row)] for a, row in zip(names, matrix, strict=True)])
    )
    if check:
        lines.append("central differences:")
        rows = [[a, *map(_fmt, row)] for a, row in zip(names, check["numeric"], strict=True)]
        lines.append(table(["", *names], rows))
        lines.append(f"max abs error {_err(_max_error(check))}")
    return "\n".join(lines)


def _max_error(check: dict) -> float | None:
    errors = [e for row in check["abs_error"] for e in row]
    return None if None in errors else max(errors, default=0.0)


def _nodes_table(nodes) -> str:
    """How the graph grows: the number of Values behind f and each derivative."""
    lines = ["", "graph size (Values each result depends on; each order builds on the last):"]
    if isinstance(nodes, dict) and all(isinstance(v, int) for v in nodes.values()):
        rows = [[what, f"{n:,}"] for what, n in nodes.items()]
        return "\n".join(lines + [table(["of", "nodes"], rows)])
    names = list(nodes)
    if not names:
        return "\n".join(lines + ["no variables"])
    count = len(nodes[names[0]])
    rows = [["f" if k == 0 else str(k), *(f"{nodes[n][k]:,}" for n in names)] for k in range(count)]
    return "\n".join(lines + [table(["order", *(f"d^k/d{n}^k" for n in names)], rows)])


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
    lines.append("backward pass, in the order it runs (each input's grad += local d * grad):")
    lines.append(table(header, rows, right=frozenset({0})))
    return "\n".join(lines)
