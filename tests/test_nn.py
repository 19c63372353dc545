"""Neurons, layers and MLPs: sizes, seeding, state round-trips, fused vs unfused paths."""

from __future__ import annotations

import json
import math
import random

import pytest

from microgradcli.engine import vsum
from microgradcli.nn import MLP, Layer, Neuron


def test_parameter_count_of_the_lecture_network():
    assert len(MLP(3, [4, 4, 1]).parameters()) == 41


def test_same_seed_same_weights_and_different_seed_differs():
    def weights(seed):
        return [p.data for p in MLP(3, [4, 4, 1], rng=random.Random(seed)).parameters()]

    assert weights(7) == weights(7)
    assert weights(7) != weights(8)


def test_one_neuron_layer_returns_a_list():
    out = Layer(2, 1)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 1
    assert len(MLP(2, [1])([1.0, 2.0])) == 1


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
def test_state_round_trip_gives_the_same_outputs(activation):
    model = MLP(3, [4, 4, 2], activation=activation, rng=random.Random(1))
    state = json.loads(json.dumps(model.state_dict()))
    copy = MLP.from_state_dict(state)
    x = [2.0, 3.0, -1.0]
    assert [v.data for v in model(x)] == [v.data for v in copy(x)]
    assert repr(copy) == repr(model)


def test_load_state_dict_rejects_another_architecture():
    state = MLP(3, [4, 1]).state_dict()
    with pytest.raises(ValueError, match="sizes"):
        MLP(3, [5, 1]).load_state_dict(state)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
def test_fused_and_unfused_paths_agree(activation):
    model = MLP(3, [5, 4, 2], activation=activation, rng=random.Random(3))
    xs = [[2.0, 3.0, -1.0], [0.5, -1.0, 1.0]]

    def run(fused):
        model.zero_grad()
        loss = vsum([o * o for x in xs for o in model(x, fused=fused)])
        loss.backward()
        return loss.data, [p.grad for p in model.parameters()]

    data_f, grads_f = run(True)
    data_u, grads_u = run(False)
    assert math.isclose(data_f, data_u, rel_tol=1e-12)
    for a, b in zip(grads_f, grads_u, strict=True):
        assert abs(a - b) <= 1e-12 * max(1.0, abs(b))


def test_activations_apply():
    n = Neuron(1, activation="relu", rng=random.Random(0))
    n.w[0].data, n.b.data = 1.0, 0.0
    assert n([-2.0]).data == 0.0
    n.activation = "sigmoid"
    assert n([0.0]).data == 0.5
    n.activation = "linear"
    assert n([-2.0]).data == -2.0


@pytest.mark.parametrize("init", ["uniform", "xavier", "he"])
def test_inits_have_sensible_scales(init):
    model = MLP(64, [64, 1], init=init, rng=random.Random(0))
    ws = [w.data for n in model.layers[0].neurons for w in n.w]
    std = math.sqrt(sum(w * w for w in ws) / len(ws))
    expected = {"uniform": 1 / math.sqrt(3), "xavier": math.sqrt(2 / 128), "he": math.sqrt(2 / 64)}
    assert math.isclose(std, expected[init], rel_tol=0.1)


def test_unknown_names_are_errors():
    with pytest.raises(ValueError, match="activation"):
        MLP(2, [1], activation="gelu")
    with pytest.raises(ValueError, match="init"):
        MLP(2, [1], init="zeros")
    with pytest.raises(ValueError, match="expected 2 inputs"):
        MLP(2, [1])([1.0])


def test_zero_grad_and_labels():
    model = MLP(2, [3, 1], rng=random.Random(0))
    model([1.0, 2.0])[0].backward()
    assert any(p.grad for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())
    assert model.layers[0].neurons[2].w[1].label == "L1.N3.w2"
    assert model.layers[1].neurons[0].b.label == "L2.N1.b"
    assert repr(model) == "MLP(2 -> 3 -> 1: [Layer(2 -> 3, relu), Layer(3 -> 1, linear)])"


def test_training_the_lecture_example_lowers_the_loss():
    model = MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh", rng=random.Random(0))
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    losses = []
    for _ in range(20):
        loss = vsum([(model(x)[0] - y) ** 2 for x, y in zip(xs, ys, strict=True)])
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
        losses.append(loss.data)
    assert losses[-1] < losses[0] * 0.5
