"""mg sweep: the plan (grid, random, seeds, ids), validation errors, and real runs:
in this process, on local processes, and on a real Dask cluster on 127.0.0.1 (a scheduler
and two workers as subprocesses), with a worker killed, a Ctrl-C and --resume, and a
worker of another mg version refused. Every trial is compared byte for byte with
`mg train` of its config.yaml."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from microgradcli.errors import InputError
from microgradcli.sweep import load_sweep, make_plan

MG = [sys.executable, "-m", "microgradcli"]
BASE = """\
name: tiny
seed: 1
data: {source: moons, n_samples: 60, noise: 0.1, val_split: 0.25}
model: {hidden: [8, 8], activation: tanh}
train: {epochs: EPOCHS, loss: hinge, lr: 0.5}
"""


def write(tmp: Path, sweep: str, epochs: int = 4) -> Path:
    (tmp / "base.yaml").write_text(BASE.replace("EPOCHS", str(epochs)))
    path = tmp / "s.yaml"
    path.write_text(sweep)
    return path


GRID = """\
name: g
base: base.yaml
parameters:
  train.lr: [0.1, 0.3]
  model.hidden: [[2], [3]]
seeds: [1, 2]
metric: {name: val_loss}
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    return {**env, "NO_COLOR": "1", **extra}


