"""snapshots.jsonl: the weights every N epochs (output.snapshot_every), for animations.

One JSON object per line, written whole with one append and flushed to the OS at once,
like log.jsonl: {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "model"}, where
"model" is the MLP's state_dict(). A new run starts with epoch 0 (the initial weights, the
loss they give) and ends with its last epoch, so a movie runs from the random start to the
trained model. A resumed run keeps the snapshots of the epochs its checkpoint holds and
appends after them, so the file always tells one history.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microgradcli.errors import InputError
from microgradcli.fileio import check_numbers, epoch_lines, json_lines, read_text, write_atomic

__all__ = ["SNAPSHOTS", "Snapshot", "SnapshotWriter", "read_snapshots"]

SNAPSHOTS = "snapshots.jsonl"
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
_EVERY = "output.snapshot_every=5"  # the setting that keeps snapshots, for advice


def _finite(v: Any) -> Any:
    return v if v is None or math.isfinite(v) else None


def _line(epoch: int, record: dict, model: Any) -> bytes:
    metrics = {k: _finite(record.get(k)) for k in METRICS}
    rec = {"epoch": epoch, **metrics, "model": model.state_dict()}
    return (json.dumps(rec, allow_nan=False) + "\n").encode("utf-8")


class SnapshotWriter:
    """Appends a snapshot every `every` epochs (0: never; the file is then left alone)."""

    def __init__(self, path: str | Path, every: int, start: int = 0):
        self.path, self.every, self.last = Path(path), every, start
        self.fd: int | None = None
        kept = [line + "\n" for line, _ in epoch_lines(self.path, start)]
        if not every and not self.path.exists():
            return
        # A resumed run drops snapshots of epochs it is about to redo, as the log does.
        write_atomic(self.path, "".join(kept))
        if every:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            self.last = -1 if start == 0 and not kept else start

    def write(self, epoch: int, record: dict, model: Any) -> None:
        """Keep this epoch's weights, whatever the schedule says."""
        if self.fd is None or epoch == self.last:
            return
        data = _line(epoch, record, model)
        while data:  # one write for any line of sane size; a loop for the rest
            data = data[os.write(self.fd, data) :]
        self.last = epoch

    def epoch_done(self, epoch: int, record: dict, model: Any) -> None:
        """After each whole epoch: a snapshot when epoch is a multiple of `every`."""
        if self.every and epoch % self.every == 0:
            self.write(epoch, record, model)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@dataclass
class Snapshot:
    """The weights (a state_dict) after `epoch` epochs, and the metrics of that epoch."""

    epoch: int
    loss: float | None
    accuracy: float | None
    val_loss: float | None
    val_accuracy: float | None
    model: dict


def read_snapshots(run: str | Path) -> list[Snapshot]:
    """The snapshots of a run folder (or of its snapshots.jsonl), in epoch order.

    A run without them is an InputError saying how to get them; a torn last line (a run
    killed mid-write) is skipped, any other bad line is an error naming it.
    """
    path = Path(run)
    if path.is_dir():
        path = path / SNAPSHOTS
    elif path.name != SNAPSHOTS:
        path = path.parent / SNAPSHOTS  # RUN/model.json -> RUN/snapshots.jsonl
    if not path.exists():
        what = (
            f"{path.parent}: no {SNAPSHOTS} (the run kept no snapshots); to keep the "
            "weights every 5 epochs, train it with"
        )
        raise InputError(f"{what} {_EVERY}", kind="setting", what=what, setting=_EVERY)
    text = read_text(path, "snapshot file")
    snaps: dict[int, Snapshot] = {}
    for where, rec in json_lines(text, str(path), SNAPSHOTS, torn_tail_ok=True):
        epoch = rec.get("epoch") if isinstance(rec, dict) else None
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise InputError(f'{where}: not a snapshot line (it needs "epoch" and "model")')
        if not isinstance(rec.get("model"), dict):
            raise InputError(f'{where}: not a snapshot line (it needs "epoch" and "model")')
        check_numbers(rec, METRICS, where)
        metrics = {k: None if rec.get(k) is None else float(rec[k]) for k in METRICS}
        snaps[epoch] = Snapshot(epoch=epoch, model=rec["model"], **metrics)
    if not snaps:
        what = f"{path}: no snapshots yet; train with"
        raise InputError(f"{what} {_EVERY}", kind="setting", what=what, setting=_EVERY)
    return [snaps[e] for e in sorted(snaps)]
