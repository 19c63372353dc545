"""Every registered choice through every path: a new activation, loss, optimiser, schedule,
init or data source is one registry entry, and a forgotten column or path fails here."""

from __future__ import annotations

import math
import random
import typing

import pytest

from microgradcli import config as config_module
from microgradcli.activations import ACTIVATIONS, HIDDEN, OUTPUT
from microgradcli.config import ModelConfig, TrainConfig, config_from_dict
from microgradcli.data import GENERATORS, SOURCES, load_dataset
from microgradcli.engine import Value
from microgradcli.losses import LOSSES, sample_loss
from microgradcli.nn import INITS, MLP
from microgradcli.optim import OPTIMIZERS, SCHEDULES, learning_rate, make_optimizer
from microgradcli.train import train

POINTS = [-40.0, -3.0, -0.5, -1e-300, 0.0, 1e-300, 0.7, 4.0, 40.0]


def choices(model, field: str) -> tuple:
    return typing.get_args(model.model_fields[field].annotation)


def test_config_choices_are_the_registries():
    assert choices(ModelConfig, "activation") == HIDDEN == tuple(ACTIVATIONS)
    assert choices(ModelConfig, "output_activation") == OUTPUT
    assert choices(ModelConfig, "init") == tuple(INITS)
    assert choices(TrainConfig, "loss") == tuple(LOSSES)
    assert choices(TrainConfig, "optimizer") == tuple(OPTIMIZERS)
    assert choices(TrainConfig, "schedule") == tuple(SCHEDULES)
    assert set(config_module.SOURCES) == set(SOURCES)  # each config source has a reader
    assert set(GENERATORS) <= set(SOURCES)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_activation_agrees_in_every_column(name):
    np = pytest.importorskip("numpy")
    act = ACTIVATIONS[name]
    arr = act.numpy(np.array(POINTS))
    for i, x in enumerate(POINTS):
        v = Value(x)
        out = act.value(v)
        assert out.data == act.float(x), (name, x)  # the same function, bit for bit
        assert abs(arr[i] - out.data) <= 1e-12 * max(1.0, abs(out.data)), (name, x)  # numpy's libm
        if out is not v and abs(x) > 1e-9:  # the derivative, away from relu's kink
            out.backward()
            h = 1e-6 * max(1.0, abs(x))
            numeric = (act.float(x + h) - act.float(x - h)) / (2 * h)
            assert v.grad == pytest.approx(numeric, rel=1e-6, abs=1e-9), (name, x)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_activation_has_a_tensor_op_equal_to_the_value_one(name):
    np = pytest.importorskip("numpy")
    from microgradcli import tensor

    act = ACTIVATIONS[name]
    for exact in (True, False):
        with tensor.exact(exact):
            x = tensor.Tensor(POINTS)
            out = act.tensor(x)
            (out * 1.0).sum().backward()  # through a node: linear's output is x itself
        for i, p in enumerate(POINTS):
            v = Value(p)
            ref = act.value(v)
            (ref * 1.0).backward()
            if exact:  # bit for bit the scalar engine, the derivative too
                assert (out.data[i], x.grad[i]) == (ref.data, v.grad), (name, p)
            else:  # numpy's own functions
                assert out.data[i] == pytest.approx(ref.data, rel=1e-12, abs=1e-300)
                assert x.grad[i] == pytest.approx(v.grad, rel=1e-12, abs=1e-300)
    assert isinstance(out, tensor.Tensor) and np.shape(out.data) == (len(POINTS),)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_activation_through_every_forward_path(name):
    np = pytest.importorskip("numpy")
    from microgradcli.checkpoint import Checkpoint
    from microgradcli.plot import grid_forward
    from microgradcli.tensor_mlp import forward_rows

    out_act = name if name in OUTPUT else "linear"
    model = MLP(2, [3, 2], name, out_act, rng=random.Random(4))
    rows = [[0.5, -1.5], [2.0, 0.25], [-3.0, 1.0]]
    floats = model.forward_floats(rows)
    assert forward_rows(model, rows).tolist() == floats  # the tensor engine's exact forward
    ckpt = Checkpoint(model=model, task="multiclass")
    grid = grid_forward(ckpt, np.array(rows))
    for row, f, g in zip(rows, floats, grid, strict=True):
        fused = [o.data for o in model(row)]
        unfused = [o.data for o in model(row, fused=False)]
        for a, b, c, d in zip(fused, unfused, f, g, strict=True):
            assert a == c  # the float path is the fused path's arithmetic
            assert abs(a - b) <= 1e-12 * max(1.0, abs(a)) and abs(a - d) <= 1e-12 * max(1.0, abs(a))


