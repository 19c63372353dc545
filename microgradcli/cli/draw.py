"""`mg draw`: the computation graph of an expression or a trained model, as a picture."""

from __future__ import annotations

import math
import sys

import typer

from microgradcli.cli._app import ExprCommand, app
from microgradcli.cli._common import (
    at_values,
    read_stdin_text,
    refuse_binary_on_terminal,
    warn,
    warn_unused,
)
from microgradcli.errors import InputError
from microgradcli.fileio import output_format, write_output

_SUFFIXES = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".html": "html"}


@app.command(cls=ExprCommand, context_settings={"ignore_unknown_options": True})
def draw(
    expr: str = typer.Argument(
        None,
        metavar="EXPR",
        help="The expression to draw, e.g. 'x*y + x' (quote it); '-' reads it from stdin.",
    ),
    at: list[str] = typer.Option(
        None,
        "--at",
        metavar="NAME=VALUE,...",
        help="Values of the variables (x=2,y=3); repeatable.",
    ),
    model: str = typer.Option(
        None,
        "--model",
        metavar="MODEL.json",
        help="Draw a trained model's graph for one input instead ('-' reads it from stdin).",
    ),
    input_: str = typer.Option(
        None,
        "--input",
        metavar="X1,X2,...",
        help="With --model: the input row, comma-separated raw numbers (e.g. 2,3,-1).",
    ),
    fmt: str = typer.Option(
        None,
        "--format",
        "-f",
        metavar="svg|dot|png|html",
        help="Output format; default: from the -o extension, else svg.",
    ),
    output: str = typer.Option(
        None, "--output", "-o", metavar="PATH", help="Write here ('-' or none: stdout)."
    ),
    max_nodes: int = typer.Option(
        2000, "--max-nodes", min=1, help="Refuse graphs with more values than this."
    ),
    view: str = typer.Option(
        "neurons",
        "--view",
        metavar="neurons|scalars",
        help="With --model: one w·x+b node per neuron (neurons), or every multiply and add.",
    ),
    order: int = typer.Option(
        1,
        "--order",
        min=1,
        max=10,
        help="2: draw the graph of the derivative df/dx itself (the backward pass recorded "
        "as Values; x's grad is then d2f/dx2); N: of the (N-1)-th derivative.",
    ),
    wrt: str = typer.Option(
        None,
        "--wrt",
        metavar="NAME",
        help="With --order: the variable to differentiate by (default: the first one).",
    ),
    renderer: str = typer.Option(
        "auto",
        "--renderer",
        metavar="auto|builtin|graphviz",
        help="auto: Graphviz's dot when installed (the built-in layout if it fails).",
    ),
) -> None:
    """Draw a computation graph: a box per value, a small node per operation.

    Each box shows a value's name over its data and its grad after backward (hover
    for the whole subexpression); the graph reads left to right.

    The format follows --format, else the -o extension (.svg .png .dot .gv
    .html). HTML is one self-contained page that steps through the backward
    pass (next / previous / play, arrow keys).
    SVG and PNG use Graphviz's dot when it is installed (--renderer), else a
    built-in layout (no system package needed); --format dot writes Graphviz text.
    With --model, the network is drawn by layer for one input: one w·x+b
    node per neuron and its activation (--view neurons), or every multiply
    and add, parameters named like L1.N3.w2 (--view scalars).

    Example: mg draw "x*y + x" --at x=2,y=3 -o graph.svg
    """
    from microgradcli import draw as drawing

    fmt = output_format(output, fmt, _SUFFIXES)
    renderer = _choose_renderer(renderer)
    drawing.check_choice(fmt, renderer)  # html by Graphviz: refused before stdin is read
    to_stdout = output is None or output == "-"
    refuse_binary_on_terminal(fmt, to_stdout, "-o g.png")
    picture = _picture(expr, at or [], model, input_, view, (order, wrt))
    data = drawing.render(
        picture.roots,
        fmt,
        title=picture.title,
        max_nodes=max_nodes,
        renderer=renderer,
        on_fallback=warn,
        notes=picture.notes,
        columns=picture.columns,
    )
    write_output(output, data, "graph")
    if output is not None and output != "-":
        sys.stderr.write(f"wrote {output} ({len(data) / 1024:.1f} kB)\n")
        sys.stderr.flush()


