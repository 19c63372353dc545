"""Datasets: inline samples, CSV files and seeded generators; splits, scaling, tasks.

`load_dataset(config, base_dir)` is the one entry point: it reads or generates the
samples, works out the task from the labels and the loss, encodes the targets the loss
needs, holds out the validation split and computes the normalisation (training rows
only). Generators use their own `random.Random` seeded from the config's seed, so the
same config always gives the same samples, on any machine.
"""

from __future__ import annotations

import csv
import difflib
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microgradcli.checkpoint import normalize_row
from microgradcli.config import Config, CsvData, InlineData
from microgradcli.errors import InputError, plural
from microgradcli.losses import binary_target

__all__ = [
    "Dataset",
    "detect_task",
    "generate",
    "load_dataset",
    "read_csv",
    "split_indices",
]


@dataclass
class Dataset:
    """Samples ready for training.

    x: raw input rows; y: raw labels as in the data; targets: what the loss compares
    with (binary: +-1 for hinge and for mse on +-1/string labels, 0/1 for bce and for mse
    on 0/1 labels; multiclass: the class index; regression: the value).
    classes: multiclass: class names in output order; binary: [negative, positive] as in
    the data; regression: None. threshold: binary only, on the raw output.
    normalize: {"mean": [...], "std": [...]} from the training rows, or None.
    """

    x: list[list[float]]
    y: list
    targets: list
    features: list[str]
    task: str
    classes: list | None
    threshold: float
    train_index: list[int]
    val_index: list[int]
    normalize: dict[str, list[float]] | None = None
    n_outputs: int = field(init=False)

    def __post_init__(self) -> None:
        self.n_outputs = len(self.classes) if self.task == "multiclass" else 1

    @property
    def n_features(self) -> int:
        return len(self.features)

    def prepare(self, row: list[float]) -> list[float]:
        """One raw row, normalised as the model sees it."""
        return normalize_row(row, self.normalize)

    def inputs(self, index: list[int]) -> list[list[float]]:
        """The model's inputs for the given rows."""
        return [self.prepare(self.x[i]) for i in index]

    def target_list(self, index: list[int]) -> list:
        return [self.targets[i] for i in index]


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


def _circles(n: int, noise: float, factor: float, rng: random.Random):
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


def _blobs(n: int, noise: float, k: int, rng: random.Random):
    rows, labels = [], []
    for j, m in enumerate(_counts(n, k)):
        a = 2 * math.pi * j / k
        cx, cy = 2.0 * math.cos(a), 2.0 * math.sin(a)
        for _ in range(m):
            rows.append([cx + rng.gauss(0.0, noise), cy + rng.gauss(0.0, noise)])
            labels.append(j)
    return rows, labels, 0.0  # the blob spread is the noise already


def _spiral(n: int, noise: float, k: int, rng: random.Random):
    # CS231n's spiral: radius grows along each arm, the angle carries the noise.
    rows, labels = [], []
    for j, m in enumerate(_counts(n, k)):
        for r, t in zip(_linspace(0.0, 1.0, m), _linspace(j * 4.0, (j + 1) * 4.0, m), strict=True):
            t += rng.gauss(0.0, noise)
            rows.append([r * math.sin(t), r * math.cos(t)])
            labels.append(j)
    return rows, labels, 0.0


def generate(
    source: str, n_samples: int, noise: float, seed: int, classes: int = 3, factor: float = 0.5
) -> tuple[list[list[float]], list[int]]:
    """Samples and integer labels (0/1, or 0..classes-1) of a named generator."""
    rng = random.Random(f"mg-data-{seed}")
    if source == "moons":
        rows, labels, jitter = _moons(n_samples, noise, rng)
    elif source == "circles":
        rows, labels, jitter = _circles(n_samples, noise, factor, rng)
    elif source == "xor":
        rows, labels, jitter = _xor(n_samples, noise, rng)
    elif source == "blobs":
        rows, labels, jitter = _blobs(n_samples, noise, classes, rng)
    elif source == "spiral":
        rows, labels, jitter = _spiral(n_samples, noise, classes, rng)
    else:
        raise ValueError(f"unknown generator {source!r}")
    if jitter:
        rows = [[v + rng.gauss(0.0, jitter) for v in row] for row in rows]
    return _shuffled(rows, labels, rng)


