"""Graphs of a trained model: its unfused scalar graph for one input row, after backward."""

from __future__ import annotations

from collections.abc import Iterable

from microgradcli.engine import Value
from microgradcli.errors import InputError


def model_graph(ckpt, row: Iterable[float], source: str = "model") -> tuple[list[Value], list[str]]:
    """A checkpoint's unfused graph for one raw input row, after backward; and a title.

    Inputs are named by the checkpoint's feature names (or x1..xn), parameters as
    L1.N3.w2, each neuron's output as L1.N3, the output(s) as out (out1.. or the class
    names). With several outputs, backward runs on their sum, and the title says so.
    """
    row = list(row)
    if len(row) != ckpt.nin:
        raise InputError(
            f"the model expects {ckpt.nin} input values, got {len(row)}; "
            f"give --input with {ckpt.nin} comma-separated numbers"
        )
    names = ckpt.input_names
    try:
        x = ckpt.prepare(row)
    except (ZeroDivisionError, KeyError, TypeError, ValueError) as e:
        raise InputError(f"the model's normalisation data is malformed ({e})") from None
    xs: list = [Value(v, label=name) for v, name in zip(x, names, strict=True)]
    for li, lyr in enumerate(ckpt.model.layers, 1):
        xs = lyr(xs, fused=False)
        for j, v in enumerate(xs, 1):
            if not v.label:
                v.label = f"L{li}.N{j}"
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
    return outs, title
