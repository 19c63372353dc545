"""mg draw: tracing, DOT text, the built-in SVG/PNG layout, model graphs and the CLI."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from microgradcli import draw
from microgradcli.checkpoint import Checkpoint
from microgradcli.cli import app
from microgradcli.engine import Value, dense, vsum
from microgradcli.errors import InputError, MgError
from microgradcli.nn import MLP

SVG = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NEURON = "tanh(x1*w1 + x2*w2 + b)"
NEURON_AT = "x1=2,x2=0,w1=-3,w2=1,b=6.8813735870195432"
runner = CliRunner()


def xy():
    """x*y + x at x=2, y=3 after backward: dx = y + 1 = 4, dy = x = 2."""
    x, y = Value(2.0, label="x"), Value(3.0, label="y")
    out = x * y + x
    out.backward()
    return out, x, y


def neuron():
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    out = (x1 * w1 + x2 * w2 + b).tanh()
    out.backward()
    return out


def mlp_checkpoint(path, nin=3, nouts=(4, 4, 1), **kw):
    kw.setdefault("task", "binary")
    kw.setdefault("classes", [-1, 1])
    model = MLP(nin, list(nouts), activation="tanh", rng=random.Random(0))
    Checkpoint(model=model, **kw).save(path)
    return path


def svg_texts(svg: str | bytes) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return [t.text for t in root.iter(f"{SVG}text")]


def dot_records(text: str) -> dict[str, tuple[str, str, str]]:
    """{node id: (name, data, grad)} from the record nodes of DOT text."""
    out = {}
    for m in re.finditer(r'^  (v\d+) \[shape=record.*label="(.*)", tooltip=".*"\];$', text, re.M):
        rows = [f.replace("\\ ", " ") for f in m.group(2).split(" | ")]
        out[m.group(1)] = (rows[0], rows[-2], rows[-1])
    return out


def dot_edges(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^  (\w+) -> (\w+);$", text, re.M)


# -- trace and DOT ----------------------------------------------------------------------


def test_trace_orders_children_first_and_keeps_every_edge():
    out, x, y = xy()
    nodes, edges = draw.trace(out)
    assert nodes[0] is x and nodes[1] is y and nodes[-1] is out
    assert [n.op for n in nodes] == ["", "", "*", "+"]
    assert edges == [(0, 2), (1, 2), (2, 3), (0, 3)]
    sq = x * x  # an operand used twice is two edges
    assert draw.trace(sq)[1] == [(0, 1), (0, 1)]


def test_trace_handles_deep_graphs_without_recursion():
    v = Value(1.0, label="x")
    for _ in range(5000):
        v = v * 1.0
    nodes, edges = draw.trace(v)
    assert len(nodes) == 10001 and len(edges) == 10000


def test_dot_structure_labels_data_and_grad():
    out, _, _ = xy()
    text = draw.to_dot(out, title=["x*y + x"])
    assert text.count("shape=record") == 4 and text.count("shape=ellipse") == 2
    records = dot_records(text)
    assert records == {
        "v0": ("x", "data=2.0000", "grad=4.0000"),
        "v1": ("y", "data=3.0000", "grad=2.0000"),
        "v2": ("n1", "data=6.0000", "grad=1.0000"),
        "v3": ("out", "data=8.0000", "grad=1.0000"),
    }
    assert sorted(dot_edges(text)) == sorted(
        [("op2", "v2"), ("op3", "v3"), ("v0", "op2"), ("v1", "op2"), ("v2", "op3"), ("v0", "op3")]
    )
    assert "rankdir=LR" in text and 'label="x*y + x\\l"' in text


def test_dot_of_the_lecture_neuron():
    text = draw.to_dot(neuron())
    records = dot_records(text)
    assert len(records) == 10 and len(dot_edges(text)) == 9 + 5
    by_name = {r[0]: r for r in records.values()}
    assert by_name["x1"] == ("x1", "data=2.0000", "grad=-1.5000")
    assert by_name["w1"] == ("w1", "data=-3.0000", "grad=1.0000")
    assert by_name["b"] == ("b", "data=6.8814", "grad=0.5000")
    assert by_name["out"] == ("out", "data=0.7071", "grad=1.0000")
    assert 'tooltip="out = tanh(x1*w1 + x2*w2 + b)\\ndata=0.7071067811865477' in text


def test_names_constants_fused_ops_and_escaping():
    w = [Value(0.5, label="w1"), Value(-1.0, label="w2")]
    b = Value(0.1, label="b")
    z = dense([w], [b], [2.0, 3.0])[0] * 2.5  # 2.5 becomes an unlabelled constant leaf
    s = vsum([z, Value(1.0, label='a<b|"c"'), Value(2.0, label="tab\there\x01")])
    s.backward()
    assert [draw.node_name(v) for v in draw.trace(s)[0]] == [
        "w1",
        "w2",
        "b",
        "w·x+b",
        "2.5",
        "*",
        'a<b|"c"',
        "tab?here?",
        "Σ",
    ]
    text = draw.to_dot(s)
    assert 'label="w·x+b"' in text and 'label="Σ"' in text
    assert r"a\<b\|\"c\"" in text  # record syntax escaped
    texts = svg_texts(draw.render(s, "svg", title=["bell\x07"], renderer="builtin"))
    assert "bell?" in texts
    assert 'a<b|"c"' in texts and "w·x+b" in texts


def test_numbers_use_four_decimals_and_stay_readable_when_tiny_or_huge():
    assert draw.fmt_number(0.70710678) == "0.7071"
    assert draw.fmt_number(-0.0) == "0.0000"
    assert draw.fmt_number(2.5e-7) == "2.5000e-07"
    assert draw.fmt_number(3e12) == "3.0000e+12"


def test_dot_is_deterministic_across_separately_built_graphs():
    assert draw.to_dot(neuron()) == draw.to_dot(neuron())


def test_max_nodes_refuses_big_graphs_before_drawing():
    v = Value(1.0, label="x")
    for _ in range(30):
        v = v + 1.0
    with pytest.raises(InputError, match=r"61 nodes.*max_nodes 60.*max_nodes 61") as e:
        draw.render(v, "svg", max_nodes=60)
    assert "--" not in str(e.value)  # the library names its argument; the CLI words the flag
    assert draw.to_dot(v, max_nodes=61).count("shape=record") == 61


# -- the built-in layout ------------------------------------------------------------------


def _bezier(p0, c1, c2, p1, t):
    u = 1 - t
    return tuple(
        u**3 * a + 3 * u * u * t * b + 3 * u * t * t * c + t**3 * d
        for a, b, c, d in zip(p0, c1, c2, p1, strict=True)
    )


def _check_geometry(lay: draw.Layout):
    boxes = [(r.x, r.y, r.x + r.w, r.y + r.h) for r in lay.records]
    boxes += [(o.cx - o.rx, o.cy - o.ry, o.cx + o.rx, o.cy + o.ry) for o in lay.ops]
    for i, a in enumerate(boxes):  # nothing overlaps
        assert 0 <= a[0] and a[2] <= lay.width and 0 <= a[1] and a[3] <= lay.height
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    inner = [(r.x + 2, r.y + 2, r.x + r.w - 2, r.y + r.h - 2) for r in lay.records]
    for e in lay.edges:  # no edge passes through a box or an op's ellipse
        start = e.start
        for c1, c2, end in e.curves:
            for k in range(1, 20):
                px, py = _bezier(start, c1, c2, end, k / 20)
                for x0, y0, x1, y1 in inner:
                    assert not (x0 < px < x1 and y0 < py < y1), ((px, py), (x0, y0, x1, y1))
                for o in lay.ops:
                    assert ((px - o.cx) / o.rx) ** 2 + ((py - o.cy) / o.ry) ** 2 > 0.9, (px, py, o)
            start = end


def test_layout_of_neuron_and_mlp_has_no_overlaps_and_no_edge_through_a_box(tmp_path):
    lay = draw.layout(neuron())
    assert len(lay.records) == 10 and len(lay.ops) == 5 and len(lay.edges) == 9 + 5
    _check_geometry(lay)
    xs = {r.rows[0]: r.x for r in lay.records}
    assert xs["out"] == max(xs.values())  # the output at the right
    ckpt = Checkpoint(model=MLP(3, [4, 4, 1], rng=random.Random(0)), task="regression")
    outs, title = draw.model_graph(ckpt, [1.0, -2.0, 0.5])
    _check_geometry(draw.layout(outs, title))
    model = MLP(6, [5, 3], rng=random.Random(0))  # fused neurons: ops with 7 inputs
    fused = model([Value(float(i), label=f"x{i}") for i in range(6)])
    vsum(fused).backward()
    _check_geometry(draw.layout(fused))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.data())
def test_layout_of_random_expression_graphs(data):
    leaves = [Value(float(i), label=f"v{i}") for i in range(data.draw(st.integers(1, 4)))]
    pool = list(leaves)
    for _ in range(data.draw(st.integers(1, 14))):
        a = data.draw(st.sampled_from(pool))
        if data.draw(st.booleans()):
            pool.append(a.tanh())
        else:
            b = data.draw(st.sampled_from(pool))
            pool.append(a * b if data.draw(st.booleans()) else a + b)
    pool[-1].backward()
    _check_geometry(draw.layout(pool[-1]))


def test_builtin_svg_is_well_formed_and_carries_every_label(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot: the built-in renderer
    root = neuron()
    svg = draw.render(root, "svg", title=["tanh neuron & <friends>"])
    texts = svg_texts(svg)
    for v in draw.trace(root)[0]:
        assert set(draw.node_label(v)) <= set(texts)
    assert "tanh neuron & <friends>" in texts
    tree = ET.fromstring(svg)
    width, height = float(tree.get("width")), float(tree.get("height"))
    assert tree.get("viewBox") == f"0 0 {tree.get('width')} {tree.get('height')}"
    assert width > 100 and height > 50
    assert tree.find(f"{SVG}rect").get("fill") == "#ffffff"  # a white background
    assert svg == draw.render(neuron(), "svg", title=["tanh neuron & <friends>"])


def test_builtin_png_from_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    png = draw.render(neuron(), "png")
    assert png.startswith(PNG_SIGNATURE) and len(png) > 2000


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphviz_svg_carries_every_label():
    root = neuron()
    texts = svg_texts(draw.render(root, "svg", renderer="graphviz"))
    for v in draw.trace(root)[0]:
        name, data, grad = draw.node_label(v)
        assert name in texts and data in texts and grad in texts


def test_dot_on_path_is_used_for_svg_and_png(monkeypatch, tmp_path):
    """The Graphviz path with a stand-in `dot` that records what it was given."""
    fake = tmp_path / "dot"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, sys\n"
        f"here = pathlib.Path({str(tmp_path)!r})\n"
        "(here / 'input.gv').write_bytes(sys.stdin.buffer.read())\n"
        "(here / 'args').write_text(' '.join(sys.argv[1:]))\n"
        "sys.stdout.write('<svg xmlns=\"http://www.w3.org/2000/svg\"><text>from dot</text></svg>')\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    out, _, _ = xy()
    svg = draw.render(out, "svg", title=["t"])
    assert svg_texts(svg) == ["from dot"]
    assert (tmp_path / "input.gv").read_text() == draw.to_dot(out, title=["t"])
    assert "-Tsvg" in (tmp_path / "args").read_text()
    draw.render(out, "png")
    assert "-Tpng" in (tmp_path / "args").read_text()


def _failing_dot(tmp_path, message="dot: Broken pipe"):
    """A stand-in `dot` that fails as Graphviz does on a graph too deep for it."""
    fake = tmp_path / "dot"
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.stderr.write({message!r})\nsys.exit(1)\n")
    fake.chmod(0o755)
    return fake


def test_a_failing_dot_falls_back_to_the_builtin_layout(monkeypatch, tmp_path):
    _failing_dot(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    builtin = draw.render(neuron(), "svg", renderer="builtin")
    assert draw.render(neuron(), "svg") == builtin  # auto: dot failed, built-in drawn
    assert draw.render(neuron(), "png").startswith(PNG_SIGNATURE)
    with pytest.raises(MgError, match=r"dot failed .*\(dot: Broken pipe\); use renderer builtin"):
        draw.render(neuron(), "svg", renderer="graphviz")
    r = invoke(NEURON, "--at", NEURON_AT, "-o", str(tmp_path / "n.svg"))
    assert r.exit_code == 0, r.stderr
    warning, wrote = r.stderr.splitlines()
    assert warning.startswith("warning: Graphviz's dot failed") and "Broken pipe" in warning
    assert warning.endswith("drawn with the built-in layout") and wrote.startswith("wrote ")
    r = invoke(NEURON, "--at", NEURON_AT, "--renderer", "builtin")
    assert (tmp_path / "n.svg").read_bytes() == r.stdout_bytes
    r = invoke(NEURON, "--at", NEURON_AT, "--renderer", "graphviz", "-o", str(tmp_path / "g.svg"))
    assert_error(r, "dot failed", "--renderer builtin")
    assert not (tmp_path / "g.svg").exists()


def test_a_dot_that_hangs_is_stopped_and_the_builtin_layout_draws(monkeypatch, tmp_path):
    fake = tmp_path / "dot"
    fake.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(draw.renderer, "DOT_TIMEOUT", 0.5)
    notes = []
    svg = draw.render(neuron(), "svg", on_fallback=notes.append)
    assert svg == draw.render(neuron(), "svg", renderer="builtin")
    assert notes == [
        "Graphviz's dot failed to render the graph (took longer than 0.5 s); "
        "drawn with the built-in layout"
    ]


def test_renderer_graphviz_without_dot_says_so(no_dot, tmp_path):
    r = invoke("x", "--at", "x=1", "--renderer", "graphviz", "-o", str(tmp_path / "g.svg"))
    assert_error(r, "dot is not installed", "--renderer builtin")
    r = invoke("x", "--at", "x=1", "--renderer", "builtin", "-o", str(tmp_path / "g.svg"))
    assert r.exit_code == 0, r.stderr


# -- model graphs ---------------------------------------------------------------------------


def test_model_graph_names_parameters_and_matches_the_fused_gradients(tmp_path):
    model = MLP(3, [4, 4, 1], activation="tanh", rng=random.Random(0))
    ckpt = Checkpoint(model=model, task="binary", classes=[-1, 1])
    outs, title = draw.model_graph(ckpt, [2.0, 3.0, -1.0])
    assert len(outs) == 1 and outs[0].label == "out" and "d(out)" in title[-1]
    records = {r[0]: r for r in dot_records(draw.to_dot(outs)).values()}
    for name in ["x1", "x2", "x3", "L1.N1.w1", "L1.N4.b", "L2.N3.w4", "L3.N1.b", "L1.N2", "out"]:
        assert name in records
    assert records["x3"][1] == "data=-1.0000"
    unfused = {p.label: p.grad for p in model.parameters()}
    model.zero_grad()
    model([2.0, 3.0, -1.0])[0].backward()
    for p in model.parameters():
        assert p.grad == pytest.approx(unfused[p.label], rel=1e-12, abs=1e-15)
    assert records["L2.N3.w4"][2] == f"grad={draw.fmt_number(unfused['L2.N3.w4'])}"


def test_model_graph_features_normalisation_and_several_outputs():
    model = MLP(2, [3, 3], rng=random.Random(1))
    ckpt = Checkpoint(
        model=model,
        task="multiclass",
        classes=["a", "b", "c"],
        features=["height", "width"],
        normalize={"mean": [1.0, 2.0], "std": [2.0, 4.0]},
    )
    outs, title = draw.model_graph(ckpt, [3.0, 2.0])
    assert [o.label for o in outs] == ["out:a", "out:b", "out:c"]
    assert all(o.grad == 1.0 for o in outs)
    assert "sum of the 3 outputs" in title[-1] and "normalised" in title[1]
    leaves = {v.label: v.data for v in draw.trace(outs)[0] if not v.children}
    assert leaves["height"] == 1.0 and leaves["width"] == 0.0
    with pytest.raises(InputError, match="expects 2 input values, got 3"):
        draw.model_graph(ckpt, [1.0, 2.0, 3.0])


def _texts_of(svg: bytes):
    root = ET.fromstring(svg)
    return [
        (t.text, float(t.get("font-size") or root.get("font-size")))
        for t in root.iter(f"{SVG}text")
    ]


def test_the_lecture_neuron_fits_a_readme_column(no_dot):
    r = invoke(NEURON, "--at", NEURON_AT)
    assert r.exit_code == 0, r.stderr
    tree = ET.fromstring(r.stdout_bytes)
    assert float(tree.get("width")) <= 1000
    sizes = [size for _, size in _texts_of(r.stdout_bytes)]
    assert min(sizes) >= 12 and float(tree.get("font-size")) == 14
    # short names in the boxes, the whole subexpression and full precision in the hover
    groups = {g.get("id"): g for g in tree.iter(f"{SVG}g") if g.get("id", "").startswith("v")}
    names = {g.find(f"{SVG}text").text: g.find(f"{SVG}title").text for g in groups.values()}
    assert {"x1", "w1", "x1*w1", "n1", "n2", "out", "b"} <= set(names)
    assert names["out"].startswith("out = tanh(x1*w1 + x2*w2 + b)\ndata=0.70710678118654")
    assert names["n1"].startswith("n1 = x1*w1 + x2*w2\n")


def _model_layout(tmp_path, view, nin=3, nouts=(4, 4, 1)):
    ckpt = Checkpoint(
        model=MLP(nin, list(nouts), activation="tanh", rng=random.Random(0)), task="regression"
    )
    pic = draw.model_picture(ckpt, [2.0, 3.0, -1.0][:nin], "m", view)
    pic.ckpt = ckpt
    return pic, draw.layout(pic.roots, pic.title, pic.notes, pic.columns)


def test_model_neuron_view_fits_a_slide_and_scalar_view_aligns_layers(tmp_path):
    pic, lay = _model_layout(tmp_path, "neurons")
    _check_geometry(lay)
    assert lay.width <= 1600 and lay.height <= 900
    by_name = {r.rows[0]: r for r in lay.records}
    assert len({by_name[n].x for n in ("x1", "x2", "x3")}) == 1  # one column per layer
    assert len({by_name[f"L1.N{j}.z"].x for j in range(1, 5)}) == 1
    assert len({by_name[f"L2.N{j}"].x for j in range(1, 5)}) == 1
    neuron = pic.ckpt.model.layers[1].neurons[2]
    weights = [*(f"w{i}={draw.fmt_number(w.data)}" for i, w in enumerate(neuron.w, 1))]
    assert by_name["L2.N3.z"].rows[1:6] == (*weights, f"b={draw.fmt_number(neuron.b.data)}")
    assert "L2.N3.w4: data=" in by_name["L2.N3.z"].tooltip
    # the neuron view's numbers are the scalar graph's
    scal, slay = _model_layout(tmp_path, "scalars")
    _check_geometry(slay)
    s_by = {r.rows[0]: r for r in slay.records}
    for name in ("x1", "L1.N2", "L2.N4", "out"):
        assert by_name[name].rows[-2:] == s_by[name].rows[-2:]
    assert len({s_by[n].x for n in ("x1", "x2", "x3")}) == 1
    assert len({s_by[f"L1.N{j}"].x for j in range(1, 5)}) == 1


# -- the command ----------------------------------------------------------------------------


def invoke(*args, input=None):
    return runner.invoke(app, ["draw", *args], input=input)


def assert_error(result, *fragments):
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) in (1, 2) and lines[0].startswith("error: "), result.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    assert "Traceback" not in result.stderr


@pytest.fixture
def no_dot(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("empty_path")))


def test_cli_svg_to_file_and_stdout(no_dot, tmp_path):
    out = tmp_path / "neuron.svg"
    r = invoke(NEURON, "--at", NEURON_AT, "-o", str(out))
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    texts = svg_texts(out.read_bytes())
    assert "grad=-1.5000" in texts and "data=0.7071" in texts and NEURON in texts
    r2 = invoke(NEURON, "--at", NEURON_AT)
    assert r2.exit_code == 0 and r2.stdout_bytes == out.read_bytes()
    r3 = invoke(NEURON, "--at", NEURON_AT, "-o", "-")
    assert r3.exit_code == 0 and r3.stdout_bytes == out.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["neuron.svg"]  # no temporary left
    assert r.stderr == f"wrote {out} ({len(out.read_bytes()) / 1024:.1f} kB)\n"
    assert r2.stderr == "" and r3.stderr == ""  # to stdout: nothing to report


def test_cli_format_from_extension_and_expression_from_stdin(no_dot, tmp_path):
    r = invoke("-", "--at", "x=2", "--at", "y=3", "-o", str(tmp_path / "g.dot"), input="x*y + x\n")
    assert r.exit_code == 0, r.stderr
    text = (tmp_path / "g.dot").read_text()
    assert text.startswith("// mg draw") and dot_records(text)["v0"][2] == "grad=4.0000"
    r = invoke("x**2", "--at", "x=3", "-o", str(tmp_path / "g.png"))
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "g.png").read_bytes().startswith(PNG_SIGNATURE)
    r = invoke("x**2", "--at", "x=3", "--format", "dot", "-o", str(tmp_path / "g.svg"))
    assert (tmp_path / "g.svg").read_text().startswith("// mg draw")  # --format wins
    r = invoke("x**2", "--at", "x=3", "--format", "png")
    assert r.exit_code == 0 and r.stdout_bytes.startswith(PNG_SIGNATURE)


def test_cli_model(no_dot, tmp_path):
    model = mlp_checkpoint(tmp_path / "model.json")
    r = invoke("--model", str(model), "--input", "-1,2.5,3", "--format", "dot")
    assert r.exit_code == 0, r.stderr
    records = {rec[0]: rec for rec in dot_records(r.stdout).values()}
    assert records["x1"][1] == "data=-1.0000" and "out" in records
    assert "L2.N4.z" in records and "L2.N4.w3" not in records  # weights inside the neuron
    assert "w3=" in r.stdout and str(model) in r.stdout
    r = invoke("--model", str(model), "--input", "-1,2.5,3", "--format", "dot", "--view", "scalars")
    records = {rec[0]: rec for rec in dot_records(r.stdout).values()}
    assert "L2.N4.w3" in records and "L2.N4.z" not in records
    r = invoke("--model", "-", "--input", "1,2,3", input=(tmp_path / "model.json").read_text())
    assert r.exit_code == 0 and "L1.N1.z" in svg_texts(r.stdout_bytes)


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["x +* y", "--at", "x=1,y=2"], ["column"]),
        (["x*y", "--at", "x=1"], ["no value for y"]),
        (["log(x)", "--at", "x=-1"], ["log"]),
        (["x*y", "--at", "x=1,y=2", "--format", "jpg"], ["unknown format 'jpg'"]),
        (["x*y", "--at", "x=1,y", "-o", "OUT"], ["--at"]),
        (["x*y", "--at", "-"], ["--at -"]),
        (["x+1+1+1+1", "--at", "x=1", "--max-nodes", "5"], ["9 nodes", "--max-nodes 9"]),
        ([], ["nothing to draw"]),
        (["x", "--model", "MODEL", "--input", "1,2,3"], ["not both"]),
        (["--model", "MODEL"], ["--input"]),
        (["--model", "MODEL", "--input", "1,2"], ["expects 3 input values, got 2"]),
        (["--model", "MODEL", "--input", "1,two,3"], ["('two') is not a number"]),
        (["--model", "MISSING", "--input", "1,2,3"], ["no such model file"]),
        (["--model", "CORRUPT", "--input", "1,2,3"], ["not valid JSON"]),
        (["--model", "WRONG", "--input", "1,2,3"], ["not an mg model checkpoint"]),
        (["x", "--at", "x=1", "--input", "1"], ["--input goes with --model"]),
        (["x", "--at", "x=1", "-o", "DIR"], ["cannot write"]),
        (["x", "--at", "x=1", "-o", "g.jpg"], ["g.jpg: extension '.jpg'", ".svg, .png, .dot"]),
        (["x", "--at", "x=1", "-o", "graph"], ["graph: no extension", "--format"]),
        (["x", "--at", "x=1", "--renderer", "cairo"], ["unknown renderer 'cairo'"]),
        (["--model", "MODEL", "--input", "1,2,3", "--view", "all"], ["unknown view 'all'"]),
        (["x", "--at", "x=1", "--view", "scalars"], ["--view goes with --model"]),
        (["x", "--at", "x=1", "-f", "html", "--renderer", "graphviz"], ["built-in layout"]),
    ],
)
def test_cli_errors_write_nothing(no_dot, tmp_path, args, fragments):
    model = mlp_checkpoint(tmp_path / "model.json")
    (tmp_path / "corrupt.json").write_text('{"format": "mg-checkpoint", "ver')
    (tmp_path / "wrong.json").write_text('{"hello": 1}')
    paths = {
        "MODEL": str(model),
        "MISSING": str(tmp_path / "missing.json"),
        "CORRUPT": str(tmp_path / "corrupt.json"),
        "WRONG": str(tmp_path / "wrong.json"),
    }
    (tmp_path / "a_folder.svg").mkdir()
    paths["DIR"] = str(tmp_path / "a_folder.svg")
    out = tmp_path / "out.svg"
    args = [paths.get(a, a) for a in args]
    args = [str(out) if a == "OUT" else a for a in args]
    args = [str(tmp_path / a) if a in ("g.jpg", "graph") else a for a in args]
    if "-o" not in args:
        args += ["-o", str(out)]
    before = sorted(p.name for p in tmp_path.iterdir())
    r = invoke(*args)
    assert_error(r, *fragments)
    assert r.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_cli_dot_piped_in_a_real_process(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no dot needed for --format dot
    cmd = [sys.executable, "-m", "microgradcli", "draw", "x*y + x", "--at", "x=2,y=3"]
    proc = subprocess.run(
        [*cmd, "--format", "dot"], capture_output=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    assert text.startswith("// mg draw") and text.rstrip().endswith("}")
    assert dot_records(text)["v1"] == ("y", "data=3.0000", "grad=2.0000")
    assert proc.stderr == b""
    bad = subprocess.run(
        [*cmd[:4], "x*", "--format", "dot"], capture_output=True, env=env, timeout=60, check=False
    )
    assert bad.returncode == 2 and bad.stdout == b""
    assert bad.stderr.decode().startswith("error: ") and b"Traceback" not in bad.stderr


def test_cli_png_refuses_a_terminal(tmp_path):
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "microgradcli", "draw", "x", "--at", "x=1", "-f", "png"],
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("error: PNG is binary") and b"-o" in proc.stderr


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_both_renderers_give_the_same_size_and_resolution():
    import io

    from PIL import Image

    sizes = {}
    for renderer in ("builtin", "graphviz"):
        svg = ET.fromstring(draw.render(neuron(), "svg", renderer=renderer))
        png = Image.open(io.BytesIO(draw.render(neuron(), "png", renderer=renderer)))
        width = float(svg.get("width"))
        assert png.size[0] == pytest.approx(2 * width, rel=0.02)  # two pixels a unit
        sizes[renderer] = width
    assert sizes["graphviz"] == pytest.approx(sizes["builtin"], rel=0.15)
    assert sizes["builtin"] <= 1000 and sizes["graphviz"] <= 1000


def test_wide_layers_keep_their_names_and_fold_their_weights(tmp_path):
    pic, lay = _model_layout(tmp_path, "neurons", nin=2, nouts=(10, 6, 1))
    by_name = {r.rows[0]: r for r in lay.records}
    assert {"L1.N10.z", "L1.N10", "L2.N6.z", "out"} <= set(by_name)  # names, not n1, n2
    b = pic.ckpt.model.layers[0].neurons[2].b.data
    assert by_name["L1.N3.z"].rows[1].startswith("w1=")  # 2 weights: one a row
    assert by_name["L1.N3.z"].rows[3] == f"b={draw.fmt_number(b)}"
    assert by_name["L2.N1.z"].rows[1] == "w1..w10: hover"  # 10: in the hover text only
    assert "L2.N1.w10: data=" in by_name["L2.N1.z"].tooltip
    assert [r.count("=") for r in by_name["out"].rows[1:4]] == [2, 2, 2]  # 6: two a row
    _check_geometry(lay)
