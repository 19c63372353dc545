"""Datasets: generators, inline and CSV sources, tasks and label encodings, splits, scaling."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from microgradcli.config import config_from_dict
from microgradcli.data import (
    generate,
    load_dataset,
    read_csv,
    split_indices,
    standardize,
)
from microgradcli.errors import InputError
from microgradcli.tasks import detect


def cfg(data: dict, loss: str = "hinge", seed: int = 1, **train):
    return config_from_dict({"seed": seed, "data": data, "train": {"loss": loss, **train}})


# -- generators -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "source, k, n, settings",
    [
        ("moons", 2, 101, {}),
        ("circles", 2, 60, {"factor": 0.5}),
        ("xor", 2, 100, {}),
        ("blobs", 4, 82, {"classes": 4}),
        ("spiral", 3, 90, {"classes": 3}),
    ],
)
def test_generators_shapes_balance_and_seeding(source, k, n, settings):
    x, y = generate(source, n, 0.1, seed=3, **settings)
    assert len(x) == len(y) == n
    assert all(len(row) == 2 and all(math.isfinite(v) for v in row) for row in x)
    counts = Counter(y)
    assert sorted(counts) == list(range(k))
    assert max(counts.values()) - min(counts.values()) <= 1  # balanced to within one
    assert generate(source, n, 0.1, seed=3, **settings) == (x, y)  # same seed, same samples
    assert generate(source, n, 0.1, seed=4, **settings)[0] != x  # another seed, others
    assert len(set(y[:10])) > 1  # shuffled, not sorted by class


def test_moons_without_noise_lie_on_their_half_circles():
    x, y = generate("moons", 40, 0.0, seed=0)
    for (a, b), label in zip(x, y, strict=True):
        if label == 0:
            assert math.hypot(a, b) == pytest.approx(1.0) and b >= -1e-12
        else:
            assert math.hypot(a - 1.0, b - 0.5) == pytest.approx(1.0) and b <= 0.5 + 1e-12


def test_circles_radii_and_xor_quadrants():
    x, y = generate("circles", 30, 0.0, seed=0, factor=0.3)
    for row, label in zip(x, y, strict=True):
        assert math.hypot(*row) == pytest.approx(1.0 if label == 0 else 0.3)
    x, y = generate("xor", 40, 0.0, seed=0)
    for (a, b), label in zip(x, y, strict=True):
        assert label == (1 if a * b > 0 else 0)


def test_generated_dataset_from_config():
    ds = load_dataset(cfg({"source": "spiral", "n_samples": 30, "classes": 5}, "cross_entropy"))
    assert (ds.task.name, ds.classes, ds.n_outputs, ds.features) == (
        "multiclass",
        [0, 1, 2, 3, 4],
        5,
        ["x1", "x2"],
    )
    assert Counter(ds.targets) == {j: 6 for j in range(5)}
    moons = load_dataset(cfg({"source": "moons", "n_samples": 20}))
    assert moons.classes == [0, 1] and set(moons.targets) == {-1.0, 1.0}  # 0/1 -> -1/+1 for hinge
    assert moons.x == load_dataset(cfg({"source": "moons", "n_samples": 20})).x
    assert moons.x != load_dataset(cfg({"source": "moons", "n_samples": 20}, seed=2)).x


# -- inline ------------------------------------------------------------------------------------
def test_inline_dataset_keeps_rows_and_labels():
    ds = load_dataset(
        cfg({"source": "inline", "x": [[2, 3, -1], [3, -1, 0.5]], "y": [1.0, -1.0]}, "mse")
    )
    assert ds.x == [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5]]
    assert (ds.task.name, ds.classes, ds.threshold, ds.targets) == (
        "binary",
        [-1, 1],
        0.0,
        [1.0, -1.0],
    )
    assert ds.features == ["x1", "x2", "x3"] and ds.n_features == 3
    assert ds.train_index == [0, 1] and ds.val_index == []


# -- CSV --------------------------------------------------------------------------------------------
def csv_file(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_csv_with_header_target_by_name_and_string_classes(tmp_path):
    p = csv_file(tmp_path, "a,kind,b\n1,cat,2\n3,dog,4\n\n5,ant,6\n")
    x, y, names = read_csv(p, "kind")
    assert (x, y, names) == (
        [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
        ["cat", "dog", "ant"],
        ["a", "b"],
    )
    c = cfg({"source": "csv", "path": str(p), "target": "kind"}, "cross_entropy")
    ds = load_dataset(c)
    assert ds.classes == ["ant", "cat", "dog"]  # a stable, sorted order
    assert ds.targets == [1, 2, 0]


def test_csv_without_header_target_by_index_and_default_last(tmp_path):
    p = csv_file(tmp_path, "1,2,0\n3,4,1\n5,6,1\n")
    x, y, names = read_csv(p)
    assert (x, y, names) == ([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [0, 1, 1], ["x1", "x2"])
    x, y, _ = read_csv(p, 0)
    assert x[0] == [2.0, 0.0] and y == [1, 3, 5]
    assert read_csv(p, -2)[1] == [2, 4, 6]
    assert read_csv(p, "1")[1] == [2, 4, 6]  # an index given as text
    # A header row of numbers is still taken as a header when asked to.
    assert read_csv(p, header=True)[2] == ["1", "2"]


def test_csv_trailing_comma_on_every_line_is_not_a_column(tmp_path):
    p = csv_file(tmp_path, "a,b,y,\n1,2,1,\n3,4,0,\n")
    assert read_csv(p) == ([[1.0, 2.0], [3.0, 4.0]], [1, 0], ["a", "b"])


def test_csv_relative_path_against_base_dir(tmp_path):
    csv_file(tmp_path, "u,v,label\n0.5,1,yes\n1.5,2,no\n")
    c = cfg({"source": "csv", "path": "t.csv"}, "bce")
    ds = load_dataset(c, tmp_path)
    assert (ds.task.name, ds.classes, ds.targets) == ("binary", ["no", "yes"], [1.0, 0.0])


@pytest.mark.parametrize(
    "text, target, message",
    [
        ("a,b,y\n1,2,0\n1,x,1\n", None, "t.csv:3: column 'b' must be a finite number, got 'x'"),
        ("a,b,y\n1,2,0\n1,2\n", None, "t.csv:3: row has 2 values; the file has 3 columns"),
        ("a,b,y\n1,2,0\n1,nan,1\n", None, "t.csv:3: column 'b' must be a finite number"),
        ("a,b,y\n1,2,0\n1,2, \n", None, "t.csv:3: the target column 'y' is empty"),
        ("a,b,y\n1,2,0\n", "z", "data.target 'z' is not a column (columns: a, b, y)"),
        ("a,b,yy\n1,2,0\n", "y", "did you mean 'yy'?"),
        ("1,2,0\n3,4,1\n", "y", "names a column, but the file has no header"),
        ("1,2,0\n3,4,1\n", 3, "data.target 3 is out of range; the file has 3 columns"),
        ("", None, "the CSV file is empty"),
        ("a,b,y\n", None, "has a header but no rows"),
        ("1\n2\n", None, "needs at least one feature column and a target column"),
    ],
)
def test_csv_errors_name_file_and_line(tmp_path, text, target, message):
    with pytest.raises(InputError) as info:
        read_csv(csv_file(tmp_path, text), target)
    assert message in str(info.value)


def test_missing_csv_file(tmp_path):
    with pytest.raises(InputError, match="no such data file"):
        load_dataset(cfg({"source": "csv", "path": "missing.csv"}), tmp_path)


def test_shipped_csv_example():
    ds = load_dataset(
        config_from_dict(
            {
                "data": {"source": "csv", "path": "data/flowers.csv", "target": "species"},
                "train": {"loss": "cross_entropy"},
            }
        ),
        Path("."),
    )
    assert ds.features == ["petal_length", "petal_width", "sepal_length", "sepal_width"]
    assert ds.classes == ["alba", "lutea", "rosea"]
    assert Counter(ds.targets) == {0: 30, 1: 30, 2: 30}


# -- tasks ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "y, loss, task, classes, targets, threshold",
    [
        ([1, -1, 1], "hinge", "binary", [-1, 1], [1.0, -1.0, 1.0], 0.0),
        ([1, 0, 1], "hinge", "binary", [0, 1], [1.0, -1.0, 1.0], 0.0),
        ([1.0, -1.0], "bce", "binary", [-1, 1], [1.0, 0.0], 0.0),
        (["no", "yes"], "bce", "binary", ["no", "yes"], [0.0, 1.0], 0.0),
        ([1, -1], "mse", "binary", [-1, 1], [1.0, -1.0], 0.0),
        ([0, 1, 1], "mse", "binary", [0, 1], [0.0, 1.0, 1.0], 0.5),
        (["b", "a"], "mse", "binary", ["a", "b"], [1.0, -1.0], 0.0),
        ([0.5, 2.0, -1.0], "mse", "regression", None, [0.5, 2.0, -1.0], 0.0),
        ([1, 2, 3], "mse", "regression", None, [1.0, 2.0, 3.0], 0.0),
        ([2, 0, 1, 2], "cross_entropy", "multiclass", [0, 1, 2], [2, 0, 1, 2], 0.0),
        ([1.0, 3.0], "cross_entropy", "multiclass", [1, 3], [0, 1], 0.0),
        (["b", "c", "a"], "cross_entropy", "multiclass", ["a", "b", "c"], [1, 2, 0], 0.0),
    ],
)
def test_task_detection_and_encoding(y, loss, task, classes, targets, threshold):
    found, encoded = detect(y, loss)
    assert (found.name, found.classes, encoded, found.threshold) == (
        task,
        classes,
        targets,
        threshold,
    )


@pytest.mark.parametrize(
    "y, loss, message",
    [
        (
            [0, 1, 2],
            "hinge",
            "is for two classes, but the data has 3 labels (0, 1, 2); use train.loss cross_entropy",
        ),
        ([1, 1], "bce", "only one label (1)"),
        (
            [0.5, 1.5, -0.2],
            "bce",
            "3 labels (-0.2, 0.5, 1.5); for real-valued targets use train.loss mse",
        ),
        (["a", "b", "c"], "mse", "use train.loss cross_entropy"),
        ([0.5, 1.0], "cross_entropy", "needs class labels (integers or names), but a label is 0.5"),
        ([3, 3], "cross_entropy", "needs at least 2 classes"),
    ],
)
def test_task_errors(y, loss, message):
    with pytest.raises(InputError) as info:
        detect(y, loss)
    assert message in str(info.value)


# -- split and normalisation ----------------------------------------------------------------------------
def test_split_is_seeded_disjoint_and_complete():
    train, val = split_indices(50, 0.2, seed=1)
    assert len(val) == 10 and len(train) == 40
    assert sorted(train + val) == list(range(50))
    assert split_indices(50, 0.2, seed=1) == (train, val)
    assert split_indices(50, 0.2, seed=2) != (train, val)
    assert split_indices(5, 0.01, seed=1)[1] != []  # at least one validation sample
    assert split_indices(5, 0.0, seed=1) == ([0, 1, 2, 3, 4], [])
    with pytest.raises(InputError, match="leaves no training samples"):
        split_indices(2, 0.9, seed=1)


def test_normalize_uses_training_rows_only():
    c = cfg(
        {"source": "blobs", "n_samples": 40, "val_split": 0.25, "normalize": True}, "cross_entropy"
    )
    ds = load_dataset(c)
    train = ds.inputs(ds.train_index)
    for j in range(2):
        col = [row[j] for row in train]
        assert sum(col) / len(col) == pytest.approx(0.0, abs=1e-12)
        assert math.sqrt(sum(v * v for v in col) / len(col)) == pytest.approx(1.0)
    assert ds.normalize == standardize([ds.x[i] for i in ds.train_index])
    val = ds.inputs(ds.val_index)
    assert sum(row[0] for row in val) / len(val) != pytest.approx(0.0, abs=1e-12)


def test_constant_feature_gets_unit_std():
    stats = standardize([[1.0, 5.0], [3.0, 5.0]])
    assert stats == {"mean": [2.0, 5.0], "std": [1.0, 1.0]}


def test_standardize_refuses_features_too_large_for_a_float():
    with pytest.raises(InputError, match="data.normalize: feature 2 is too large"):
        standardize([[1.0, 1e308], [2.0, -1e308]])
