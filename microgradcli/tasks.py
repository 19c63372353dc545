"""The three tasks mg trains for (binary, multi-class, regression) and all they decide.

A task knows how to encode a label as the number a loss trains towards, how to decide a
class from a model's outputs, how to count correct answers, its default loss, and what
`mg predict` shows for one row. Every other module asks the task; nobody compares task
names. `detect(labels, loss)` works the task out from the training labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from microgradcli.errors import InputError
from microgradcli.fileio import finite_number, to_number

__all__ = ["TASKS", "Binary", "Multiclass", "Regression", "Task", "detect", "task_named"]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _same_label(a: Any, b: Any) -> bool:
    """A saved class and a label read from a file: 1 matches "1" and 1.0, "no" matches "no"."""
    if _is_number(a):
        try:
            return float(b) == float(a)
        except (TypeError, ValueError):
            return False
    return str(a) == str(b)


class Task:
    """What a task decides; one subclass per task. `classes` are the labels in output
    order (None for regression), `threshold` the binary decision boundary."""

    name: ClassVar[str]
    default_loss: ClassVar[str]
    classifier: ClassVar[bool] = True
    # predict's table: the result columns after the inputs, (title, width)
    columns: ClassVar[tuple[tuple[str, int], ...]]

    def __init__(self, classes: Sequence | None = None, threshold: float = 0.0):
        self.classes = list(classes) if classes is not None else None
        self.threshold = threshold

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.classes!r}, threshold={self.threshold!r})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self.classes == other.classes  # type: ignore[attr-defined]
            and self.threshold == other.threshold  # type: ignore[attr-defined]
        )

    @property
    def n_outputs(self) -> int:
        return 1

    # -- labels and targets ----------------------------------------------------------
    def index(self, label: Any, where: str) -> int:
        """The position of a raw label (as read from a file) among the classes."""
        for i, c in enumerate(self.classes or ()):
            if _same_label(c, label):
                return i
        shown = ", ".join(str(c) for c in self.classes or ())
        raise InputError(f"{where}: label {label!r} is not one of the model's classes ({shown})")

    def label_value(self, label: Any, where: str) -> Any:
        """A raw label as a number to plot: the class index (the value for regression)."""
        return self.index(label, where)

    def target(self, value: Any, loss: str) -> Any:
        """The number the loss trains towards for label_value() `value`."""
        return value

    def encode(self, label: Any, loss: str, where: str) -> Any:
        """A raw label as the loss's target (an InputError naming `where` if it is not
        one of the classes)."""
        return self.target(self.label_value(label, where), loss)

    def target_index(self, target: Any) -> int:
        """The class index an encoded target stands for."""
        return int(target)

    # -- deciding ------------------------------------------------------------------------
    def decide(self, outs: Sequence[float]) -> int | None:
        """The predicted class index for one row's raw outputs (None for regression)."""
        raise NotImplementedError

    def correct(self, outs: Sequence[float], target: Any) -> bool:
        """Whether outputs decide the class of an encoded target."""
        return self.decide(outs) == self.target_index(target)

    def decide_array(self, out: Any) -> tuple[Any, Any]:
        """decide() for a numpy array of rows: (class indices, rows within rounding of a
        boundary, where only the scalar decide() is to be trusted)."""
        raise NotImplementedError

    def labels_array(self, out: Any) -> Any:
        """decide() for a numpy array of rows: the class indices alone."""
        raise NotImplementedError

    def confidence_array(self, out: Any) -> Any:
        """The number to shade a decision region by: the raw output, or the top
        probability for multi-class."""
        return out[:, 0]

    def result(self, outs: Sequence[float]) -> dict[str, Any]:
        """{"output", "label"} (and "probabilities" for multi-class) for one row."""
        index = self.decide(outs)
        return {"output": outs[0], "label": None if index is None else self.classes[index]}

    def cells(self, result: dict[str, Any]) -> list[str]:
        """predict's table cells for one result(), as `columns` names them."""
        from microgradcli.checkpoint import format_label

        return [_num(result["output"]), format_label(result["label"])]

    # -- metrics ------------------------------------------------------------------------
    def metrics(
        self,
        outs: Sequence[Sequence[float]],
        targets: Sequence,
        loss: str,
        reduction: str = "mean",
    ) -> dict[str, Any]:
        """The data loss (mg's loss functions, no L2 penalty) of raw outputs against
        encoded targets, with accuracy, correct and a confusion matrix for classifiers
        (rows: true class) or rmse and mae for regression."""
        from microgradcli.engine import Value
        from microgradcli.losses import sample_loss

        per = [
            sample_loss(loss, [Value(o) for o in out], t).data
            for out, t in zip(outs, targets, strict=True)
        ]
        value = math.fsum(per)
        if reduction == "mean":
            value /= len(per)
        return {"loss": value, **self._scores(outs, targets)}

    def _scores(self, outs: Sequence[Sequence[float]], targets: Sequence) -> dict[str, Any]:
        k = len(self.classes or ())
        matrix = [[0] * k for _ in range(k)]
        correct = 0
        for out, t in zip(outs, targets, strict=True):
            truth, pred = self.target_index(t), self.decide(out)
            matrix[truth][pred] += 1
            correct += truth == pred
        return {
            "accuracy": correct / len(outs),
            "correct": correct,
            "confusion": {"labels": list(self.classes or ()), "matrix": matrix},
        }


