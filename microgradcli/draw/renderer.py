"""Choosing a renderer: Graphviz's `dot` when asked or available, else the built-in layout.

A `dot` that fails (a crash, a refused graph, a broken pipe on a deep graph) falls back to
the built-in layout unless Graphviz was asked for by name.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence

from microgradcli.draw.dot import to_dot
from microgradcli.draw.layout import layout
from microgradcli.draw.trace import DEFAULT_MAX_NODES, Notes, check_size, trace
from microgradcli.engine import Value
from microgradcli.errors import InputError, MgError, option_error

FORMATS = ("svg", "dot", "png", "html")
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
        raise option_error(
            GraphvizFailed,
            "Graphviz's dot is not installed; install Graphviz or use {o[renderer]} builtin",
        )
    args = [exe, f"-T{fmt}"] + (["-Gdpi=144"] if fmt == "png" else [])  # 2 px a unit, as ours
    try:
        proc = subprocess.run(
            args,
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
            return _px(proc.stdout) if fmt == "svg" else proc.stdout
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        why = err[-1] if err else f"exit status {proc.returncode}"
    raise option_error(
        GraphvizFailed,
        "Graphviz's dot failed to render the graph ({why}); use {o[renderer]} builtin",
        why=why,
    )


def _px(svg: bytes) -> bytes:
    """Graphviz sizes its SVG in points (1.33 px each): make one unit one pixel, as the
    built-in SVG does, so both show 14 px text at 1:1."""
    return re.sub(
        rb'<svg width="([0-9.]+)pt" height="([0-9.]+)pt"',
        rb'<svg width="\1" height="\2"',
        svg,
        count=1,
    )


def check_choice(fmt: str, renderer: str) -> None:
    """An InputError for an unknown format or renderer, or for html drawn by Graphviz
    (callers check it before any work is done; render checks it again)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if renderer not in RENDERERS:
        raise InputError(f"unknown renderer {renderer!r}; use one of: {', '.join(RENDERERS)}")
    if fmt == "html" and renderer == "graphviz":
        raise option_error(
            InputError,
            "{o[format]} html is drawn with the built-in layout; drop {o[renderer]} graphviz",
        )


def render(
    root: Value | Sequence[Value],
    fmt: str = "svg",
    title: Sequence[str] = (),
    max_nodes: int | None = DEFAULT_MAX_NODES,
    renderer: str = "auto",
    on_fallback: Callable[[str], None] | None = None,
    notes: Mapping[Value, Notes] | None = None,
    columns: Sequence[Sequence[Value]] = (),
) -> bytes:
    """The picture as bytes: fmt is svg, dot, png or html; renderer auto, graphviz or builtin.

    The graph's size is checked before anything is laid out or rendered. When `dot` fails
    under renderer auto, the built-in layout draws it and on_fallback hears why.
    """
    check_choice(fmt, renderer)
    nodes, _ = trace(root)
    if max_nodes is not None:
        check_size(len(nodes), max_nodes)
    if fmt == "dot":
        return to_dot(root, title, None, notes, columns).encode("utf-8")
    if fmt == "html":  # always the built-in layout: the page's script knows its names
        from microgradcli.draw.html import to_html

        return to_html(root, title, notes, columns).encode("utf-8")
    if renderer == "graphviz" or (renderer == "auto" and graphviz_available()):
        try:
            return graphviz_pipe(to_dot(root, title, None, notes, columns), fmt)
        except GraphvizFailed as e:
            if renderer == "graphviz":
                raise
            if on_fallback is not None:
                on_fallback(f"{e.args[0].split('; ')[0]}; drawn with the built-in layout")
    lay = layout(root, title, notes, columns)
    if fmt == "svg":
        from microgradcli.draw.svg import svg_from_layout

        return svg_from_layout(lay).encode("utf-8")
    from microgradcli.draw.png import png_from_layout

    return png_from_layout(lay)
