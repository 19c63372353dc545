"""model.json: everything needed to predict with a trained network and to resume training."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microgradcli import __version__
from microgradcli.errors import InputError
from microgradcli.fileio import read_input, write_atomic
from microgradcli.nn import MLP
from microgradcli.tasks import TASKS, Task, task_named

FORMAT = "mg-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """A trained model with what it needs to be used: task, classes, normalisation.

    - task: a tasks.Task (given as its name, "binary", "multiclass" or "regression",
      it is built from classes and threshold): it decides labels from outputs.
    - classes (as saved): multiclass: the class names in output order; binary: the two labels as
      they appear in the data, [negative, positive] (e.g. [-1, 1] or [0, 1] or
      ["no", "yes"]); regression: None.
    - threshold: binary only: an output above it predicts classes[1].
    - normalize: {"mean": [...], "std": [...]} applied to inputs first, or None.
    - features: input column names, in order.
    - config: the resolved experiment config (a plain dict), for resume and plots.
    - epoch: epochs trained so far; optimizer: the optimiser's state for resume;
      extra: anything else the trainer keeps (rng state, best metric, ...).
    """

    model: MLP
    task: Task | str
    config: dict[str, Any] = field(default_factory=dict)
    classes: list | None = None
    threshold: float = 0.0
    normalize: dict[str, list[float]] | None = None
    features: list[str] | None = None
    epoch: int = 0
    optimizer: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None  # where model.json was read from: its config's paths start there

    def __post_init__(self) -> None:
        if isinstance(self.task, str):
            self.task = task_named(self.task, self.classes, self.threshold, self.model.nouts[-1])
        else:
            self.classes, self.threshold = self.task.classes, self.task.threshold

    @property
    def nin(self) -> int:
        return self.model.nin

    @property
    def input_names(self) -> list[str]:
        """The model's input names: the saved feature names, else x1, x2, ..."""
        if self.features and len(self.features) == self.nin:
            return [str(f) for f in self.features]
        return [f"x{i}" for i in range(1, self.nin + 1)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "mg_version": __version__,
            "task": self.task.name,
            "classes": self.classes,
            "threshold": self.threshold,
            "normalize": self.normalize,
            "features": self.features,
            "epoch": self.epoch,
            "config": self.config,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer,
            "extra": self.extra,
        }

    def save(self, path: str | Path) -> None:
        """Write model.json atomically (a killed run never leaves half a file)."""
        write_atomic(path, json.dumps(self.to_dict(), indent=1) + "\n")

    # -- using the model --------------------------------------------------------------
    def prepare(self, row: list[float]) -> list[float]:
        """Apply the saved normalisation to one raw input row."""
        return normalize_row(row, self.normalize)

    @property
    def class_list(self) -> list:
        """The labels in output order: the saved classes, else -1/1 for binary models,
        0..k-1 for multi-class ones, and none for regression."""
        return list(self.task.classes or ())

    def predict(self, row: list[float]) -> dict[str, Any]:
        """{"output": raw output(s), "label": predicted label or None} for one raw row
        ("probabilities" too, by class name, for multi-class)."""
        return self.predict_many([row])[0]

    def outputs(self, rows: list[list[float]]) -> list[list[float]]:
        """The raw outputs for many raw rows, normalised as in training, in one call of the
        tensor engine's forward (exact: the same numbers as MLP.forward_floats)."""
        from microgradcli.tensor_mlp import forward_rows

        for row in rows:
            if len(row) != self.nin:
                raise InputError(f"expected {self.nin} input values, got {len(row)}")
        return forward_rows(self.model, [self.prepare(row) for row in rows]).tolist()

    def predict_many(self, rows: list[list[float]]) -> list[dict[str, Any]]:
        """predict() for many raw rows at once."""
        return [self.task.result(outs) for outs in self.outputs(rows)]


def normalize_row(row: list[float], normalize: dict[str, list[float]] | None) -> list[float]:
    """One raw row standardised with saved {"mean", "std"} (unchanged for None)."""
    if normalize is None:
        return list(row)
    return [(v - m) / s for v, m, s in zip(row, normalize["mean"], normalize["std"], strict=True)]


def format_label(label: Any) -> str:
    """A class label as text: 1.0 shows as 1, strings as they are."""
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label)


def checkpoint_from_dict(data: Any, where: str = "model.json") -> Checkpoint:
    """Rebuild a Checkpoint from parsed JSON, with a clear error for anything off."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f'{where}: not an mg model checkpoint (no "format": "{FORMAT}")')
    version = data.get("version")
    if version != VERSION:
        raise InputError(
            f"{where}: checkpoint format version {version!r} is not supported "
            f"(this mg {__version__} reads version {VERSION}); retrain with this version"
        )
    task = data.get("task")
    if not isinstance(task, str) or task not in TASKS:
        raise InputError(f"{where}: unknown task {task!r}; expected one of {', '.join(TASKS)}")
    try:
        model = MLP.from_state_dict(data["model"])
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{where}: the model weights are malformed ({e})") from None
    return Checkpoint(
        model=model,
        task=task,
        config=data.get("config") or {},
        classes=data.get("classes"),
        threshold=float(data.get("threshold", 0.0)),
        normalize=data.get("normalize"),
        features=data.get("features"),
        epoch=int(data.get("epoch", 0)),
        optimizer=data.get("optimizer") or {},
        extra=data.get("extra") or {},
    )


MODEL_FILE = "model.json"  # a run folder's checkpoint


def model_path(path: str | Path) -> str | Path:
    """A checkpoint's path as given: a run folder means the model.json inside it."""
    if str(path) != "-" and Path(path).is_dir() and (Path(path) / MODEL_FILE).is_file():
        return Path(path) / MODEL_FILE
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read model.json, or the one in a run folder ('-': stdin); missing, unreadable,
    corrupt or wrong-version files are InputErrors."""
    path = model_path(path)
    text, name = read_input(
        path,
        "model file",
        missing_hint="train one with `mg train CONFIG`",
        folder_hint=f"it holds no {MODEL_FILE}; give a run folder or a model file",
    )
    if str(path) == "-" and not text.strip():
        raise InputError("stdin: no model; pipe a model.json into mg, or give its path")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            f"{name}:{e.lineno}:{e.colno}: the model file is not valid JSON ({e.msg}); "
            "is it truncated or not a checkpoint?"
        ) from None
    ck = checkpoint_from_dict(data, name)
    if str(path) != "-":
        ck.folder = Path(path).resolve().parent
    return ck
