"""The training loop: accuracy, determinism, resume, early stopping, failures, run folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from microgradcli.checkpoint import load_checkpoint
from microgradcli.config import load_config
from microgradcli.data import load_dataset
from microgradcli.errors import InputError, JobFailed
from microgradcli.train import LOG_KEYS, build_model, evaluate, train

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SMALL = [  # a quick variant of moons with everything switched on
    "data.n_samples=30",
    "data.val_split=0.2",
    "data.normalize=true",
    "model.hidden=[4]",
    "train.optimizer=adam",
    "train.lr=0.05",
    "train.schedule=constant",
    "train.batch_size=7",
]


def run(tmp_path: Path, name: str, overrides=(), out="run", **kw):
    cfg, base = load_config(CONFIGS / f"{name}.yaml", list(overrides))
    return train(cfg, base, out=None if out is None else tmp_path / out, **kw)


def log_of(run_dir: Path, drop_time: bool = True) -> list[dict]:
    lines = (run_dir / "log.jsonl").read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    if drop_time:
        for r in recs:
            r.pop("time")
    return recs


def test_moons_demo_reaches_full_training_accuracy(tmp_path):
    result = run(tmp_path, "moons")
    assert result.stopped == "completed"
    assert result.summary["accuracy"] == 1.0
    assert result.history[-1]["epoch"] == 100
    assert result.history[-1]["lr"] == pytest.approx(0.1)
    assert result.history[0]["lr"] == 1.0
    # The checkpoint predicts every training point right, by itself.
    ck = load_checkpoint(tmp_path / "run" / "model.json")
    cfg, base = load_config(CONFIGS / "moons.yaml")
    ds = load_dataset(cfg, base)
    assert all(ck.predict(x)["label"] == y for x, y in zip(ds.x, ds.y, strict=True))


def test_binary_config_is_the_lecture_loop(tmp_path):
    # The same network trained by the notebook's own loop, node by node.
    result = run(tmp_path, "binary")
    cfg, base = load_config(CONFIGS / "binary.yaml")
    ds = load_dataset(cfg, base)
    n = build_model(cfg, ds)
    xs, ys = ds.x, ds.y
    losses = []
    for _ in range(20):
        ypred = [n(x, fused=False)[0] for x in xs]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred, strict=True))
        for p in n.parameters():
            p.grad = 0.0
        loss.backward()
        for p in n.parameters():
            p.data += -0.1 * p.grad
        losses.append(loss.data)
    assert [r["loss"] for r in result.history] == pytest.approx(losses, rel=1e-9)
    assert losses[-1] < losses[0] / 5
    assert result.summary["accuracy"] == 1.0


def test_run_folder_contents(tmp_path):
    result = run(tmp_path, "moons", [*SMALL, "train.epochs=3"])
    d = tmp_path / "run"
    assert sorted(os.listdir(d)) == ["config.yaml", "log.jsonl", "model.json", "summary.json"]
    recs = log_of(d, drop_time=False)
    assert [list(r) for r in recs] == [list(LOG_KEYS)] * 3
    assert [r["epoch"] for r in recs] == [1, 2, 3]
    assert all(r["val_loss"] is not None and r["val_accuracy"] is not None for r in recs)
    assert recs == result.history
    cfg_back, _ = load_config(d / "config.yaml")
    assert cfg_back.train.batch_size == 7 and cfg_back.model.hidden == [4]
    ck = load_checkpoint(d / "model.json")
    assert (ck.task.name, ck.classes, ck.threshold, ck.epoch) == ("binary", [0, 1], 0.0, 3)
    assert set(ck.normalize) == {"mean", "std"} and ck.features == ["x1", "x2"]
    assert ck.config["train"]["optimizer"] == "adam" and ck.optimizer["name"] == "adam"
    assert ck.optimizer["t"] == 3 * 4  # 24 training samples in batches of 7: 4 steps an epoch
    s = json.loads((d / "summary.json").read_text())
    assert s["stopped"] == "completed" and s["epochs"] == 3 and s["epochs_run"] == 3
    assert s["parameters"] == 4 * 2 + 4 + 4 + 1
    assert s["samples"] == {"train": 24, "val": 6}
    # the metrics of model.json's weights: validation as the log measured it after the
    # epoch, training loss measured again (the log's is the mean over the epoch's steps)
    assert s["val_loss"] == recs[-1]["val_loss"] and s["val_accuracy"] == recs[-1]["val_accuracy"]
    assert s["loss"] < recs[-1]["loss"] and s["last_epoch"]["loss"] == recs[-1]["loss"]
    assert s["kept"] == "last" and s["checkpoint_epoch"] == 3


def test_validation_metrics_equal_evaluate_on_the_checkpoint(tmp_path):
    result = run(tmp_path, "spiral", ["train.epochs=3"])
    ck = load_checkpoint(tmp_path / "run" / "model.json")
    cfg, base = load_config(CONFIGS / "spiral.yaml")
    ds = load_dataset(cfg, base)
    loss, acc = evaluate(
        ck.model,
        ds.inputs(ds.val_index),
        ds.target_list(ds.val_index),
        ck.task,
        "cross_entropy",
    )
    assert (loss, acc) == (result.history[-1]["val_loss"], result.history[-1]["val_accuracy"])
    assert ck.classes == [0, 1, 2] and ck.task.name == "multiclass"


def test_same_config_same_bytes(tmp_path):
    run(tmp_path, "moons", [*SMALL, "train.epochs=4"], out="a")
    run(tmp_path, "moons", [*SMALL, "train.epochs=4"], out="b")
    assert (tmp_path / "a/model.json").read_bytes() == (tmp_path / "b/model.json").read_bytes()
    assert log_of(tmp_path / "a") == log_of(tmp_path / "b")
    run(tmp_path, "moons", [*SMALL, "train.epochs=4", "seed=2"], out="c")
    assert log_of(tmp_path / "c") != log_of(tmp_path / "a")


@pytest.mark.parametrize("extra", [[], ["train.optimizer=momentum", "data.val_split=0.0"]])
def test_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path, extra):
    run(tmp_path, "moons", [*SMALL, *extra, "train.epochs=6"], out="full")
    run(tmp_path, "moons", [*SMALL, *extra, "train.epochs=3"], out="half")
    result = run(
        tmp_path,
        "moons",
        [*SMALL, *extra, "train.epochs=6"],
        out=None,
        resume=tmp_path / "half/model.json",
    )
    assert result.run_dir == tmp_path / "half"
    full = json.loads((tmp_path / "full/model.json").read_text())
    resumed = json.loads((tmp_path / "half/model.json").read_text())
    assert resumed["model"] == full["model"] and resumed["optimizer"] == full["optimizer"]
    assert resumed == full
    assert log_of(tmp_path / "half") == log_of(tmp_path / "full")  # appended, epochs 1..6
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4, 5, 6]
    assert result.summary["epochs_run"] == 3


def test_resume_errors(tmp_path):
    run(tmp_path, "moons", [*SMALL, "train.epochs=2"])
    ck = tmp_path / "run" / "model.json"
    with pytest.raises(InputError, match=r"already trained 2 epochs .* e\.g\. train\.epochs="):
        run(tmp_path, "moons", [*SMALL, "train.epochs=2"], out=None, resume=ck)
    with pytest.raises(InputError, match="different model section"):
        run(tmp_path, "moons", [*SMALL, "train.epochs=4", "model.hidden=[5]"], out=None, resume=ck)
    with pytest.raises(InputError, match=r"different seed \(1, the config says 7\); resume"):
        run(tmp_path, "moons", [*SMALL, "train.epochs=4", "seed=7"], out=None, resume=ck)
    with pytest.raises(InputError, match="in the checkpoint's folder; give no other out"):
        run(tmp_path, "moons", [*SMALL, "train.epochs=4"], out="elsewhere", resume=ck)
    with pytest.raises(InputError, match="no such model file"):
        run(tmp_path, "moons", [*SMALL, "train.epochs=4"], out=None, resume=tmp_path / "x.json")
    with pytest.raises(InputError, match="give its folder or its model.json"):
        run(tmp_path, "moons", [*SMALL, "train.epochs=4"], out=None, resume="-")  # not stdin


def test_interrupt_mid_epoch_rolls_back_and_resumes_exactly(tmp_path):
    calls = {"n": 0}

    def stop_on_sixth_step():
        calls["n"] += 1
        return calls["n"] == 6  # epoch 2, second of four steps

    result = run(
        tmp_path, "moons", [*SMALL, "train.epochs=4"], out="cut", should_stop=stop_on_sixth_step
    )
    assert result.stopped == "interrupted"
    assert load_checkpoint(tmp_path / "cut/model.json").epoch == 1
    assert [r["epoch"] for r in log_of(tmp_path / "cut")] == [1]
    run(tmp_path, "moons", [*SMALL, "train.epochs=4"], out=None, resume=tmp_path / "cut/model.json")
    run(tmp_path, "moons", [*SMALL, "train.epochs=4"], out="full")
    assert (tmp_path / "cut/model.json").read_bytes() == (tmp_path / "full/model.json").read_bytes()


def test_interrupt_after_the_last_step_of_an_epoch_keeps_that_epoch(tmp_path):
    result = run(tmp_path, "binary", ["train.epochs=5"], should_stop=lambda: True)
    assert result.stopped == "interrupted" and len(result.history) == 1
    assert load_checkpoint(tmp_path / "run/model.json").epoch == 1


def test_divergence_stops_with_job_failed_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(JobFailed) as info:
        run(
            tmp_path,
            "moons",
            [
                "data.n_samples=20",
                "model.hidden=[4]",
                "train.lr=1e9",
                "train.schedule=constant",
                "train.epochs=50",
            ],
        )
    msg = str(info.value)
    assert "training diverged at epoch" in msg and "lower train.lr" in msg
    # a library caller passes arguments: the advice names them, not the CLI's flags
    assert f"resume={str(tmp_path / 'run')!r} and train.lr=1e+08" in msg and "--" not in msg
    assert info.value.kind == "diverged" and info.value.facts["setting"] == "train.lr=1e+08"
    d = tmp_path / "run"
    recs = log_of(d)
    ck = load_checkpoint(d / "model.json")
    assert ck.epoch == len(recs) and f"epoch {ck.epoch + 1}" in msg
    assert json.loads((d / "summary.json").read_text())["stopped"] == "diverged"
    assert all(v == v for p in ck.model.parameters() for v in [p.data])  # no NaN weights


def test_early_stopping_keeps_the_best_model(tmp_path):
    # min_delta so large that nothing after epoch 1 counts as an improvement.
    result = run(
        tmp_path, "moons", [*SMALL, "train.epochs=20", "train.patience=2", "train.min_delta=1e9"]
    )
    assert result.stopped == "early_stopping"
    assert len(result.history) == 3
    assert result.summary["best_epoch"] == 1
    assert "did not improve for 2 epochs" in result.summary["reason"]
    assert load_checkpoint(tmp_path / "run/model.json").epoch == 1


def test_patience_on_training_loss_without_validation(tmp_path):
    result = run(tmp_path, "binary", ["train.patience=3"])
    assert result.stopped == "completed"  # the loss keeps falling
    assert result.summary["best_epoch"] == 20 and "best_loss" in result.summary


def test_checkpoint_every(tmp_path):
    seen = []

    def on_epoch(rec):
        path = tmp_path / "run/model.json"
        seen.append(load_checkpoint(path).epoch if path.exists() else None)

    run(tmp_path, "binary", ["train.epochs=5", "output.checkpoint_every=2"], on_epoch=on_epoch)
    assert seen == [None, None, 2, 2, 4]


def test_run_folder_needs_force_and_force_only_replaces_runs(tmp_path):
    run(tmp_path, "binary", ["train.epochs=1"])
    with pytest.raises(InputError, match="already holds files; pass force=True"):
        run(tmp_path, "binary", ["train.epochs=1"])
    run(tmp_path, "binary", ["train.epochs=2"], force=True)
    assert len(log_of(tmp_path / "run")) == 2
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match=r"refusing to replace the run: .*notes\.txt"):
        run(tmp_path, "binary", ["train.epochs=1"], out="mine", force=True)
    assert (other / "notes.txt").read_text() == "keep me"
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="is not a folder"):
        run(tmp_path, "binary", ["train.epochs=1"], out="afile")
    with pytest.raises(InputError, match="afile/run: cannot create the run folder"):
        run(tmp_path, "binary", ["train.epochs=1"], out="afile/run")
    cfg, base = load_config(CONFIGS / "binary.yaml")
    with pytest.raises(InputError, match="out is empty; give a folder for the run"):
        train(cfg, base, out="")


def test_bad_data_leaves_nothing_on_disk(tmp_path):
    with pytest.raises(InputError, match="is for two classes"):
        run(tmp_path, "spiral", ["train.loss=hinge"])
    assert not (tmp_path / "run").exists()


def test_a_failed_checkpoint_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    run(tmp_path, "binary", ["train.epochs=2"])
    before = (tmp_path / "run/model.json").read_bytes()
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst).endswith("model.json"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        run(tmp_path, "binary", ["train.epochs=4"], out=None, resume=tmp_path / "run/model.json")
    assert (tmp_path / "run/model.json").read_bytes() == before
    assert not [p for p in os.listdir(tmp_path / "run") if p.endswith(".tmp")]
    assert all(json.loads(line) for line in (tmp_path / "run/log.jsonl").read_text().splitlines())


def test_run_folder_and_resume_messages_name_no_flag(tmp_path):
    """The library words its advice in arguments; only the CLI names its flags."""
    run(tmp_path, "binary", ["train.epochs=1"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    (tmp_path / "afile").write_text("x")
    ck = tmp_path / "run" / "model.json"
    calls = [
        {},
        {"out": "mine", "force": True},
        {"out": "afile"},
        {"out": "afile/run"},
        {"out": None, "resume": "-"},
        {"out": "elsewhere", "resume": ck},
        {"out": None, "resume": ck},
    ]
    for kw in calls:
        with pytest.raises(InputError) as e:
            run(tmp_path, "binary", ["train.epochs=1"], **kw)
        assert "--" not in str(e.value), (kw, str(e.value))
        assert e.value.kind, kw  # the CLI words it with its flags
    cfg, base = load_config(CONFIGS / "binary.yaml")
    with pytest.raises(InputError) as e:
        train(cfg, base, out=" ")
    assert "--" not in str(e.value) and e.value.kind


@pytest.mark.parametrize("engine", ["scalar", "tensor"])
def test_ctrl_c_after_an_epoch_ran_but_before_it_was_logged_keeps_label_and_weights_together(
    tmp_path, monkeypatch, engine
):
    """A second Ctrl-C in the instant between an epoch's last step and its log line used to
    save the newer weights under the older epoch's label; now both are the logged epoch's."""
    from microgradcli import train as training

    real, calls = training._Run.record, {"n": 0}

    def interrupted_before_the_third_record(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # epoch 3 ran whole; its record is not written
        return real(self, *a, **kw)

    monkeypatch.setattr(training._Run, "record", interrupted_before_the_third_record)
    sets = [*SMALL, "train.epochs=6", f"train.engine={engine}"]
    result = run(tmp_path, "moons", sets, out="cut")
    monkeypatch.setattr(training._Run, "record", real)
    assert result.stopped == "interrupted" and result.checkpoint.epoch == 2
    assert [r["epoch"] for r in log_of(tmp_path / "cut")] == [1, 2]
    run(tmp_path, "moons", [*SMALL, "train.epochs=2", f"train.engine={engine}"], out="two")
    cut, two = (load_checkpoint(tmp_path / d / "model.json") for d in ("cut", "two"))
    assert cut.to_dict()["model"] == two.to_dict()["model"]  # epoch 2's weights, bit for bit
    assert cut.optimizer == two.optimizer
