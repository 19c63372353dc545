"""Promises that hold at the user's seat (issue 10), checked as a user meets them: real
processes, a pseudo-terminal on stderr with stdout a pipe or a file, real SIGINTs, hostile
files generated here and run under an address-space limit."""

from __future__ import annotations

import fcntl
import json
import os
import re
import resource
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microgradcli.checkpoint import load_checkpoint
from microgradcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
MG = [sys.executable, "-m", "microgradcli"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
runner = CliRunner()


def _env(**extra: str) -> dict[str, str]:
    drop = ("NO_COLOR", "CI", "COLUMNS", "LINES", "MG_DEBUG", "FORCE_COLOR", "TERM")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "TERM": "xterm-256color", **extra}


def run_tty(args, cwd, cols: int = 80, stdout=subprocess.PIPE, env=None, timeout: float = 120):
    """Run mg with stderr on a pseudo-terminal `cols` wide; (exit code, stdout, screen lines)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    proc = subprocess.Popen(
        [*MG, *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=slave,
        cwd=cwd,
        env=env or _env(),
    )
    os.close(slave)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not data:
                break
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    out = proc.stdout.read() if stdout == subprocess.PIPE else b""
    proc.wait(timeout=timeout)
    reader.join(timeout=10)
    os.close(master)
    screen = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    lines = [line for line in re.split(r"[\r\n]", screen) if line.strip()]
    return proc.returncode, out, lines


def bar_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("epoch ")]


def mg(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


# -- 1. --json under a terminal --------------------------------------------------------------------
def test_json_at_a_terminal_goes_to_stdout_and_the_bar_to_stderr_only(tmp_path):
    """`mg train ... --json | jq` typed at a terminal: stderr a TTY, stdout a pipe."""
    rc, out, screen = run_tty(
        ["train", ROOT / "configs/binary.yaml", "--out", "r", "--json"], tmp_path
    )
    assert rc == 0, screen
    records = [json.loads(line) for line in out.decode().splitlines()]
    assert [r["epoch"] for r in records] == list(range(1, 21))
    assert b"\x1b" not in out and b"epoch 20/20" not in out
    assert any(line.startswith("epoch 20/20") for line in screen)  # the bar, on the terminal
    assert not any(line.startswith("{") for line in screen)  # no JSON on the terminal


def test_json_at_a_terminal_into_a_file(tmp_path):
    """`mg train ... --json > log.jsonl` at a terminal."""
    with open(tmp_path / "log.jsonl", "wb") as f:
        rc, _, screen = run_tty(
            ["train", ROOT / "configs/binary.yaml", "--out", "r", "--json"], tmp_path, stdout=f
        )
    assert rc == 0, screen
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, 21))
    assert bar_lines(screen)


# -- 7. the progress bar -----------------------------------------------------------------------------
@pytest.mark.parametrize("cols", [80, 60])
def test_the_bar_keeps_epoch_loss_and_eta_at_narrow_widths(tmp_path, cols):
    # spiral has validation metrics: the widest line mg draws
    args = ["train", ROOT / "configs/spiral.yaml", "--out", "r", "--set", "train.epochs=30"]
    rc, _, screen = run_tty(args, tmp_path, cols)
    assert rc == 0, screen
    shown = bar_lines(screen)
    assert shown and shown[-1].startswith("epoch 30/30")
    for line in shown:
        assert len(line) < cols, line
        assert re.match(r"epoch \d+/30  ", line) and "  loss " in line, line
        assert re.search(r"  eta (\d+:)?\d+:\d\d$", line), line


def test_the_bar_drops_the_least_important_fields_first():
    from microgradcli.cli.train import _Progress

    p = _Progress(quiet=True)
    p.epochs, p.done, p.start_epoch, p.t0 = 60, 12, 0, 0.0
    p.rec = {"loss": 0.25, "accuracy": 0.9, "val_loss": 0.5, "val_accuracy": 0.8, "lr": 0.01}
    p.on_step(12, 2, 5)
    wide = p.line(200, now=3.0)
    for field in ("epoch 12/60", "step 2/5", "━", "loss 0.25", "acc 90.0%", "val 0.5"):
        assert field in wide
    assert "val_acc 80.0%" in wide and "lr 0.01" in wide and "eta 0:12" in wide

    def fields(line: str) -> set[str]:  # the bar's own width changes: leave it out
        return {f for f in line.split("  ") if not set(f) <= set("━╺─")}

    previous = wide
    for width in range(120, 33, -1):  # "epoch 12/60  loss 0.25  eta 0:12" needs 33
        line = p.line(width, now=3.0)
        assert len(line) < width
        assert line.startswith("epoch 12/60") and "loss 0.25" in line and "eta 0:12" in line
        assert fields(line) <= fields(previous)  # narrower: fields only go, none come back
        previous = line
    assert p.line(20, now=3.0) == "epoch 12/60  loss 0"  # too narrow even for those: cut
    assert "lr" not in p.line(70, now=3.0)  # lr goes before accuracy
    assert "acc 90.0%" in p.line(70, now=3.0)


def test_the_bar_moves_inside_a_long_epoch(tmp_path):
    # one epoch of 1000 steps: the bar must not sit at 0/1 until it ends
    args = ["train", ROOT / "configs/moons.yaml", "--out", "r", "--set", "train.epochs=1"]
    args += ["--set", "data.n_samples=3000", "--set", "train.batch_size=3"]
    rc, _, screen = run_tty(args, tmp_path, 100)
    assert rc == 0, screen
    steps = [re.search(r"step (\d+)/1000", line) for line in bar_lines(screen)]
    inside = [int(m.group(1)) for m in steps if m]
    assert inside and 0 < min(inside) < 1000, screen[:5]


# -- 13. colour and the bar: NO_COLOR and CI as no-color.org and CI systems mean them ----------------
@pytest.mark.parametrize(
    ("extra", "bar"),
    [({"NO_COLOR": ""}, True), ({"CI": "false"}, True)]
    + [({"NO_COLOR": "1"}, False), ({"CI": "true"}, False)],
)
def test_only_a_non_empty_no_color_or_a_true_ci_turns_the_bar_off(tmp_path, extra, bar):
    args = ["train", ROOT / "configs/binary.yaml", "--out", "r", "--set", "train.epochs=2"]
    rc, out, screen = run_tty(args, tmp_path, env=_env(**extra))
    assert rc == 0, screen
    assert bool(bar_lines(screen)) is bar, (extra, screen)


# -- 3. resume as printed --------------------------------------------------------------------------
def _piped(args: list, cwd: Path) -> subprocess.Popen:
    """mg as a real process with stdout and stderr on pipes (text), e.g. to send it SIGINT."""
    return subprocess.Popen(
        [*MG, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=_env(),
    )


def _hint(stderr: str) -> list[str]:
    match = re.search(r"continue with: (mg .*)$", stderr, re.M)
    assert match, stderr
    words = shlex.split(match.group(1))
    assert words[0] == "mg"
    return [*MG, *words[1:]]


def test_the_resume_hint_after_ctrl_c_works_as_printed(tmp_path):
    args = ["train", ROOT / "configs/moons.yaml", "--out", "runs/cc", "--json"]
    args += ["--set", "data.n_samples=20", "--set", "train.epochs=600"]
    p = _piped(args, tmp_path)
    assert json.loads(p.stdout.readline())["epoch"] == 1
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    saved = load_checkpoint(tmp_path / "runs/cc/model.json").epoch
    assert 1 <= saved < 600
    again = subprocess.run(
        _hint(err), capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=120
    )
    assert again.returncode == 0, again.stderr
    log = (tmp_path / "runs/cc/log.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in log] == list(range(1, 601))
    assert load_checkpoint(tmp_path / "runs/cc/model.json").epoch == 600


def test_resume_needs_no_config_and_takes_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    small = ["--set", "data.n_samples=16", "--set", "model.hidden=[4]"]
    small += ["--set", "train.schedule=constant"]  # the lr then does not depend on epochs
    r = mg("train", ROOT / "configs/moons.yaml", "--out", "r", *small, "--set", "train.epochs=3")
    assert r.exit_code == 0, r.output
    r = mg("train", "--resume", "r/model.json", "--set", "train.epochs=5")
    assert r.exit_code == 0, r.output
    r = mg("train", "--resume", "r", "--set", "train.epochs=7", "--json")
    assert r.exit_code == 0, r.output
    assert [json.loads(line)["epoch"] for line in r.stdout.splitlines()] == [6, 7]
    r = mg("train", "--resume", "r")
    assert r.exit_code == 2 and "already trained 7 epochs and train.epochs is 7" in r.stderr
    # train.epochs counts all epochs: the same weights as seven epochs in one go
    r = mg("train", ROOT / "configs/moons.yaml", "--out", "one", *small, "--set", "train.epochs=7")
    assert r.exit_code == 0, r.output
    a, b = load_checkpoint(tmp_path / "r/model.json"), load_checkpoint(tmp_path / "one/model.json")
    assert a.epoch == b.epoch == 7 and a.model.state_dict() == b.model.state_dict()
    r = mg("train")
    assert r.exit_code == 2 and "--resume" in r.stderr


# -- 6. Ctrl-C -------------------------------------------------------------------------------------
def test_ctrl_c_says_so_at_once_and_a_second_one_stops_now(tmp_path):
    # full-batch steps of 1500 samples through 32x32 hidden units: about a second each
    args = ["train", ROOT / "configs/moons.yaml", "--out", "r", "--json", "--set", "train.epochs=3"]
    args += ["--set", "data.n_samples=1500", "--set", "model.hidden=[32,32]"]
    p = _piped(args, tmp_path)
    assert json.loads(p.stdout.readline())["epoch"] == 1  # epoch 2's one step has begun
    p.send_signal(signal.SIGINT)
    assert p.stderr.readline() == "stopping after this step (Ctrl-C again to stop now)\n"
    assert p.poll() is None  # said before the step ended
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert out == "" and "Traceback" not in err
    assert "interrupted: saved epoch 1 to r/model.json; continue with: mg train --resume r" in err
    assert load_checkpoint(tmp_path / "r/model.json").epoch == 1  # the last whole epoch
    assert len((tmp_path / "r/log.jsonl").read_text().splitlines()) == 1


def _rss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    m = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(m.group(1)) / 1024 if m else 0.0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_ctrl_c_interrupts_data_generation(tmp_path):
    args = ["train", ROOT / "configs/moons.yaml", "--out", "r", "--set", "train.batch_size=10"]
    args += ["--set", "data.n_samples=2000000", "--set", "train.epochs=1"]
    p = _piped(args, tmp_path)
    while _rss_mb(p.pid) < 150 and p.poll() is None:  # generating: memory grows
        time.sleep(0.01)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err == "interrupted before the first epoch; nothing was trained\n"
    assert not (tmp_path / "r/model.json").exists()


# -- 4, 5. empty, hostile and absurd configs --------------------------------------------------------
def _limited():
    limit = 2 * 2**30  # a regression fails here instead of exhausting the machine
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def mg_limited(args, cwd, input: bytes | None = None):
    return subprocess.run(
        [*MG, *map(str, args)],
        input=input,
        capture_output=True,
        cwd=cwd,
        env=_env(),
        preexec_fn=_limited,
        timeout=60,  # a hang fails the test
    )


def one_error_line(done) -> str:
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert done.stdout == b""
    return err


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing but a comment\n"])
def test_an_empty_config_is_an_error(tmp_path, text):
    (tmp_path / "c.yaml").write_text(text)
    err = one_error_line(mg_limited(["train", "c.yaml"], tmp_path))
    assert "c.yaml: the config is empty" in err
    assert not (tmp_path / "runs").exists()


def test_empty_stdin_and_dev_null_are_empty_configs(tmp_path):
    err = one_error_line(mg_limited(["train", "-"], tmp_path, input=b""))
    assert "<stdin>: the config is empty (nothing came on stdin)" in err
    err = one_error_line(mg_limited(["train", os.devnull], tmp_path))
    assert f"{os.devnull}: the config is empty" in err
    assert not (tmp_path / "runs").exists()


def _alias_bomb(levels: int = 40) -> str:
    lines = ["a0: &a0 [1, 1]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


HOSTILE = {
    "lists": "data:\n  source: inline\n  x: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "maps": "name: x\nseed: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n",
    "blocks": "".join("  " * i + "a:\n" for i in range(2_000)) + "  " * 2_000 + "1\n",
    "sequences": "- " * 10_000 + "1\n",
    "alias bomb": _alias_bomb(),
}


@pytest.mark.parametrize(
    ("command", "kind"), [("train", kind) for kind in HOSTILE] + [("config", "lists")]
)
def test_hostile_yaml_is_one_error_line(tmp_path, kind, command):
    (tmp_path / "h.yaml").write_text(HOSTILE[kind])
    err = one_error_line(mg_limited([command, "h.yaml"], tmp_path))
    want = "expands to more than" if kind == "alias bomb" else "nests deeper than 64 levels"
    assert err.startswith("error: h.yaml") and want in err, err


def test_a_hostile_set_value_is_one_error_line(tmp_path):
    deep = "[" * 10_000 + "]" * 10_000
    args = ["config", ROOT / "configs/moons.yaml", "--set", f"model.hidden={deep}"]
    err = one_error_line(mg_limited(args, tmp_path))
    assert "--set model.hidden" in err and "nests deeper" in err


ABSURD = {
    "1e9 samples": ("data:\n  source: moons\n  n_samples: 1e9\n", "1000000000 samples"),
    "1.0e9 samples": ("data:\n  source: moons\n  n_samples: 1.0e9\n", "1000000000 samples"),
    "10^8 samples": ("data:\n  source: moons\n  n_samples: 100000000\n", "100000000 samples"),
    "10^8 batched": (
        "data:\n  source: moons\n  n_samples: 100000000\ntrain:\n  batch_size: 10\n",
        "use fewer samples (data.n_samples)",
    ),
    "10^8 neurons": ("model:\n  hidden: [100000000]\n", "layers [2, 100000000, 1]"),
}


@pytest.mark.parametrize(
    ("command", "kind"),
    [("train", kind) for kind in ABSURD] + [("config", "1e9 samples"), ("config", "10^8 neurons")],
)
def test_absurd_sizes_are_refused_before_anything_is_allocated(tmp_path, kind, command):
    text, want = ABSURD[kind]
    (tmp_path / "big.yaml").write_text(text)
    err = one_error_line(mg_limited([command, "big.yaml"], tmp_path))
    assert "too big for this machine" in err and want in err, err
    assert re.search(r"need about [\d.]+ [GT]B of memory", err), err
    assert not (tmp_path / "runs").exists()


def test_absurd_sizes_are_refused_without_a_limit_too(tmp_path):
    """With the whole machine's memory available (no ulimit), mg config still refuses."""
    (tmp_path / "big.yaml").write_text("model:\n  hidden: [100000000]\n")
    done = subprocess.run(
        [*MG, "config", "big.yaml"], capture_output=True, cwd=tmp_path, env=_env(), timeout=60
    )
    assert done.returncode == 2 and b"too big for this machine" in done.stderr


