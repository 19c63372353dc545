"""train.engine: tensor against train.engine: scalar: the same losses, weights and optimizer
state bit for bit (train.exact: true), or to 1e-9 (false); checkpoints work on both."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from microgradcli.checkpoint import load_checkpoint
from microgradcli.config import load_config
from microgradcli.errors import JobFailed
from microgradcli.train import train

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def run(tmp_path: Path, name: str, engine: str, overrides=(), out=None, **kw):
    sets = [f"train.engine={engine}", *overrides]
    cfg, base = load_config(CONFIGS / f"{name}.yaml", sets)
    return train(cfg, base, out=tmp_path / (out or f"{name}-{engine}"), **kw)


def model_json(run_dir: Path) -> dict:
    m = json.loads((run_dir / "model.json").read_text())
    m["config"]["train"].pop("engine")
    m["config"]["train"].pop("exact")
    return m


def log(run_dir: Path) -> list[dict]:
    recs = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in recs]


def same_run(tmp_path, name, overrides=()):
    a = run(tmp_path, name, "scalar", overrides)
    b = run(tmp_path, name, "tensor", overrides)
    assert log(b.run_dir) == log(a.run_dir)  # every epoch's losses and accuracies
    assert model_json(b.run_dir) == model_json(a.run_dir)  # weights, optimizer state, epoch
    return a, b


# The shipped configs, cut short where they are long (the identity holds at every epoch).
@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("binary", []),
        ("moons", ["train.epochs=15"]),  # hinge, sgd, linear schedule, full batch, L2
        ("spiral", ["train.epochs=12"]),  # cross-entropy, adam, minibatches, val split
        ("sine", ["train.epochs=40"]),  # regression: mse, tanh, adam, step schedule
        ("flowers", []),  # CSV, normalisation, momentum, early stopping, checkpoint_every
    ],
)
def test_shipped_configs_are_bit_identical_on_both_engines(tmp_path, name, overrides):
    a, b = same_run(tmp_path, name, overrides)
    assert a.stopped == b.stopped
    if name == "flowers":
        assert a.stopped == "early_stopping" or a.summary["epochs"] == 40


SMALL = ["data.n_samples=24", "model.hidden=[5, 3]", "train.epochs=4"]


@pytest.mark.parametrize(
    "overrides",
    [
        ["train.loss=bce", "model.activation=tanh", "train.optimizer=adam", "train.batch_size=5"],
        ["train.loss=mse", "model.activation=sigmoid", "model.output_activation=tanh"],
        ["train.loss=hinge", "model.activation=linear", "train.optimizer=momentum", "train.l2=0"],
        ["train.loss=mse", "train.reduction=sum", "train.lr=0.01", "model.init=xavier"],
        [
            "train.loss=bce",
            "model.activation=relu",
            "model.init=he",
            "train.schedule=cosine",
            "train.batch_size=7",
            "data.val_split=0.25",
            "data.normalize=true",
        ],
        [
            "train.loss=hinge",
            "model.output_activation=tanh",
            "train.schedule=step",
            "train.batch_size=1",
        ],
    ],
)
def test_loss_optimizer_activation_batch_combinations(tmp_path, overrides):
    same_run(tmp_path, "moons", [*SMALL, *overrides])


def test_multiclass_combinations(tmp_path):
    same_run(
        tmp_path,
        "spiral",
        [
            "train.epochs=3",
            "model.activation=sigmoid",
            "train.optimizer=momentum",
            "train.reduction=sum",
            "train.lr=0.01",
            "train.l2=0.001",
            "train.batch_size=11",
        ],
    )


@pytest.mark.parametrize(("first", "second"), [("scalar", "tensor"), ("tensor", "scalar")])
def test_resume_across_engines(tmp_path, first, second):
    # (a constant schedule: the learning rate of a schedule depends on train.epochs)
    sets = ["train.epochs=6", "train.schedule=constant"]
    whole = run(tmp_path, "spiral", "scalar", sets, out="whole")
    half = run(tmp_path, "spiral", first, ["train.epochs=3", "train.schedule=constant"], out="half")
    cfg, base = load_config(CONFIGS / "spiral.yaml", [f"train.engine={second}", *sets])
    train(cfg, base, resume=half.run_dir / "model.json")
    assert log(half.run_dir) == log(whole.run_dir)
    assert model_json(half.run_dir) == model_json(whole.run_dir)


@pytest.mark.parametrize(
    ("name", "epochs"),
    [("spiral", 12), ("moons", 15), ("sine", 40)],  # xent adam; hinge sgd L2; mse tanh
)
def test_fast_mode_is_within_1e9(tmp_path, name, epochs):
    a = run(tmp_path, name, "scalar", [f"train.epochs={epochs}"])
    b = run(tmp_path, name, "tensor", [f"train.epochs={epochs}", "train.exact=false"])
    for ra, rb in zip(log(a.run_dir), log(b.run_dir), strict=True):
        assert rb["loss"] == pytest.approx(ra["loss"], rel=1e-9)
        if ra.get("val_loss") is None:  # no validation split (moons, sine)
            assert rb.get("val_loss") is None
        else:
            assert rb["val_loss"] == pytest.approx(ra["val_loss"], rel=1e-9)
    wa = model_json(a.run_dir)["model"]["layers"]
    wb = model_json(b.run_dir)["model"]["layers"]
    for la, lb in zip(wa, wb, strict=True):
        for na, nb in zip(la, lb, strict=True):
            assert nb["w"] == pytest.approx(na["w"], rel=1e-9, abs=1e-12)
            assert nb["b"] == pytest.approx(na["b"], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("exact", ["true", "false"])
def test_a_diverging_run_fails_as_on_the_scalar_engine_and_warns_of_nothing(tmp_path, exact):
    sets = ["train.lr=1e9", "train.schedule=constant", "data.n_samples=20"]
    with pytest.raises(JobFailed) as on_scalar:
        run(tmp_path, "moons", "scalar", sets, out="scalar")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warnings would be errors here
        with pytest.raises(JobFailed) as on_tensor:
            run(tmp_path, "moons", "tensor", [*sets, f"train.exact={exact}"], out="tensor")
    where = re.compile(r"diverged at epoch (\d+) \((overflow in [^:]+):")  # the same op
    assert (
        where.search(str(on_tensor.value)).groups() == where.search(str(on_scalar.value)).groups()
    )


def test_a_tensor_checkpoint_predicts_as_the_scalar_forward(tmp_path):
    b = run(tmp_path, "spiral", "tensor", ["train.epochs=3"])
    ck = load_checkpoint(b.run_dir / "model.json")
    assert ck.config["train"]["engine"] == "tensor"
    rows = [[0.1 * i, -0.05 * i] for i in range(20)]
    assert [ck.predict(r)["output"] for r in rows] == ck.model.forward_floats(rows)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("output", ["linear", "tanh", "sigmoid"])
def test_the_tensor_forward_is_forward_floats_bit_for_bit(activation, output):
    import random

    from microgradcli.nn import MLP
    from microgradcli.tensor_mlp import forward_rows

    model = MLP(3, [7, 5, 2], activation, output, "xavier", rng=random.Random(4))
    rng = random.Random(5)
    rows = [[rng.uniform(-3, 3) for _ in range(3)] for _ in range(600)]  # several chunks
    assert forward_rows(model, rows).tolist() == model.forward_floats(rows)
    fast = forward_rows(model, rows, exact=False)
    np.testing.assert_allclose(fast, model.forward_floats(rows), rtol=1e-12, atol=1e-14)


def test_predict_rows_answers_the_rows_before_a_bad_one():
    from microgradcli.checkpoint import Checkpoint
    from microgradcli.data import load_dataset
    from microgradcli.predict import Row, predict_rows
    from microgradcli.train import build_model

    cfg, base = load_config(CONFIGS / "spiral.yaml")
    ds = load_dataset(cfg, base)
    ck = Checkpoint(model=build_model(cfg, ds), task=ds.task)  # untrained is enough

    def rows():
        for i in range(300):
            yield Row([0.01 * i, -0.02 * i], i + 1)
        raise ValueError("row 301 is bad")

    seen = []
    with pytest.raises(ValueError, match="row 301"):
        for result in predict_rows(ck, rows(), batch=128):
            seen.append(result)
    assert len(seen) == 300
    want = ck.model.forward_floats([r["input"] for r in seen])
    assert [r["output"] for r in seen] == want
