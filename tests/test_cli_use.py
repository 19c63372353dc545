"""`mg predict`, `mg eval` and `mg plot` from the command line."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microgradcli.checkpoint import Checkpoint
from microgradcli.cli import app
from microgradcli.nn import MLP

runner = CliRunner()
NORM = {"mean": [0.5, -1.0], "std": [2.0, 0.25]}


def mg(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def one_error_line(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    binary = Checkpoint(
        model=MLP(2, [8, 1], rng=random.Random(0)),
        task="binary",
        classes=[-1, 1],
        normalize=NORM,
        config={"name": "demo"},
    )
    binary.save(d / "binary.json")
    multi = Checkpoint(
        model=MLP(2, [6, 3], activation="tanh", rng=random.Random(1)),
        task="multiclass",
        classes=["red", "green", "blue"],
    )
    multi.save(d / "multi.json")
    wide = Checkpoint(model=MLP(3, [4, 1], rng=random.Random(2)), task="regression")
    wide.save(d / "wide.json")
    (d / "corrupt.json").write_text('{"format": "mg-checkpoint", "vers')
    data = json.loads((d / "binary.json").read_text())
    data["version"] = 99
    (d / "future.json").write_text(json.dumps(data))
    return {"dir": d, "binary": binary, "multi": multi, "wide": wide}


def path(models, name: str) -> str:
    return str(models["dir"] / name)


# -- mg predict ----------------------------------------------------------------------
def test_predict_json_equals_the_checkpoint(models, tmp_path):
    rows = [[0.5, -0.2], [3.0, 1.0], [-2.0, -4.5]]
    (tmp_path / "in.csv").write_text("x1,x2\n" + "".join(f"{a},{b}\n" for a, b in rows))
    r = mg("predict", path(models, "binary.json"), str(tmp_path / "in.csv"), "--json")
    assert r.exit_code == 0, r.output
    got = [json.loads(line) for line in r.stdout.splitlines()]
    assert [g["input"] for g in got] == rows
    for g, row in zip(got, rows, strict=True):
        want = models["binary"].predict(row)
        assert g["output"] == want["output"] and g["label"] == want["label"]
        assert set(g) == {"input", "output", "label"}


def test_predict_human_table(models):
    r = mg("predict", path(models, "multi.json"), "-", input="[0.5, -0.2]\n[3, 1]\n")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["x1", "x2", "label", "probability"]
    assert len(lines) == 3
    label = models["multi"].predict([3.0, 1.0])["label"]
    assert lines[2].split()[:3] == ["3", "1", label]
    r = mg("predict", path(models, "binary.json"), "-", input="1,2\n")
    assert r.stdout.splitlines()[0].split() == ["x1", "x2", "output", "label"]


@pytest.mark.parametrize(
    ("model", "rows", "message"),
    [
        ("binary.json", "1,2\n1,2,3\n", "error: <stdin>:2: row has 3 values; the model takes 2"),
        ("binary.json", "[1, 2]\n[1, 2, 3]\n", "error: <stdin>:2: row has 3 values"),
        ("binary.json", "1,2\n3,abc\n", "error: <stdin>:2: column 2: 'abc' is not a number"),
        ("missing.json", "1,2\n", "missing.json: no such model file"),
        ("corrupt.json", "1,2\n", "corrupt.json:1:29: the model file is not valid JSON"),
        ("future.json", "1,2\n", "checkpoint format version 99 is not supported"),
    ],
)
def test_predict_errors(models, rows, model, message):
    r = mg("predict", path(models, model), "-", input=rows)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_model_from_stdin(models, tmp_path):
    (tmp_path / "in.csv").write_text("0.5,-0.2\n")
    model_json = (models["dir"] / "binary.json").read_text()
    r = mg("predict", "-", str(tmp_path / "in.csv"), "--json", input=model_json)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["output"] == models["binary"].predict([0.5, -0.2])["output"]
    (tmp_path / "pts.csv").write_text("0.5,-0.2,1\n1,2,-1\n")
    out = tmp_path / "b.svg"
    r = mg(
        "plot", "boundary", "-", "-o", str(out), "-d", str(tmp_path / "pts.csv"), input=model_json
    )
    assert r.exit_code == 0 and out.exists(), r.output
    assert "both come from stdin" in one_error_line(mg("predict", "-", "-", input=model_json))
    assert "both come from stdin" in one_error_line(mg("eval", "-", "-d", "-", input=model_json))
    assert "stdin: no model" in one_error_line(mg("eval", "-", "-d", "x.csv", input=""))


def test_shipped_points_csv_predicts_with_a_two_input_model(models):
    # SPEC section 6: mg predict runs/moons/model.json data/points.csv
    points = Path(__file__).resolve().parents[1] / "data" / "points.csv"
    r = mg("predict", path(models, "binary.json"), str(points), "--json")
    assert r.exit_code == 0, r.output
    assert len(r.stdout.splitlines()) == len(points.read_text().splitlines()) - 1


def test_predict_missing_input(models, tmp_path):
    line = one_error_line(mg("predict", path(models, "binary.json"), str(tmp_path / "no.csv")))
    assert "no.csv: no such input file" in line


def test_predict_streams_stdin_in_a_real_process(models):
    """Each result comes out before the next row goes in."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "microgradcli",
            "predict",
            path(models, "binary.json"),
            "-",
            "--json",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MG_DEBUG": "0"},
    )
    try:
        for row in ([0.5, -0.2], [2.0, 3.0], [-1.0, 0.25]):
            proc.stdin.write(json.dumps(row) + "\n")
            proc.stdin.flush()
            got = json.loads(proc.stdout.readline())
            assert got["input"] == row
            assert got["output"] == models["binary"].predict(row)["output"]
        proc.stdin.write("[1, 2, 3]\n")
        proc.stdin.close()
        assert proc.stdout.read() == ""
        assert proc.wait(timeout=30) == 2
        err = proc.stderr.read()
        assert err.startswith("error: <stdin>:4: row has 3 values") and err.count("\n") == 1
    finally:
        proc.kill()
        proc.wait()


