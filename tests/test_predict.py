"""Reading input rows, predicting with a checkpoint, evaluating on a dataset."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradcli.checkpoint import Checkpoint
from microgradcli.data import Dataset
from microgradcli.errors import InputError
from microgradcli.nn import MLP
from microgradcli.predict import (
    evaluate,
    predict_rows,
    read_dataset,
    read_rows,
)

NORM = {"mean": [0.5, -1.0], "std": [2.0, 0.25]}


@pytest.fixture(scope="module")
def binary() -> Checkpoint:
    return Checkpoint(
        model=MLP(2, [8, 1], rng=random.Random(0)),
        task="binary",
        classes=[-1, 1],
        normalize=NORM,
        features=["a", "b"],
    )


@pytest.fixture(scope="module")
def multi() -> Checkpoint:
    return Checkpoint(
        model=MLP(2, [6, 3], activation="tanh", rng=random.Random(1)),
        task="multiclass",
        classes=["red", "green", "blue"],
    )


@pytest.fixture(scope="module")
def regress() -> Checkpoint:
    return Checkpoint(model=MLP(3, [4, 1], rng=random.Random(2)), task="regression")


def forward(ckpt: Checkpoint, row: list[float]) -> list[float]:
    """The model's own forward pass on a normalised row, written out here."""
    x = row
    if ckpt.normalize:
        x = [
            (v - m) / s
            for v, m, s in zip(row, ckpt.normalize["mean"], ckpt.normalize["std"], strict=True)
        ]
    return [v.data for v in ckpt.model(x)]


def rows_of(tmp_path, name: str, text: str, ckpt: Checkpoint):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return [r.values for r in read_rows(p, ckpt.nin, ckpt.input_names)]


# -- predictions ---------------------------------------------------------------------
def test_predictions_equal_the_forward_pass_with_normalisation(binary):
    rng = random.Random(5)
    rows = [[rng.uniform(-3, 3), rng.uniform(-3, 3)] for _ in range(20)]
    from microgradcli.predict import Row

    results = list(predict_rows(binary, (Row(r, i) for i, r in enumerate(rows, 1))))
    for row, res in zip(rows, results, strict=True):
        (out,) = forward(binary, row)
        assert res["input"] == row
        assert res["output"] == out
        assert res["label"] == (1 if out > 0 else -1)
    # the saved normalisation matters: without it the outputs differ
    raw = [binary.model(r)[0].data for r in rows]
    assert raw != [r["output"] for r in results]


def test_multiclass_label_is_the_argmax_with_softmax_probabilities(multi, tmp_path):
    rows = rows_of(tmp_path, "in.jsonl", "[0.1, 0.2]\n[-2, 3]\n[4, -1]\n", multi)
    for row, res in zip(rows, predict_rows(multi, _rows(rows)), strict=True):
        outs = forward(multi, row)
        assert res["output"] == outs
        assert res["label"] == multi.classes[outs.index(max(outs))]
        assert sum(res["probabilities"].values()) == pytest.approx(1.0)
        assert list(res["probabilities"]) == [str(c) for c in multi.classes]


def _rows(rows):
    from microgradcli.predict import Row

    return (Row(r, i) for i, r in enumerate(rows, 1))


# -- reading rows --------------------------------------------------------------------
def test_csv_with_and_without_header(binary, tmp_path):
    assert rows_of(tmp_path, "a.csv", "1,2\n3.5,-4e-1\n", binary) == [[1, 2], [3.5, -0.4]]
    # a header naming the features picks and orders the columns; extra columns are ignored
    text = "\ufeffb,label,a\n1,yes,2\n\n# a comment\n3,no,4\n"
    assert rows_of(tmp_path, "b.csv", text, binary) == [[2, 1], [4, 3]]
    # a trailing comma (as spreadsheets write) is no extra value
    assert rows_of(tmp_path, "d.csv", "a,b,\n5,6,\n7,8\n", binary) == [[5, 6], [7, 8]]


@pytest.mark.parametrize(
    "header, message",
    [
        (
            "u,v",
            "the header has no column a, b; it names u, v instead; the model's inputs are a, b",
        ),
        ("a,c", "the header has no column b; it names c instead; the model's inputs are a, b"),
        ("b", "the header has no column a; the model's inputs are a, b"),
    ],
)
def test_a_header_is_matched_by_name_never_by_position(binary, tmp_path, header, message):
    """issue 10 item 10: `x1,x3` used to feed x3 as x2."""
    with pytest.raises(InputError, match=f"h.csv:1: {message}"):
        rows_of(tmp_path, "h.csv", f"{header}\n5,6\n", binary)


