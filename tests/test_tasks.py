"""The task objects: one home for encoding, deciding and counting (tasks.py)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from microgradcli.checkpoint import Checkpoint
from microgradcli.errors import InputError
from microgradcli.nn import MLP
from microgradcli.tasks import Binary, Multiclass, Regression, detect, task_named

PACKAGE = Path(__file__).resolve().parent.parent / "microgradcli"


def test_no_module_but_tasks_compares_task_names():
    offenders = [
        f"{p.relative_to(PACKAGE)}:{n}"
        for p in PACKAGE.rglob("*.py")
        if p.name != "tasks.py"
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"task\s*[!=]=", line)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "task, outs, target, index",
    [
        (Binary([-1, 1]), [0.3], 1.0, 1),
        (Binary([-1, 1]), [0.0], -1.0, 0),  # the threshold itself is class 0
        (Binary([0, 1], 0.5), [0.6], 1.0, 1),
        (Binary([0, 1], 0.5), [0.4], 0.0, 0),
        (Multiclass(["a", "b", "c"]), [0.1, 2.0, 2.0], 1, 1),  # a tie goes to the first
    ],
)
def test_decide_and_correct_agree(task, outs, target, index):
    assert task.decide(outs) == index
    assert task.correct(outs, target)


def test_the_vectorised_decision_equals_the_scalar_one():
    np = pytest.importorskip("numpy")
    rng = random.Random(0)
    for task, k in ((Binary([0, 1], 0.5), 1), (Multiclass([0, 1, 2]), 3)):
        out = np.array([[rng.gauss(0, 1) for _ in range(k)] for _ in range(200)])
        labels, _ = task.decide_array(out)
        assert labels.tolist() == [task.decide(row.tolist()) for row in out]


def test_encode_uses_the_loss_and_the_saved_classes():
    b = Binary(["no", "yes"])
    assert [b.encode(v, "hinge", "r") for v in ("no", "yes")] == [-1.0, 1.0]
    assert [b.encode(v, "bce", "r") for v in ("no", "yes")] == [0.0, 1.0]
    assert Binary([0, 1]).encode("1", "mse", "r") == 1.0
    assert Binary([-1, 1]).encode(0, "hinge", "r") == -1.0  # 0/1 data for a -1/1 model
    assert Multiclass(["a", "b"]).encode("b", "cross_entropy", "r") == 1
    assert Regression().encode("2.5", "mse", "r") == 2.5
    with pytest.raises(InputError, match="r: label 'maybe' is not one of the model's classes"):
        b.encode("maybe", "hinge", "r")
    with pytest.raises(InputError, match="r: target: 'x' is not a number"):
        Regression().encode("x", "mse", "r")


def test_detect_and_the_checkpoint_agree():
    task, targets = detect(["b", "a", "c", "a"], "cross_entropy")
    assert (task.name, task.classes, targets) == ("multiclass", ["a", "b", "c"], [1, 0, 2, 0])
    assert task_named("multiclass", None, 0.0, 4).classes == [0, 1, 2, 3]
    ck = Checkpoint(model=MLP(2, [3], rng=random.Random(0)), task=task)
    assert (ck.classes, ck.task) == (["a", "b", "c"], task)
    assert Checkpoint.__dataclass_fields__  # still a dataclass
    assert ck.to_dict()["task"] == "multiclass"


def test_multiclass_probabilities_are_keyed_by_class_name():
    ck = Checkpoint(model=MLP(2, [3], rng=random.Random(0)), task="multiclass", classes=[1, 2, 3])
    res = ck.predict([0.5, -0.5])
    assert list(res["probabilities"]) == ["1", "2", "3"]
    top = max(res["probabilities"], key=res["probabilities"].get)
    assert top == str(res["label"])
