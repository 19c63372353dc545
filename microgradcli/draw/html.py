"""One self-contained HTML page: the graph as inline SVG and a step-through of the
backward pass (no network, no server; the script and its data are inline).

The steps are the engine's own order (`Value.topological_order`, as `mg grad --steps`
prints them): the node being processed, the local derivative towards each input and
the gradient passed back. A node's grad shows once the step that completes it has run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

from microgradcli.draw.layout import layout
from microgradcli.draw.svg import svg_from_layout
from microgradcli.draw.trace import (
    Notes,
    fmt_number,
    graph_texts,
    op_text,
    printable,
    root_ids,
    roots_of,
)
from microgradcli.draw.trace import trace as trace_graph
from microgradcli.engine import Value


def backward_order(roots: list[Value], traced: set[Value]) -> list[Value]:
    """The values in the order backward() processes them (several roots: their sum's)."""
    total = roots[0]
    for r in roots[1:]:
        total = total + r  # not drawn: only its order is used
    return [v for v in total.topological_order() if v in traced]


def steps_data(roots: list[Value], nodes: list[Value]) -> dict:
    """The page's data: every step, and for each value its shown grad and when it is final."""
    index = {v: i for i, v in enumerate(nodes)}
    texts = graph_texts(nodes, root_ids(nodes, roots))
    steps = []
    done = {index[r]: 0 for r in roots}  # a root's grad is set before the first step
    for v in backward_order(roots, set(nodes)):
        if not v.children:
            continue
        g = v.grad
        ins = []
        for child, local in zip(v.children, v.local_grads, strict=True):
            c = index[child]
            ins.append({"id": c, "name": texts[c].name, "local": local, "passed": local * g})
            done[c] = len(steps) + 1
        steps.append(
            {
                "id": index[v],
                "name": texts[index[v]].name,
                "label": printable(v.label),
                "op": op_text(v.op),
                "data": v.data,
                "grad": g,
                "inputs": ins,
            }  # fmt: skip
        )
    shown = [
        {"grad": f"grad={fmt_number(v.grad)}", "done": done.get(i, 0), "tip": texts[i].tip}
        for i, v in enumerate(nodes)
    ]
    return {"steps": steps, "nodes": shown}


def to_html(
    root: Value | Sequence[Value],
    title: Sequence[str] = (),
    notes: Mapping[Value, Notes] | None = None,
    columns: Sequence[Sequence[Value]] = (),
) -> str:
    """The page: heading, controls, the graph, and the step data (deterministic bytes)."""
    roots = roots_of(root)
    nodes, _ = trace_graph(roots)
    svg = svg_from_layout(layout(roots, title, notes, columns))
    svg = svg.split("\n", 1)[1]  # no XML declaration inside HTML
    data = json.dumps(steps_data(roots, nodes), sort_keys=True, ensure_ascii=True)
    data = data.replace("</", "<\\/")  # never ends the script element
    heading = escape(printable(title[0])) if title else "computation graph"
    # room for the longest step's explanation, so the graph does not jump while stepping
    lines = 1 + max((len(v.children) for v in nodes), default=0)
    style = _STYLE + f"#info {{ height: {1.25 * lines:.2f}em; }}\n"
    return _PAGE.format(heading=heading, svg=svg, data=data, script=_SCRIPT, style=style)


_STYLE = """
body { font-family: DejaVu Sans Mono, Menlo, Consolas, monospace; margin: 12px; color: #222; }
#controls { position: sticky; top: 0; background: #fff; padding: 6px 0; z-index: 1; }
#controls button { font: inherit; font-size: 15px; padding: 3px 10px; margin-right: 4px; }
#counter { font-size: 15px; margin: 0 10px; }
#info { font-size: 14px; line-height: 1.25em; white-space: pre; margin: 6px 0; }
#graph { overflow: auto; }
svg .current rect, svg .current ellipse { stroke: #d9480f; stroke-width: 3; }
svg .input rect { stroke: #1c7ed6; stroke-width: 3; }
svg path.passing { stroke: #d9480f; stroke-width: 2.6; }
svg .arrows path.passing { fill: #d9480f; }
svg text.pending { fill: #999999; }
svg text.fresh { fill: #d9480f; font-weight: bold; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("mg-data").textContent);
  var steps = data.steps, nodes = data.nodes, step = 0, timer = null;
  var counter = document.getElementById("counter"), info = document.getElementById("info");
  var play = document.getElementById("play");
  function fmt(x) { return Number(x).toPrecision(6).replace(/\.?0+(e|$)/, "$1"); }
  function show() {
    var cur = step > 0 ? steps[step - 1] : null, inputs = {};
    if (cur) { cur.inputs.forEach(function (i) { inputs[i.id] = true; }); }
    nodes.forEach(function (n, id) {
      var g = document.getElementById("v" + id);
      if (!g) { return; }
      var known = step >= n.done, text = g.querySelector("text.grad");
      text.textContent = known ? n.grad : "grad=?";
      text.setAttribute("class", "grad" + (known ? (cur && n.done === step && step > 0 ? " fresh" : "") : " pending"));
      g.querySelector("title").textContent = known ? n.tip : n.tip.replace(/\ngrad=[^\n]*/, "\ngrad=?");
      g.setAttribute("class", cur && cur.id === id ? "current" : (inputs[id] ? "input" : ""));
      var op = document.getElementById("o" + id);
      if (op) { op.setAttribute("class", cur && cur.id === id ? "current" : ""); }
    });
    document.querySelectorAll("path[data-dst]").forEach(function (p) {
      var on = cur && Number(p.getAttribute("data-dst")) === cur.id;
      p.setAttribute("class", on ? "passing" : "");
    });
    counter.textContent = "step " + step + " / " + steps.length;
    document.body.setAttribute("data-step", String(step));
    if (!cur) {
      info.textContent = step === 0 && steps.length ? "the output's grad is 1; press next (or the right arrow) to run backward" : "";
      if (step === steps.length && steps.length === 0) { info.textContent = "nothing to pass back: the output is a leaf"; }
      return;
    }
    var lines = [cur.name + " (" + cur.op + "): grad " + fmt(cur.grad) + " is passed to its inputs"];
    cur.inputs.forEach(function (i) {
      lines.push("  " + i.name + ".grad += " + fmt(i.local) + " (local d) * " + fmt(cur.grad) + " = " + fmt(i.passed));
    });
    info.textContent = lines.join("\n");
  }
  function go(k) { step = Math.max(0, Math.min(steps.length, k)); show(); }
  function stop() { if (timer !== null) { clearInterval(timer); timer = null; } play.textContent = "play"; }
  function toggle() {
    if (timer !== null) { stop(); return; }
    if (step >= steps.length) { go(0); }
    play.textContent = "pause";
    timer = setInterval(function () { if (step >= steps.length) { stop(); } else { go(step + 1); } }, 900);
  }
  document.getElementById("next").addEventListener("click", function () { stop(); go(step + 1); });
  document.getElementById("prev").addEventListener("click", function () { stop(); go(step - 1); });
  play.addEventListener("click", toggle);
  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowRight") { stop(); go(step + 1); e.preventDefault(); }
    else if (e.key === "ArrowLeft") { stop(); go(step - 1); e.preventDefault(); }
    else if (e.key === " ") { toggle(); e.preventDefault(); }
  });
  show();
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{heading} (mg draw)</title>
<style>{style}</style>
</head>
<body>
<div id="controls">
<button id="prev" type="button" title="previous step (left arrow)">previous</button>
<button id="play" type="button" title="play or pause (space)">play</button>
<button id="next" type="button" title="next step (right arrow)">next</button>
<span id="counter"></span>
<div id="info"></div>
</div>
<div id="graph">
{svg}</div>
<script type="application/json" id="mg-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""