def test_json_lines_arrays_objects_and_predict_output(binary, tmp_path):
    text = '[1, 2]\n{"b": 4, "a": 3}\n\n{"input": [5, 6], "output": 0.3, "label": 1}\n'
    assert rows_of(tmp_path, "r.jsonl", text, binary) == [[1, 2], [3, 4], [5, 6]]
    # no telling extension: sniffed from the first line
    assert rows_of(tmp_path, "r.data", "[7, 8]\n", binary) == [[7, 8]]
    assert rows_of(tmp_path, "s.data", "7,8\n", binary) == [[7, 8]]


def test_rows_are_read_lazily(binary, tmp_path):
    p = tmp_path / "lazy.csv"
    p.write_text("1,2\n1,2,3\n")
    it = read_rows(p, 2)
    assert next(it).values == [1, 2]  # the bad second row is not read yet
    with pytest.raises(InputError):
        next(it)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("w.csv", "1,2\n1,2,3\n", "w.csv:2: row has 3 values; the model takes 2 (a, b)"),
        ("w1.csv", "1\n", "w1.csv:1: row has 1 value; the model takes 2 (a, b)"),
        ("n.csv", "1,2\n\n3,x\n", "n.csv:3: column 2: 'x' is not a number"),
        ("f.csv", "1,inf\n", "f.csv:1: column 2: 'inf' is not a finite number"),
        ("h.csv", "p,q,r\n1,2,3\n", "h.csv:1: the header has no column a, b; it names p, q, r"),
        ("hw.csv", "a,b,y\n1,2,3\n1,2\n", "hw.csv:3: row has 2 values; the header has 3 columns"),
        ("w.jsonl", "[1, 2]\n[1]\n", "w.jsonl:2: row has 1 value; the model takes 2"),
        ("t.jsonl", "[1, true]\n", "t.jsonl:1: value 2: true is not a number"),
        ("s.jsonl", '[1, "2x"]\n', "s.jsonl:1: value 2: '2x' is not a number"),
        ("j.jsonl", "[1, 2\n", "j.jsonl:1:6: not valid JSON"),
        ("o.jsonl", '{"a": 1}\n', "o.jsonl:1: the object has no 'b'"),
        ("k.jsonl", '"hello"\n', "k.jsonl:1: expected an array of numbers"),
    ],
)
def test_bad_rows_name_the_file_and_line(binary, tmp_path, name, text, message):
    with pytest.raises(InputError) as e:
        rows_of(tmp_path, name, text, binary)
    assert message in str(e.value)


def test_missing_or_unreadable_input(binary, tmp_path):
    with pytest.raises(InputError, match="no such input file"):
        list(read_rows(tmp_path / "nope.csv", 2))
    with pytest.raises(InputError, match="is a folder"):
        list(read_rows(tmp_path, 2))
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(
        InputError,
        match=r"bin.csv: cannot read the input file: it is not UTF-8 text \(byte 0xff at offset 0\)",
    ):
        list(read_rows(tmp_path / "bin.csv", 2))