def test_ordinary_configs_fit_under_the_limit(tmp_path):
    args = ["train", ROOT / "configs/spiral.yaml", "--out", "r", "-q", "--set", "train.epochs=5"]
    done = mg_limited(args, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == done.stderr == b""  # -q: nothing but errors


# -- 8. early stopping ----------------------------------------------------------------------------
def test_the_summary_describes_the_kept_model_and_eval_agrees(tmp_path):
    config = ROOT / "configs/flowers.yaml"
    r = mg("train", config, "--out", tmp_path / "f", "--set", "train.epochs=400")
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "f/summary.json").read_text())
    log = [json.loads(line) for line in (tmp_path / "f/log.jsonl").read_text().splitlines()]
    assert s["stopped"] == "early_stopping" and s["kept"] == "best"
    kept = s["checkpoint_epoch"]
    assert kept == s["best_epoch"] < s["epochs"] == len(log) < 400
    assert load_checkpoint(tmp_path / "f/model.json").epoch == kept
    assert s["val_loss"] == log[kept - 1]["val_loss"] == s["best_val_loss"]
    assert s["last_epoch"]["epoch"] == len(log) and s["last_epoch"]["val_loss"] != s["val_loss"]
    assert f"kept epoch {kept} (the best val_loss)" in r.stdout
    for split, key in (("val", "val_"), ("train", "")):
        r = mg("eval", tmp_path / "f/model.json", "--data", config, "--split", split, "--json")
        assert r.exit_code == 0, r.output
        got = json.loads(r.stdout)
        assert got["loss"] == pytest.approx(s[f"{key}loss"], rel=1e-12, abs=1e-15)
        assert got["accuracy"] == s[f"{key}accuracy"]


