"""Using a trained model: reading input rows, predicting row by row, evaluating on a dataset.

Input rows come from a CSV file (header optional), a JSON Lines file (one array of numbers,
or one object keyed by feature name, per line) or stdin (`-`). Rows are read lazily, one
line at a time, so `mg predict MODEL -` answers each row before the next one arrives.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microgradcli.checkpoint import Checkpoint
from microgradcli.errors import InputError, plural
from microgradcli.losses import binary_target

__all__ = [
    "Dataset",
    "Row",
    "evaluate",
    "feature_names",
    "predict_rows",
    "read_dataset",
    "read_rows",
    "training_dataset",
]

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".txt")
CONFIG_SUFFIXES = (".yaml", ".yml")


@dataclass
class Row:
    """One input row: its numbers and where it came from (line number in its file)."""

    values: list[float]
    line: int


def feature_names(ckpt: Checkpoint) -> list[str]:
    """The model's input names (Checkpoint.input_names)."""
    return ckpt.input_names


# -- reading input rows ------------------------------------------------------------------
def _lines(source: str | Path) -> tuple[Iterator[str], str]:
    """Lines of a file or of stdin ('-'), read lazily, and the name to use in errors."""
    if str(source) == "-":
        # readline, not a read-ahead iterator: a row is answered as soon as it arrives.
        return iter(sys.stdin.readline, ""), "<stdin>"
    path = Path(source)
    try:
        f = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(f"{path}: no such input file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder; give a CSV or JSON Lines file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read the input file ({e.strerror})") from None

    def gen() -> Iterator[str]:
        with f:
            try:
                yield from f
            except UnicodeDecodeError as e:
                raise InputError(
                    f"{path}: not a text file ({e.reason}); give CSV or JSON Lines"
                ) from None

    return gen(), str(path)


def _number(text: Any, where: str) -> float:
    """One finite number from a CSV cell or a JSON value, or an InputError naming where."""
    if isinstance(text, bool) or not isinstance(text, (int, float, str)):
        raise InputError(f"{where}: {json.dumps(text)} is not a number")
    try:
        v = float(text.strip() if isinstance(text, str) else text)
    except (ValueError, OverflowError):
        raise InputError(f"{where}: {str(text).strip()!r} is not a number") from None
    if not math.isfinite(v):
        raise InputError(f"{where}: {str(text).strip()!r} is not a finite number")
    return v


def _width_error(where: str, got: int, names: list[str]) -> InputError:
    return InputError(
        f"{where}: row has {got} value{'s' if got != 1 else ''}; the model takes "
        f"{len(names)} ({', '.join(names)})"
    )


def _looks_like_json(first: str) -> bool:
    return first.lstrip().startswith(("[", "{"))


def read_rows(
    source: str | Path, nin: int, features: list[str] | None = None, fmt: str | None = None
) -> Iterator[Row]:
    """Yield the input rows of a CSV / JSON Lines file or stdin ('-'), checked and parsed.

    fmt is "csv", "jsonl" or None (by the file's extension, else by its first line).
    Errors name the file and the line: a row of the wrong width, a non-number.
    """
    names = features if features and len(features) == nin else [f"x{i}" for i in range(1, nin + 1)]
    lines, name = _lines(source)
    if fmt is None:
        suffix = Path(str(source)).suffix.lower()
        fmt = "jsonl" if suffix in JSON_SUFFIXES else "csv" if suffix in CSV_SUFFIXES else None
    numbered = _numbered(lines)
    if fmt is None:  # stdin or an unknown extension: decide by the first non-blank line
        first = next(numbered, None)
        if first is None:
            return
        fmt = "jsonl" if _looks_like_json(first[1]) else "csv"
        numbered = _chain(first, numbered)
    if fmt == "jsonl":
        yield from _json_rows(numbered, name, names)
    else:
        yield from _csv_rows(numbered, name, names)


