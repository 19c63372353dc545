"""output.snapshot_every: the weights every N epochs in snapshots.jsonl, whole lines, resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from microgradcli.checkpoint import load_checkpoint
from microgradcli.config import load_config
from microgradcli.errors import InputError
from microgradcli.snapshots import read_snapshots
from microgradcli.train import train

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
TINY = [  # a constant lr: a resumed run then trains as an uninterrupted one
    *("data.n_samples=24", "model.hidden=[4]", "train.schedule=constant", "train.lr=0.3"),
    *("train.epochs=7", "output.snapshot_every=3"),
]


def run(tmp_path, overrides=(), out="run", **kw):
    cfg, base = load_config(CONFIGS / "moons.yaml", [*TINY, *overrides])
    return train(cfg, base, out=tmp_path / out, **kw)


def epochs_of(run_dir):
    return [json.loads(line)["epoch"] for line in (run_dir / "snapshots.jsonl").read_text().splitlines()]  # fmt: skip


def test_snapshots_every_n_epochs_from_the_start_to_the_end(tmp_path):
    result = run(tmp_path)
    snaps = read_snapshots(result.run_dir)
    assert [s.epoch for s in snaps] == [0, 3, 6, 7]
    # each frame's metrics are its epoch's log line; epoch 0 is the initial weights' loss,
    # which a full-batch epoch 1 reports as its loss too
    log = {r["epoch"]: r for r in result.history}
    for s in snaps[1:]:
        assert (s.loss, s.accuracy) == (log[s.epoch]["loss"], log[s.epoch]["accuracy"])
    assert snaps[0].loss == log[1]["loss"] and snaps[0].accuracy == log[1]["accuracy"]
    # the last frame is the checkpoint's model, and an earlier one is what a shorter run ends with
    assert snaps[-1].model == load_checkpoint(result.run_dir / "model.json").model.state_dict()
    short = run(tmp_path, ["train.epochs=3", "output.snapshot_every=0"], out="short")
    assert snaps[1].model == load_checkpoint(short.run_dir / "model.json").model.state_dict()
    assert not (short.run_dir / "snapshots.jsonl").exists()  # 0: never


def test_resume_appends_after_the_checkpoint_and_drops_later_or_torn_lines(tmp_path):
    first = run(tmp_path, ["train.epochs=4", "output.snapshot_every=2"])
    path = first.run_dir / "snapshots.jsonl"
    assert epochs_of(first.run_dir) == [0, 2, 4]
    whole = path.read_text()
    lines = whole.splitlines(keepends=True)
    # a run that went on to epoch 6 without checkpointing, then was killed mid-line
    path.write_text(whole + lines[1].replace('"epoch": 2', '"epoch": 6') + lines[2][:50])
    run(
        tmp_path, ["train.epochs=9", "output.snapshot_every=2"], resume=first.run_dir / "model.json"
    )
    assert epochs_of(first.run_dir) == [0, 2, 4, 6, 8, 9]
    assert path.read_text().startswith(whole)  # the kept lines are untouched
    # the same history as one uninterrupted run
    again = run(tmp_path, ["train.epochs=9", "output.snapshot_every=2"], out="again")
    assert [s.model for s in read_snapshots(again.run_dir)] == [
        s.model for s in read_snapshots(first.run_dir)
    ]


def test_force_replaces_a_run_with_snapshots(tmp_path):
    run(tmp_path)
    run(tmp_path, ["output.snapshot_every=0"], force=True)
    assert not (tmp_path / "run" / "snapshots.jsonl").exists()


def test_a_killed_run_leaves_whole_lines(tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "microgradcli", "train", str(CONFIGS / "moons.yaml"), "--out", str(out), "--quiet", "--set", "train.epochs=100000", "--set", "output.snapshot_every=1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = out / "snapshots.jsonl"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if path.exists() and path.read_bytes().count(b"\n") >= 5:
                break
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    data = path.read_bytes()
    assert data.count(b"\n") >= 5
    body = data if data.endswith(b"\n") else data[: data.rindex(b"\n") + 1]
    assert [json.loads(line)["epoch"] for line in body.splitlines()][:5] == [0, 1, 2, 3, 4]
    assert len(read_snapshots(out)) >= 5  # a torn last line would be skipped


def test_reading_errors(tmp_path):
    with pytest.raises(InputError) as e:
        read_snapshots(tmp_path)
    # the library names the setting, not the CLI's flag (the CLI words it as --set ...)
    assert "no snapshots.jsonl" in str(e.value) and "output.snapshot_every=5" in str(e.value)
    assert "--set" not in str(e.value) and e.value.kind == "setting"
    p = tmp_path / "snapshots.jsonl"
    p.write_text('{"epoch": 1, "model": {}}\n{"epoch": 2, "mo\n{"epoch": 3, "model": {}}\n')
    with pytest.raises(InputError, match=r"snapshots.jsonl:2:\d+: not valid JSON"):
        read_snapshots(tmp_path)
    p.write_text('{"epoch": 1, "loss": 1.5, "model": {}}\n{"epoch": 2, "mo')  # torn last line
    assert [(s.epoch, s.loss) for s in read_snapshots(tmp_path / "model.json")] == [(1, 1.5)]
    p.write_text('{"epoch": 1}\n')
    with pytest.raises(InputError, match="snapshots.jsonl:1: not a snapshot line"):
        read_snapshots(p)
    p.write_text('{"epoch": 1, "loss": "low", "model": {}}\n')
    with pytest.raises(InputError, match='"loss" is "low"'):
        read_snapshots(p)
    p.write_text("\n")
    with pytest.raises(InputError, match="no snapshots yet"):
        read_snapshots(p)


def test_the_tensor_engine_keeps_the_same_snapshots(tmp_path):
    scalar = read_snapshots(run(tmp_path, out="scalar").run_dir)
    tensor = read_snapshots(run(tmp_path, ["train.engine=tensor"], out="tensor").run_dir)
    assert [(s.epoch, s.loss, s.model) for s in tensor] == [(s.epoch, s.loss, s.model) for s in scalar]  # fmt: skip
