"""MNIST-1D: the paper's recipe, seeded like the other generators."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from microgradcli import mnist1d
from microgradcli.config import config_from_dict, load_config
from microgradcli.data import load_dataset
from microgradcli.train import train

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_templates_are_the_papers_whitened_digits():
    t = mnist1d.templates()
    assert t.shape == (10, 12)
    assert np.allclose(t[:, 0], 0.0)  # every digit starts at 0 ...
    assert np.allclose(t[:, -1], 0.0)  # ... and ends there (its first and last points agree)
    raw = np.array(mnist1d.TEMPLATES)
    white = (raw - raw.mean(1, keepdims=True)) / raw.std(1, keepdims=True)
    np.testing.assert_allclose(t * 6.0, white - white[:, :1], atol=1e-12)


def test_shapes_balance_and_standardisation():
    x, y = mnist1d.generate(1003, random.Random(0))
    a = np.array(x)
    assert a.shape == (1003, 40)
    counts = Counter(y)
    assert sorted(counts) == list(range(10))
    assert max(counts.values()) - min(counts.values()) <= 1
    assert abs(a.mean()) < 1e-12 and abs(a.std() - 1.0) < 1e-12


def test_the_same_seed_gives_the_same_samples_and_another_seed_others():
    def ds(seed):
        cfg = config_from_dict(
            {
                "seed": seed,
                "data": {"source": "mnist1d", "n_samples": 50},
                "train": {"loss": "cross_entropy"},
            }
        )
        return load_dataset(cfg)

    a, b, c = ds(3), ds(3), ds(4)
    assert a.x == b.x and a.y == b.y
    assert a.x != c.x
    assert a.features == [f"x{j}" for j in range(1, 41)]
    assert a.task.name == "multiclass" and a.n_outputs == 10


def test_noise_zero_leaves_the_shifted_digits():
    x, y = mnist1d.generate(20, random.Random(0), noise=0.0)
    assert np.isfinite(np.array(x)).all()


def test_the_blur_matches_a_gaussian_filter_with_mirrored_ends():
    # scipy.ndimage.gaussian_filter1d(x, 2) as a reference, written out: kernel to 4 sigma,
    # mode 'reflect' (d c b a | a b c d | d c b a)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 30))
    k = np.exp(-0.5 * (np.arange(-8, 9) / 2.0) ** 2)
    k /= k.sum()
    ext = np.concatenate([x[0, :8][::-1], x[0], x[0, -8:][::-1]])
    want = np.array([np.dot(k, ext[i : i + 17]) for i in range(30)])
    np.testing.assert_allclose(mnist1d._blur(x)[0], want, rtol=1e-13, atol=1e-15)


def test_a_small_sample_is_learned_well_above_chance(tmp_path):
    # 1000 samples, 10 epochs: far from the paper's 68%, far above chance (10%)
    cfg, base = load_config(
        CONFIGS / "mnist1d.yaml", ["data.n_samples=1000", "train.epochs=10", "train.exact=false"]
    )
    r = train(cfg, base, out=tmp_path / "m")
    assert r.history[-1]["val_accuracy"] > 0.3


def test_both_engines_agree_bit_for_bit_on_mnist1d(tmp_path):
    sets = ["data.n_samples=200", "model.hidden=[40, 30]", "train.epochs=1"]
    runs = []
    for engine in ("scalar", "tensor"):
        cfg, base = load_config(CONFIGS / "mnist1d.yaml", [*sets, f"train.engine={engine}"])
        runs.append(train(cfg, base, out=tmp_path / engine))
    a, b = runs
    assert a.checkpoint.model.state_dict() == b.checkpoint.model.state_dict()
    assert a.checkpoint.optimizer == b.checkpoint.optimizer
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]


@pytest.mark.parametrize("n", [10, 11, 19])
def test_tiny_sets_have_every_digit(n):
    _, y = mnist1d.generate(n, random.Random(1))
    assert set(y) == set(range(10))
