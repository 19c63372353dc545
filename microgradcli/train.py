"""Training an MLP from a config: the loop, the run directory, checkpoints and resume.

`train(config, base_dir, ...)` never prints; it reports each epoch to an `on_epoch`
callback and returns a TrainResult. The run directory holds config.yaml (the resolved
config), log.jsonl (one line per epoch, written whole and flushed), model.json (the
checkpoint, written atomically) and summary.json.

Reproducibility: the data, the split, the initial weights and the minibatch order each
come from their own random.Random seeded from the config's seed (the minibatch order
from the seed and the epoch number, so a resumed run shuffles exactly as an
uninterrupted one without saving any generator state). Each epoch starts from a
snapshot that an interrupted or diverged epoch rolls back to, so the checkpoint is
always the state at the end of a whole epoch.
"""

from __future__ import annotations

import gc
import json
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from microgradcli.checkpoint import Checkpoint, load_checkpoint, model_path
from microgradcli.config import Config, config_dict, dump_config
from microgradcli.data import Dataset, load_dataset
from microgradcli.engine import lsum
from microgradcli.errors import InputError, JobFailed, MathDomainError, plural
from microgradcli.fileio import epoch_lines, write_atomic
from microgradcli.limits import check_size
from microgradcli.losses import l2_penalty, sample_loss, total
from microgradcli.nn import MLP
from microgradcli.optim import learning_rate, make_optimizer
from microgradcli.snapshots import SNAPSHOTS, SnapshotWriter
from microgradcli.tasks import Task
from microgradcli.tensor_mlp import forward_rows

__all__ = [
    "RUN_FILES",
    "TrainResult",
    "build_model",
    "checkpoint_path",
    "evaluate",
    "portable",
    "resolve_run_dir",
    "train",
]

RUN_FILES = ("config.yaml", "log.jsonl", "model.json", "summary.json", SNAPSHOTS)
LOG_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time")


# Why a run stopped (summary.json's "stopped"): all epochs trained, patience ran out, a stop
# request or Ctrl-C, or a non-finite loss or weight (exit 1, the last good checkpoint kept).
StopReason = Literal["completed", "early_stopping", "interrupted", "diverged"]


@dataclass
class EpochResult:
    """What one epoch's steps gave: summed data loss, correct count, the learning rate,
    the validation metrics, and whether it was stopped (partial: before its last step,
    so rolled back) or failed (why)."""

    lr: float
    loss_sum: float = 0.0
    right: int = 0
    val_loss: float | None = None
    val_accuracy: float | None = None
    stop: bool = False
    partial: bool = False
    failure: str | None = None


@dataclass
class TrainResult:
    """What a run produced: where, why it stopped, the summary and the log records."""

    run_dir: Path
    stopped: StopReason
    summary: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: Checkpoint | None = None


# -- run directory ----------------------------------------------------------------------------
def resolve_run_dir(config: Config, out: str | Path | None = None) -> Path:
    """out, else output.dir, else runs/<name> (relative to the current folder)."""
    if out is not None:
        if not str(out).strip():
            raise InputError(
                "out is empty; give a folder for the run, e.g. runs/try2", kind="out_empty"
            )
        return Path(out)
    if config.output.dir:
        return Path(config.output.dir).expanduser()
    return Path("runs") / config.name


def is_run_file(name: str) -> bool:
    # A run's own files, and temporary files of an atomic write killed mid-way.
    return name in RUN_FILES or (name.startswith(".") and name.endswith(".tmp"))


