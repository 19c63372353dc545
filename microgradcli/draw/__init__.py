"""Computation graphs as pictures: trace the graph, then write DOT, SVG or PNG.

Collecting the graph (`trace`) is apart from rendering. SVG and PNG use Graphviz's
`dot` when it is on PATH (`renderer`); otherwise a built-in layered layout (`layout`)
painted by `svg` or `png` draws the same picture with no system package. `model`
builds the graph of a trained model for one input.
"""

from __future__ import annotations

from microgradcli.draw.dot import to_dot
from microgradcli.draw.layout import Edge, Layout, Op, Record, layout
from microgradcli.draw.model import VIEWS, Picture, model_graph, model_picture
from microgradcli.draw.renderer import (
    FORMATS,
    RENDERERS,
    check_choice,
    graphviz_available,
    render,
)
from microgradcli.draw.style import REC_H, text_width
from microgradcli.draw.trace import (
    DEFAULT_MAX_NODES,
    Notes,
    check_size,
    fmt_number,
    node_label,
    node_name,
    op_text,
    printable,
    trace,
)

__all__ = [
    "DEFAULT_MAX_NODES",
    "FORMATS",
    "RENDERERS",
    "REC_H",
    "Edge",
    "Layout",
    "Notes",
    "Op",
    "Record",
    "check_choice",
    "check_size",
    "fmt_number",
    "graphviz_available",
    "layout",
    "model_graph",
    "model_picture",
    "Picture",
    "VIEWS",
    "node_label",
    "node_name",
    "op_text",
    "printable",
    "render",
    "text_width",
    "to_dot",
    "trace",
]
