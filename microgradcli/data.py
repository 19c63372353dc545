"""Datasets: inline samples, CSV files and seeded generators; splits, scaling, tasks.

`load_dataset(config, base_dir)` is the one entry point: it reads or generates the
samples, works out the task from the labels and the loss, encodes the targets the loss
needs, holds out the validation split and computes the normalisation (training rows
only). Generators use their own `random.Random` seeded from the config's seed, so the
same config always gives the same samples, on any machine.
"""

from __future__ import annotations

import difflib
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microgradcli.checkpoint import normalize_row
from microgradcli.config import Config, CsvData, InlineData
from microgradcli.errors import InputError, plural
from microgradcli.fileio import csv_cells, is_header, read_text, table_lines
from microgradcli.fileio import to_number as _number
from microgradcli.tasks import Task, detect

__all__ = [
    "Dataset",
    "generate",
    "load_dataset",
    "read_csv",
    "split_indices",
]


@dataclass
class Dataset:
    """Samples: for training (load_dataset), or rows read for a trained model to evaluate.

    x: raw input rows; y: raw labels as in the data; features: the input names.
    task: the task the labels make (tasks.detect), with the classes and the threshold;
    targets: what the loss compares with (task.encode). Both are None for rows read for
    a model, whose own task encodes them. train_index, val_index: the split (every row
    trains when not given); normalize: {"mean": [...], "std": [...]} from the training
    rows, or None. name: how errors and reports name the data.
    """

    x: list[list[float]]
    y: list
    features: list[str]
    task: Task | None = None
    targets: list | None = None
    train_index: list[int] = field(default_factory=list)
    val_index: list[int] = field(default_factory=list)
    normalize: dict[str, list[float]] | None = None
    name: str = "data"

    def __post_init__(self) -> None:
        if not self.train_index and not self.val_index:
            self.train_index = list(range(len(self.x)))

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def n_outputs(self) -> int:
        return self.task.n_outputs

    @property
    def classes(self) -> list | None:
        return self.task.classes

    @property
    def threshold(self) -> float:
        return self.task.threshold

    def prepare(self, row: list[float]) -> list[float]:
        """One raw row, normalised as the model sees it."""
        return normalize_row(row, self.normalize)

    def inputs(self, index: list[int]) -> list[list[float]]:
        """The model's inputs for the given rows."""
        return [self.prepare(self.x[i]) for i in index]

    def target_list(self, index: list[int]) -> list:
        return [self.targets[i] for i in index]

    def split(self, which: str) -> Dataset:
        """The rows of one side of the split ("train" or "val"), or all of them ("all"),
        as raw rows and labels, named for reports."""
        if which == "all":
            return Dataset(list(self.x), list(self.y), self.features, name=self.name)
        index = self.train_index if which == "train" else self.val_index
        if not index:
            what = f"{self.name}: no validation rows (data.val_split is 0)"
            raise InputError(f"{what}; use split 'all'", kind="use_split_all", what=what)
        x, y = [self.x[i] for i in index], [self.y[i] for i in index]
        return Dataset(x, y, self.features, name=self.name)


# -- generators -----------------------------------------------------------------------
def _linspace(a: float, b: float, n: int, endpoint: bool = True) -> list[float]:
    if n == 1:
        return [a]
    step = (b - a) / ((n - 1) if endpoint else n)
    return [a + i * step for i in range(n)]


def _shuffled(rows: list[list[float]], labels: list[int], rng: random.Random):
    order = list(range(len(rows)))
    rng.shuffle(order)
    return [rows[i] for i in order], [labels[i] for i in order]


def _moons(n: int, noise: float, rng: random.Random):
    n_out = n // 2
    n_in = n - n_out
    rows: list[list[float]] = []
    labels: list[int] = []
    for t in _linspace(0.0, math.pi, n_out):
        rows.append([math.cos(t), math.sin(t)])
        labels.append(0)
    for t in _linspace(0.0, math.pi, n_in):
        rows.append([1.0 - math.cos(t), 1.0 - math.sin(t) - 0.5])
        labels.append(1)
    return rows, labels, noise


def _circles(n: int, noise: float, rng: random.Random, factor: float):
    n_out = n // 2
    n_in = n - n_out
    rows, labels = [], []
    for t in _linspace(0.0, 2 * math.pi, n_out, endpoint=False):
        rows.append([math.cos(t), math.sin(t)])
        labels.append(0)
    for t in _linspace(0.0, 2 * math.pi, n_in, endpoint=False):
        rows.append([factor * math.cos(t), factor * math.sin(t)])
        labels.append(1)
    return rows, labels, noise


def _xor(n: int, noise: float, rng: random.Random):
    # Quadrants in turn, so the two classes are balanced to within one sample.
    signs = [(1, 1), (-1, -1), (1, -1), (-1, 1)]
    rows, labels = [], []
    for i in range(n):
        sx, sy = signs[i % 4]
        rows.append([sx * rng.uniform(0.05, 1.0), sy * rng.uniform(0.05, 1.0)])
        labels.append(1 if sx * sy > 0 else 0)
    return rows, labels, noise