def _numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number, text) for each non-blank, non-comment line."""
    for i, line in enumerate(lines, 1):
        text = line.strip()
        if text and not text.startswith("#"):
            yield i, line


def _chain(first: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield first
    yield from rest


def _json_rows(numbered: Iterator[tuple[int, str]], name: str, names: list[str]) -> Iterator[Row]:
    for lineno, line in numbered:
        where = f"{name}:{lineno}"
        try:
            obj = json.loads(line.rstrip())
        except json.JSONDecodeError as e:
            raise InputError(
                f"{where}:{e.colno}: not valid JSON ({e.msg}); give one array of numbers per line"
            ) from None
        if isinstance(obj, dict) and isinstance(obj.get("input"), list):
            obj = obj["input"]  # a line of `mg predict --json` output can be fed back
        if isinstance(obj, dict):
            missing = [n for n in names if n not in obj]
            if missing:
                raise InputError(
                    f"{where}: the object has no {', '.join(map(repr, missing))}; "
                    f"the model's inputs are {', '.join(names)} (or give an array)"
                )
            values = [_number(obj[n], f"{where}: {n}") for n in names]
        elif isinstance(obj, list):
            if len(obj) != len(names):
                raise _width_error(where, len(obj), names)
            values = [_number(v, f"{where}: value {j}") for j, v in enumerate(obj, 1)]
        else:
            raise InputError(f"{where}: expected an array of numbers, got {json.dumps(obj)[:40]}")
        yield Row(values, lineno)


def _csv_rows(numbered: Iterator[tuple[int, str]], name: str, names: list[str]) -> Iterator[Row]:
    columns: list[int] | None = None  # which cells hold the inputs, from a header
    header: list[str] = []
    first = True
    for lineno, line in numbered:
        where = f"{name}:{lineno}"
        try:
            cells = next(csv.reader([line]))
        except csv.Error as e:
            raise InputError(f"{where}: not valid CSV ({e})") from None
        if len(cells) > 1 and not cells[-1].strip():  # a trailing comma is no extra value
            cells.pop()
        if first:
            first = False
            if not any(_is_number(c) for c in cells):  # a header: no cell is a number
                header = [c.strip() for c in cells]
                if all(n in header for n in names):
                    columns = [header.index(n) for n in names]
                elif len(header) == len(names):
                    columns = list(range(len(names)))
                else:
                    raise InputError(
                        f"{where}: the header has {plural(len(header), 'column')} ({', '.join(header)}) "
                        f"and does not name the model's inputs ({', '.join(names)})"
                    )
                continue
        if columns is None:
            if len(cells) != len(names):
                raise _width_error(where, len(cells), names)
            picked = cells
        else:
            if len(cells) != len(header):
                raise InputError(
                    f"{where}: row has {len(cells)} value{'s' if len(cells) != 1 else ''}; "
                    f"the header has {plural(len(header), 'column')}"
                )
            picked = [cells[j] for j in columns]
        values = [
            _number(c, f"{where}: column {j + 1}")
            for j, c in zip(columns or range(len(picked)), picked, strict=True)
        ]
        yield Row(values, lineno)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def predict_rows(ckpt: Checkpoint, rows: Iterable[Row]) -> Iterator[dict[str, Any]]:
    """{"input", "output", "label"} (and "probabilities" for multi-class) for each row."""
    for row in rows:
        result = ckpt.predict(row.values)
        yield {"input": row.values, **result}


# -- evaluation --------------------------------------------------------------------------
@dataclass
class Dataset:
    """Rows x, raw labels y (class names as in the checkpoint, or numbers), and a name."""

    x: list[list[float]]
    y: list[Any]
    name: str
    features: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _same_label(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        try:
            return float(b) == float(a)
        except (TypeError, ValueError):
            return False
    return str(a) == str(b)


def class_index(ckpt: Checkpoint, label: Any, where: str) -> int:
    """The position of a raw label among the checkpoint's classes."""
    classes = ckpt.class_list
    for i, c in enumerate(classes):
        if _same_label(c, label):
            return i
    if ckpt.task == "binary" and classes and all(_is_number(str(c)) for c in classes):
        # a 0/1 dataset for a model trained on -1/1 labels, or the other way round
        try:
            v = float(label)
        except (TypeError, ValueError):
            v = None
        if v in (0.0, -1.0):
            return 0
        if v == 1.0:
            return 1
    if ckpt.task == "multiclass" and not classes:  # classes unnamed: labels are indices
        k = ckpt.model.nouts[-1]
        if _is_number(str(label)) and float(label) in range(k):
            return int(float(label))
        classes = list(range(k))
    shown = ", ".join(str(c) for c in classes)
    raise InputError(f"{where}: label {label!r} is not one of the model's classes ({shown})")


def _read_csv_dataset(path: Path, ckpt: Checkpoint, data: dict) -> Dataset:
    """A CSV dataset read exactly as training reads it (data.read_csv, with the model's
    data.target, data.header and data.delimiter), its columns put in the model's order."""
    from microgradcli.data import read_csv  # pydantic, via config: only for eval

    x, y, names = read_csv(path, data.get("target"), data.get("header"), data.get("delimiter", ","))
    if ckpt.features and names != ckpt.features and set(ckpt.features) <= set(names):
        cols = [names.index(f) for f in ckpt.features]
        x = [[row[j] for j in cols] for row in x]
        names = list(ckpt.features)
    if len(names) != ckpt.nin:
        raise InputError(
            f"{path}: {len(names)} feature column{'s' if len(names) != 1 else ''} besides the "
            f"target; the model takes {ckpt.nin} ({', '.join(feature_names(ckpt))})"
        )
    if ckpt.task == "regression":
        y = [float(v) if not isinstance(v, str) else _number(v, f"{path}: target") for v in y]
    return Dataset(x, y, str(path), names)


