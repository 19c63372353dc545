"""Computation graphs as pictures: trace the graph, then write DOT, SVG, PNG or HTML.

Collecting the graph (`trace`) is apart from rendering. SVG and PNG use Graphviz's
`dot` when it is on PATH (`renderer`); otherwise a built-in layered layout (`layout`)
painted by `svg` or `png` draws the same picture with no system package. `model`
builds the graph of a trained model for one input; `html` steps through its backward pass.
"""

from __future__ import annotations

from microgradcli.draw.dot import to_dot
from microgradcli.draw.layout import Layout, layout
from microgradcli.draw.model import VIEWS, Picture, model_graph, model_picture
from microgradcli.draw.renderer import RENDERERS, check_choice, render
from microgradcli.draw.trace import fmt_number, node_label, node_name, trace

__all__ = [
    "RENDERERS",
    "VIEWS",
    "Layout",
    "Picture",
    "check_choice",
    "fmt_number",
    "layout",
    "model_graph",
    "model_picture",
    "node_label",
    "node_name",
    "render",
    "to_dot",
    "trace",
]