# -- CSV ----------------------------------------------------------------------------------
def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


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
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            numbered = [
                (n, row)
                for n, row in enumerate(csv.reader(f, delimiter=delimiter), 1)
                if row and any(cell.strip() for cell in row)
            ]
    except FileNotFoundError:
        raise InputError(f"{path}: no such data file (data.path)") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a CSV file (data.path)") from None
    except csv.Error as e:
        raise InputError(f"{path}: not valid CSV ({e})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the CSV file ({e})") from None
    if not numbered:
        raise InputError(f"{path}: the CSV file is empty")
    # A comma at the end of every line (as some spreadsheets write) is not an empty column.
    if all(len(row) > 1 and not row[-1].strip() for _, row in numbered):
        numbered = [(n, row[:-1]) for n, row in numbered]
    if header is None:
        first = numbered[0][1]
        second = numbered[1][1] if len(numbered) > 1 else None
        header = any(
            _number(a) is None
            and (second is None or (j < len(second) and _number(second[j]) is not None))
            for j, a in enumerate(first)
        )
    names: list[str]
    if header:
        names = [c.strip() for c in numbered[0][1]]
        numbered = numbered[1:]
        if not numbered:
            raise InputError(f"{path}: the CSV file has a header but no rows")
    else:
        names = [f"x{j + 1}" for j in range(len(numbered[0][1]))]
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
            v = _number(cell.strip())
            if v is None:
                raise InputError(
                    f"{path}:{line}: column {names[j]!r} must be a finite number, got {cell.strip()!r}"
                )
            values.append(v)
        rows.append(values)
        label = row[t].strip()
        if label == "":
            raise InputError(f"{path}:{line}: the target column {names[t]!r} is empty")
        labels.append(label)
    numeric = [_number(v) for v in labels]
    if all(v is not None for v in numeric):
        labels = [int(v) if float(v).is_integer() else v for v in numeric]
    return rows, labels, features


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


# -- tasks ---------------------------------------------------------------------------------
def _sorted_labels(values: set) -> list:
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return sorted(values)
    return sorted(values, key=str)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def detect_task(y: list, loss: str) -> tuple[str, list | None, list, float]:
    """(task, classes, encoded targets, threshold) for raw labels and a loss name."""
    distinct = set(y)
    if loss == "cross_entropy":
        for v in y:
            if _is_number(v) and not float(v).is_integer():
                raise InputError(
                    f"train.loss cross_entropy needs class labels (integers or names), "
                    f"but a label is {v!r}; for real-valued targets use train.loss mse"
                )
        classes = _sorted_labels({int(v) if _is_number(v) else v for v in distinct})
        if len(classes) < 2:
            raise InputError(
                f"train.loss cross_entropy needs at least 2 classes; the data has only {classes}"
            )
        index = {c: i for i, c in enumerate(classes)}
        return "multiclass", classes, [index[int(v) if _is_number(v) else v] for v in y], 0.0
    numeric = all(_is_number(v) for v in y)
    if loss == "mse" and numeric:
        if distinct <= {-1, 1} and len(distinct) == 2:
            return "binary", [-1, 1], [float(v) for v in y], 0.0
        if distinct <= {0, 1} and len(distinct) == 2:
            return "binary", [0, 1], [float(v) for v in y], 0.5
        return "regression", None, [float(v) for v in y], 0.0
    classes = _sorted_labels(distinct)
    classes = [int(c) if _is_number(c) and float(c).is_integer() else c for c in classes]
    if len(classes) != 2:
        shown = ", ".join(map(str, classes[:6])) + (", ..." if len(classes) > 6 else "")
        if len(classes) < 2:
            what = f"only one label ({shown})"
        else:
            what = f"{len(classes)} labels ({shown})"
        fix = (
            "use train.loss cross_entropy for several classes"
            if len(classes) > 2
            else "check the data's labels"
        )
        if any(isinstance(c, float) for c in classes):  # real targets, not classes
            fix = "for real-valued targets use train.loss mse"
        raise InputError(f"train.loss {loss} is for two classes, but the data has {what}; {fix}")
    neg = classes[0]
    targets = [binary_target(loss, classes, 0 if v == neg else 1) for v in y]
    return "binary", classes, targets, 0.0


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


def load_dataset(config: Config, base_dir: str | Path | None = None) -> Dataset:
    """The samples a config describes, split, normalised and encoded for its loss."""
    d = config.data
    if isinstance(d, InlineData):
        x = [list(map(float, row)) for row in d.x]
        y = list(d.y)
        features = [f"x{j + 1}" for j in range(len(x[0]))]
    elif isinstance(d, CsvData):
        path = Path(d.path).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if not path.exists():
            given = "" if str(path) == d.path else f"data.path is {d.path!r}; "
            raise InputError(
                f"{path}: no such data file ({given}a relative data.path starts at the "
                "folder of the config or run that names it); point at the file with "
                "--set data.path=PATH"
            )
        x, y, features = read_csv(path, d.target, d.header, d.delimiter)
    else:
        x, y = generate(
            d.source,
            d.n_samples,
            d.noise,
            config.seed,
            classes=getattr(d, "classes", 3),
            factor=getattr(d, "factor", 0.5),
        )
        features = ["x1", "x2"]
    task, classes, targets, threshold = detect_task(y, config.train.loss)
    train_index, val_index = split_indices(len(x), d.val_split, config.seed)
    normalize = standardize([x[i] for i in train_index]) if d.normalize else None
    return Dataset(
        x=x,
        y=y,
        targets=targets,
        features=features,
        task=task,
        classes=classes,
        threshold=threshold,
        train_index=train_index,
        val_index=val_index,
        normalize=normalize,
    )