def read_dataset(source: str | Path, ckpt: Checkpoint, split: str = "all") -> Dataset:
    """A dataset to evaluate on: an experiment config (.yaml, or - for stdin) or a CSV file.

    A config is loaded through mg's own config and data modules, so it yields the very
    rows training used (same generator, seed, noise and validation split; `split` picks
    all, train or val rows). For a CSV file the target is the checkpoint config's
    data.target, else the last column.
    """
    path = Path(str(source))
    if str(source) == "-" or path.suffix.lower() in CONFIG_SUFFIXES:
        from microgradcli.config import load_config  # pydantic, yaml: only for configs

        cfg, base_dir = load_config(source)
        name = "<stdin>" if str(source) == "-" else str(source)
        return _config_dataset(cfg, base_dir, name, ckpt, split)
    if split != "all":
        raise InputError(
            f"--split {split} needs a config (its data.val_split); {source} is a CSV file"
        )
    data: dict = {}
    if isinstance(ckpt.config, dict) and isinstance(ckpt.config.get("data"), dict):
        if ckpt.config["data"].get("source") == "csv":
            data = ckpt.config["data"]
    return _read_csv_dataset(path, ckpt, data)


def training_dataset(ckpt: Checkpoint) -> Dataset | None:
    """The data the checkpoint's own config describes (None when it has no config)."""
    if not isinstance(ckpt.config, dict) or not ckpt.config.get("data"):
        return None
    from microgradcli.config import config_from_dict

    try:
        cfg = config_from_dict(ckpt.config, "the model's config", base_dir=ckpt.folder)
        return _config_dataset(
            cfg, ckpt.folder, f"the model's training data ({cfg.data.source})", ckpt
        )
    except InputError as e:
        raise InputError(f"cannot load the model's training data: {e}; give --data") from None


def _config_dataset(
    cfg: Any, base_dir: Path | None, name: str, ckpt: Checkpoint, split: str = "all"
) -> Dataset:
    from microgradcli.data import load_dataset

    ds = load_dataset(cfg, base_dir)
    index = {"all": range(len(ds.x)), "train": ds.train_index, "val": ds.val_index}[split]
    if not index:
        raise InputError(f"{name}: no validation rows (data.val_split is 0); use --split all")
    if ds.n_features != ckpt.nin:
        raise InputError(
            f"{name}: the data has {ds.n_features} feature{'s' if ds.n_features != 1 else ''}; "
            f"the model takes {ckpt.nin}"
        )
    x = [ds.x[i] for i in index]
    y = [ds.y[i] for i in index]
    shown = name if split == "all" else f"{name} [{split}]"
    return Dataset(x, y, shown, ds.features)


def _target(ckpt: Checkpoint, loss: str, idx: int) -> float:
    """The number a binary class was trained towards, as mg's data module encodes it."""
    return binary_target(loss, ckpt.class_list, idx)


def default_loss(ckpt: Checkpoint) -> str:
    """The loss the model was trained with (train.loss), else the usual one for its task."""
    train = ckpt.config.get("train") if isinstance(ckpt.config, dict) else None
    loss = train.get("loss") if isinstance(train, dict) else None
    if isinstance(loss, str):
        return loss
    return {"binary": "hinge", "multiclass": "cross_entropy"}.get(ckpt.task, "mse")


def evaluate(ckpt: Checkpoint, data: Dataset, loss: str | None = None) -> dict[str, Any]:
    """Loss and accuracy (and a confusion matrix for classifiers) of a model on a dataset.

    The loss is the training objective's data loss (mg's own loss functions, without the
    L2 penalty) averaged over the rows; labels come from Checkpoint.predict, as in
    `mg predict`.
    """
    from microgradcli.engine import Value
    from microgradcli.losses import sample_loss

    if not data.x:
        raise InputError(f"{data.name}: the dataset has no rows")
    loss = loss or default_loss(ckpt)
    n = len(data.x)
    per: list[float] = []
    result: dict[str, Any] = {"data": data.name, "rows": n, "task": ckpt.task, "loss_name": loss}
    if ckpt.task == "regression":
        errors = []
        for row, target in zip(data.x, data.y, strict=True):
            out = ckpt.predict(row)["output"]
            errors.append(out - float(target))
            per.append(sample_loss(loss, [Value(out)], float(target)).data)
        result["loss"] = math.fsum(per) / n
        result["accuracy"] = None
        result["rmse"] = math.sqrt(math.fsum(e * e for e in errors) / n)
        result["mae"] = math.fsum(abs(e) for e in errors) / n
        result["confusion"] = None
        return result
    classes = ckpt.class_list
    k = len(classes)
    matrix = [[0] * k for _ in range(k)]
    correct = 0
    for i, (row, label) in enumerate(zip(data.x, data.y, strict=True)):
        idx = class_index(ckpt, label, f"{data.name}: row {i + 1}")
        r = ckpt.predict(row)
        outs = r["output"] if ckpt.task == "multiclass" else [r["output"]]
        pred = ckpt.decide(outs)
        target: Any = idx if ckpt.task == "multiclass" else _target(ckpt, loss, idx)
        matrix[idx][pred] += 1
        correct += idx == pred
        per.append(sample_loss(loss, [Value(o) for o in outs], target).data)
    result.update(loss=math.fsum(per) / n, accuracy=correct / n, correct=correct)
    result["confusion"] = {"labels": classes, "matrix": matrix}
    return result
