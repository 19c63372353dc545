"""`mg newton`: Newton's method on an expression, one line per step, with gradient descent
beside it on request."""

from __future__ import annotations

import typer

from microgradcli.cli._app import ExprCommand, app
from microgradcli.cli._common import at_values, emit, emit_json, table, warn_unused
from microgradcli.errors import InputError, JobFailed, MathDomainError


@app.command(cls=ExprCommand)
def newton(
    expr: str = typer.Argument(..., metavar="EXPR", help="The expression, e.g. 'x**4 - 2*x**2'."),
    at: list[str] = typer.Option(
        None, "--at", metavar="NAME=VALUE,...", help="The start (x=2 or x=-1.2,y=1); repeatable."
    ),
    iters: str = typer.Option("50", "--iters", metavar="N", help="At most N Newton steps."),
    tol: str = typer.Option(
        "1e-8", "--tol", metavar="T", help="Stop when |grad f| <= T (with --root: |f| <= T)."
    ),
    root: bool = typer.Option(False, "--root", help="Solve f(x) = 0 (x <- x - f/f') instead."),
    compare_gd: bool = typer.Option(
        False, "--compare-gd", help="Also run gradient descent from the same start."
    ),
    lr: str = typer.Option(
        "0.01", "--lr", metavar="LR", help="With --compare-gd: the learning rate."
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per step."),
) -> None:
    """Minimise EXPR with Newton's method, or with --root find a zero of it.

    A minimising step is x <- x - f'/f'' (several variables: x <- x - d, with d solving H d = grad f); a --root step is x <- x - f/f'. The derivatives come from the engine's backward pass, differentiated again for the Hessian.

    One line per step: k, x, f(x), |grad f|, the step's size. Exit 0 when it converged, 1 when it did not (a singular Hessian, divergence, --iters reached).

    Examples:

      mg newton "x**4 - 2*x**2" --at x=2

      mg newton "x**4 - 2*x**2" --at x=2 --compare-gd --lr 0.01

      mg newton "(1-x)**2 + 100*(y-x**2)**2" --at x=-1.2,y=1

      mg newton "x**2 - 2" --at x=1 --root
    """
    from microgradcli.expr import parse_expression

    expression = parse_expression(expr)
    n_iters = _number("--iters", iters, whole=True)
    tolerance = _number("--tol", tol)
    rate = _number("--lr", lr)
    _check_modes(expr, expression.variables, root, compare_gd)
    start = _start(expression, at or [])
    outcome = _newton_steps(expression, start, n_iters, tolerance, root, json_out)
    summaries = [("newton", outcome)]
    if compare_gd:
        from microgradcli.newton import gradient_descent

        gd = list(gradient_descent(expression, start, rate, tol=tolerance))[-1]
        summaries.append((f"gradient descent (lr {rate:g})", gd))
    _show_outcomes(summaries, expression.variables, rate, json_out)
    if outcome.result != "converged":
        raise JobFailed(f"newton: {outcome.why} ({_point(outcome.x)})")


def _check_modes(expr: str, names: list[str], root: bool, compare_gd: bool) -> None:
    """A variable to move; --root solves for exactly one and compares with nothing."""
    if not names:
        raise InputError(f"{expr!r} has no variable to move; give one such as 'x**2 - 2*x'")
    if root and compare_gd:
        raise InputError("--compare-gd compares minimisers; it cannot be used with --root")
    if root and len(names) != 1:
        raise InputError(
            f"--root solves f(x) = 0 for one variable; {expr!r} has "
            f"{len(names)} ({', '.join(names)})"
        )


def _start(expression, at: list[str]) -> dict[str, float]:
    """The start from --at: every variable given, f defined there."""
    start = at_values(at)
    warn_unused(expression, start, set())
    missing = [n for n in expression.variables if n not in start]
    if missing:
        raise InputError(f"no start for {missing[0]}; add --at {missing[0]}=...")
    try:
        expression.build(start)
    except MathDomainError as e:
        raise InputError(f"f is not defined at the start ({_point(start)}): {e}") from None
    return start


def _newton_steps(expression, start, n_iters: int, tolerance: float, root: bool, json_out: bool):
    """Newton's method, one line (or JSON object) per step; its Outcome."""
    from microgradcli.newton import Outcome
    from microgradcli.newton import newton as run_newton

    names = expression.variables
    if not json_out:
        emit(_row(["step", *names, "f(x)", "|f'|" if root else "|grad f|", "step size"]))
    for event in run_newton(expression, start, n_iters, tolerance, root):
        if isinstance(event, Outcome):
            return event
        _show_step("newton", event, names, json_out)
    raise AssertionError("newton() ends with its Outcome")  # pragma: no cover


def _show_outcomes(summaries, names: list[str], rate: float, json_out: bool) -> None:
    """How each method ended: a JSON object each, a table of them, or one line."""
    if json_out:
        for method, result in summaries:
            emit_json(
                {
                    "method": "newton" if method == "newton" else "gd",
                    **({"lr": rate} if method != "newton" else {}),
                    "result": result.result,
                    "steps": result.steps,
                    "x": result.x,
                    "f": result.f,
                    "why": result.why,
                }
            )
    elif len(summaries) > 1:
        emit("")
        emit(_table(summaries, names))
    else:
        outcome = summaries[0][1]
        emit(f"{outcome.why}: {_point(outcome.x)}, f(x) = {_fmt(outcome.f, 'n/a')}")


def _number(flag: str, text: str, whole: bool = False) -> float:
    """A numeric option read here, not by Typer (which would import pydantic)."""
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        value = None
    if value is None or not value > 0 or value == float("inf"):
        kind = "a whole number" if whole else "a number"
        raise InputError(f"{flag} must be {kind} greater than 0, not {text!r}")
    return value


def _fmt(x: float | None, missing: str = "") -> str:
    return missing if x is None else f"{x + 0.0:.10g}"


def _point(x: dict[str, float]) -> str:
    return ",".join(f"{n}={_fmt(v)}" for n, v in x.items())


def _row(cells: list[str]) -> str:
    return "  ".join(c.ljust(14) for c in cells).rstrip()


def _show_step(method: str, step, names: list[str], json_out: bool) -> None:
    if json_out:
        emit_json(
            {
                "method": method,
                "step": step.k,
                "x": step.x,
                "f": step.f,
                "grad_norm": step.grad_norm,
                "step_size": step.step,
            }
        )
        return
    cells = [str(step.k), *(_fmt(step.x[n]) for n in names), _fmt(step.f)]
    emit(_row([*cells, f"{step.grad_norm:.3g}", "" if step.step is None else f"{step.step:.3g}"]))


def _table(summaries, names: list[str]) -> str:
    header = ["method", "steps", "result", *names, "f(x)"]
    rows = [
        [m, str(o.steps), o.result, *(_fmt(o.x[n]) for n in names), _fmt(o.f, "n/a")]
        for m, o in summaries
    ]
    return table(header, rows)