def tiny_config(**train) -> dict:
    loss = train.get("loss", "mse")
    y = {"cross_entropy": [0, 1, 2, 1], "mse": [0.5, -1.0, 2.0, 0.0]}.get(loss, [1, -1, 1, -1])
    return {
        "name": "tiny",
        "data": {"source": "inline", "x": [[1, 2], [0, -1], [2, 0.5], [-1, 1]], "y": y},
        "model": {"hidden": [3]},
        "train": {"epochs": 3, "lr": 0.05, "loss": loss, **train},
    }


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_trains_and_has_the_right_gradient(loss, tmp_path):
    zs = [Value(0.3), Value(-1.2), Value(0.8)]
    target = {"cross_entropy": 2, "bce": 1.0}.get(loss, -1.0)
    outs = zs if loss == "cross_entropy" else zs[:1]
    value = sample_loss(loss, outs, target)
    value.backward()
    for i, z in enumerate(outs):
        h = 1e-6

        def at(d, i=i):
            return sample_loss(loss, [Value(o.data + (d if j == i else 0.0)) for j, o in enumerate(outs)], target).data  # fmt: skip

        assert z.grad == pytest.approx((at(h) - at(-h)) / (2 * h), rel=1e-5, abs=1e-8)
    result = train(config_from_dict(tiny_config(loss=loss)), out=tmp_path / "run")
    assert result.stopped == "completed" and math.isfinite(result.summary["loss"])
    cfg = config_from_dict(tiny_config(loss=loss, engine="tensor"))
    on_tensor = train(cfg, out=tmp_path / "tensor")  # the loss has a tensor.py form too
    assert on_tensor.summary["loss"] == result.summary["loss"]  # bit for bit


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_steps_and_resumes(name, tmp_path):
    tc = TrainConfig(optimizer=name)
    params = [Value(1.0), Value(-2.0)]
    opt = make_optimizer(tc, params)
    for p in params:
        p.grad = p.data
    opt.step(0.1)
    assert all(abs(p.data) < a for p, a in zip(params, (1.0, 2.0), strict=True))
    again = make_optimizer(tc, params)
    again.load_state_dict(opt.state_dict())
    assert again.state_dict() == opt.state_dict()
    result = train(config_from_dict(tiny_config(optimizer=name)), out=tmp_path / "run")
    assert result.stopped == "completed"


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_every_schedule_starts_at_lr_and_stays_positive(name):
    tc = TrainConfig(schedule=name, epochs=10, lr=0.5, lr_end=0.05)
    lrs = [learning_rate(tc, e) for e in range(10)]
    assert lrs[0] == 0.5 and all(0.0 < lr <= 0.5 for lr in lrs)


@pytest.mark.parametrize("name", list(INITS))
def test_every_init_builds_a_model_from_a_config(name, tmp_path):
    cfg = tiny_config()
    cfg["model"]["init"] = name
    result = train(config_from_dict(cfg), out=tmp_path / "run")
    assert result.stopped == "completed"


@pytest.mark.parametrize("source", list(GENERATORS))
def test_every_generator_loads_with_its_config_defaults(source):
    cfg = config_from_dict(
        {"data": {"source": source, "n_samples": 12}, "train": {"loss": "cross_entropy"}}
    )
    ds = load_dataset(cfg)
    assert len(ds.x) == 12 and ds.n_features >= 2 and ds.task.classifier