def _prepare_run_dir(run_dir: Path, force: bool) -> None:
    """Make sure run_dir can take a new run: empty, or an mg run replaced with force."""
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(
            f"{run_dir}: exists and is not a folder; choose another folder",
            kind="run_dir_unusable",
            what=f"{run_dir}: exists and is not a folder",
        )
    if not run_dir.exists():
        return
    entries = sorted(os.listdir(run_dir))
    if not entries:
        return
    if not force:
        resumable = "model.json" in entries
        hint = f" or resume={str(run_dir)!r} to continue it" if resumable else ""
        raise InputError(
            f"{run_dir}: the run folder already holds files; pass force=True to replace the "
            f"run{hint}, or another out folder",
            kind="run_dir_taken",
            run_dir=run_dir,
            resumable=resumable,
        )
    foreign = [e for e in entries if not is_run_file(e) or not (run_dir / e).is_file()]
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise InputError(
            f"{run_dir}: refusing to replace the run: the folder holds files mg did not "
            f"write ({shown}); choose another folder",
            kind="run_dir_foreign",
            run_dir=run_dir,
            shown=shown,
        )
    for e in entries:
        (run_dir / e).unlink()


def evaluate(
    model: MLP, inputs: Sequence, targets: Sequence, task: Task, loss: str, reduction: str = "mean"
) -> tuple[float, float | None]:
    """(loss, accuracy) of a model on prepared inputs and encoded targets; accuracy is
    None for regression. The loss is the data loss, without the L2 penalty."""
    # the tensor engine's forward: the same numbers as model.forward_floats, by batch
    m = task.metrics(forward_rows(model, inputs).tolist(), targets, loss, reduction)
    return m["loss"], m["accuracy"]


def build_model(config: Config, ds: Dataset) -> MLP:
    """A fresh MLP for the data: its input and output sizes come from the dataset."""
    m = config.model
    return MLP(
        ds.n_features,
        [*m.hidden, ds.n_outputs],
        m.activation,
        m.output_activation,
        m.init,
        rng=random.Random(f"mg-init-{config.seed}"),
    )


# -- portable run folders ---------------------------------------------------------------------
def portable(config: Config, run_dir: Path) -> Config:
    """The config as the run folder stores it: a CSV data.path relative to the run folder,
    so a project folder (its runs and its data) can move, or be zipped, as a whole."""
    path = getattr(config.data, "path", None)
    if not path or not Path(path).is_absolute():
        return config
    data, run = Path(path).resolve(), run_dir.resolve()
    try:
        if Path(os.path.commonpath([data, run])) == Path(data.anchor):
            return config  # nothing in common but the root: they will not move together
        rel = os.path.relpath(data, run)
    except ValueError:  # another drive (Windows): only an absolute path can name it
        return config
    stored = config.model_copy(deep=True)
    stored.data.path = Path(rel).as_posix()
    return stored


def _data_section(data: dict, base: Path | None) -> dict:
    """A data section with its path absolute, to compare configs stored in different places."""
    path = data.get("path")
    if isinstance(path, str) and base is not None and not Path(path).expanduser().is_absolute():
        data = {**data, "path": str((base / path).resolve())}
    return data


# -- resume ---------------------------------------------------------------------------------------
def checkpoint_path(resume: str | Path) -> Path:
    """resume's argument: a model.json, or the run folder that holds one."""
    if str(resume) == "-":
        raise InputError(
            "resume continues a run in its folder; give its folder or its model.json",
            kind="resume_stdin",
        )
    return Path(model_path(resume))


def _check_resumable(config: Config, ckpt: Checkpoint, path: Path) -> None:
    saved = dict(ckpt.config or {})
    now = config_dict(config)
    if isinstance(saved.get("data"), dict):
        saved["data"] = _data_section(saved["data"], path.resolve().parent)
    for key in ("seed", "data", "model"):
        if key in saved and saved[key] != now[key]:
            what = (
                f"seed ({saved[key]}, the config says {now[key]})"
                if key == "seed"
                else f"{key} section"
            )
            raise InputError(
                f"{path}: cannot resume: the checkpoint was trained with a different {what}; "
                "resume with the config it was trained with (see its config.yaml)"
            )
    if saved.get("train", {}).get("loss", config.train.loss) != config.train.loss:
        raise InputError(
            f"{path}: cannot resume: the checkpoint was trained with train.loss "
            f"{saved['train']['loss']}, the config says {config.train.loss}"
        )
    if ckpt.epoch >= config.train.epochs:
        what = (
            f"{path}: already trained {plural(ckpt.epoch, 'epoch')} and train.epochs is "
            f"{config.train.epochs}; train.epochs counts all epochs, so raise it, e.g."
        )
        setting = f"train.epochs={ckpt.epoch + max(10, ckpt.epoch // 2)}"
        raise InputError(f"{what} {setting}", kind="setting", what=what, setting=setting)