def _num(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


class Binary(Task):
    """One output; class 1 (classes[1]) when it is above the threshold."""

    name = "binary"
    default_loss = "hinge"
    columns = (("output", 12), ("label", 8))

    def __init__(self, classes: Sequence | None = None, threshold: float = 0.0):
        super().__init__(classes if classes else [-1, 1], threshold)

    def index(self, label: Any, where: str) -> int:
        try:
            return super().index(label, where)
        except InputError:
            if not all(to_number(c) is not None for c in self.classes):
                raise
            # a 0/1 dataset for a model trained on -1/1 labels, or the other way round
            try:
                v = float(label)
            except (TypeError, ValueError):
                raise InputError(
                    f"{where}: label {label!r} is not one of the model's classes "
                    f"({', '.join(map(str, self.classes))})"
                ) from None
            if v in (0.0, -1.0, 1.0):
                return int(v == 1.0)
            raise

    def target(self, value: int, loss: str) -> float:
        """0/1 for bce (on logits), the label itself for mse on -1/1 or 0/1 labels, else
        -1/+1."""
        if loss == "bce":
            return float(value)
        if loss == "mse" and all(_is_number(c) for c in self.classes):
            return float(self.classes[value])
        return 1.0 if value == 1 else -1.0

    def target_index(self, target: float) -> int:
        return 1 if target == 1.0 else 0

    def decide(self, outs: Sequence[float]) -> int:
        return 1 if outs[0] > self.threshold else 0

    def labels_array(self, out: Any) -> Any:
        return (out[:, 0] > self.threshold).astype(int)

    def decide_array(self, out: Any) -> tuple[Any, Any]:
        import numpy as np

        labels = self.labels_array(out)
        close = np.abs(out[:, 0] - self.threshold) <= 1e-9 * (1.0 + abs(self.threshold))
        return labels, close


class Multiclass(Task):
    """One output per class; the largest decides (softmax is part of the loss)."""

    name = "multiclass"
    default_loss = "cross_entropy"
    columns = (("label", 10), ("probability", 11))

    @property
    def n_outputs(self) -> int:
        return len(self.classes)

    def decide(self, outs: Sequence[float]) -> int:
        return max(range(len(outs)), key=outs.__getitem__)

    def labels_array(self, out: Any) -> Any:
        import numpy as np

        return np.argmax(out, axis=1)

    def decide_array(self, out: Any) -> tuple[Any, Any]:
        import numpy as np

        labels = self.labels_array(out)
        top2 = np.sort(out, axis=1)[:, -2:] if out.shape[1] > 1 else np.zeros((len(out), 2))
        close = np.abs(top2[:, 1] - top2[:, 0]) <= 1e-9 * (1.0 + np.abs(top2[:, 1]))
        return labels, close

    def confidence_array(self, out: Any) -> Any:
        import numpy as np

        e = np.exp(out - out.max(axis=1, keepdims=True))
        return e.max(axis=1) / e.sum(axis=1)

    def probabilities(self, outs: Sequence[float]) -> list[float]:
        """softmax(outs), computed stably."""
        top = max(outs)
        exps = [math.exp(o - top) for o in outs]
        from microgradcli.engine import lsum

        total = lsum(exps)
        return [e / total for e in exps]

    def result(self, outs: Sequence[float]) -> dict[str, Any]:
        from microgradcli.checkpoint import format_label

        probs = self.probabilities(outs)
        return {
            "output": list(outs),
            "label": self.classes[self.decide(outs)],
            "probabilities": {format_label(c): p for c, p in zip(self.classes, probs, strict=True)},
        }

    def cells(self, result: dict[str, Any]) -> list[str]:
        from microgradcli.checkpoint import format_label

        top = max(result["probabilities"].values())
        return [format_label(result["label"]), f"{top:.4f}"]


class Regression(Task):
    """One output: the value itself."""

    name = "regression"
    default_loss = "mse"
    classifier = False
    columns = (("output", 12),)

    def __init__(self, classes: Sequence | None = None, threshold: float = 0.0):
        super().__init__(None, 0.0)

    def label_value(self, label: Any, where: str) -> float:
        return finite_number(label, f"{where}: target")

    def decide(self, outs: Sequence[float]) -> None:
        return None

    def correct(self, outs: Sequence[float], target: Any) -> bool:
        return False

    def result(self, outs: Sequence[float]) -> dict[str, Any]:
        return {"output": outs[0], "label": None}

    def cells(self, result: dict[str, Any]) -> list[str]:
        return [_num(result["output"])]

    def _scores(self, outs: Sequence[Sequence[float]], targets: Sequence) -> dict[str, Any]:
        n = len(outs)
        errors = [out[0] - t for out, t in zip(outs, targets, strict=True)]
        return {
            "accuracy": None,
            "rmse": math.sqrt(math.fsum(e * e for e in errors) / n),
            "mae": math.fsum(abs(e) for e in errors) / n,
            "confusion": None,
        }


TASKS: dict[str, type[Task]] = {t.name: t for t in (Binary, Multiclass, Regression)}


def task_named(name: str, classes: Sequence | None, threshold: float, n_outputs: int) -> Task:
    """The task a checkpoint names; unnamed multi-class outputs are classes 0..n-1."""
    cls = TASKS[name]
    if cls is Multiclass and not classes:
        classes = list(range(n_outputs))
    return cls(classes, threshold)


# -- working the task out from training labels ---------------------------------------------
def _sorted_labels(values: set) -> list:
    if all(_is_number(v) for v in values):
        return sorted(values)
    return sorted(values, key=str)


def detect(y: Sequence, loss: str) -> tuple[Task, list]:
    """(task, encoded targets) for raw training labels and a loss name."""
    if loss == "cross_entropy":
        return _detect_multiclass(y)
    distinct = set(y)
    if loss == "mse" and all(_is_number(v) for v in y):
        if distinct <= {-1, 1} and len(distinct) == 2:
            return Binary([-1, 1], 0.0), [float(v) for v in y]
        if distinct <= {0, 1} and len(distinct) == 2:
            return Binary([0, 1], 0.5), [float(v) for v in y]
        return Regression(), [float(v) for v in y]
    classes = [
        int(c) if _is_number(c) and float(c).is_integer() else c for c in _sorted_labels(distinct)
    ]
    if len(classes) != 2:
        raise InputError(_not_two_classes(classes, loss))
    task = Binary(classes, 0.0)
    neg = classes[0]
    return task, [task.target(0 if v == neg else 1, loss) for v in y]


def _detect_multiclass(y: Sequence) -> tuple[Task, list]:
    for v in y:
        if _is_number(v) and not float(v).is_integer():
            raise InputError(
                f"train.loss cross_entropy needs class labels (integers or names), "
                f"but a label is {v!r}; for real-valued targets use train.loss mse"
            )
    as_class = [int(v) if _is_number(v) else v for v in y]
    classes = _sorted_labels(set(as_class))
    if len(classes) < 2:
        raise InputError(
            f"train.loss cross_entropy needs at least 2 classes; the data has only {classes}"
        )
    index = {c: i for i, c in enumerate(classes)}
    return Multiclass(classes), [index[v] for v in as_class]


def _not_two_classes(classes: list, loss: str) -> str:
    shown = ", ".join(map(str, classes[:6])) + (", ..." if len(classes) > 6 else "")
    what = f"only one label ({shown})" if len(classes) < 2 else f"{len(classes)} labels ({shown})"
    if any(isinstance(c, float) for c in classes):  # real targets, not classes
        fix = "for real-valued targets use train.loss mse"
    elif len(classes) > 2:
        fix = "use train.loss cross_entropy for several classes"
    else:
        fix = "check the data's labels"
    return f"train.loss {loss} is for two classes, but the data has {what}; {fix}"