def mg(*args: str, cwd: Path, timeout: float = 90, env=None) -> subprocess.CompletedProcess:
    """mg in a process of its own, without a $DASK_SCHEDULER_ADDRESS unless env gives one."""
    return subprocess.run(
        [*MG, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env or _env()
    )


def mg_piped(*args: str, cwd: Path) -> subprocess.Popen:
    """mg started, its stdout and stderr read as it runs."""
    return subprocess.Popen(
        [*MG, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    )


# -- the plan ----------------------------------------------------------------------------
def test_grid_order_first_parameter_slowest_then_seeds(tmp_path):
    plan = make_plan(load_sweep(write(tmp_path, GRID)))
    got = [(t.params["train.lr"], t.params["model.hidden"], t.seed) for t in plan.trials]
    assert got == [
        (lr, h, s) for lr in (0.1, 0.3) for h in ([2], [3]) for s in (1, 2)
    ]  # nested loops in file order
    assert plan.points == 4
    t = plan.trials[5]
    assert (t.config["train"]["lr"], t.config["model"]["hidden"], t.config["seed"]) == (0.3, [2], 2)
    assert t.config["name"] == f"g-{t.id}" and t.config["output"]["dir"] is None


def test_ids_are_stable_short_hashes_of_the_resolved_config(tmp_path):
    path = write(tmp_path, GRID)
    a = make_plan(load_sweep(path))
    b = make_plan(load_sweep(path))
    assert [t.id for t in a.trials] == [t.id for t in b.trials]
    assert len({t.id for t in a.trials}) == 8
    assert all(len(t.id) == 10 and int(t.id, 16) >= 0 for t in a.trials)
    # another process (another hash seed) gives the same ids, and so does another file
    # naming the same trials in another order
    r = mg("sweep", str(path), "--dry-run", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [json.loads(line)["id"] for line in r.stdout.splitlines()] == [t.id for t in a.trials]
    (tmp_path / "s2.yaml").write_text(
        GRID.replace("[0.1, 0.3]", "[0.3, 0.1]").replace("name: g", "name: h")
    )
    c = make_plan(load_sweep(tmp_path / "s2.yaml"))
    assert {t.id for t in c.trials} == {t.id for t in a.trials}


RANDOM = """\
base: base.yaml
method: random
trials: 12
sample_seed: SEED
parameters:
  train.lr: {log_uniform: [0.001, 1.0]}
  train.momentum: {uniform: [0.5, 0.9]}
  model.hidden: {choice: [[2], [4, 4]]}
  train.epochs: {int: [2, 5]}
"""


def test_random_sampling_is_seeded_and_in_range(tmp_path):
    path = write(tmp_path, RANDOM.replace("SEED", "7"))
    a = make_plan(load_sweep(path))
    b = make_plan(load_sweep(path))
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert len(a.trials) + a.duplicates == 12
    for t in a.trials:
        p = t.params
        assert 0.001 <= p["train.lr"] <= 1.0 and 0.5 <= p["train.momentum"] <= 0.9
        assert p["model.hidden"] in ([2], [4, 4]) and p["train.epochs"] in range(2, 6)
        assert t.config["train"]["lr"] == p["train.lr"] and t.seed == 1  # the base's seed
    path.write_text(RANDOM.replace("SEED", "8"))
    c = make_plan(load_sweep(path))
    assert [t.params for t in c.trials] != [t.params for t in a.trials]


def test_seeds_default_to_the_base_seed_and_a_sweep_of_seeds_only(tmp_path):
    plan = make_plan(load_sweep(write(tmp_path, "base: base.yaml\nseeds: [3, 1, 2]\n")))
    assert [t.seed for t in plan.trials] == [3, 1, 2] and plan.trials[0].params == {}
    assert plan.sweep.name == "s" and plan.sweep.metric.name == "val_loss"  # val_split > 0


BAD = [
    (
        "base: base.yaml\nparamters: {train.lr: [1]}\n",
        "s.yaml:2: paramters: unknown key; did you mean 'parameters'?",
    ),
    (
        "base: base.yaml\nparameters:\n  train.lr: [0.1, -1]\n",
        "s.yaml:3: parameters.train.lr: the point train.lr=-1 gives an invalid config",
    ),
    (  # a colon in the value: the error is the config's, after the --set it names
        'base: base.yaml\nparameters:\n  train.lr: ["a: b"]\n',
        "the point train.lr=a: b gives an invalid config: train.lr: must be a number (got 'a: b')",
    ),
    (
        "base: base.yaml\nparameters:\n  train.lrr: [0.1]\n",
        "train.lrr: unknown key; did you mean 'lr'?",
    ),
    (
        "base: base.yaml\nparameters:\n  train.lr: {log_uniform: [0.1, 1]}\n",
        "s.yaml:3: parameters.train.lr: a log_uniform range needs method: random",
    ),
    (
        "base: base.yaml\nmethod: random\nparameters:\n  train.lr: {log_uniform: [0, 1]}\ntrials: 2\n",
        "parameters.train.lr: log_uniform needs low > 0",
    ),
    ("base: base.yaml\nmethod: random\n", "s.yaml:2: trials: missing; method: random needs trials"),
    (
        "base: base.yaml\nparameters:\n  seed: [1, 2]\n",
        "parameters.seed: cannot be swept; list the seeds under seeds: instead",
    ),
    (
        "base: base.yaml\nparameters:\n  train.lr: [0.1, 0.1]\n",
        "parameters.train.lr: the value 0.1 is listed twice",
    ),
    (
        "base: base.yaml\nmetric: {name: val_los}\n",
        "s.yaml:2: metric.name: must be one of 'loss', 'accuracy', 'val_loss' or 'val_accuracy'",
    ),
    (
        "base: base.yaml\nset: {data.val_split: 0.0}\nmetric: {name: val_accuracy}\n",
        "metric.name: val_accuracy needs a validation split",
    ),
    ("base: nothere.yaml\n", "s.yaml:1: base: no such config file"),
    ("base: base.yaml\nseeds: [1, -2]\n", "s.yaml:2: seeds[1]: must be >= 0 (got -2)"),
    ("name: a/b\nbase: base.yaml\n", "s.yaml:1: name: must be letters, digits"),
    ("- base.yaml\n", "s.yaml: a sweep file is a mapping"),
    ("base: [base.yaml\n", "s.yaml:2:1: invalid YAML"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[m.split(": ", 1)[1][:40] for _, m in BAD])
def test_bad_sweep_files_name_file_line_and_key(tmp_path, text, message):
    with pytest.raises(InputError) as e:
        make_plan(load_sweep(write(tmp_path, text)))
    assert message in str(e.value), str(e.value)


def test_bad_sweep_file_on_the_command_line_is_one_error_line_exit_2(tmp_path):
    r = mg("sweep", str(write(tmp_path, BAD[1][0])), cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr
    r = mg("sweep", str(tmp_path / "missing.yaml"), cwd=tmp_path)
    assert r.returncode == 2 and "no such sweep file" in r.stderr


def test_a_training_config_given_as_the_sweep_file_says_so_in_one_line(tmp_path):
    config = Path(__file__).resolve().parents[1] / "configs" / "moons.yaml"
    r = mg("sweep", str(config), cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and r.stdout == "", r.stderr
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(f"error: {config}: this is a training config (data, model, train)")
    assert "sweeps/moons-lr.yaml: base: ../configs/moons.yaml, parameters: {" in r.stderr
    assert r.stderr.rstrip().endswith(f"to train it once: mg train {config}")
    assert not (tmp_path / "runs").exists()
    # a sweep file with a training key among its own is a sweep file with a mistake in it
    with pytest.raises(InputError, match="s.yaml:2: model: unknown key"):
        load_sweep(write(tmp_path, "base: base.yaml\nmodel: {hidden: [2]}\n"))


def test_the_library_names_no_flags_and_the_cli_words_them(tmp_path):
    pytest.importorskip("distributed")
    from microgradcli.cli._app import _render
    from microgradcli.sweep import run_sweep, sweep_dir_for

    plan = make_plan(load_sweep(write(tmp_path, RUN)))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "results.jsonl").write_text("")
    no_val = tmp_path / "v.yaml"
    no_val.write_text("base: base.yaml\nset: {data.val_split: 0.0}\nmetric: {name: val_loss}\n")
    calls = {
        "--out is empty": lambda: sweep_dir_for(plan, " "),
        "add --resume to finish it": lambda: run_sweep(plan, out=tmp_path / "taken"),
        "--scheduler http://127.0.0.1:8787: Dask has no": lambda: run_sweep(
            plan, scheduler="http://127.0.0.1:8787"
        ),
        "e.g. --set data.val_split=0.2": lambda: make_plan(load_sweep(no_val)),
        "s.yaml:2: base: --set train.lr=abc: train.lr: must be a number": lambda: load_sweep(
            tmp_path / "s.yaml", ["train.lr=abc"]
        ),
    }
    for cli_words, call in calls.items():
        with pytest.raises(InputError) as e:
            call()
        assert "--" not in str(e.value) and cli_words in _render(e.value), _render(e.value)


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path):
    r = mg("sweep", str(write(tmp_path, GRID)), "--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["#", "id", "train.lr", "model.hidden", "seed"]
    assert len(lines) == 1 + 8 + 1 and "8 trials (4 points x 2 seeds)" in lines[-1]
    assert not (tmp_path / "runs").exists()


# -- real runs ---------------------------------------------------------------------------
RUN = """\
name: run
base: base.yaml
parameters:
  train.lr: [0.2, 0.6]
seeds: [1, 2]
"""


def _log_without_time(path: Path) -> list[dict]:
    return [
        {k: v for k, v in json.loads(line).items() if k != "time"}
        for line in path.read_text().splitlines()
    ]


def _trials(sweep_dir: Path) -> dict[str, dict]:
    lines = [json.loads(line) for line in (sweep_dir / "results.jsonl").read_text().splitlines()]
    ids = [r["id"] for r in lines]
    assert len(ids) == len(set(ids)), "a trial appears twice in results.jsonl"
    return {r["id"]: r for r in lines}


def _same(a: Path, b: Path, ids) -> None:
    for tid in ids:
        assert (a / tid / "model.json").read_bytes() == (b / tid / "model.json").read_bytes(), tid
        assert _log_without_time(a / tid / "log.jsonl") == _log_without_time(b / tid / "log.jsonl")
        assert (a / tid / "config.yaml").read_bytes() == (b / tid / "config.yaml").read_bytes()


class Cluster:
    """A Dask scheduler and workers on 127.0.0.1, each a subprocess in its own session,
    every wait bounded, everything stopped at the end."""

    def __init__(self, tmp: Path):
        self.tmp, self.procs, self.workers = tmp, [], []
        self.file = tmp / "scheduler.json"
        self.scheduler = self._start(
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(self.file),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not self.file.exists() or not self.file.read_text().strip():
            assert time.monotonic() < deadline, "the scheduler did not start"
            assert self.scheduler.poll() is None, (tmp / "scheduler.log").read_text()
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]

    def _start(self, what: str, *args: str) -> subprocess.Popen:
        log = open(self.tmp / f"{what}.log", "ab")  # noqa: SIM115 (closed with the process)
        p = subprocess.Popen(
            [sys.executable, "-m", "dask", what, *args],
            stdout=log,
            stderr=log,
            start_new_session=True,
            # a SIGKILLed worker leaves its trial's temporary folder: keep it in ours
            env={
                **{k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"},
                "TMPDIR": str(self.tmp),
            },
        )
        self.procs.append(p)
        return p

    def add_worker(self, *extra: str) -> subprocess.Popen:
        p = self._start(
            "worker", "--scheduler-file", str(self.file), "--nworkers", "1", "--nthreads", "1",
            "--host", "127.0.0.1", "--no-dashboard", *extra,
        )  # fmt: skip
        self.workers.append(p)
        return p

    def wait_for_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=20, set_as_default=False) as c:
            c.wait_for_workers(n, timeout=60)

    def kill(self, p: subprocess.Popen, sig=signal.SIGKILL) -> None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                self.kill(p, signal.SIGTERM)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pytest.importorskip("distributed")
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.add_worker()
        c.add_worker()
        c.wait_for_workers(2)
        yield c
    finally:
        c.close()


def test_in_process_local_processes_and_a_cluster_give_mg_trains_bytes(tmp_path, cluster):
    path = write(tmp_path, RUN)
    runs, stdout = {}, {}
    for name, args in [
        ("one", ["--jobs", "1"]),
        ("two", ["--jobs", "2"]),
        ("cluster", ["--scheduler", cluster.address]),
    ]:
        r = mg("sweep", str(path), *args, "--out", f"out/{name}", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        runs[name], stdout[name] = _trials(tmp_path / "out" / name), r.stdout
        assert len(runs[name]) == 4 and all(t["status"] == "ok" for t in runs[name].values())
    ids = list(runs["one"])
    assert set(runs["two"]) == set(runs["cluster"]) == set(ids)
    assert {t["worker"] for t in runs["cluster"].values()} <= _worker_addresses(cluster)
    out = tmp_path / "out"
    _same(out / "one", out / "two", ids)
    _same(out / "one", out / "cluster", ids)
    # and each is what `mg train` of the trial's config.yaml gives: one by the command,
    # all four by the library's train() (the same code, without a process each)
    r = mg("train", f"out/one/{ids[0]}/config.yaml", "--out", f"again/{ids[0]}", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from microgradcli.config import load_config
    from microgradcli.train import train

    for tid in ids[1:]:
        cfg, base_dir = load_config(out / "one" / tid / "config.yaml")
        train(cfg, base_dir, out=tmp_path / "again" / tid)
    _same(out / "one", tmp_path / "again", ids)
    # the table: grouped by point, best first, and the command that trains the best again
    table = stdout["cluster"]
    assert "run: 4 trials (4 run, 0 already done)" in table
    assert "rank  train.lr  val_loss (last, lower is better)  trials" in table
    assert "\n  mg train out/cluster/" in table


def _worker_addresses(cluster) -> set[str]:
    from distributed import Client

    with Client(cluster.address, timeout=20, set_as_default=False) as c:
        return set(c.scheduler_info(n_workers=-1)["workers"])


def test_a_worker_killed_mid_sweep_every_trial_once(tmp_path, cluster):
    path = write(tmp_path, RUN.replace("[1, 2]", "[1, 2, 3, 4]"), epochs=25)
    p = mg_piped(
        "sweep", str(path), "--scheduler", cluster.address, "--out", "k", "--json", cwd=tmp_path
    )
    try:
        first = p.stdout.readline()  # one trial finished: the others are under way
        assert first, p.stderr.read()
        cluster.kill(cluster.workers[0])
        rest, err = p.communicate(timeout=90)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    streamed = [json.loads(line) for line in [first, *rest.splitlines()]]
    trials = _trials(tmp_path / "k")
    assert len(trials) == 8 and sorted(trials) == sorted(r["id"] for r in streamed)
    assert all(t["status"] == "ok" for t in trials.values())


def _sweep_beside_a_worker_with(tmp_path, cluster, preload: str):
    """mg sweep on the cluster while one more worker runs `preload` first (a worker that
    differs from the rest); the worker is stopped afterwards."""
    path = tmp_path / "preload.py"
    path.write_text(preload)
    w = cluster.add_worker("--preload", str(path))
    try:
        cluster.wait_for_workers(len([x for x in cluster.workers if x.poll() is None]))
        return mg("sweep", str(write(tmp_path, RUN)), "--scheduler", cluster.address, cwd=tmp_path)
    finally:
        cluster.kill(w)


def test_a_worker_of_another_mg_version_is_refused(tmp_path, cluster):
    r = _sweep_beside_a_worker_with(
        tmp_path, cluster, "import microgradcli\nmicrogradcli.__version__ = '9.9.9'\n"
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: worker tcp://127.0.0.1:") and "mg 9.9.9" in r.stderr
    assert len(r.stderr.splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_unreachable_scheduler_is_one_error_and_the_env_default(tmp_path):
    pytest.importorskip("distributed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens there once closed
    # no wall-clock assertion (a loaded machine starts Python slowly); a hang would hit
    # the subprocess timeout, and mg itself gives up connecting after sweep.CONNECT_TIMEOUT
    r = mg(
        "sweep",
        str(write(tmp_path, RUN)),
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
        cwd=tmp_path,
        timeout=60,
    )
    assert r.returncode == 2 and r.stderr.startswith("error: cannot reach the Dask scheduler")
    assert len(r.stderr.splitlines()) == 1, r.stderr
    # something that accepts and says nothing (a web server, the dashboard's port): no hang
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    threading.Thread(target=silent.accept, daemon=True).start()
    try:
        where = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        r = mg("sweep", "s.yaml", "--scheduler", where, cwd=tmp_path, timeout=60)
    finally:
        silent.close()
    assert r.returncode == 2 and "is not a Dask scheduler" in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1
    # a scheme Dask lacks (a dashboard's http:// URL): one line, not Dask's failing cleanup
    r = mg("sweep", "s.yaml", "--scheduler", "http://127.0.0.1:8787", cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and "Dask has no http:// addresses" in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr
    # DASK_SCHEDULER_ADDRESS is the default; an explicit --jobs runs locally instead
    env = _env(DASK_SCHEDULER_ADDRESS=f"tcp://127.0.0.1:{port}")
    r = mg("sweep", "s.yaml", "--dry-run", cwd=tmp_path, env=env, timeout=30)
    assert r.returncode == 0, r.stderr  # a dry run needs no scheduler
    r = mg("sweep", "s.yaml", "-q", cwd=tmp_path, env=env, timeout=30)
    assert r.returncode == 2 and f"127.0.0.1:{port}" in r.stderr
    r = mg("sweep", "s.yaml", "-q", "--jobs", "1", "--set", "train.epochs=1", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr


def _garbage_server() -> socket.socket:
    """A TCP server on 127.0.0.1 that answers every connection with bytes that are not
    Dask's and then keeps it open until the other side closes it."""

    def answer(conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(b"HELLO, this is not Dask\r\n" * 8)
                while conn.recv(65536):
                    pass
            except OSError:
                pass

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:  # closed: the test is over
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    threading.Thread(target=serve, daemon=True).start()
    return server


def test_a_scheduler_address_that_answers_garbage_is_one_error_line(tmp_path):
    pytest.importorskip("distributed")
    server = _garbage_server()
    try:
        where = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        r = mg("sweep", str(write(tmp_path, RUN)), "--scheduler", where, cwd=tmp_path, timeout=60)
    finally:
        server.close()
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"error: what answers at {where} is not a Dask scheduler")
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "runs").exists()


def test_a_workers_address_is_not_the_schedulers(tmp_path, cluster):
    worker = sorted(_worker_addresses(cluster))[0]
    r = mg("sweep", str(write(tmp_path, RUN)), "--scheduler", worker, cwd=tmp_path, timeout=60)
    assert r.returncode == 2, r.stderr
    assert f"{worker} is a Dask worker, not the scheduler" in r.stderr
    assert f"its scheduler is at {cluster.address}" in r.stderr
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr


def test_a_worker_that_cannot_import_mg_is_one_error_line(tmp_path, cluster):
    r = _sweep_beside_a_worker_with(
        tmp_path, cluster, "import sys\nsys.modules['microgradcli'] = None  # import fails\n"
    )
    assert r.returncode == 2, r.stderr
    assert (
        r.stderr.startswith("error: the Dask cluster cannot run mg (")
        and "microgradcli" in r.stderr
    )
    assert len(r.stderr.splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_ctrl_c_keeps_finished_trials_and_resume_finishes(tmp_path):
    path = write(tmp_path, RUN.replace("[1, 2]", "[1, 2, 3]"), epochs=20)
    p = mg_piped("sweep", str(path), "--jobs", "1", "--json", cwd=tmp_path)
    try:
        first = p.stdout.readline()
        assert first, p.stderr.read()
        p.send_signal(signal.SIGINT)
        rest, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "finish with: mg sweep" in err and "--resume" in err and "Traceback" not in err
    sweep_dir = tmp_path / "runs" / "sweeps" / "run"
    before = _trials(sweep_dir)
    assert 1 <= len(before) < 6 and len(before) == 1 + len(rest.splitlines())
    r = mg("sweep", str(path), "--jobs", "1", cwd=tmp_path)
    assert r.returncode == 2 and "--resume" in r.stderr  # it never overwrites a sweep silently
    r = mg("sweep", str(path), "--jobs", "1", "--resume", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"6 trials ({6 - len(before)} run, {len(before)} already done)" in r.stdout
    after = _trials(sweep_dir)
    assert len(after) == 6
    assert all(after[tid] == line for tid, line in before.items())  # not rerun


def test_diverged_is_recorded_a_crash_fails_the_sweep_at_the_end(tmp_path):
    path = write(tmp_path, RUN.replace("[0.2, 0.6]", "[0.2, 1.0e+200]").replace("[1, 2]", "[1]"))
    r = mg("sweep", str(path), "--jobs", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    trials = _trials(tmp_path / "runs" / "sweeps" / "run")
    assert sorted(t["status"] for t in trials.values()) == ["diverged", "ok"]
    assert "1 diverged" in r.stdout
    # stderr is not a terminal: no bar, one plain line per trial
    assert "\x1b" not in r.stderr and r.stderr.count("\n[") == 2 and "[2/2]" in r.stderr
    assert ": diverged (" in r.stderr
    # its error names the trial's folder (which keeps the last good checkpoint), not the
    # worker's temporary one
    diverged = next(t for t in trials.values() if t["status"] == "diverged")
    assert "diverged" in diverged["error"] and "train.lr" in diverged["error"], diverged
    assert diverged["run_dir"] in diverged["error"] and "mg-trial-" not in diverged["error"]
    assert (tmp_path / diverged["run_dir"] / "model.json").is_file()
    (tmp_path / "csv.yaml").write_text("data: {source: csv, path: gone.csv}\ntrain: {epochs: 2}\n")
    (tmp_path / "c.yaml").write_text("base: csv.yaml\nparameters: {train.lr: [0.1, 0.2]}\n")
    r = mg("sweep", "c.yaml", "--jobs", "1", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith("error: 2 of 2 trials failed")
    trials = _trials(tmp_path / "runs" / "sweeps" / "c")
    assert [t["status"] for t in trials.values()] == ["failed", "failed"]
    assert all("gone.csv" in t["error"] for t in trials.values())


# -- mg plot sweep -----------------------------------------------------------------------
PLOT = """\
name: p
base: base.yaml
parameters:
  train.lr: [0.01, 0.1, 1.0]
  model.activation: [tanh, relu]
seeds: [1, 2]
"""


def test_plot_sweep_one_point_per_trial_log_axis_colours_for_the_rest(tmp_path):
    pytest.importorskip("matplotlib")
    from microgradcli.plot import sweep_data, sweep_figure
    from microgradcli.sweep import run_sweep

    plan = make_plan(load_sweep(write(tmp_path, PLOT, epochs=2)))
    outcome = run_sweep(plan, out=tmp_path / "sw", jobs=1)
    data = sweep_data(tmp_path / "sw", "train.lr")
    assert data.log_x and not data.categorical and data.ticks == [0.01, 0.1, 1.0]
    assert [label for label, _ in data.series] == ["model.activation=tanh", "model.activation=relu"]
    points = sorted(p for _, pts in data.series for p in pts)
    expected = sorted((r["params"]["train.lr"], r["metrics"]["val_loss"]) for r in outcome.results)
    assert points == expected and len(points) == 12
    by_act = sweep_data(tmp_path / "sw", "model.activation", metric="accuracy")
    assert by_act.categorical and by_act.ticks == ["tanh", "relu"] and by_act.metric == "accuracy"
    fig = sweep_figure(data)
    assert fig.axes[0].get_xscale() == "log"
    r = mg("plot", "sweep", "sw", "--by", "train.lr", "-o", "lr.svg", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "lr.svg").read_text().startswith("<?xml")
    with pytest.raises(
        InputError,
        match=r"not a parameter of sweep p \(its parameters: train.lr, model.activation\)",
    ):
        sweep_data(tmp_path / "sw", "train.lrr")
    with pytest.raises(InputError, match="not a sweep folder"):
        sweep_data(tmp_path, "train.lr")


def test_log_axis_choice_for_huge_values_is_quiet():
    pytest.importorskip("matplotlib")
    import warnings

    from microgradcli.plot import _log_spaced

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warning would reach stderr
        assert _log_spaced([0.01, 0.1, 1.0, 1.0e200]) and _log_spaced([1e100, 1e200, 1e300])
        assert not _log_spaced([float(v) for v in range(1, 11)])


def test_progress_bar_on_a_terminal_only_and_clean_stdout(tmp_path):
    pty = pytest.importorskip("pty")
    path = write(tmp_path, RUN)
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "CI")}
    try:
        p = subprocess.run(
            [*MG, "sweep", str(path), "--jobs", "1", "--json"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=follower,
            env=env,
            timeout=60,
        )
        os.close(follower)
        follower = None
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
        if follower is not None:
            os.close(follower)
    assert p.returncode == 0
    assert b"trials" in seen and b"4/4" in seen and b"\x1b[" in seen  # the bar, on the tty
    lines = p.stdout.decode().splitlines()
    assert len(lines) == 4 and all(json.loads(line)["status"] == "ok" for line in lines)
    assert b"\x1b" not in p.stdout


def test_csv_trials_store_the_data_path_as_mg_train_does(tmp_path, monkeypatch):
    from microgradcli.config import load_config
    from microgradcli.train import train

    (tmp_path / "data").mkdir()
    rows = "".join(f"{i / 10},{(i * 7 % 11) / 10},{i % 2}\n" for i in range(20))
    (tmp_path / "data" / "t.csv").write_text("a,b,y\n" + rows)
    (tmp_path / "base.yaml").write_text(
        "data: {source: csv, path: data/t.csv}\nmodel: {hidden: [3]}\ntrain: {epochs: 3}\n"
    )
    (tmp_path / "s.yaml").write_text("base: base.yaml\nparameters: {train.lr: [0.1, 0.5]}\n")
    from microgradcli.sweep import run_sweep

    monkeypatch.chdir(tmp_path)
    outcome = run_sweep(make_plan(load_sweep("s.yaml")), out="out/one", jobs=1)
    ids = [r["id"] for r in outcome.results]
    for tid in ids:
        text = (tmp_path / "out" / "one" / tid / "config.yaml").read_text()
        assert "path: ../../../data/t.csv" in text  # relative to the trial's folder
        cfg, base_dir = load_config(f"out/one/{tid}/config.yaml")
        train(cfg, base_dir, out=f"out/again/{tid}")  # a folder as deep: the same path
    _same(tmp_path / "out" / "one", tmp_path / "out" / "again", ids)


def test_a_cluster_trains_csv_trials_on_the_bytes_sent_not_a_path_it_may_lack(
    tmp_path, monkeypatch, cluster
):
    """A worker on another machine has no copy of the CSV: the trial carries the file. The
    file is deleted once the client has read it, so a worker that still read data.path
    would fail; the trials equal --jobs 1's, bit for bit, and store the client's path."""
    from microgradcli import sweep as sweeping

    (tmp_path / "data").mkdir()
    rows = "".join(f"{i / 10},{(i * 7 % 11) / 10},{i % 2}\n" for i in range(30))
    (tmp_path / "data" / "t.csv").write_text("a,b,y\n" + rows)
    (tmp_path / "base.yaml").write_text(
        "data: {source: csv, path: data/t.csv, val_split: 0.2}\n"
        "model: {hidden: [3]}\ntrain: {epochs: 3}\n"
    )
    (tmp_path / "s.yaml").write_text("base: base.yaml\nparameters: {train.lr: [0.1, 0.5]}\n")
    monkeypatch.chdir(tmp_path)
    plan = make_plan(load_sweep("s.yaml"))
    local = sweeping.run_sweep(plan, out="out/one", jobs=1)
    real_ship = sweeping._ship_data

    def ship_then_delete(payloads, base_dir):
        real_ship(payloads, base_dir)
        (tmp_path / "data" / "t.csv").unlink()

    monkeypatch.setattr(sweeping, "_ship_data", ship_then_delete)
    remote = sweeping.run_sweep(plan, out="out/cluster", scheduler=cluster.address)
    assert not (tmp_path / "data" / "t.csv").exists()
    assert [r["status"] for r in remote.results] == ["ok", "ok"], remote.results
    ids = [r["id"] for r in local.results]
    _same(tmp_path / "out" / "one", tmp_path / "out" / "cluster", ids)
    for tid in ids:
        assert "path: ../../../data/t.csv" in (tmp_path / "out/cluster" / tid / "config.yaml").read_text()  # fmt: skip


def test_a_trial_payload_with_its_data_file_needs_no_path(tmp_path):
    from microgradcli.sweep import run_trial

    config = {"data": {"source": "csv", "path": "/nowhere/t.csv"}, "model": {"hidden": [2]}}
    config["train"] = {"epochs": 2}
    data = b"a,b,y\n0,1,0\n1,0,1\n1,1,0\n0,0,1\n"
    payload = {"id": "t1", "config": config, "base_dir": "/nowhere"}
    assert run_trial(payload)["status"] == "failed"  # no file, nothing sent: the path's error
    res = run_trial({**payload, "data_file": {"name": "t.csv", "bytes": data}})
    assert res["status"] == "ok" and res["error"] is None
    assert sorted(res["files"]) == ["config.yaml", "log.jsonl", "model.json", "summary.json"]


def test_trials_keep_every_file_mg_train_writes_snapshots_too(tmp_path, monkeypatch):
    from microgradcli.config import load_config
    from microgradcli.sweep import run_sweep
    from microgradcli.train import train

    write(tmp_path, "base: base.yaml\nset: {output.snapshot_every: 2}\nseeds: [1]\n", epochs=4)
    monkeypatch.chdir(tmp_path)
    (tid,) = [r["id"] for r in run_sweep(make_plan(load_sweep("s.yaml")), jobs=1).results]
    trial = tmp_path / "runs" / "sweeps" / "s" / tid
    cfg, base_dir = load_config(trial / "config.yaml")
    train(cfg, base_dir, out=tmp_path / "again")
    assert sorted(os.listdir(trial)) == sorted(os.listdir(tmp_path / "again"))
    snaps = (trial / "snapshots.jsonl").read_bytes()
    assert snaps and snaps == (tmp_path / "again" / "snapshots.jsonl").read_bytes()
    # and --force over it: the snapshots are the sweep's own files, not foreign ones
    run_sweep(make_plan(load_sweep("s.yaml")), jobs=1, force=True)
