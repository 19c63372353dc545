"""`mg plot` from the command line: stdin expressions, several runs, scales, --split."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microgradcli.cli import app
from microgradcli.config import load_config
from microgradcli.train import train

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
runner = CliRunner()


def mg(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_fn_reads_the_expression_from_stdin(tmp_path):
    out = tmp_path / "f.svg"
    r = subprocess.run(
        [sys.executable, "-m", "microgradcli", "plot", "fn", "-", "-o", str(out), "-n", "50"],
        input="1/(x-1)\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert ET.parse(out).getroot().tag.endswith("svg")
    assert "1/(x-1) and its derivative" in out.read_text() or "wrote" in r.stderr
    assert "no expression" in one_error_line(mg("plot", "fn", "-", "-o", str(out), input="\n"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    small = ["data.n_samples=30", "model.hidden=[4]", "train.epochs=4", "data.val_split=0.3"]
    for name, lr in (("a", "0.1"), ("b", "0.5"), ("c", "1.0")):
        cfg, base = load_config(CONFIGS / "moons.yaml", [*small, f"train.lr={lr}"])
        train(cfg, base, out=d / name)
    return d


def test_several_runs_overlaid(runs, tmp_path):
    out = tmp_path / "compare.svg"
    r = mg("plot", "loss", *(str(runs / n) for n in "abc"), "-o", str(out))
    assert r.exit_code == 0, r.output
    assert ET.parse(out).getroot().tag.endswith("svg")
    r = mg("plot", "loss", str(runs / "a"), "--log", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert "not both" in one_error_line(mg("plot", "loss", str(runs / "a"), "--log", "--linear"))
    line = one_error_line(mg("plot", "loss", str(runs / "a"), str(runs / "nope"), "-o", str(out)))
    assert "no such log file" in line


def test_boundary_split_names_its_rows(runs, tmp_path):
    for split in ("val",):
        out = tmp_path / f"{split}.svg"
        r = mg("plot", "boundary", str(runs / "a"), "--split", split, "-o", str(out), "--resolution", "20", "--title", "")  # fmt: skip
        assert r.exit_code == 0, r.output
    from microgradcli import plot
    from microgradcli.checkpoint import load_checkpoint
    from microgradcli.predict import training_dataset

    ckpt = load_checkpoint(runs / "a" / "model.json")
    for split, rows in (("train", "21 train rows"), ("val", "9 val rows")):
        ds = training_dataset(ckpt, split)
        labels = [ckpt.task.label_value(y, "") for y in ds.y]
        bd = plot.boundary_data(ckpt, ds.x, labels, 20, rows=rows)
        assert plot.boundary_title(bd, "a").endswith(f"on {rows})")
    assert "use all, train or val" in one_error_line(mg("plot", "boundary", str(runs / "a"), "--split", "test"))  # fmt: skip