# -- 9. portable run folders ------------------------------------------------------------------------
def test_a_project_folder_moves_as_a_whole(tmp_path, monkeypatch):
    proj = tmp_path / "course"
    (proj / "configs").mkdir(parents=True)
    (proj / "data").mkdir()
    shutil.copy(ROOT / "configs/flowers.yaml", proj / "configs")
    shutil.copy(ROOT / "data/flowers.csv", proj / "data")
    monkeypatch.chdir(proj)
    r = mg("train", "configs/flowers.yaml", "--out", "runs/f", "--set", "train.epochs=3")
    assert r.exit_code == 0, r.output
    assert "path: ../../data/flowers.csv" in (proj / "runs/f/config.yaml").read_text()
    ck = json.loads((proj / "runs/f/model.json").read_text())
    assert ck["config"]["data"]["path"] == "../../data/flowers.csv"

    moved = tmp_path / "elsewhere" / "course-copy"  # zipped and unzipped on another machine
    moved.parent.mkdir()
    shutil.move(proj, moved)
    monkeypatch.chdir(tmp_path)
    r = mg("train", "--resume", moved / "runs/f", "--set", "train.epochs=5")
    assert r.exit_code == 0, r.output
    r = mg(
        "train",
        moved / "runs/f/config.yaml",
        "--out",
        tmp_path / "again",
        "--set",
        "train.epochs=1",
    )
    assert r.exit_code == 0, r.output
    from microgradcli.predict import training_dataset

    assert len(training_dataset(load_checkpoint(moved / "runs/f/model.json")).x) == 90

    (moved / "data/flowers.csv").unlink()
    r = mg("train", "--resume", moved / "runs/f", "--set", "train.epochs=6")
    assert r.exit_code == 2
    tried = (moved / "data/flowers.csv").resolve()
    assert r.stderr.startswith(f"error: {tried}: no such data file"), r.stderr
    assert "--set data.path=" in r.stderr


