"""Sizes that would not fit: refused before anything is allocated, with the estimate.

The scalar engine keeps every number as a Python object, so memory follows from the
config alone: the samples, the weights with their optimiser state, and one step's graph
(a node per neuron and sample, holding a reference and a local derivative per input).
The constants below were measured with tracemalloc on CPython 3.11 and rounded up.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Sequence
from pathlib import Path

from microgradcli.errors import InputError

__all__ = ["available_memory", "check_size", "estimate_bytes"]

_PER_VALUE = 32  # a float and the list slot that holds it
_PER_ROW = 100  # a row's list object, and its share of the index lists
_DATA_COPIES = 3  # generated or read, the training inputs, the normalised copy
_PER_PARAMETER = 250  # a Value, its snapshot and optimiser state, the gradient
_PER_NEURON = 400  # per sample: the neuron's node, its activation's node, their tuples
_PER_INPUT = 32  # per sample and input of a neuron: two references in two tuples
_BASE = 150 * 2**20  # the interpreter and the modules mg imports


def estimate_bytes(
    n_samples: int, n_inputs: int, hidden: Sequence[int], n_outputs: int, batch: int
) -> dict[str, int]:
    """Bytes for the data, the weights and one training step of `batch` samples."""
    sizes = [n_inputs, *hidden, n_outputs]
    layers = list(zip(sizes, sizes[1:], strict=False))
    params = sum((nin + 1) * nout for nin, nout in layers)  # integer sum
    per_sample = sum(nout * (_PER_NEURON + _PER_INPUT * nin) for nin, nout in layers)  # integer sum
    return {
        "data": _DATA_COPIES * n_samples * (_PER_ROW + _PER_VALUE * (n_inputs + 1)),
        "weights": params * _PER_PARAMETER,
        "graph": batch * per_sample,
    }


def available_memory() -> int | None:
    """The memory this process may use: physical memory, lowered by an address-space limit
    (ulimit -v) or a container's memory limit; None when nothing can be read."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft > 0:
        limits.append(soft)
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text.isdigit():
            limits.append(int(text))
    except OSError:
        pass
    return min(limits) if limits else None


def _size(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n / 1e3:.3g} kB"


def check_size(
    where: str,
    n_samples: int,
    n_inputs: int,
    hidden: Sequence[int],
    n_outputs: int,
    batch: int | None,
) -> None:
    """An InputError when the data and one step's graph would not fit in memory."""
    step = min(batch or n_samples, n_samples)
    parts = estimate_bytes(n_samples, n_inputs, hidden, n_outputs, step)
    need = _BASE + sum(parts.values())  # integer sum
    have = available_memory()
    if have is None or need <= have:
        return
    fixes = {
        "data": "use fewer samples (data.n_samples)",
        "weights": "use smaller layers (model.hidden)",
        "graph": "train on fewer samples per step (train.batch_size) or use smaller layers",
    }
    too_big = [k for k in sorted(parts, key=parts.__getitem__, reverse=True) if parts[k] > have]
    fix = "; ".join(fixes[k] for k in too_big or [max(parts, key=parts.__getitem__)])
    shown = ", ".join(f"{k} {_size(v)}" for k, v in parts.items())
    raise InputError(
        f"{where}: too big for this machine: {n_samples} samples, layers "
        f"{[n_inputs, *hidden, n_outputs]} and {step} samples per step need about "
        f"{_size(need)} of memory ({shown}), and {_size(have)} is available; {fix}"
    )


def check_config_size(cfg, where: str) -> None:
    """check_size for what a config alone tells: generated or inline data (a CSV file's
    size is only known once read; train checks it then)."""
    d, m, t = cfg.data, cfg.model, cfg.train
    multiclass = t.loss == "cross_entropy"
    if hasattr(d, "n_samples"):  # a generator
        n, nin = d.n_samples, int(getattr(d, "n_features", 2) or 2)
        nout = int(getattr(d, "classes", 10 if d.source == "mnist1d" else 2)) if multiclass else 1
        if d.source == "mnist1d":
            nin = 40
    elif hasattr(d, "x"):  # inline
        n, nin = len(d.x), len(d.x[0])
        nout = len({str(v) for v in d.y}) if multiclass else 1
    else:  # a CSV file: at least one input and one output per layer
        n, nin, nout = 1, 1, 1
    check_size(where, n, nin, m.hidden, nout, t.batch_size)
