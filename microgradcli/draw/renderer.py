"""Choosing a renderer: Graphviz's `dot` when asked or available, else the built-in layout.

A `dot` that fails (a crash, a refused graph, a broken pipe on a deep graph) falls back to
the built-in layout unless Graphviz was asked for by name.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence

from microgradcli.draw.dot import to_dot
from microgradcli.draw.layout import layout
from microgradcli.draw.trace import DEFAULT_MAX_NODES, check_size, trace
from microgradcli.engine import Value
from microgradcli.errors import InputError, MgError

FORMATS = ("svg", "dot", "png")
RENDERERS = ("auto", "builtin", "graphviz")
DOT_TIMEOUT = 60.0  # seconds: dot can take minutes and gigabytes on a deep graph


def graphviz_available() -> bool:
    """True when Graphviz's `dot` program is on PATH."""
    return shutil.which("dot") is not None


class GraphvizFailed(MgError):
    """Graphviz's dot is missing or could not render the graph."""


def graphviz_pipe(dot_text: str, fmt: str, timeout: float | None = None) -> bytes:
    """dot_text rendered by Graphviz's `dot`, or GraphvizFailed saying why not."""
    timeout = DOT_TIMEOUT if timeout is None else timeout
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizFailed(
            "Graphviz's dot is not installed; install Graphviz or use --renderer builtin"
        )
    try:
        proc = subprocess.run(
            [exe, f"-T{fmt}"],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        why = f"took longer than {timeout:g} s"
    except OSError as e:  # not executable, a broken pipe when dot dies early
        why = str(e.strerror or e)
    else:
        if proc.returncode == 0 and proc.stdout:
            return proc.stdout
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        why = err[-1] if err else f"exit status {proc.returncode}"
    raise GraphvizFailed(
        f"Graphviz's dot failed to render the graph ({why}); use --renderer builtin"
    )


def render(
    root: Value | Sequence[Value],
    fmt: str = "svg",
    title: Sequence[str] = (),
    max_nodes: int | None = DEFAULT_MAX_NODES,
    renderer: str = "auto",
    on_fallback: Callable[[str], None] | None = None,
) -> bytes:
    """The picture as bytes: fmt is svg, dot or png; renderer auto, graphviz or builtin.

    The graph's size is checked before anything is laid out or rendered. When `dot` fails
    under renderer auto, the built-in layout draws it and on_fallback hears why.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if renderer not in RENDERERS:
        raise InputError(f"unknown renderer {renderer!r}; use one of: {', '.join(RENDERERS)}")
    nodes, _ = trace(root)
    if max_nodes is not None:
        check_size(len(nodes), max_nodes)
    if fmt == "dot":
        return to_dot(root, title, None).encode("utf-8")
    if renderer == "graphviz" or (renderer == "auto" and graphviz_available()):
        try:
            return graphviz_pipe(to_dot(root, title, None), fmt)
        except GraphvizFailed as e:
            if renderer == "graphviz":
                raise
            if on_fallback is not None:
                on_fallback(f"{e.args[0].split('; ')[0]}; drawn with the built-in layout")
    lay = layout(root, title)
    if fmt == "svg":
        from microgradcli.draw.svg import svg_from_layout

        return svg_from_layout(lay).encode("utf-8")
    from microgradcli.draw.png import png_from_layout

    return png_from_layout(lay)