# -- 13. small things ------------------------------------------------------------------------------
def test_mg_alone_prints_help_and_a_group_alone_one_usage_line():
    done = subprocess.run(MG, capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 0 and "Usage: mg" in done.stdout and done.stderr == ""
    done = subprocess.run([*MG, "plot"], capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: mg plot needs a command: mg plot loss|boundary|fn")
    assert done.stderr.endswith(" (see 'mg plot --help')\n") and done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "command",
    [[], ["train"], ["config"], ["schema"], ["grad"], ["draw"], ["predict"], ["eval"]]
    + [["plot", "loss"], ["plot", "boundary"], ["plot", "fn"]],
    ids=lambda c: " ".join(c) or "mg",
)
def test_help_shows_no_type_for_flags(command):
    r = mg(*command, "--help")
    assert r.exit_code == 0, r.output
    assert "<bool>" not in r.stdout and "--help" in r.stdout


def test_a_value_given_to_a_flag_points_at_the_commands_help():
    r = mg("grad", "x", "--at", "x=1", "--json=true")
    assert r.exit_code == 2
    assert r.stderr == "error: Option '--json' does not take a value. (see 'mg grad --help')\n"


def test_a_new_source_from_set_is_blamed_on_the_set(tmp_path):
    r = mg("config", ROOT / "configs/moons.yaml", "--set", "data.source=csv")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: --set data.source=csv: data.path: missing"), r.stderr


def test_counts_read_as_english(tmp_path):
    r = mg(
        "train", ROOT / "configs/binary.yaml", "--out", tmp_path / "b", "--set", "train.epochs=1"
    )
    assert r.exit_code == 0 and "completed after 1 epoch," in r.stdout, r.output
    (tmp_path / "one.csv").write_text("a,b\n1\n")
    cfg = f"data:\n  source: csv\n  path: {tmp_path / 'one.csv'}\n"
    (tmp_path / "c.yaml").write_text(cfg)
    r = mg("train", tmp_path / "c.yaml", "--out", tmp_path / "c")
    assert r.exit_code == 2
    assert "row has 1 value; the file has 2 columns" in r.stderr, r.stderr


def test_quiet_prints_nothing_and_out_dash_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = mg("train", ROOT / "configs/binary.yaml", "--out", "q", "-q")
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == ""
    r = mg("train", ROOT / "configs/binary.yaml", "--out", "-")
    assert r.exit_code == 2 and "--out is a folder" in r.stderr and "--json" in r.stderr
    assert not (tmp_path / "-").exists()


def test_fancy_stderr_reads_no_color_and_ci_as_their_conventions(monkeypatch):
    from microgradcli.cli import _common

    monkeypatch.setattr(_common.sys.stderr, "isatty", lambda: True, raising=False)
    cases = {(None, None): True, ("", None): True, (None, "false"): True, (None, "0"): True}
    cases |= {("1", None): False, (None, "true"): False, (None, "1"): False}
    for (no_color, ci), fancy in cases.items():
        for name, value in (("NO_COLOR", no_color), ("CI", ci)):
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        assert _common.fancy_stderr() is fancy, (no_color, ci)
    assert _common.fancy_stderr(quiet=True) is False


def test_the_hint_after_divergence_is_a_command_that_runs(tmp_path):
    args = ["train", ROOT / "configs/moons.yaml", "--out", "d", "--set", "train.lr=1e9"]
    args += ["--set", "train.schedule=constant", "--set", "data.n_samples=20"]
    done = subprocess.run(
        [*MG, *map(str, args)], capture_output=True, text=True, cwd=tmp_path, env=_env()
    )
    assert done.returncode == 1, done.stderr
    saved = load_checkpoint(tmp_path / "d/model.json").epoch
    again = subprocess.run(
        _hint(done.stderr), capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=120
    )
    # accepted as given: it resumes from the last good epoch with a tenth of the rate (which
    # for 1e9 still diverges, and says so with the next hint)
    assert again.returncode == 1 and "training diverged at epoch" in again.stderr, again.stderr
    assert "train.lr=1e+07" in again.stderr
    assert load_checkpoint(tmp_path / "d/model.json").epoch >= saved


def test_a_full_run_folder_names_the_resume_that_continues_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = mg("train", ROOT / "configs/binary.yaml", "--out", "b", "--set", "train.epochs=2")
    assert r.exit_code == 0, r.output
    r = mg("train", ROOT / "configs/binary.yaml", "--out", "b", "--set", "train.epochs=4")
    assert r.exit_code == 2 and "or --resume b to continue it" in r.stderr, r.stderr
    r = mg("train", ROOT / "configs/binary.yaml", "--resume", "b", "--set", "train.epochs=4")
    assert r.exit_code == 0, r.output
