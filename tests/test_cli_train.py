"""`mg train`, `mg config`, `mg schema` from the command line, in-process and as real processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from microgradcli.checkpoint import load_checkpoint
from microgradcli.cli import app
from microgradcli.config import Config
from microgradcli.train import LOG_KEYS

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
runner = CliRunner()


def mg(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates_and_trains(config, tmp_path):
    r = mg("config", config)
    assert r.exit_code == 0, r.output
    Config.model_validate(yaml.safe_load(r.stdout))
    out = tmp_path / "run"
    r = mg("train", config, "--set", "train.epochs=2", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    recs = json_lines(r.stdout)
    assert [rec["epoch"] for rec in recs] == [1, 2]
    assert load_checkpoint(out / "model.json").epoch == 2


def test_shipped_configs_cover_every_kind_of_task():
    tasks = {}
    for config in CONFIGS:
        cfg = yaml.safe_load(config.read_text())
        tasks[config.stem] = (cfg["data"]["source"], cfg["train"]["loss"])
    assert {"binary", "moons"} <= set(tasks)
    assert ("inline", "mse") in tasks.values()
    assert any(loss == "cross_entropy" for _, loss in tasks.values())
    assert any(source == "csv" for source, _ in tasks.values())
    for config in CONFIGS:  # every comment teaches: no bare or empty comments
        for line in config.read_text().splitlines():
            if "#" in line:
                assert len(line.split("#", 1)[1].strip()) > 8, line


def test_train_human_output_and_files(tmp_path):
    out = tmp_path / "b"
    r = mg("train", ROOT / "configs/binary.yaml", "--out", out)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("binary: completed after 20 epochs, loss ")
    assert f"run: {out}" in r.stdout
    assert r.stderr == ""  # no terminal: no progress bar
    assert sorted(os.listdir(out)) == ["config.yaml", "log.jsonl", "model.json", "summary.json"]


def test_json_stdout_is_only_log_lines_with_the_spec_keys(tmp_path):
    r = mg(
        "train",
        ROOT / "configs/binary.yaml",
        "--out",
        tmp_path / "b",
        "--json",
        "--set",
        "train.epochs=4",
    )
    assert r.exit_code == 0, r.output
    recs = json_lines(r.stdout)
    assert [list(rec) for rec in recs] == [list(LOG_KEYS)] * 4
    assert recs[0]["val_loss"] is None and recs[0]["accuracy"] is not None
    assert "binary: completed after 4 epochs" in r.stderr  # the summary goes to stderr
    r = mg(
        "train",
        ROOT / "configs/binary.yaml",
        "--out",
        tmp_path / "c",
        "--json",
        "--quiet",
        "--set",
        "train.epochs=2",
    )
    assert r.exit_code == 0 and r.stderr == ""


def test_progress_bar_goes_to_stderr_only(tmp_path, monkeypatch):
    import microgradcli.cli.train as cli_train

    monkeypatch.setattr(cli_train, "fancy_stderr", lambda quiet=False: not quiet)
    r = mg("train", ROOT / "configs/binary.yaml", "--out", tmp_path / "b", "--json")
    assert r.exit_code == 0, r.output
    assert len(json_lines(r.stdout)) == 20
    assert "epoch" in r.stderr and "20/20" in r.stderr and "loss" in r.stderr


def test_overrides_land_in_the_resolved_config(tmp_path):
    out = tmp_path / "m"
    r = mg(
        "train",
        ROOT / "configs/moons.yaml",
        "--set",
        "train.epochs=1",
        "--set",
        "model.hidden=[3]",
        "--out",
        out,
        "--quiet",
    )
    assert r.exit_code == 0, r.output
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["model"]["hidden"] == [3] and saved["train"]["epochs"] == 1


def test_existing_run_needs_force_or_resume(tmp_path):
    out = tmp_path / "b"
    args = ["train", ROOT / "configs/binary.yaml", "--out", out, "--set", "train.epochs=2"]
    assert mg(*args).exit_code == 0
    r = mg(*args)
    assert r.exit_code == 2
    assert r.stderr.startswith("error: ") and "--force" in r.stderr and "--resume" in r.stderr
    assert mg(*args, "--force").exit_code == 0
    r = mg(
        "train",
        ROOT / "configs/binary.yaml",
        "--resume",
        out / "model.json",
        "--set",
        "train.epochs=5",
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert [rec["epoch"] for rec in json_lines(r.stdout)] == [3, 4, 5]
    assert len((out / "log.jsonl").read_text().splitlines()) == 5


def test_config_from_stdin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "configs/binary.yaml").read_text()
    r = mg("train", "-", "--set", "train.epochs=1", input=text)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "runs/binary/model.json").exists()  # runs/<name>, in the current folder


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "train.lr=-1"], "error: --set train.lr=-1: train.lr: must be > 0 (got -1)"),
        (["--set", "train.epocs=3"], "did you mean 'epochs'?"),
        (["--set", "nonsense"], "error: malformed --set 'nonsense': expected KEY.PATH=VALUE"),
    ],
)
def test_bad_config_is_one_error_line_and_exit_2(tmp_path, args, message):
    r = mg("train", ROOT / "configs/binary.yaml", "--out", tmp_path / "x", *args)
    assert r.exit_code == 2
    assert message in r.stderr
    assert "Traceback" not in r.output and r.stdout == ""
    assert not (tmp_path / "x").exists()


def test_missing_config_file(tmp_path):
    r = mg("train", tmp_path / "nope.yaml")
    assert r.exit_code == 2 and "no such config file" in r.stderr


def test_mg_config_prints_the_resolved_config(tmp_path):
    r = mg("config", ROOT / "configs/moons.yaml", "--set", "train.lr=0.3")
    assert r.exit_code == 0, r.output
    cfg = Config.model_validate(yaml.safe_load(r.stdout))
    assert cfg.train.lr == 0.3 and cfg.train.reduction == "mean"  # defaults filled in
    r = mg("config", ROOT / "configs/flowers.yaml", "--json")
    assert r.exit_code == 0, r.output
    (data,) = json_lines(r.stdout)
    assert Path(data["data"]["path"]) == (ROOT / "data/flowers.csv").resolve()
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  activation: rleu\n")
    r = mg("config", bad)
    assert r.exit_code == 2
    assert r.stderr == (
        f"error: {bad}:2: model.activation: must be one of 'tanh', 'relu', 'sigmoid' or "
        "'linear' (got 'rleu')\n"
    )


def test_mg_schema_is_json_schema():
    r = mg("schema")
    assert r.exit_code == 0, r.output
    schema = json.loads(r.stdout)
    assert schema["title"] == "mg experiment config"
    assert "TrainConfig" in schema["$defs"]
    assert schema["$defs"]["TrainConfig"]["properties"]["lr"]["exclusiveMinimum"] == 0.0
    r = mg("schema", "--json")  # --json as every command has: the same schema on one line
    assert r.exit_code == 0 and r.stdout.count("\n") == 1 and json.loads(r.stdout) == schema


def test_help_has_an_example():
    for cmd in ("train", "config", "schema"):
        r = mg(cmd, "--help")
        assert r.exit_code == 0 and "Example: mg " in r.stdout


# -- real processes -----------------------------------------------------------------------------------
def mg_process(*args, **kw):
    env = {k: v for k, v in os.environ.items() if k != "MG_DEBUG"}
    return subprocess.Popen(
        [sys.executable, "-m", "microgradcli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,
    )


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path):
    out = tmp_path / "m"
    p = mg_process(
        "train",
        ROOT / "configs/moons.yaml",
        "--out",
        out,
        "--json",
        "--set",
        "train.epochs=100000",
        "--set",
        "train.schedule=constant",
    )
    first = p.stdout.readline()
    assert json.loads(first)["epoch"] == 1
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 130, stderr
    assert "interrupted: saved epoch" in stderr and "--resume" in stderr
    assert "Traceback" not in stderr
    lines = (first + stdout).splitlines()
    assert all(json.loads(line) for line in lines)
    ck = load_checkpoint(out / "model.json")
    log = (out / "log.jsonl").read_text().splitlines()
    assert ck.epoch == len(log) == len(lines) >= 1
    assert json.loads((out / "summary.json").read_text())["stopped"] == "interrupted"


def test_divergence_exits_1_with_a_hint(tmp_path):
    out = tmp_path / "m"
    p = mg_process(
        "train",
        ROOT / "configs/moons.yaml",
        "--out",
        out,
        "--set",
        "train.lr=1e9",
        "--set",
        "train.schedule=constant",
        "--set",
        "data.n_samples=20",
    )
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 1
    assert stderr.startswith("error: training diverged at epoch ")
    assert "lower train.lr" in stderr and "Traceback" not in stderr
    assert stdout == ""
    assert load_checkpoint(out / "model.json").epoch == len(
        (out / "log.jsonl").read_text().splitlines()
    )


def test_json_pipe_carries_only_json_lines(tmp_path):
    p = mg_process("train", ROOT / "configs/binary.yaml", "--out", tmp_path / "b", "--json")
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 0, stderr
    recs = json_lines(stdout)
    assert len(recs) == 20 and recs[-1]["epoch"] == 20
    assert "binary: completed after 20 epochs" in stderr


def test_a_reader_that_leaves_stops_the_run_with_a_checkpoint(tmp_path):
    """`mg train --json | head -1`: training stops as on Ctrl-C and the run folder is whole."""
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "microgradcli", "train", str(ROOT / "configs/moons.yaml")]
        + ["--set", "data.n_samples=20", "--set", "train.epochs=5000", "--out", str(out)]
        + ["--json", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "CI": "1"},
    )
    first = json.loads(proc.stdout.readline())
    proc.stdout.close()  # the reader leaves
    _, err = proc.communicate(timeout=60)
    assert first["epoch"] == 1
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    logged = (out / "log.jsonl").read_text().splitlines()
    assert 1 <= len(logged) < 5000
    assert load_checkpoint(out / "model.json").epoch == len(logged)


def test_run_folder_and_resume_errors_name_the_flags(tmp_path, monkeypatch):
    """The library's run-folder and resume errors, as the CLI words them."""
    monkeypatch.chdir(tmp_path)
    config = ROOT / "configs" / "binary.yaml"
    assert mg("train", config, "--set", "train.epochs=1", "--out", "run").exit_code == 0

    def error(*args) -> str:
        r = mg("train", config, *args)
        assert r.exit_code == 2 and r.stdout == "", r.output
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
        return r.stderr

    assert "already holds files; use --force to replace the run or --resume run to " in error(
        "--out", "run"
    )
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert re.search(
        r"refusing to --force: .*notes\.txt.*choose another --out",
        error("--out", "mine", "--force"),
    )
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "afile").write_text("x")
    assert "is not a folder; choose another --out" in error("--out", "afile")
    assert "cannot create the run folder" in error("--out", "afile/run")
    assert "--out is empty; give a folder for the run, e.g. --out runs/try2" in error("--out", "")
    assert "leave out --out" in error("--resume", "run", "--out", "elsewhere")
    assert re.search(
        r"already trained 1 epoch .* --set train\.epochs=11",
        error("--resume", "run", "--set", "train.epochs=1"),
    )
    assert "--resume continues a run in its folder" in error("--resume", "-")