# -- mg eval -------------------------------------------------------------------------
def test_eval_csv_json_and_human(models, tmp_path):
    rows = [([0.5, -0.2], 1), ([3.0, 1.0], -1), ([-2.0, -4.5], 1), ([1.0, -1.0], -1)]
    (tmp_path / "d.csv").write_text("".join(f"{a},{b},{y}\n" for (a, b), y in rows))
    r = mg("eval", path(models, "binary.json"), "--data", str(tmp_path / "d.csv"), "--json")
    assert r.exit_code == 0, r.output
    (res,) = [json.loads(line) for line in r.stdout.splitlines()]
    preds = [models["binary"].predict(x)["label"] for x, _ in rows]
    correct = sum(p == y for p, (_, y) in zip(preds, rows, strict=True))
    assert res["accuracy"] == correct / 4 and res["rows"] == 4 and res["loss_name"] == "hinge"
    assert res["confusion"]["labels"] == [-1, 1]
    assert sum(map(sum, res["confusion"]["matrix"])) == 4
    r = mg("eval", path(models, "binary.json"), "--data", str(tmp_path / "d.csv"))
    assert r.exit_code == 0, r.output
    assert "accuracy" in r.stdout and "confusion matrix (rows: true class" in r.stdout


def test_eval_errors(models, tmp_path):
    (tmp_path / "w.csv").write_text("1,2,3,1\n")
    line = one_error_line(mg("eval", path(models, "binary.json"), "-d", str(tmp_path / "w.csv")))
    assert "3 feature columns besides the target; the model takes 2" in line
    line = one_error_line(mg("eval", path(models, "binary.json"), "-d", str(tmp_path / "x.csv")))
    assert "no such data file" in line
    one_error_line(mg("eval", path(models, "corrupt.json"), "-d", str(tmp_path / "w.csv")))


# -- mg plot -------------------------------------------------------------------------
def test_plot_fn_svg(tmp_path):
    out = tmp_path / "tanh.svg"
    r = mg("plot", "fn", "tanh(x)", "--range", "-5:5", "-o", str(out), "--points", "50")
    assert r.exit_code == 0, r.output
    assert ET.parse(out).getroot().tag.endswith("svg")
    assert r.stdout == "" and "wrote" in r.stderr


