"""Using a trained model: reading input rows, predicting row by row, evaluating on a dataset.

Input rows come from a CSV file (header optional), a JSON Lines file (one array of numbers,
or one object keyed by feature name, per line) or stdin (`-`). Rows are read lazily, one
line at a time, so `mg predict MODEL -` answers each row before the next one arrives.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from microgradcli.checkpoint import Checkpoint
from microgradcli.errors import InputError, plural
from microgradcli.fileio import csv_cells, input_lines, is_header, table_lines
from microgradcli.fileio import finite_number as _number

if TYPE_CHECKING:
    from microgradcli.data import Dataset

__all__ = [
    "Row",
    "evaluate",
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


# -- reading input rows ------------------------------------------------------------------
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
    lines, name = input_lines(source, "input file", folder_hint="give a CSV or JSON Lines file")
    if fmt is None:
        suffix = Path(str(source)).suffix.lower()
        fmt = "jsonl" if suffix in JSON_SUFFIXES else "csv" if suffix in CSV_SUFFIXES else None
    numbered = table_lines(lines)
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
    width = len(names)
    for n, (lineno, line) in enumerate(numbered):
        where = f"{name}:{lineno}"
        cells = csv_cells(line, where, width=None if n == 0 else width)
        if n == 0 and is_header(cells):
            columns, width = _header_columns(cells, names, where), len(cells)
            continue
        if len(cells) != width:
            if columns is None:
                raise _width_error(where, len(cells), names)
            raise InputError(
                f"{where}: row has {plural(len(cells), 'value')}; "
                f"the header has {plural(width, 'column')}"
            )
        picked = range(width) if columns is None else columns
        yield Row([_number(cells[j], f"{where}: column {j + 1}") for j in picked], lineno)


def _header_columns(header: list[str], names: list[str], where: str) -> list[int]:
    """The cells that hold the model's inputs, matched by name; a column the model does
    not take is ignored, a missing input is an error listing the model's inputs."""
    missing = [n for n in names if n not in header]
    if missing:
        unknown = [h for h in header if h not in names]
        other = f" it names {', '.join(unknown)} instead;" if unknown else ""
        raise InputError(
            f"{where}: the header has no column {', '.join(missing)};{other} the model's "
            f"inputs are {', '.join(names)} (name the columns so, or leave out the header)"
        )
    return [header.index(n) for n in names]


def predict_rows(
    ckpt: Checkpoint, rows: Iterable[Row], batch: int = 256
) -> Iterator[dict[str, Any]]:
    """{"input", "output", "label"} (and "probabilities" for multi-class) for each row,
    `batch` rows to a call of the model (1 for someone typing rows); the rows read before
    a bad one are answered before its error."""
    pending: list[Row] = []

    def answers() -> Iterator[dict[str, Any]]:
        results = ckpt.predict_many([r.values for r in pending])
        for row, result in zip(pending, results, strict=True):
            yield {"input": row.values, **result}
        pending.clear()

    it = iter(rows)
    while True:
        try:
            row = next(it)
        except StopIteration:
            break
        except BaseException:
            yield from answers()
            raise
        pending.append(row)
        if len(pending) >= batch:
            yield from answers()
    yield from answers()


# -- evaluation --------------------------------------------------------------------------
def _read_csv_dataset(path: Path, ckpt: Checkpoint, data: dict) -> Dataset:
    """A CSV dataset read exactly as training reads it (data.read_csv, with the model's
    data.target, data.header and data.delimiter), its columns put in the model's order."""
    from microgradcli.data import Dataset, read_csv

    x, y, names = read_csv(path, data.get("target"), data.get("header"), data.get("delimiter", ","))
    if ckpt.features and names != ckpt.features and set(ckpt.features) <= set(names):
        cols = [names.index(f) for f in ckpt.features]
        x = [[row[j] for j in cols] for row in x]
        names = list(ckpt.features)
    if len(names) != ckpt.nin:
        raise InputError(
            f"{path}: {len(names)} feature column{'s' if len(names) != 1 else ''} besides the "
            f"target; the model takes {ckpt.nin} ({', '.join(ckpt.input_names)})"
        )
    return Dataset(x, y, names, name=str(path))


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
            f"split {split!r} needs a config (its data.val_split); {source} is a CSV file",
            kind="split_needs_config",
            split=split,
            source=source,
        )
    data: dict = {}
    if isinstance(ckpt.config, dict) and isinstance(ckpt.config.get("data"), dict):
        if ckpt.config["data"].get("source") == "csv":
            data = ckpt.config["data"]
    return _read_csv_dataset(path, ckpt, data)


def training_dataset(ckpt: Checkpoint, split: str = "all") -> Dataset | None:
    """The data the checkpoint's own config describes (None when it has no config); `split`
    picks all, train or val rows as in read_dataset."""
    if not isinstance(ckpt.config, dict) or not ckpt.config.get("data"):
        return None
    from microgradcli.config import config_from_dict

    try:
        cfg = config_from_dict(ckpt.config, "the model's config", base_dir=ckpt.folder)
        name = f"the model's training data ({cfg.data.source})"
        return _config_dataset(cfg, ckpt.folder, name, ckpt, split)
    except InputError as e:
        raise InputError(
            f"cannot load the model's training data: {e}; give the data to use",
            kind="training_data_unloadable",
            cause=e,
        ) from None


def _config_dataset(
    cfg: Any, base_dir: Path | None, name: str, ckpt: Checkpoint, split: str = "all"
) -> Dataset:
    from microgradcli.data import load_dataset

    ds = load_dataset(cfg, base_dir)
    ds.name = name
    if ds.n_features != ckpt.nin:
        raise InputError(
            f"{name}: the data has {ds.n_features} feature{'s' if ds.n_features != 1 else ''}; "
            f"the model takes {ckpt.nin}"
        )
    return ds.split(split)


def default_loss(ckpt: Checkpoint) -> str:
    """The loss the model was trained with (train.loss), else the usual one for its task."""
    train = ckpt.config.get("train") if isinstance(ckpt.config, dict) else None
    loss = train.get("loss") if isinstance(train, dict) else None
    if isinstance(loss, str):
        return loss
    return ckpt.task.default_loss


def evaluate(ckpt: Checkpoint, data: Dataset, loss: str | None = None) -> dict[str, Any]:
    """Loss and accuracy (and a confusion matrix for classifiers) of a model on a dataset.

    The loss is the training objective's data loss (mg's own loss functions, without the
    L2 penalty) averaged over the rows; labels are decided as `mg predict` decides them.
    """
    if not data.x:
        raise InputError(f"{data.name}: the dataset has no rows")
    loss = loss or default_loss(ckpt)
    task = ckpt.task
    targets = [
        task.encode(label, loss, f"{data.name}: row {i}") for i, label in enumerate(data.y, 1)
    ]
    outs = ckpt.outputs(data.x)
    head = {"data": data.name, "rows": len(data.x), "task": task.name, "loss_name": loss}
    return {**head, **task.metrics(outs, targets, loss)}