def _log_line(record: dict) -> str:
    return json.dumps(record, allow_nan=False) + "\n"


class _Log:
    """log.jsonl, appended one whole line per write() and flushed to the OS at once."""

    def __init__(self, path: Path, keep: list[dict]):
        write_atomic(path, "".join(_log_line(r) for r in keep))
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND)

    def write(self, record: dict) -> None:
        os.write(self.fd, _log_line(record).encode("utf-8"))

    def close(self) -> None:
        os.close(self.fd)


# -- the loop -------------------------------------------------------------------------------------
def train(
    config: Config,
    base_dir: str | Path | None = None,
    *,
    out: str | Path | None = None,
    force: bool = False,
    resume: str | Path | None = None,
    on_start: Callable[[dict], None] | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_step: Callable[[int, int, int], None] | None = None,
) -> TrainResult:
    """Train the config's model on its data; write the run directory; never print.

    on_start(info) is called once before the first epoch, on_epoch(record) after each
    epoch with its log record, on_step(epoch, steps done, steps in the epoch) after each
    step (epoch counts from 0: the one in progress). should_stop() is polled after every step: when it says
    yes (or on KeyboardInterrupt) the run rolls back to the last whole epoch, saves a
    checkpoint and returns with stopped="interrupted". A non-finite loss or weight
    raises JobFailed after saving the last good checkpoint.
    """
    ckpt_in, run_dir = _run_folder(config, out, resume)
    # Everything that can fail on bad input happens before anything touches the disk.
    ds = load_dataset(config, base_dir)
    check_size(  # a CSV file's size is known now
        "data",
        len(ds.x),
        ds.n_features,
        config.model.hidden,
        ds.n_outputs,
        config.train.batch_size,
    )
    run = _Run(config, ds, run_dir)
    if ckpt_in is not None:
        run.restore(ckpt_in, checkpoint_path(resume))
    else:
        _prepare_run_dir(run_dir, force)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        what = f"{run_dir}: cannot create the run folder ({e.strerror})"
        raise InputError(
            f"{what}; choose another folder", kind="run_dir_unusable", what=what
        ) from None
    write_atomic(run_dir / "config.yaml", dump_config(portable(config, run_dir)))
    run.log = _Log(run_dir / "log.jsonl", run.kept)
    run.snapshots = SnapshotWriter(run_dir / SNAPSHOTS, config.output.snapshot_every, run.start)
    # The engine makes no reference cycles (a step's graph is freed by reference counting
    # as soon as the step ends), so the cyclic collector would only rescan the ~10^5
    # live nodes of each step again and again for nothing: off while training.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return run.loop(on_start, on_epoch, should_stop, on_step)
    except KeyboardInterrupt:  # a second Ctrl-C between steps (a step rolls back itself)
        return run.stop_now()
    finally:
        run.log.close()
        run.snapshots.close()
        if gc_was_on:
            gc.enable()


def _run_folder(
    config: Config, out: str | Path | None, resume: str | Path | None
) -> tuple[Checkpoint | None, Path]:
    """The checkpoint to resume (None for a new run) and the run folder."""
    if resume is None:
        return None, resolve_run_dir(config, out)
    resume = checkpoint_path(resume)
    ckpt_in = load_checkpoint(resume)
    _check_resumable(config, ckpt_in, resume)
    run_dir = resume.parent
    if out is not None and Path(out).resolve() != run_dir.resolve():
        raise InputError(
            "resume continues the run in the checkpoint's folder; give no other out folder",
            kind="resume_with_out",
        )
    return ckpt_in, run_dir


