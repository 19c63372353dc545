"""Graphs of a trained model for one input row, after backward: by neuron or by scalar.

Both views come from the same unfused scalar graph (the lecture's multiplies and adds),
so their numbers agree. The neuron view redraws it as one fused w·x+b node per neuron
(its weights listed in its box) and then its activation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from microgradcli.draw.trace import Notes, fmt_number
from microgradcli.engine import Value
from microgradcli.errors import InputError, option_error

VIEWS = ("neurons", "scalars")


@dataclass
class Picture:
    """What to draw: the roots, a title, notes on values, and values that share a column."""

    roots: list[Value]
    title: list[str]
    notes: dict[Value, Notes] = field(default_factory=dict)
    columns: list[list[Value]] = field(default_factory=list)


@dataclass
class _Forward:
    inputs: list[Value]
    layers: list[list[Value]]  # each layer's neuron outputs (after the activation)
    title: list[str]


def model_graph(ckpt, row: Iterable[float], source: str = "model") -> tuple[list[Value], list[str]]:
    """A checkpoint's unfused graph for one raw input row, after backward; and a title.

    Inputs are named by the checkpoint's feature names (or x1..xn), parameters as
    L1.N3.w2, each neuron's output as L1.N3, the output(s) as out (out1.. or the class
    names). With several outputs, backward runs on their sum, and the title says so.
    """
    f = _forward(ckpt, row, source)
    return f.layers[-1], f.title


def model_picture(ckpt, row: Iterable[float], source: str = "model", view: str = "neurons"):
    """The model drawn by layer: inputs in one column, each layer's neurons in one."""
    if view not in VIEWS:
        raise InputError(f"unknown view {view!r}; use neurons or scalars")
    f = _forward(ckpt, row, source)
    if view == "scalars":
        return Picture(f.layers[-1], f.title, columns=[f.inputs, *f.layers])
    return _neuron_view(ckpt, f)


def _forward(ckpt, row: Iterable[float], source: str) -> _Forward:
    row = list(row)
    if len(row) != ckpt.nin:
        raise option_error(
            InputError,
            "the model expects {nin} input values, got {got}; "
            "give {o[input]} with {nin} comma-separated numbers",
            nin=ckpt.nin,
            got=len(row),
        )
    names = ckpt.input_names
    try:
        x = ckpt.prepare(row)
    except (ZeroDivisionError, KeyError, TypeError, ValueError) as e:
        raise InputError(f"the model's normalisation data is malformed ({e})") from None
    inputs = [Value(v, label=name) for v, name in zip(x, names, strict=True)]
    xs: list = inputs
    layers = []
    for li, lyr in enumerate(ckpt.model.layers, 1):
        xs = lyr(xs, fused=False)
        for j, v in enumerate(xs, 1):
            if not v.label:
                v.label = f"L{li}.N{j}"
        layers.append(xs)
    outs = list(xs)
    if len(outs) == 1:
        outs[0].label = "out"
        outs[0].backward()
        grad_note = "grad = d(out)/d(node)"
    else:
        classes = ckpt.classes if ckpt.classes and len(ckpt.classes) == len(outs) else None
        for j, v in enumerate(outs, 1):
            v.label = f"out:{classes[j - 1]}" if classes else f"out{j}"
        # backward on the sum: every output's gradient is 1, each parameter's is the sum
        # of its effects on all outputs (the sum node itself is not drawn)
        total = outs[0]
        for v in outs[1:]:
            total = total + v
        total.backward()
        grad_note = f"grad = d(sum of the {len(outs)} outputs)/d(node)"
    shown = ", ".join(f"{nm}={v:g}" for nm, v in zip(names, row, strict=True))
    m = ckpt.model
    sizes = " -> ".join(str(k) for k in [m.nin, *m.nouts])
    arch = f"MLP {sizes}, {m.activation}, output {m.output_activation}"
    title = [f"{source}: {arch}", f"input: {shown}", grad_note]
    if ckpt.normalize is not None:
        title[1] += "  (normalised before the first layer)"
    return _Forward(inputs, layers, title)


WEIGHT_ROWS = 4  # up to this many weights one per row; up to twice as many, two per row


def _weight_rows(neuron) -> list[str]:
    """A neuron's weights and bias as rows of its box; a wide one's only in the hover."""
    ws = [f"w{i}={fmt_number(w.data)}" for i, w in enumerate(neuron.w, 1)]
    n = len(ws)
    if n > 2 * WEIGHT_ROWS:
        rows = [f"w1..w{n}: hover"]
    elif n > WEIGHT_ROWS:
        rows = [" ".join(ws[i : i + 2]) for i in range(0, n, 2)]
    else:
        rows = ws
    return [*rows, f"b={fmt_number(neuron.b.data)}"]


def _neuron_view(ckpt, f: _Forward) -> Picture:
    """One w·x+b node per neuron (weights in its box, their grads in its hover text),
    then its activation; the numbers are the scalar graph's."""
    prev = [Value(v.data, label=v.label) for v in f.inputs]
    for view, v in zip(prev, f.inputs, strict=True):
        view.grad = v.grad
    pic = Picture([], f.title, columns=[list(prev)])
    for lyr, outs in zip(ckpt.model.layers, f.layers, strict=True):
        zs, acts = [], []
        for neuron, a in zip(lyr.neurons, outs, strict=True):
            linear = lyr.activation == "linear"
            z = a if linear else a.children[0]  # act(b + w1*x1 + ...): its one input
            # d(z)/d(input i) = w_i: what the step-through shows as the local derivative
            local = tuple(w.data for w in neuron.w)
            zv = Value(z.data, tuple(prev), "dot", local, a.label if linear else f"{a.label}.z")
            zv.grad = z.grad
            params = [*neuron.w, neuron.b]
            rows = _weight_rows(neuron)
            tip = "\n".join(f"{p.label}: data={p.data!r} grad={p.grad!r}" for p in params)
            pic.notes[zv] = Notes(tuple(rows), tip)
            zs.append(zv)
            if linear:
                acts.append(zv)
                continue
            av = Value(a.data, (zv,), lyr.activation, a.local_grads, a.label)
            av.grad = a.grad
            acts.append(av)
        pic.columns.append(zs)
        if acts is not zs and acts[0] is not zs[0]:
            pic.columns.append(acts)
        prev = acts
    pic.roots = prev
    return pic