# -- evaluation ----------------------------------------------------------------------
def test_evaluate_binary_hinge_and_confusion(binary, tmp_path):
    rng = random.Random(3)
    rows = [[rng.uniform(-3, 3), rng.uniform(-3, 3)] for _ in range(30)]
    labels = [rng.choice([-1, 1]) for _ in rows]
    text = "a,b,y\n" + "".join(f"{r[0]},{r[1]},{y}\n" for r, y in zip(rows, labels, strict=True))
    (tmp_path / "d.csv").write_text(text)
    data = read_dataset(tmp_path / "d.csv", binary)
    assert data.x == rows and [int(y) for y in data.y] == labels
    res = evaluate(binary, data, loss="hinge")
    outs = [forward(binary, r)[0] for r in rows]
    want = sum(max(0.0, 1 - y * o) for y, o in zip(labels, outs, strict=True)) / len(rows)
    assert res["loss"] == pytest.approx(want, rel=1e-12)
    preds = [1 if o > 0 else -1 for o in outs]
    correct = sum(p == y for p, y in zip(preds, labels, strict=True))
    assert res["accuracy"] == correct / len(rows) and res["correct"] == correct
    m = res["confusion"]["matrix"]
    assert res["confusion"]["labels"] == [-1, 1]
    for i, t in enumerate([-1, 1]):
        for j, p in enumerate([-1, 1]):
            assert m[i][j] == sum(y == t and q == p for y, q in zip(labels, preds, strict=True))
    # 0/1 labels for a -1/1 model are understood
    zero_one = Dataset(rows, [(y + 1) // 2 for y in labels], ["a", "b"], name="z")
    assert evaluate(binary, zero_one, loss="hinge")["loss"] == res["loss"]


def test_evaluate_multiclass_cross_entropy(multi):
    rows = [[0.1, 0.2], [-2.0, 3.0], [4.0, -1.0], [1.0, 1.0]]
    labels = ["red", "blue", "green", "blue"]
    res = evaluate(multi, Dataset(rows, labels, ["a", "b"], name="m"))
    assert res["loss_name"] == "cross_entropy"
    ce = 0.0
    for r, y in zip(rows, labels, strict=True):
        outs = forward(multi, r)
        ce += -math.log(math.exp(outs[multi.classes.index(y)]) / sum(map(math.exp, outs)))
    assert res["loss"] == pytest.approx(ce / len(rows), rel=1e-12)
    assert sum(map(sum, res["confusion"]["matrix"])) == 4
    with pytest.raises(InputError, match="'purple' is not one of the model's classes"):
        evaluate(multi, Dataset(rows, ["purple"] * 4, ["a", "b"], name="m"))


def test_evaluate_regression_csv_target_by_name(regress, tmp_path):
    (tmp_path / "r.csv").write_text("y,p,q,r\n1.5,1,2,3\n-2,0,0,1\n")
    regress.config = {"data": {"source": "csv", "target": "y"}}
    try:
        data = read_dataset(tmp_path / "r.csv", regress)
    finally:
        regress.config = {}
    assert data.x == [[1, 2, 3], [0, 0, 1]] and data.y == [1.5, -2.0]
    res = evaluate(regress, data)
    errs = [forward(regress, r)[0] - y for r, y in zip(data.x, data.y, strict=True)]
    assert res["loss"] == pytest.approx(sum(e * e for e in errs) / 2, rel=1e-12)
    assert res["mae"] == pytest.approx(sum(map(abs, errs)) / 2, rel=1e-12)
    assert res["accuracy"] is None and res["confusion"] is None


def test_csv_dataset_errors(binary, tmp_path):
    (tmp_path / "w.csv").write_text("1,2,3,1\n")
    with pytest.raises(InputError, match="3 feature columns besides the target; the model takes 2"):
        read_dataset(tmp_path / "w.csv", binary)
    (tmp_path / "r.csv").write_text("1,2,1\n1,2\n")
    with pytest.raises(InputError, match=r"r.csv:2: row has 2 values"):
        read_dataset(tmp_path / "r.csv", binary)
    (tmp_path / "e.csv").write_text("\n")
    with pytest.raises(InputError, match="empty"):
        read_dataset(tmp_path / "e.csv", binary)
    with pytest.raises(InputError, match="no such data file"):
        read_dataset(tmp_path / "none.csv", binary)
    (tmp_path / "huge.csv").write_text("1," + "9" * 200_000 + ",1\n")
    with pytest.raises(InputError, match="huge.csv:1: not valid CSV"):
        read_dataset(tmp_path / "huge.csv", binary)
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputError, match="dir.csv: is a folder"):
        read_dataset(tmp_path / "dir.csv", binary)


def test_csv_dataset_trailing_comma_on_every_line(binary, tmp_path):
    (tmp_path / "t.csv").write_text("a,b,y,\n1,2,1,\n3,4,-1,\n")
    ds = read_dataset(tmp_path / "t.csv", binary)
    assert ds.x == [[1.0, 2.0], [3.0, 4.0]]


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(deadline=None, max_examples=25, derandomize=True)
@given(rows=st.lists(st.lists(finite, min_size=2, max_size=2), min_size=1, max_size=5))
def test_rows_round_trip_through_csv_and_json_lines(tmp_path_factory, rows):
    d = tmp_path_factory.mktemp("rt")
    (d / "r.csv").write_text("".join(f"{a!r},{b!r}\n" for a, b in rows))
    (d / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for name in ("r.csv", "r.jsonl"):
        assert [r.values for r in read_rows(d / name, 2)] == rows


def test_eval_reads_a_csv_as_training_did(tmp_path):
    """The training config's delimiter, header and target apply: one CSV reader for both."""
    data = {"source": "csv", "path": "t.csv", "delimiter": ";", "target": "label", "header": True}
    ckpt = Checkpoint(
        model=MLP(2, [4, 1], rng=random.Random(0)),
        task="binary",
        classes=[0, 1],
        features=["b", "a"],
        config={"data": data},
    )
    (tmp_path / "t.csv").write_text("a;label;b\n1;0;2\n3;1;4\n")
    ds = read_dataset(tmp_path / "t.csv", ckpt)
    assert ds.x == [[2.0, 1.0], [4.0, 3.0]]  # the model's feature order, not the file's
    assert [int(v) for v in ds.y] == [0, 1]
    res = evaluate(ckpt, ds)
    assert res["accuracy"] is not None and res["rows"] == 2