class _Run:
    """One training run's state: model, optimiser, data, progress, best epoch so far."""

    def __init__(self, config: Config, ds: Dataset, run_dir: Path):
        tc = config.train
        self.config, self.tc, self.ds, self.run_dir = config, tc, ds, run_dir
        self.model = build_model(config, ds)
        self.params = self.model.parameters()
        self.opt = make_optimizer(tc, self.params)
        self.x_train, self.t_train = ds.inputs(ds.train_index), ds.target_list(ds.train_index)
        self.x_val, self.t_val = ds.inputs(ds.val_index), ds.target_list(ds.val_index)
        self.monitor = "val_loss" if self.x_val else "loss"
        self.net = None  # the tensor engine's view of the model's weights
        self.epoch_start = None  # (epoch, weights, optimizer state) the epoch began from
        if tc.engine == "tensor":
            import numpy as np

            from microgradcli.tensor_mlp import TensorMLP

            self.net = TensorMLP(self.model)
            self.x_array = np.array(self.x_train, dtype=np.float64).reshape(-1, ds.n_features)
            self.t_array = np.array(self.t_train)
            task = ds.task  # each row's class, to count right answers at once
            self.i_array = (
                np.array([task.target_index(t) for t in self.t_train]) if task.classifier else None
            )
        self.start = 0  # epochs done before this invocation
        self.kept: list[dict] = []  # their log records
        self.best: dict | None = None  # {"epoch", "value"} of the monitored loss
        self.stale = 0  # epochs since it last improved
        self.best_state = None  # (weights, optimizer state, epoch) when patience is on
        self.history: list[dict] = []
        self.t0 = time.perf_counter()  # when this invocation's epochs began
        self.log: _Log
        self.snapshots: SnapshotWriter

    def restore(self, ckpt: Checkpoint, path: Path) -> None:
        """Continue from a checkpoint: weights, optimiser state, epoch, log, best so far."""
        try:
            self.model.load_state_dict(ckpt.model.state_dict())
            self.opt.load_state_dict(ckpt.optimizer)
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{path}: cannot resume from this checkpoint ({e})") from None
        if self.net is not None:
            self.net.pull()
        self.start = ckpt.epoch
        self.kept = [rec for _, rec in epoch_lines(self.run_dir / "log.jsonl", ckpt.epoch)]
        self.best = ckpt.extra.get("best")
        self.stale = int(ckpt.extra.get("stale", 0))
        if self.best is not None and self.tc.patience:
            # With patience on, a checkpoint holds the best weights themselves.
            self.best_state = (self.model.state_dict(), self.opt.state_dict(), self.best["epoch"])

    # -- files ------------------------------------------------------------------------------
    def save(self, epoch: int) -> Checkpoint:
        """model.json: the best epoch when patience is on, else the current weights."""
        if self.tc.patience and self.best_state is not None:
            weights, opt_state, epoch = self.best_state
            model = MLP.from_state_dict(weights)
        else:
            model, opt_state = self.model, self.opt.state_dict()
        ck = Checkpoint(
            model=model,
            task=self.ds.task,
            config=config_dict(portable(self.config, self.run_dir)),
            normalize=self.ds.normalize,
            features=self.ds.features,
            epoch=epoch,
            optimizer=opt_state,
            extra={"best": self.best, "stale": self.stale, "monitor": self.monitor},
        )
        ck.save(self.run_dir / "model.json")
        return ck

    def summarize(self, stopped: str, reason: str, ck: Checkpoint, wall: float) -> dict:
        """summary.json: why and when it stopped, the sizes, and the metrics of the model
        model.json holds (with early stopping the best epoch, not the last), measured on its
        weights as `mg eval` measures them."""
        last = self.history[-1] if self.history else {}
        best = self.best
        tc, ds = self.tc, self.ds
        kept = {"loss": None, "accuracy": None, "val_loss": None, "val_accuracy": None}
        if stopped == "diverged":  # its last good weights may overflow: the log's numbers
            rec = next((r for r in self.history if r.get("epoch") == ck.epoch), {})
            kept = {k: rec.get(k) for k in kept}
        elif ck.epoch > 0:
            for prefix, xs, ts in (
                ("", self.x_train, self.t_train),
                ("val_", self.x_val, self.t_val),
            ):
                if xs:
                    loss, acc = evaluate(ck.model, xs, ts, ds.task, tc.loss, tc.reduction)
                    kept[f"{prefix}loss"], kept[f"{prefix}accuracy"] = loss, acc
        s = {
            "name": self.config.name,
            "task": self.ds.task.name,
            "stopped": stopped,
            "reason": reason,
            "epochs": last.get("epoch", self.start),
            "epochs_run": len(self.history) - len(self.kept),
            "checkpoint_epoch": ck.epoch,
            "kept": "best" if tc.patience and self.best_state is not None else "last",
            "best_epoch": best["epoch"] if best else None,
            f"best_{self.monitor}": best["value"] if best else None,
            **kept,  # of model.json's weights: the checkpoint_epoch's
            "lr": last.get("lr"),
            "last_epoch": {k: last.get(k) for k in LOG_KEYS if k != "time"} if last else None,
            "parameters": len(self.params),
            "samples": {"train": len(self.x_train), "val": len(self.x_val)},
            "classes": self.ds.classes,
            "wall_time": round(wall, 4),
            "run_dir": str(self.run_dir),
        }
        text = json.dumps(s, indent=1, allow_nan=False) + "\n"
        write_atomic(self.run_dir / "summary.json", text)
        return s

    # -- one epoch ------------------------------------------------------------------------------
    def batches(self, epoch: int) -> list[list[int]]:
        """The training rows of each step of an epoch: all of them in one batch, or
        minibatches in a seeded shuffle."""
        n = len(self.x_train)
        bs = min(self.tc.batch_size or n, n)
        if bs == n:
            return [list(range(n))]  # full batch, in the data's order
        order = list(range(n))
        # Seeded by the epoch itself: a resumed run shuffles as an uninterrupted one would.
        random.Random(f"mg-batches-{self.config.seed}-{epoch}").shuffle(order)
        return [order[i : i + bs] for i in range(0, n, bs)]

    def scalar_step(self, batch: list[int], lr: float) -> tuple[float, int]:
        """step() on the scalar engine for the rows in batch."""
        if len(batch) == len(self.x_train):  # the full batch: no copy
            return self.step(self.x_train, self.t_train, lr)
        return self.step([self.x_train[i] for i in batch], [self.t_train[i] for i in batch], lr)

    def run_epoch(
        self,
        epoch: int,
        should_stop: Callable[[], bool] | None,
        on_step: Callable[[int, int, int], None] | None = None,
    ) -> EpochResult:
        """One epoch (0-based) of steps, then the validation metrics. An epoch cut short (a
        stop between its steps, Ctrl-C in one) or a failed one is rolled back to where it
        started, so the model only ever holds whole epochs."""
        r = EpochResult(lr=learning_rate(self.tc, epoch))
        self.epoch_start = (epoch, [p.data for p in self.params], self.opt.state_dict())
        batches = self.batches(epoch)
        step = self.tensor_step if self.net is not None else self.scalar_step
        try:
            for b, batch in enumerate(batches):
                loss, right = step(batch, r.lr)
                r.loss_sum += loss
                r.right += right
                if on_step is not None:
                    on_step(epoch, b + 1, len(batches))
                if should_stop is not None and should_stop():
                    r.stop, r.partial = True, b < len(batches) - 1  # the step is done
                    break
        except KeyboardInterrupt:
            r.stop = r.partial = True
        except (MathDomainError, OverflowError, ZeroDivisionError) as e:
            r.failure = str(e)
        if self.net is not None:
            self.net.push()  # the MLP's Values hold the weights between epochs
        if r.failure is None and not r.partial and self.x_val:
            try:
                r.val_loss, r.val_accuracy = evaluate(
                    self.model,
                    self.x_val,
                    self.t_val,
                    self.ds.task,
                    self.tc.loss,
                    self.tc.reduction,
                )
            except KeyboardInterrupt:  # a second Ctrl-C: stop now, back to the last whole epoch
                r.stop = r.partial = True
            else:
                if not math.isfinite(r.val_loss):
                    r.failure = f"the validation loss became {r.val_loss}"
        if r.partial or r.failure is not None:
            self.roll_back()
        return r

    def roll_back(self) -> None:
        """Back to the weights and optimizer state the last epoch started from."""
        _, weights, opt_state = self.epoch_start
        for p, v in zip(self.params, weights, strict=True):
            p.data = v
        self.opt.load_state_dict(opt_state)
        if self.net is not None:
            self.net.pull()

    def tensor_step(self, batch: list[int], lr: float) -> tuple[float, int]:
        """step() on the tensor engine: the same numbers (train.exact) from arrays."""
        from microgradcli import tensor
        from microgradcli.tensor_mlp import train_step

        tc, ds = self.tc, self.ds
        full = len(batch) == len(self.x_train)
        x = self.x_array if full else self.x_array[batch]
        t = self.t_array if full else self.t_array[batch]
        index = self.i_array if full or self.i_array is None else self.i_array[batch]
        with tensor.exact(tc.exact):
            return train_step(
                self.net,
                x,
                t,
                loss=tc.loss,
                reduction=tc.reduction,
                l2=tc.l2,
                optimizer=self.opt,
                lr=lr,
                task=ds.task,
                index=index,
            )

    def step(self, xs, ts, lr: float) -> tuple[float, int]:
        """Forward, loss, one backward, one update; (summed data loss, correct count)."""
        tc, task, params = self.tc, self.ds.task, self.params
        for p in params:
            p.grad = 0.0
        losses = []
        right = 0
        loss_name, model = tc.loss, self.model
        for x, t in zip(xs, ts, strict=True):
            outs = model(x)
            losses.append(sample_loss(loss_name, outs, t))
            right += task.correct([o.data for o in outs], t)
        data_loss = total(losses, tc.reduction)
        obj = data_loss + l2_penalty(params, tc.l2) if tc.l2 else data_loss
        if obj.data - obj.data != 0.0:
            raise MathDomainError(f"the loss became {obj.data}")
        obj.backward()
        self.opt.step(lr)
        s = lsum(p.data for p in params)
        if s - s != 0.0:
            raise MathDomainError("a weight became infinite or NaN after the update")
        return data_loss.data * (len(xs) if tc.reduction == "mean" else 1.0), right

    def stop_now(self) -> TrainResult:
        """Stop at once between steps: save the last whole epoch, the one logged last."""
        epoch = self.history[-1]["epoch"] if self.history else self.start
        if self.epoch_start is not None and self.epoch_start[0] == epoch:
            # the epoch after it ran whole but was not logged yet (Ctrl-C in between): the
            # checkpoint keeps the epoch the log ends with, weights and label alike
            self.roll_back()
        ck = self.save(epoch)
        wall = time.perf_counter() - self.t0
        why = f"interrupted after epoch {epoch} of {self.tc.epochs}"
        s = self.summarize("interrupted", why, ck, wall)
        return TrainResult(
            run_dir=self.run_dir,
            stopped="interrupted",
            summary=s,
            history=self.history,
            checkpoint=ck,
        )

    # -- the loop ----------------------------------------------------------------------------------
    def loop(self, on_start, on_epoch, should_stop, on_step=None) -> TrainResult:
        """Epochs until train.epochs, early stopping or a stop request; a diverged epoch
        raises JobFailed after the last good checkpoint is saved."""
        self.history = list(self.kept)
        self.begin(on_start)
        t0 = self.t0 = time.perf_counter()
        stopped: StopReason = "completed"
        epoch = self.start
        while epoch < self.tc.epochs:
            r = self.run_epoch(epoch, should_stop, on_step)
            if r.failure is not None:
                self.diverge(epoch, r, time.perf_counter() - t0)
            if r.partial:
                stopped = "interrupted"
                break
            epoch += 1
            record = self.record(epoch, r, t0)
            if on_epoch is not None:
                on_epoch(record)
            self.track_best(epoch, record)
            if r.stop:
                stopped = "interrupted"
                break
            if self.tc.patience and self.stale >= self.tc.patience:
                stopped = "early_stopping"
                break
            every = self.config.output.checkpoint_every
            if every and epoch % every == 0 and epoch < self.tc.epochs:
                self.save(epoch)
        return self.finish(stopped, epoch, time.perf_counter() - t0)

    def begin(self, on_start) -> None:
        """Tell the caller what is about to run; the snapshots' first frame."""
        ds, n = self.ds, len(self.x_train)
        if on_start is not None:
            on_start(
                {
                    "start_epoch": self.start,
                    "epochs": self.tc.epochs,
                    "run_dir": str(self.run_dir),
                    "task": ds.task.name,
                    "parameters": len(self.params),
                    "samples": {"train": n, "val": len(self.x_val)},
                }
            )
        if self.start == 0 and self.snapshots.every:  # the movie's first frame: the start
            loss0, acc0 = evaluate(
                self.model, self.x_train, self.t_train, ds.task, self.tc.loss, self.tc.reduction
            )
            self.snapshots.write(0, {"loss": loss0, "accuracy": acc0}, self.model)

    def record(self, epoch: int, r: EpochResult, t0: float) -> dict:
        """The epoch's log record, written to log.jsonl, the snapshots and the history."""
        n = len(self.x_train)
        time0 = self.kept[-1].get("time") if self.kept else 0.0
        if not isinstance(time0, (int, float)):
            time0 = 0.0
        record = {
            "epoch": epoch,
            "loss": r.loss_sum / n if self.tc.reduction == "mean" else r.loss_sum,
            "accuracy": r.right / n if self.ds.task.classifier else None,
            "val_loss": r.val_loss,
            "val_accuracy": r.val_accuracy,
            "lr": r.lr,
            "time": round(time0 + time.perf_counter() - t0, 4),
        }
        self.log.write(record)
        self.snapshots.epoch_done(epoch, record, self.model)
        self.history.append(record)
        return record

    def track_best(self, epoch: int, record: dict) -> None:
        """The best epoch so far by the monitored loss (and its weights, with patience)."""
        watched = record[self.monitor]
        if self.best is None or watched < self.best["value"] - self.tc.min_delta:
            self.best, self.stale = {"epoch": epoch, "value": watched}, 0
            if self.tc.patience:
                self.best_state = (self.model.state_dict(), self.opt.state_dict(), epoch)
        else:
            self.stale += 1

    def diverge(self, epoch: int, r: EpochResult, wall: float) -> None:
        """Save the last good checkpoint and the summary, then raise JobFailed."""
        ck = self.save(epoch)
        self.summarize("diverged", f"diverged at epoch {epoch + 1}: {r.failure}", ck, wall)
        what = (
            f"training diverged at epoch {epoch + 1} ({r.failure}); lower train.lr "
            f"(it was {r.lr:g}). The log and the last good checkpoint (epoch {ck.epoch}) are "
            f"in {self.run_dir}"
        )
        setting = f"train.lr={self.tc.lr / 10:g}"
        raise JobFailed(
            f"{what}; continue it with resume={str(self.run_dir)!r} and {setting}",
            kind="diverged",
            what=what,
            run_dir=self.run_dir,
            setting=setting,
        )

    def finish(self, stopped: StopReason, epoch: int, wall: float) -> TrainResult:
        """The last snapshot, model.json and summary.json of a run that stopped cleanly."""
        if stopped == "interrupted":
            reason = f"interrupted after epoch {epoch} of {self.tc.epochs}"
        elif stopped == "early_stopping":
            reason = (
                f"early stopping: {self.monitor} did not improve for "
                f"{plural(self.tc.patience, 'epoch')}; "
                f"model.json holds the best epoch, {self.best['epoch']} "
                f"({self.monitor} {self.best['value']:.6g})"
            )
        else:
            reason = f"trained all {plural(self.tc.epochs, 'epoch')}"
        if epoch > self.start:  # the movie's last frame: where it stopped
            self.snapshots.write(epoch, self.history[-1], self.model)
        ck = self.save(epoch)
        s = self.summarize(stopped, reason, ck, wall)
        return TrainResult(
            run_dir=self.run_dir, stopped=stopped, summary=s, history=self.history, checkpoint=ck
        )