def _counts(n: int, k: int) -> list[int]:
    """n split into k nearly equal parts (the first ones get the remainder)."""
    return [n // k + (1 if j < n % k else 0) for j in range(k)]


def _blobs(n: int, noise: float, rng: random.Random, classes: int):
    rows, labels = [], []
    for j, m in enumerate(_counts(n, classes)):
        a = 2 * math.pi * j / classes
        cx, cy = 2.0 * math.cos(a), 2.0 * math.sin(a)
        for _ in range(m):
            rows.append([cx + rng.gauss(0.0, noise), cy + rng.gauss(0.0, noise)])
            labels.append(j)
    return rows, labels, 0.0  # the blob spread is the noise already


def _spiral(n: int, noise: float, rng: random.Random, classes: int):
    # CS231n's spiral: radius grows along each arm, the angle carries the noise.
    rows, labels = [], []
    for j, m in enumerate(_counts(n, classes)):
        for r, t in zip(_linspace(0.0, 1.0, m), _linspace(j * 4.0, (j + 1) * 4.0, m), strict=True):
            t += rng.gauss(0.0, noise)
            rows.append([r * math.sin(t), r * math.cos(t)])
            labels.append(j)
    return rows, labels, 0.0


def _mnist1d(n: int, noise: float, rng: random.Random):
    from microgradcli import mnist1d

    rows, labels = mnist1d.generate(n, rng, noise)
    return rows, labels, 0.0  # noised already


# The generators (data.source): (n, noise, rng, **their own settings) -> rows, labels and
# the jitter still to add. Their settings and defaults live in config.py's data models.
GENERATORS = {
    "moons": _moons,
    "circles": _circles,
    "xor": _xor,
    "blobs": _blobs,
    "spiral": _spiral,
    "mnist1d": _mnist1d,
}


def generate(
    source: str, n_samples: int, noise: float, seed: int, **settings: Any
) -> tuple[list[list[float]], list[int]]:
    """Samples and integer labels (0/1, or 0..classes-1) of a named generator; settings
    are the generator's own (circles: factor; blobs, spiral: classes)."""
    if source not in GENERATORS:
        raise ValueError(f"unknown generator {source!r}")
    rng = random.Random(f"mg-data-{seed}")
    rows, labels, jitter = GENERATORS[source](n_samples, noise, rng, **settings)
    if jitter:
        rows = [[v + rng.gauss(0.0, jitter) for v in row] for row in rows]
    return _shuffled(rows, labels, rng)


# -- CSV ----------------------------------------------------------------------------------
def read_csv(
    path: str | Path,
    target: str | int | None = None,
    header: bool | None = None,
    delimiter: str = ",",
) -> tuple[list[list[float]], list, list[str]]:
    """Feature rows, raw labels and feature names from a CSV file.

    The header is detected when not given: the first row is a header when one of its
    cells is not a number where the row below has a number.
    """
    path = Path(path)
    names, numbered, header = _csv_table(path, header, delimiter)
    width = len(names)
    if width < 2:
        raise InputError(
            f"{path}: found {width} column; a data file needs at least one feature column "
            "and a target column (is data.delimiter right?)"
        )
    t = _target_column(target, names, bool(header), path)
    features = [n for j, n in enumerate(names) if j != t]
    rows: list[list[float]] = []
    labels: list = []
    for line, row in numbered:
        if len(row) != width:
            raise InputError(
                f"{path}:{line}: row has {plural(len(row), 'value')}; the file has "
                f"{plural(width, 'column')}"
            )
        values = []
        for j, cell in enumerate(row):
            if j == t:
                continue
            v = _number(cell)
            if v is None:
                raise InputError(
                    f"{path}:{line}: column {names[j]!r} must be a finite number, got {cell!r}"
                )
            values.append(v)
        rows.append(values)
        label = row[t]
        if label == "":
            raise InputError(f"{path}:{line}: the target column {names[t]!r} is empty")
        labels.append(label)
    numeric = [_number(v) for v in labels]
    if all(v is not None for v in numeric):
        labels = [int(v) if float(v).is_integer() else v for v in numeric]
    return rows, labels, features


def _csv_table(
    path: Path, header: bool | None, delimiter: str
) -> tuple[list[str], list[tuple[int, list[str]]], bool]:
    """The column names, the (line number, cells) of each row, and whether the file has a
    header (detected when `header` is None)."""
    text = read_text(
        path, "data file", missing_hint="check data.path", folder_hint="give a CSV file (data.path)"
    )
    numbered: list[tuple[int, list[str]]] = []
    for n, line in table_lines(text.splitlines()):
        width = len(numbered[0][1]) if numbered else None
        numbered.append((n, csv_cells(line, f"{path}:{n}", delimiter, width)))
    if not numbered:
        raise InputError(f"{path}: the CSV file is empty")
    if header is None:
        header = is_header(numbered[0][1], numbered[1][1] if len(numbered) > 1 else None)
    names: list[str]
    if header:
        names = list(numbered[0][1])
        numbered = numbered[1:]
        if not numbered:
            raise InputError(f"{path}: the CSV file has a header but no rows")
    else:
        names = [f"x{j + 1}" for j in range(len(numbered[0][1]))]
    return names, numbered, bool(header)


def _target_column(target: str | int | None, names: list[str], header: bool, path: Path) -> int:
    width = len(names)
    if target is None:
        return width - 1
    if isinstance(target, int):
        if not -width <= target < width:
            raise InputError(
                f"{path}: data.target {target} is out of range; the file has {plural(width, 'column')} "
                f"(0..{width - 1}, or -1 for the last)"
            )
        return target % width
    if target in names:
        return names.index(target)
    if target.lstrip("-").isdigit():
        return _target_column(int(target), names, header, path)
    if not header:
        raise InputError(
            f"{path}: data.target {target!r} names a column, but the file has no header; "
            "give a column index instead (0-based, -1 = last)"
        )
    hint = difflib.get_close_matches(target, names, n=1)
    did = f"; did you mean {hint[0]!r}?" if hint else ""
    raise InputError(
        f"{path}: data.target {target!r} is not a column{did} (columns: {', '.join(names)})"
    )


# -- splits and scaling -----------------------------------------------------------------------
def split_indices(n: int, val_split: float, seed: int) -> tuple[list[int], list[int]]:
    """Training and validation row indices, by a seeded shuffle (each list sorted)."""
    if val_split <= 0.0:
        return list(range(n)), []
    order = list(range(n))
    random.Random(f"mg-split-{seed}").shuffle(order)
    n_val = max(1, round(n * val_split))
    if n_val >= n:
        raise InputError(
            f"data.val_split {val_split} leaves no training samples out of {n}; lower it"
        )
    return sorted(order[n_val:]), sorted(order[:n_val])


def standardize(rows: list[list[float]]) -> dict[str, list[float]]:
    """Per-feature mean and (population) standard deviation; a constant feature gets 1."""
    n = len(rows)
    cols = list(zip(*rows, strict=True))
    mean, std = [], []
    for j, c in enumerate(cols, 1):
        try:
            m = math.fsum(c) / n
            s = math.sqrt(math.fsum((v - m) ** 2 for v in c) / n)
        except OverflowError:
            s = math.inf
        if not math.isfinite(s):
            raise InputError(
                f"data.normalize: feature {j} is too large to standardize (up to "
                f"{max(c, key=abs):g}); rescale it, or set data.normalize: false"
            )
        mean.append(m)
        std.append(s if s > 0.0 else 1.0)
    return {"mean": mean, "std": std}


_ROWS = tuple[list[list[float]], list, list[str]]


def _inline_rows(d: InlineData, seed: int, base_dir: Path | None) -> _ROWS:
    x = [list(map(float, row)) for row in d.x]
    return x, list(d.y), [f"x{j + 1}" for j in range(len(x[0]))]


def csv_file(data_path: str, base_dir: str | Path | None) -> Path:
    """The file a csv section's data.path names: a relative one starts at base_dir."""
    path = Path(data_path).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


def _csv_rows(d: CsvData, seed: int, base_dir: Path | None) -> _ROWS:
    path = csv_file(d.path, base_dir)
    if not path.exists():
        given = "" if str(path) == d.path else f"data.path is {d.path!r}; "
        what = (
            f"{path}: no such data file ({given}a relative data.path starts at the folder of "
            "the config or run that names it); point at the file with"
        )
        raise InputError(
            f"{what} data.path=PATH", kind="setting", what=what, setting="data.path=PATH"
        )
    return read_csv(path, d.target, d.header, d.delimiter)


_COMMON = {"source", "n_samples", "noise", "val_split", "normalize"}


def _generated_rows(d: Any, seed: int, base_dir: Path | None) -> _ROWS:
    settings = {k: v for k, v in d if k not in _COMMON}  # the generator's own (classes, ...)
    x, y = generate(d.source, d.n_samples, d.noise, seed, **settings)
    return x, y, [f"x{j}" for j in range(1, len(x[0]) + 1)]


# The data sources (data.source): the config section, the seed and the config's folder ->
# raw rows, raw labels and feature names.
SOURCES = {"inline": _inline_rows, "csv": _csv_rows, **dict.fromkeys(GENERATORS, _generated_rows)}


def load_dataset(config: Config, base_dir: str | Path | None = None) -> Dataset:
    """The samples a config describes, split, normalised and encoded for its loss."""
    d = config.data
    x, y, features = SOURCES[d.source](d, config.seed, base_dir)
    task, targets = detect(y, config.train.loss)
    train_index, val_index = split_indices(len(x), d.val_split, config.seed)
    normalize = standardize([x[i] for i in train_index]) if d.normalize else None
    return Dataset(
        x=x,
        y=y,
        targets=targets,
        features=features,
        task=task,
        train_index=train_index,
        val_index=val_index,
        normalize=normalize,
    )