def test_plot_loss_png_from_a_run_folder(tmp_path):
    (tmp_path / "log.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "epoch": e,
                    "loss": 1 / e,
                    "accuracy": 0.5,
                    "val_loss": None,
                    "val_accuracy": None,
                    "lr": 0.1,
                    "time": e,
                }
            )  # fmt: skip
            + "\n"
            for e in range(1, 6)
        )
    )
    out = tmp_path / "loss.png"
    r = mg("plot", "loss", str(tmp_path), "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_plot_boundary_with_csv_points(models, tmp_path):
    (tmp_path / "pts.csv").write_text("x1,x2,y\n0,0,1\n2,-1,-1\n-1,-2,1\n")
    out = tmp_path / "b.svg"
    r = mg("plot", "boundary", path(models, "binary.json"), "--data", str(tmp_path / "pts.csv"),
           "-o", str(out), "--resolution", "20")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert ET.parse(out).getroot().tag.endswith("svg")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fn", "x", "--range", "5:-5"], "range '5:-5' is empty"),
        (["fn", "x", "--range=a:b"], "range 'a:b': A and B must be numbers"),
        (["fn", "x*y"], "has 2 variables"),
        (["fn", "x", "-o", "OUT.gif"], "extension '.gif'"),
        (["loss", "MISSING"], "no such log file"),
        (["loss", "BADLOG"], "log.jsonl:2:2: not valid JSON"),
        (["boundary", "WIDE"], "models with 2 inputs; this one takes 3"),
        (["boundary", "CORRUPT"], "not valid JSON"),
        (["boundary", "FUTURE"], "version 99 is not supported"),
        (["boundary", "BINARY"], "no data points to cover with the grid; give --data"),
    ],
)
def test_plot_errors_write_nothing(models, tmp_path, args, message):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.jsonl").write_text('{"epoch": 1, "loss": 1}\n{oops\n')
    subs = {
        "MISSING": str(tmp_path / "nope"),
        "BADLOG": str(tmp_path / "run"),
        "WIDE": path(models, "wide.json"),
        "CORRUPT": path(models, "corrupt.json"),
        "FUTURE": path(models, "future.json"),
        "BINARY": path(models, "binary.json"),
        "OUT.gif": str(tmp_path / "out.gif"),
    }
    args = [subs.get(a, a) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "out.svg")]
    line = one_error_line(mg("plot", *args))
    assert message in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing written


def test_plot_png_refuses_a_terminal():
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "microgradcli", "plot", "fn", "x", "-o", "-", "-f", "png"],
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("error: PNG is binary") and b"-o" in proc.stderr