def _picture(expr, at: list[str], model, input_, view: str, order: tuple[int, str | None]):
    """What to draw: an expression's graph or a model's, after checking the options
    (order: --order and --wrt)."""
    from microgradcli.draw import Picture

    if order[1] is not None and order[0] == 1:
        raise InputError("--wrt names the variable of --order N; give --order 2 or more")

    if model is not None:
        if expr is not None:
            raise InputError("give either an EXPR or --model, not both")
        if at:
            raise InputError("--at sets expression variables; with --model give --input instead")
        if input_ is None:
            raise InputError("--model needs --input with one input row, e.g. --input 2,3,-1")
        if order[0] != 1:
            raise InputError("--order draws derivatives of an EXPR, not of --model")
        return _model_graph(model, input_, view)
    if input_ is not None:
        raise InputError("--input goes with --model; for an expression use --at x=...")
    if expr is None:
        raise InputError(
            'nothing to draw: give an EXPR (mg draw "x*y + x" --at x=2,y=3) '
            "or a model (mg draw --model model.json --input 2,3,-1)"
        )
    if view != "neurons":
        raise InputError("--view goes with --model")
    root, title = _expression_graph(expr, at, order)
    return Picture([root], title)


def _choose_renderer(name: str) -> str:
    from microgradcli.draw import RENDERERS

    r = name.strip().lower()
    if r not in RENDERERS:
        raise InputError(f"unknown renderer {name!r} for --renderer; use auto, builtin or graphviz")
    return r


def _expression_graph(text: str, at: list[str], order: tuple[int, str | None] = (1, None)):
    from microgradcli.expr import parse_expression

    if "-" in at:
        raise InputError("mg draw draws one graph: --at - (one set per line) is for mg grad")
    if text == "-":
        text = read_stdin_text().strip()
        if not text:
            raise InputError("EXPR is '-' but stdin holds no expression")
    expression = parse_expression(text)
    point = at_values(at)
    warn_unused(expression, point, set())
    if order[0] > 1:
        return _derivative_graph(text, expression, point, *order)
    root, _ = expression.build(point)
    root.backward()
    title = [text]
    if expression.variables:
        shown = ", ".join(f"{name}={point[name]:.10g}" for name in expression.variables)
        title.append(f"at {shown}; grad = d(output)/d(node)")
    return root, title


def _derivative_graph(text: str, expression, point: dict[str, float], order: int, wrt):
    from microgradcli.derivatives import derivative_graph

    if not expression.variables:
        raise InputError(f"{text!r} has no variable, so no derivative to draw; drop --order")
    if wrt is not None and wrt not in expression.variables:
        raise InputError(
            f"--wrt {wrt}: {text!r} has no variable {wrt!r}; "
            f"its variables are {', '.join(expression.variables)}"
        )
    root, name = derivative_graph(expression, point, order, wrt)
    shown = ", ".join(f"{n}={point[n]:.10g}" for n in expression.variables)
    title = [
        f"{root.label} of {text}: the backward pass recorded as Values",
        f"at {shown}; grad = d({root.label})/d(node), so {name}'s grad is d{order}f/d{name}{order}",
    ]
    if len(expression.variables) > 1 and wrt is None:
        title.append(f"(with respect to {name}, the first variable; --wrt chooses)")
    return root, title


def _model_graph(path: str, raw: str, view: str):
    from microgradcli.checkpoint import load_checkpoint
    from microgradcli.draw import VIEWS, model_picture

    if view not in VIEWS:
        raise InputError(f"unknown view {view!r} for --view; use neurons or scalars")
    row = []
    for i, item in enumerate(raw.split(","), 1):
        try:
            value = float(item)
        except ValueError:
            raise InputError(
                f"--input {raw!r}: value {i} ({item.strip()!r}) is not a number; "
                "expected comma-separated numbers, e.g. --input 2,3,-1"
            ) from None
        if not math.isfinite(value):
            raise InputError(f"--input {raw!r}: value {i} must be a finite number")
        row.append(value)
    ckpt = load_checkpoint(path)  # '-' reads it from stdin
    return model_picture(ckpt, row, "<stdin>" if path == "-" else path, view)
