"""Optimisers and schedules: each solves a small problem, matches PyTorch, resumes exactly."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from microgradcli.config import TrainConfig
from microgradcli.engine import Value, vsum
from microgradcli.optim import SGD, Adam, Momentum, learning_rate, make_optimizer

TARGET = [3.0, -2.0, 0.5]


def opt_for(name, params, **settings):
    """make_optimizer from a train section that names the optimiser."""
    return make_optimizer(TrainConfig(optimizer=name, **settings), params)


def lr_at(schedule, epoch, epochs, lr, lr_end=0.0, step_size=None, gamma=0.5):
    """learning_rate from a train section with these settings."""
    tc = TrainConfig(
        schedule=schedule, epochs=epochs, lr=lr, lr_end=lr_end, step_size=step_size, gamma=gamma
    )
    return learning_rate(tc, epoch)


def quadratic_grads(params):
    """Fill .grad for f(p) = sum (p_i - c_i)**2 through the engine."""
    for p in params:
        p.grad = 0.0
    loss = vsum([(p - c) ** 2 for p, c in zip(params, TARGET, strict=True)])
    loss.backward()
    return loss.data


@pytest.mark.parametrize(
    "name, lr, steps", [("sgd", 0.1, 100), ("momentum", 0.05, 200), ("adam", 0.1, 300)]
)
def test_each_optimizer_minimises_a_quadratic(name, lr, steps):
    params = [Value(0.0) for _ in TARGET]
    opt = opt_for(name, params, momentum=0.9)
    first = quadratic_grads(params)
    for _ in range(steps):
        quadratic_grads(params)
        opt.step(lr)
    assert quadratic_grads(params) < 1e-6 * first
    assert [p.data for p in params] == pytest.approx(TARGET, abs=1e-3)


def test_sgd_step_is_the_lecture_update():
    p = Value(1.0)
    p.grad = 2.0
    SGD([p]).step(0.1)
    assert p.data == 1.0 - 0.1 * 2.0


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_state_dict_resumes_exactly(name):
    def run(steps, state=None, start=None):
        params = [Value(v) for v in (start or [0.0, 0.0, 0.0])]
        opt = opt_for(name, params, momentum=0.8, beta2=0.99)
        if state is not None:
            opt.load_state_dict(state)
        for _ in range(steps):
            quadratic_grads(params)
            opt.step(0.05)
        return [p.data for p in params], opt.state_dict()

    full, full_state = run(10)
    half, half_state = run(5)
    resumed, resumed_state = run(5, half_state, half)
    assert resumed == full  # bit for bit
    assert resumed_state == full_state


def test_state_dict_rejects_another_optimizer_or_size():
    params = [Value(0.0), Value(1.0)]
    with pytest.raises(ValueError, match="for 'adam', not 'momentum'"):
        Momentum(params).load_state_dict(Adam(params).state_dict())
    with pytest.raises(ValueError, match="has 1 values for 2 parameters"):
        Momentum(params).load_state_dict({"name": "momentum", "v": [0.0]})
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer(SimpleNamespace(optimizer="rmsprop"), params)


def test_momentum_and_adam_match_pytorch():
    torch = pytest.importorskip("torch")
    for name in ("momentum", "adam"):
        params = [Value(v) for v in (0.5, -1.0, 2.0)]
        opt = opt_for(name, params, momentum=0.9, beta2=0.999, eps=1e-8)
        tp = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
        topt = (
            torch.optim.SGD([tp], lr=0.05, momentum=0.9)
            if name == "momentum"
            else torch.optim.Adam([tp], lr=0.05, betas=(0.9, 0.999), eps=1e-8)
        )
        c = torch.tensor(TARGET, dtype=torch.float64)
        for _ in range(20):
            quadratic_grads(params)
            opt.step(0.05)
            topt.zero_grad()
            ((tp - c) ** 2).sum().backward()
            topt.step()
        assert [p.data for p in params] == pytest.approx(tp.tolist(), rel=1e-10, abs=1e-12)


# -- schedules ----------------------------------------------------------------------------------
def test_constant_schedule():
    assert {lr_at("constant", e, 10, 0.3, 0.01) for e in range(10)} == {0.3}


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_linear_and_cosine_go_from_lr_to_lr_end(schedule):
    lrs = [lr_at(schedule, e, 100, 1.0, 0.1) for e in range(100)]
    assert lrs[0] == 1.0 and lrs[-1] == pytest.approx(0.1, abs=1e-15)
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))
    mid = lr_at(schedule, 50, 101, 1.0, 0.1)
    assert mid == pytest.approx(0.55)  # both pass the midpoint half way
    assert lr_at(schedule, 0, 1, 0.7, 0.1) == 0.7  # a one-epoch run uses lr


def test_linear_matches_micrograds_demo_schedule_shape():
    # micrograd's demo: lr = 1.0 - 0.9 * k / 100; ours reaches lr_end exactly at the end.
    assert lr_at("linear", 1, 101, 1.0, 0.1) == pytest.approx(1.0 - 0.9 * 1 / 100)


def test_step_schedule():
    lrs = [lr_at("step", e, 20, 0.8) for e in range(20)]
    assert lrs[:5] == [0.8] * 5 and lrs[5:10] == [0.4] * 5 and lrs[15:] == [0.1] * 5
    assert lr_at("step", 7, 20, 1.0, step_size=3, gamma=0.1) == pytest.approx(0.01)
    assert lr_at("step", 2, 3, 1.0) == 0.25  # step_size at least 1


@pytest.mark.parametrize("schedule", ["constant", "linear", "cosine", "step"])
def test_every_schedule_trains_a_small_problem(schedule):
    params = [Value(0.0) for _ in TARGET]
    opt = Momentum(params, 0.5)
    first = quadratic_grads(params)
    for e in range(60):
        quadratic_grads(params)
        opt.step(lr_at(schedule, e, 60, 0.2, 0.02))
    assert quadratic_grads(params) < 1e-3 * first
    assert math.isfinite(params[0].data)