def test_error_exit_code_in_a_real_process(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "microgradcli",
            "plot",
            "fn",
            "x",
            "--range=5:-5",
            "-o",
            str(tmp_path / "f.svg"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.startswith("error: range '5:-5' is empty") and r.stderr.count("\n") == 1
    assert not (tmp_path / "f.svg").exists()


def test_command_modules_import_no_plotting_libraries():
    code = (
        "import sys, microgradcli.cli.use, microgradcli.cli.plot; "
        "print(sorted(m for m in ('matplotlib', 'numpy') if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stderr


# -- with a real training run ----------------------------------------------------------
MOONS = """\
name: tiny-moons
seed: 3
data: {source: moons, n_samples: 40, noise: 0.1, val_split: 0.25, normalize: true}
model: {hidden: [8], activation: relu}
train: {epochs: 15, loss: hinge, lr: 0.5}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("trained")
    (d / "moons.yaml").write_text(MOONS)
    r = mg("train", str(d / "moons.yaml"), "--out", str(d / "run"), "--quiet")
    assert r.exit_code == 0, r.output
    return d


def test_eval_on_the_validation_split_matches_the_training_log(trained):
    log = [json.loads(line) for line in (trained / "run" / "log.jsonl").read_text().splitlines()]
    model, cfg = str(trained / "run" / "model.json"), str(trained / "moons.yaml")
    r = mg("eval", model, "--data", cfg, "--split", "val", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["rows"] == 10 and res["loss_name"] == "hinge"
    assert res["loss"] == pytest.approx(log[-1]["val_loss"], rel=1e-12, abs=1e-15)
    assert res["accuracy"] == log[-1]["val_accuracy"]
    r = mg("eval", model, "--data", "-", "--json", input=MOONS)  # a config on stdin
    assert json.loads(r.stdout)["rows"] == 40 and json.loads(r.stdout)["data"] == "<stdin>"
    assert json.loads(r.stdout)["confusion"]["labels"] == [0, 1]


def test_plot_boundary_and_loss_of_a_run(trained):
    from microgradcli.checkpoint import load_checkpoint
    from microgradcli.config import load_config
    from microgradcli.data import load_dataset
    from microgradcli.predict import training_dataset

    ckpt = load_checkpoint(trained / "run" / "model.json")
    points = training_dataset(ckpt)  # the boundary's default points: the run's own data
    assert points.x == load_dataset(load_config(trained / "moons.yaml")[0]).x
    r = mg("plot", "boundary", str(trained / "run" / "model.json"), "-o", "-", "--resolution", "20")
    assert r.exit_code == 0, r.output
    assert ET.fromstring(r.stdout_bytes).tag.endswith("svg")  # -o - : SVG on stdout
    out = trained / "loss.svg"
    r = mg("plot", "loss", str(trained / "run"), "-o", str(out))
    assert r.exit_code == 0, r.output
    assert ET.parse(out).getroot().tag.endswith("svg")


def test_multiclass_predict_json_maps_class_names_to_probabilities(models):
    r = mg("predict", path(models, "multi.json"), "-", "--json", input="[0.5, -0.2]\n")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert list(res["probabilities"]) == ["red", "green", "blue"]
    assert max(res["probabilities"], key=res["probabilities"].get) == res["label"]


def test_eval_defaults_to_the_models_own_data_and_reports_the_split(trained):
    """issue 10 item 13: no --data needed; "split" is its own key."""
    model, cfg = str(trained / "run" / "model.json"), str(trained / "moons.yaml")
    for split in ("all", "val"):
        own = json.loads(mg("eval", model, "--split", split, "--json").stdout)
        given = json.loads(mg("eval", model, "--data", cfg, "--split", split, "--json").stdout)
        assert own["split"] == given["split"] == split
        assert "[" not in own["data"] and given["data"] == cfg
        assert {k: v for k, v in own.items() if k != "data"} == {
            k: v for k, v in given.items() if k != "data"
        }
    r = mg("eval", model, "--split", "val")
    assert r.exit_code == 0 and "training data (moons) [val] (10 rows)" in r.stdout


def test_eval_without_data_needs_a_model_with_a_config(models):
    line = one_error_line(mg("eval", path(models, "multi.json")))
    assert "holds no config to find its training data; give --data" in line


@pytest.mark.parametrize(
    "args, data, offset",
    [
        (["predict", "MODEL", "-"], b"1,2\n\xff\n", 4),
        (["predict", "MODEL", "-"], b"\xff\n", 0),
        (["plot", "loss", "-", "-o", "OUT.svg"], b"\xff\n", 0),
        (["eval", "MODEL", "--data", "-"], b"name: a\xff\n", 7),
        (["train", "-", "--out", "OUT"], b"\xff\n", 0),
        (["grad", "-", "--at", "x=1"], b"x\xff\n", 1),
    ],
)
def test_stdin_that_is_not_utf8_is_one_clean_error(models, tmp_path, args, data, offset):
    """printf '\\xff\\n' | mg predict MODEL - (and plot loss -, ...): one error naming stdin
    and the byte offset, never an internal error."""
    args = [path(models, "binary.json") if a == "MODEL" else a for a in args]
    args = [str(tmp_path / a.lower()) if a.startswith("OUT") else a for a in args]
    p = subprocess.run(
        [sys.executable, "-m", "microgradcli", *args],
        input=data,
        capture_output=True,
        timeout=60,
        env={**os.environ, "MG_DEBUG": ""},
    )
    assert p.returncode == 2, p.stderr
    err = p.stderr.decode()
    assert err.startswith("error: <stdin>: cannot read the ") and err.count("\n") == 1, err
    assert f"it is not UTF-8 text (byte 0xff at offset {offset})" in err
    assert p.stdout == b"" or offset == 4  # predict answers the rows before the bad one


@pytest.mark.parametrize(
    "text, missing",
    [("x1,x3\n1,2\n", "x2; it names x3 instead"), ("a,b\n", "x1, x2; it names a, b instead")],
)
def test_predict_matches_a_header_by_name(models, text, missing):
    """issue 10 item 10 and issue 14: x1,x3 fed x3 as x2; a,b alone exited 0 silently."""
    line = one_error_line(mg("predict", path(models, "binary.json"), "-", input=text))
    assert f"<stdin>:1: the header has no column {missing}; the model's inputs are x1, x2" in line
    r = mg("predict", path(models, "binary.json"), "-", "--json", input="x2,x1\n1,2\n")
    assert r.exit_code == 0 and json.loads(r.stdout)["input"] == [2.0, 1.0]


def test_data_errors_name_the_flags_only_in_the_cli(tmp_path, monkeypatch):
    """The library says split 'all', data.path=PATH; the CLI words the same facts as flags."""
    from microgradcli.checkpoint import load_checkpoint
    from microgradcli.errors import InputError
    from microgradcli.predict import read_dataset, training_dataset

    monkeypatch.chdir(tmp_path)
    Path("d.csv").write_text("a,b,y\n1,2,0\n2,3,1\n3,1,0\n4,4,1\n")
    Path("c.yaml").write_text(
        "data: {source: csv, path: d.csv}\nmodel: {hidden: [2]}\ntrain: {epochs: 1, loss: bce}\n"
    )
    assert mg("train", "c.yaml", "--out", "r", "-q").exit_code == 0
    ckpt = load_checkpoint("r/model.json")
    line = one_error_line(mg("eval", "r/model.json", "--data", "d.csv", "--split", "val"))
    assert "--split val needs a config (its data.val_split); d.csv is a CSV file" in line
    line = one_error_line(mg("eval", "r/model.json", "--split", "val"))
    assert "no validation rows (data.val_split is 0); use --split all; give --data" in line
    with pytest.raises(InputError) as e:
        training_dataset(ckpt, "val")
    assert "--" not in str(e.value) and "use split 'all'" in str(e.value)
    with pytest.raises(InputError) as e:
        read_dataset("d.csv", ckpt, "val")
    assert "--" not in str(e.value) and "split 'val' needs a config" in str(e.value)
    Path("d.csv").rename("e.csv")
    line = one_error_line(mg("eval", "r/model.json"))
    assert "no such data file" in line and "with --set data.path=PATH; give --data" in line
    with pytest.raises(InputError) as e:
        training_dataset(ckpt)
    assert "--" not in str(e.value) and "with data.path=PATH" in str(e.value)


def test_a_run_folder_names_its_model_everywhere_a_model_is_read(trained, tmp_path):
    """`--resume RUN` took a run folder and `mg eval RUN` refused it: now every command that
    reads a model takes the folder (its model.json), the same as the file."""
    run, model = str(trained / "run"), str(trained / "run" / "model.json")
    by_folder, by_file = (json.loads(mg("eval", m, "--json").stdout) for m in (run, model))
    assert by_folder.pop("model") == run and by_file.pop("model") == model
    assert by_folder == by_file
    rows = "0.1,0.2\n1.5,-0.3\n"
    by_folder = mg("predict", run, "-", "--json", input=rows)
    assert by_folder.exit_code == 0 and by_folder.stdout == mg("predict", model, "-", "--json", input=rows).stdout  # fmt: skip
    drawn = [
        mg("draw", "--model", m, "--input", "0.1,0.2", "--format", "dot") for m in (run, model)
    ]
    assert drawn[0].exit_code == 0 and drawn[1].exit_code == 0
    svgs = [
        d.stdout_bytes.replace(m.encode(), b"M") for d, m in zip(drawn, (run, model), strict=True)
    ]
    assert svgs[0] == svgs[1]  # the same picture; its title names the path as given
    r = mg("eval", str(tmp_path))  # a folder with no model.json
    assert r.exit_code == 2 and "is a folder; it holds no model.json" in r.stderr
