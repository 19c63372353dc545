"""Sweeps: many training runs from one sweep file, on local processes or a Dask cluster.

A sweep file names a base config, the parameters to vary (config key paths, as --set
names them) and the seeds. `load_sweep` reads and validates it, `make_plan` expands it
into trials (every trial's resolved config validated before anything runs) and
`run_sweep` runs them and writes the sweep folder; nothing here prints.

A trial travels as its resolved config (a plain dict) and comes back as the four files
of an ordinary run folder (config.yaml, log.jsonl, model.json, summary.json), trained by
`train.train` itself on the worker, in a temporary folder there. The client writes
them under runs/sweeps/<name>/<trial-id>/, so workers need no shared disk and every
trial's numbers are those `mg train <its config.yaml>` gives, bit for bit (same Python:
checked on every worker before the first trial, and again by each trial).

Trial ids are a hash of the resolved config (without its name), so the same point and
seed always get the same folder, and a resumed sweep knows what is finished.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import os
import platform
import random
import re
import signal
import socket
import statistics
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import microgradcli
from microgradcli.config import (  # a sweep file is read as a config is: the same YAML rules
    _OVERRIDE_KEY,
    _dotted,
    _parse_yaml,
    _show,
    config_dict,
    config_from_dict,
    load_config,
)
from microgradcli.errors import InputError, JobFailed, MgError, option_error
from microgradcli.fileio import finite_or_null, json_objects, read_text, write_atomic

__all__ = [
    "METRICS",
    "Plan",
    "SweepFile",
    "SweepInterrupted",
    "Trial",
    "group_results",
    "load_sweep",
    "make_plan",
    "read_results",
    "run_sweep",
    "run_trial",
    "versions",
]

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")  # log keys a sweep can rank by
# What every finished trial's folder holds (train.RUN_FILES also names optional ones).
RUN_FILES = ("config.yaml", "log.jsonl", "model.json", "summary.json")
MAX_TRIALS = 100_000
MAX_FILE_BYTES = 1_000_000
MAX_VALUE_NODES = 10_000  # items in one parameter's values (an alias bomb stops here)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ID = re.compile(r"^[0-9a-f]{10}$")


# -- the sweep file ---------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Metric(_Strict):
    """What ranks the trials: a log key, its direction, and which epoch counts."""

    name: Literal["loss", "accuracy", "val_loss", "val_accuracy"] = Field(
        description="A key of log.jsonl: loss, accuracy, val_loss or val_accuracy."
    )
    goal: Literal["minimize", "maximize"] | None = Field(
        None, description="minimize or maximize; default: maximize accuracies, minimize losses."
    )
    at: Literal["last", "best"] = Field(
        "last", description="The value at the last epoch, or the best over all epochs."
    )

    @property
    def direction(self) -> str:
        return self.goal or ("maximize" if "accuracy" in self.name else "minimize")


class SweepFile(_Strict):
    """A sweep: a base config, the parameters to vary, the seeds, the metric."""

    name: str = Field(
        pattern=_NAME.pattern,
        description="Names the folder runs/sweeps/<name>; default: the file's name.",
    )
    base: str = Field(min_length=1, description="The base config, relative to the sweep file.")
    set: dict[str, Any] = Field(
        default_factory=dict,
        description="Overrides of the base config for every trial, key path to value, as "
        "--set gives them (--set on the command line comes after these).",
    )
    method: Literal["grid", "random"] = Field(
        "grid", description="grid: every combination; random: `trials` samples."
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Config key paths (as --set names them) to lists of values, or (random) "
        "ranges {uniform: [a, b]}, {log_uniform: [a, b]}, {int: [a, b]}, {choice: [...]}.",
    )
    seeds: list[Annotated[int, Field(ge=0)]] | None = Field(
        None, min_length=1, description="Each point runs once per seed; default: the base's seed."
    )
    trials: int | None = Field(None, ge=1, description="random: how many points to sample.")
    sample_seed: int = Field(0, ge=0, description="random: the seed of the sampling itself.")
    metric: Metric | None = Field(
        None, description="default: val_loss with a validation split, else loss; at the last epoch."
    )


@dataclass
class Sweep:
    """A validated sweep file, with its base config loaded."""

    spec: SweepFile
    path: str  # as the user gave it
    base_path: Path
    base_dir: Path
    overrides: list[str]
    params: list[Param]
    lines: dict[tuple, int]
    metric: Metric

    @property
    def name(self) -> str:
        return self.spec.name

    def where(self, *path: Any) -> str:
        """file:line of a key path in the sweep file (as near as it is known)."""
        return _place(self.path, self.lines, path)


@dataclass
class Param:
    """One swept key: its values (grid, or random `choice`) or a range to sample."""

    key: str
    kind: str  # values | uniform | log_uniform | int | choice
    values: list[Any] = field(default_factory=list)
    low: float = 0.0
    high: float = 0.0

    @property
    def log_scale(self) -> bool:
        return self.kind == "log_uniform"

    def describe(self) -> Any:
        if self.kind in ("values", "choice"):
            return list(self.values) if self.kind == "values" else {"choice": list(self.values)}
        return {self.kind: [self.low, self.high]}

    def sample(self, rng: random.Random) -> Any:
        if self.kind in ("values", "choice"):
            return self.values[rng.randrange(len(self.values))]
        if self.kind == "int":
            return rng.randint(int(self.low), int(self.high))
        u = rng.random()
        if self.kind == "uniform":
            v = self.low + (self.high - self.low) * u
        else:
            lo, hi = math.log(self.low), math.log(self.high)
            v = math.exp(lo + (hi - lo) * u)
        return float(f"{v:.4g}")  # readable configs and tables; the sample stays uniform enough


def _count_nodes(value: Any, limit: int) -> int:
    """How many items a value holds, counting shared ones again, stopping past limit."""
    count, stack = 0, [value]
    while stack and count <= limit:
        v = stack.pop()
        count += 1
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return count


def _place(file: str, lines: dict[tuple, int], path: tuple) -> str:
    """file:line of a key path in the sweep file (as near as it is known)."""
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return f"{file}:{lines[path[:n]]}"
    return file


# The top-level keys only a training config has, and those only a sweep file has.
_TRAINING_KEYS = ("data", "model", "train")
_SWEEP_KEYS = tuple(k for k in SweepFile.model_fields if k != "name")


def _read_mapping(path: str) -> tuple[dict, dict[tuple, int]]:
    """The sweep file as a mapping (named after the file unless it says otherwise) and
    the line of every key path in it."""
    if path == "-":
        raise InputError(
            "a sweep file cannot be stdin: its base config is relative to it; give its path"
        )
    text = read_text(Path(path), "sweep file", missing_hint="see sweeps/ for examples")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise InputError(
            f"{path}: a sweep file of over {MAX_FILE_BYTES // 1000} kB; is it the right file?"
        )
    raw, lines = _parse_yaml(text, path)
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise InputError(
            f"{path}: a sweep file is a mapping (name, base, parameters, seeds, metric), not a {type(raw).__name__}"
        )
    found = [k for k in _TRAINING_KEYS if k in raw]
    if found and not any(k in raw for k in _SWEEP_KEYS):
        what = (
            f"{path}: this is a training config ({', '.join(found)}), not a sweep file; a sweep "
            "file names one as its base and says what to vary, e.g. sweeps/moons-lr.yaml: "
            "base: ../configs/moons.yaml, parameters: {train.lr: [0.01, 0.1, 1.0]}, seeds: [1, 2, 3]"
        )
        raise InputError(what, kind="training_config_as_sweep", what=what, path=path)
    stem = Path(path).stem
    if "name" not in raw and _NAME.match(stem):
        raw["name"] = stem
    return raw, lines


def _describe(err: dict) -> str:
    t, ctx = err["type"], err.get("ctx") or {}
    got = f" (got {_show(err.get('input'))})"
    loc = tuple(err["loc"])
    if t == "extra_forbidden":
        owner = SweepFile if len(loc) == 1 else Metric
        allowed = sorted(owner.model_fields)
        import difflib

        match = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        if match:
            return f"unknown key; did you mean '{match[0]}'?"
        return f"unknown key; allowed here: {', '.join(allowed)}"
    if t == "missing":
        return "missing; this key is required"
    if t == "literal_error":
        return f"must be one of {ctx.get('expected', '')}{got}"
    bounds = {"greater_than_equal": ">=", "greater_than": ">"}
    if t in bounds:
        return f"must be {bounds[t]} {next(iter(ctx.values()))}{got}"
    if t == "string_pattern_mismatch":
        return f"must be letters, digits, '.', '_' or '-' (it names a folder){got}"
    if t == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s){got}"
    if t in ("int_parsing", "int_type", "int_from_float"):
        return f"must be a whole number{got}"
    if t in ("list_type",):
        return f"must be a list, e.g. [1, 2, 3]{got}"
    if t in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping of keys to values{got}"
    msg = err["msg"]
    return msg[:1].lower() + msg[1:] + got


def _bad(where: str, path: tuple, message: str) -> InputError:
    return InputError(f"{where}: {_dotted(path)}: {message}")


def _validate_spec(raw: dict, where: Callable[[tuple], str]) -> SweepFile:
    """The sweep file's keys checked, each problem named with its line."""
    try:
        spec = SweepFile.model_validate(raw)
    except ValidationError as e:
        errs = e.errors(include_url=False)
        found = [(tuple(err["loc"]), _describe(err)) for err in errs[:5]]
        raise InputError(
            "\nerror: ".join(f"{where(p)}: {_dotted(p)}: {m}" for p, m in found)
        ) from None
    if spec.method == "random" and spec.trials is None:
        raise _bad(
            where(("method",)),
            ("trials",),
            "missing; method: random needs trials: N (how many points to sample)",
        )
    if spec.method == "grid" and spec.trials is not None:
        raise _bad(
            where(("trials",)),
            ("trials",),
            "only for method: random (a grid runs every combination)",
        )
    if spec.seeds is not None and len(set(spec.seeds)) != len(spec.seeds):
        raise _bad(
            where(("seeds",)), ("seeds",), f"a seed is listed twice (got {_show(spec.seeds)})"
        )
    return spec


def _check_swept_key(key: str, where: str) -> None:
    path = ("parameters", key)
    if not _OVERRIDE_KEY.match(key):
        raise _bad(
            where, path, "not a config key path (sections and keys joined by dots, e.g. train.lr)"
        )
    if key in ("seed", "name") or key.startswith("output.dir"):
        hint = {"seed": "list the seeds under seeds: instead"}.get(
            key, "the sweep sets it for each trial"
        )
        raise _bad(where, path, f"cannot be swept; {hint}")


def _range_of(value: Any, method: str, where: str, path: tuple) -> tuple[str, Any]:
    """A random parameter's range, {kind: argument}, as (kind, argument)."""
    ranges = ("uniform", "log_uniform", "int", "choice")
    if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ranges):
        raise _bad(
            where,
            path,
            f"must be a list of values, or (method: random) one of {{uniform: [a, b]}}, "
            f"{{log_uniform: [a, b]}}, {{int: [a, b]}}, {{choice: [...]}} (got {_show(value)})",
        )
    kind, arg = next(iter(value.items()))
    if method != "random":
        raise _bad(
            where, path, f"a {kind} range needs method: random; a grid takes a list of values"
        )
    if kind == "choice" and (not isinstance(arg, list) or not arg):
        raise _bad(where, path, f"choice needs a list of at least one value (got {_show(arg)})")
    return kind, arg


def _bounds(kind: str, arg: Any, where: str, path: tuple) -> tuple[float, float]:
    """A uniform, log_uniform or int range's [low, high], checked."""
    ok = (
        isinstance(arg, list)
        and len(arg) == 2
        and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in arg)
        and all(math.isfinite(a) for a in arg)
    )
    if not ok:
        raise _bad(where, path, f"{kind} needs [low, high], two numbers (got {_show(arg)})")
    low, high = arg
    if kind == "int" and not all(isinstance(a, int) for a in arg):
        raise _bad(where, path, f"int needs two whole numbers (got {_show(arg)})")
    if low > high or (kind != "int" and low == high):
        raise _bad(where, path, f"{kind} needs low < high (got {_show(arg)})")
    if kind == "log_uniform" and low <= 0:
        raise _bad(where, path, f"log_uniform needs low > 0 (got {_show(arg)})")
    return low, high


def _parse_param(key: str, value: Any, method: str, where: str) -> Param:
    """One entry of parameters: a list of values, or (method: random) a range."""
    path = ("parameters", key)
    _check_swept_key(key, where)
    if _count_nodes(value, MAX_VALUE_NODES) > MAX_VALUE_NODES:
        raise _bad(where, path, f"holds over {MAX_VALUE_NODES} items; is it the right file?")
    if isinstance(value, list):
        if not value:
            raise _bad(where, path, "needs at least one value")
        seen = []
        for v in value:
            if v in seen:
                raise _bad(where, path, f"the value {_show(v)} is listed twice")
            seen.append(v)
        return Param(key, "values", values=list(value))
    kind, arg = _range_of(value, method, where, path)
    if kind == "choice":
        return Param(key, "choice", values=list(arg))
    low, high = _bounds(kind, arg, where, path)
    return Param(key, kind, low=low, high=high)


def _base_path(path: str, spec: SweepFile, where: Callable[[tuple], str]) -> Path:
    """The base config's file: base is relative to the sweep file."""
    base_path = (Path(path).resolve().parent / Path(spec.base).expanduser()).resolve()
    if not base_path.is_file():
        raise _bad(
            where(("base",)),
            ("base",),
            f"no such config file: {base_path} (base is relative to the sweep file)",
        )
    return base_path


def _set_overrides(spec: SweepFile, where: Callable[[tuple], str]) -> list[str]:
    """The sweep file's set: as KEY.PATH=VALUE overrides of the base config."""
    for key in spec.set:
        if not _OVERRIDE_KEY.match(key):
            raise _bad(
                where(("set", key)), ("set", key), "not a config key path, e.g. data.val_split"
            )
    return [f"{k}={_yaml_text(v)}" for k, v in spec.set.items()]


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Sweep:
    """Read and validate a sweep file; load its base config with its set: and then the
    given overrides (KEY.PATH=VALUE, as set: takes them)."""
    path = str(path)
    raw, lines = _read_mapping(path)
    where = functools.partial(_place, path, lines)
    spec = _validate_spec(raw, where)
    params = [
        _parse_param(k, v, spec.method, where(("parameters", k)))
        for k, v in spec.parameters.items()
    ]
    base_path = _base_path(path, spec, where)
    overrides = [*_set_overrides(spec, where), *overrides]
    try:
        base_cfg, base_dir = load_config(base_path, list(overrides))
    except InputError as e:  # the CLI words its cause (an override's place, say) itself
        place = f"{where(('base',))}: base: "
        raise InputError(f"{place}{e}", kind="within", place=place, cause=e) from None
    metric = spec.metric
    if metric is None:
        metric = Metric(name="val_loss" if base_cfg.data.val_split > 0 else "loss")
    return Sweep(spec, path, base_path, base_dir, list(overrides), params, lines, metric)


# -- the plan -------------------------------------------------------------------------------
@dataclass
class Trial:
    """One run of the sweep: a point (parameter values), a seed and its resolved config."""

    id: str
    index: int
    params: dict[str, Any]
    seed: int
    config: dict[str, Any]

    def label(self) -> str:
        return format_params(self.params)


@dataclass
class Plan:
    """Every trial of a sweep, in order, each config validated."""

    sweep: Sweep
    trials: list[Trial]
    points: int
    duplicates: int = 0  # random samples that repeated an earlier trial, dropped

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.sweep.params]

    def describe(self) -> dict[str, Any]:
        """sweep.yaml: the resolved plan."""
        s = self.sweep
        out: dict[str, Any] = {
            "name": s.name,
            "sweep_file": str(Path(s.path).resolve()),
            "base": str(s.base_path),
            "set": list(s.overrides),
            "method": s.spec.method,
            "parameters": {p.key: p.describe() for p in s.params},
            "log_scale": [p.key for p in s.params if p.log_scale],
        }
        if s.spec.method == "random":
            out["trials"] = s.spec.trials
            out["sample_seed"] = s.spec.sample_seed
        out["metric"] = {"name": s.metric.name, "goal": s.metric.direction, "at": s.metric.at}
        out["mg_version"] = microgradcli.__version__
        out["python"] = platform.python_version()
        out["plan"] = [{"id": t.id, "params": t.params, "seed": t.seed} for t in self.trials]
        return out


def format_value(v: Any) -> str:
    """A parameter value as a table shows it: 0.1, [16, 16], relu."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, str):
        return v
    return json.dumps(v)


def format_params(params: dict[str, Any], seed: int | None = None) -> str:
    """A point (and a seed) as tables and messages show it: train.lr=0.1, seed 2."""
    text = ", ".join(f"{k}={format_value(v)}" for k, v in params.items())
    if seed is None:
        return text
    return f"{text}, seed {seed}" if text else f"seed {seed}"


def _yaml_text(value: Any) -> str:
    """A value as --set takes it (YAML; floats keep their dot: 1.0e-05)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9)
    return text.removesuffix("\n...\n").strip()


def trial_id(config: dict[str, Any]) -> str:
    """A short hash of a resolved config without its name: the same trial, the same id."""
    data = {k: v for k, v in config.items() if k != "name"}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:10]


def _points(sweep: Sweep) -> Iterator[dict[str, Any]]:
    spec, params = sweep.spec, sweep.params
    if spec.method == "grid":
        for combo in itertools.product(*(p.values for p in params)):
            yield dict(zip((p.key for p in params), combo, strict=True))
    else:
        rng = random.Random(f"mg-sweep-{spec.sample_seed}")
        for _ in range(spec.trials or 0):
            yield {p.key: p.sample(rng) for p in params}


def _plan_size(sweep: Sweep) -> int:
    """How many points the plan has; too many trials are refused before any is built."""
    spec = sweep.spec
    n_points = (
        math.prod(len(p.values) for p in sweep.params)
        if spec.method == "grid"
        else spec.trials or 0
    )
    n_seeds = len(spec.seeds) if spec.seeds else 1
    if n_points * n_seeds > MAX_TRIALS:
        raise InputError(
            f"{sweep.path}: the plan has {n_points * n_seeds:,} trials ({n_points:,} points x "
            f"{n_seeds} seeds); at most {MAX_TRIALS:,} are run at once: split the sweep"
        )
    return n_points


def _seed_configs(sweep: Sweep, point: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The resolved config of a point, once per seed (the sweep names each trial's
    folder itself, so output.dir is left out)."""
    sets = [f"{k}={_yaml_text(v)}" for k, v in point.items()]
    try:
        cfg, _ = load_config(sweep.base_path, [*sweep.overrides, *sets])
    except InputError as e:
        raise _point_error(sweep, point, e) from None
    seeds = sweep.spec.seeds if sweep.spec.seeds is not None else [config_dict(cfg)["seed"]]
    for seed in seeds:
        d = config_dict(cfg)
        d["seed"] = seed
        d["output"]["dir"] = None
        yield d


def _trial(sweep: Sweep, point: dict[str, Any], d: dict[str, Any], tid: str, index: int) -> Trial:
    """A trial named after the sweep and its id, its config validated once more."""
    d["name"] = f"{sweep.name}-{tid}"
    try:
        d = config_dict(config_from_dict(d, f"{sweep.path} (trial {tid})"))
    except InputError as e:  # pragma: no cover (the point validated already)
        raise _point_error(sweep, point, e) from None
    return Trial(tid, index, dict(point), d["seed"], d)


def _check_metric_split(sweep: Sweep, trials: list[Trial]) -> None:
    """A val_ metric needs a validation split in every trial."""
    metric = sweep.metric
    if not metric.name.startswith("val_"):
        return
    no_val = next((t for t in trials if t.config["data"]["val_split"] == 0), None)
    if no_val is not None:
        what = (
            f"{sweep.where('metric', 'name')}: metric.name: {metric.name} needs a validation "
            f"split, but data.val_split is 0 in {sweep.base_path.name}"
            + (f" for {no_val.label()}" if no_val.params else "")
            + "; rank by loss, or set one, e.g."
        )
        setting = "data.val_split=0.2"
        raise InputError(f"{what} {setting}", kind="setting", what=what, setting=setting)


def make_plan(sweep: Sweep) -> Plan:
    """Expand the sweep into trials (grid order: the first parameter varies slowest; each
    point once per seed) and validate every trial's config, naming the key of an error."""
    n_points = _plan_size(sweep)
    trials: list[Trial] = []
    seen: set[str] = set()
    duplicates = 0
    for point in _points(sweep):
        for d in _seed_configs(sweep, point):
            tid = trial_id(d)
            if tid in seen:
                duplicates += 1
                continue
            seen.add(tid)
            trials.append(_trial(sweep, point, d, tid, len(trials)))
    _check_metric_split(sweep, trials)
    return Plan(sweep, trials, n_points, duplicates)


def _point_error(sweep: Sweep, point: dict[str, Any], e: InputError) -> InputError:
    """A point's config is invalid: say which point, where in the sweep file, and why."""
    override = getattr(e, "override", None)  # a ConfigError: the --set its first problem is in
    key = override.partition("=")[0] if override else None
    key = key if key in point else None
    where = sweep.where("parameters", key) if key else sweep.where("parameters")
    path = f"parameters.{key}" if key else "parameters"
    shown = format_params(point)
    message = e.rest if override else str(e)
    return InputError(f"{where}: {path}: the point {shown} gives an invalid config: {message}")


# -- versions -------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    """What must match on every worker for its numbers to be mg train's: mg and Python."""
    return {"mg": microgradcli.__version__, "python": platform.python_version()}


class VersionMismatch(InputError):
    """A worker runs another mg or Python: its numbers would not be mg train's here."""


def _mismatch(worker: str, theirs: dict, ours: dict) -> VersionMismatch:
    diff = ", ".join(
        f"{'mg' if k == 'mg' else 'Python'} {theirs.get(k)} (here {ours[k]})"
        for k in ours
        if theirs.get(k) != ours[k]
    )
    return VersionMismatch(
        f"worker {worker} runs {diff}; every worker needs the same mg and Python as this "
        "machine for the numbers to be those mg train gives: install the same versions there"
    )


# -- one trial (runs on a worker) ---------------------------------------------------------
_STOP = threading.Event()  # a local worker process's Ctrl-C
_STOP_TOKENS: set[str] = set()  # sweeps the client asked to stop (Dask workers)


def _request_stop(token: str) -> None:
    _STOP_TOKENS.add(token)


def _worker_sigint(signum, frame) -> None:
    _STOP.set()


def _pool_init() -> None:
    """A local worker process: Ctrl-C asks the running trial to stop (no traceback)."""
    signal.signal(signal.SIGINT, _worker_sigint)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def _ship_data(payloads: list[dict], base_dir: Path) -> None:
    """Put a CSV trial's data file in its payload (read here once per file), so a worker on
    another machine trains on these bytes, not on a path it may not have. A file this
    machine cannot read is left to the worker, whose error names it."""
    from microgradcli.data import csv_file

    read: dict[Path, bytes | None] = {}
    for payload in payloads:
        data = payload["config"].get("data") or {}
        if data.get("source") != "csv":
            continue
        path = csv_file(data["path"], base_dir)  # the trial's config is valid: it has one
        if path not in read:
            try:
                read[path] = path.read_bytes()
            except OSError:
                read[path] = None
        if read[path] is not None:
            payload["data_file"] = {"name": path.name, "bytes": read[path]}


def _local_data(payload: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The trial's config, its CSV written into folder when the payload carries it (its
    stored config.yaml names the client's path again: _portable_files)."""
    config = payload["config"]
    shipped = payload.get("data_file")
    if not shipped:
        return config
    path = folder / "data" / Path(shipped["name"]).name
    path.parent.mkdir()
    path.write_bytes(shipped["bytes"])
    return {**config, "data": {**config["data"], "path": str(path)}}


def run_trial(payload: dict[str, Any], should_stop: Callable[[], bool] | None = None) -> dict:
    """Train one trial in a temporary folder and return its files and status.

    Never raises for a trial's own failure: status is ok, diverged, failed (with the
    error), interrupted (asked to stop) or mismatch (this worker's versions differ).
    """
    from microgradcli.train import is_run_file, train

    worker = _worker_name()
    out: dict[str, Any] = {"id": payload["id"], "worker": worker, "files": {}, "error": None}
    mine = versions()
    if payload.get("versions") and payload["versions"] != mine:
        return {**out, "status": "mismatch", "versions": mine}
    token = payload.get("token")
    stop = should_stop or (lambda: _STOP.is_set() or token in _STOP_TOKENS)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mg-trial-") as tmp:
        run_dir = Path(tmp) / "run"
        out["worker_dir"] = str(run_dir)  # its messages name it: the client renames it
        status = "ok"
        try:
            config = _local_data(payload, Path(tmp))
            cfg = config_from_dict(config, f"trial {payload['id']}")
            result = train(cfg, payload.get("base_dir"), out=run_dir, should_stop=stop)
            if result.stopped == "interrupted":
                status = "interrupted"
        except JobFailed as e:
            status, out["error"] = "diverged", str(e)
        except MgError as e:
            status, out["error"] = "failed", str(e)
        except KeyboardInterrupt:
            status = "interrupted"
        except Exception as e:  # a crash: recorded, the sweep goes on
            status, out["error"] = "failed", _one_line(e)
        if status in ("ok", "diverged"):
            for name in sorted(os.listdir(run_dir)) if run_dir.is_dir() else []:
                p = run_dir / name
                if is_run_file(name) and not name.endswith(".tmp") and p.is_file():
                    out["files"][name] = p.read_bytes()
    out["status"] = status
    out["seconds"] = round(time.perf_counter() - t0, 4)
    return out


# -- results --------------------------------------------------------------------------------
def trial_metrics(records: list[dict], metric: Metric) -> tuple[dict[str, Any], int | None]:
    """The metrics of the epoch that counts (the last, or the best by the metric)."""
    if not records:
        return {k: None for k in METRICS}, None
    chosen = records[-1]
    if metric.at == "best":
        valued = [r for r in records if isinstance(r.get(metric.name), (int, float))]
        if valued:
            sign = 1.0 if metric.direction == "minimize" else -1.0
            chosen = min(valued, key=lambda r: (sign * r[metric.name], r.get("epoch", 0)))
    return {k: chosen.get(k) for k in METRICS}, chosen.get("epoch")


def _result_line(plan: Plan, trial: Trial, res: dict, run_dir: Path | None) -> dict:
    records = [r for _, r in json_objects(res["files"].get("log.jsonl", b"").decode("utf-8"))]
    metrics, epoch = trial_metrics(records, plan.sweep.metric)
    return {
        "sweep": plan.sweep.name,
        "id": trial.id,
        "params": trial.params,
        "seed": trial.seed,
        "status": res["status"],
        "metric": plan.sweep.metric.name,
        "value": metrics.get(plan.sweep.metric.name),
        "metrics": metrics,
        "epoch": epoch,
        "seconds": res["seconds"],
        "worker": res["worker"],
        "error": _trial_error(res, run_dir),
        "run_dir": str(run_dir) if run_dir is not None else None,
    }


def _trial_error(res: dict, run_dir: Path | None) -> str | None:
    """The trial's error naming the trial's folder where the worker's message names its
    temporary one (a diverged run's checkpoint is kept: in the trial's folder)."""
    error, theirs = res.get("error"), res.get("worker_dir")
    if error and theirs and run_dir is not None:
        error = error.replace(theirs, str(run_dir))
    return error


def read_results(path: str | Path) -> list[dict]:
    """The lines of a results.jsonl (a torn last line is skipped)."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.jsonl"
    text = read_text(p, "results file", missing_hint="run the sweep first: mg sweep SWEEP_FILE")
    return [r for _, r in json_objects(text) if isinstance(r.get("id"), str)]


@dataclass
class Group:
    """One point of the sweep: its trials over the seeds, the metric's mean and sd."""

    params: dict[str, Any]
    trials: list[dict]
    values: list[float]
    mean: float | None
    sd: float | None

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = {}
        for t in self.trials:
            c[t["status"]] = c.get(t["status"], 0) + 1
        return c


def group_results(lines: list[dict], metric: str, goal: str) -> list[Group]:
    """Results grouped by point (seeds together), best mean first; points without a value
    last. The mean is over the ok trials' values (fsum: the same on every Python)."""
    groups: dict[str, Group] = {}
    for line in lines:
        key = json.dumps(line.get("params"), sort_keys=True)
        g = groups.setdefault(key, Group(line.get("params") or {}, [], [], None, None))
        g.trials.append(line)
        v = (line.get("metrics") or {}).get(metric)
        if line.get("status") == "ok" and isinstance(v, (int, float)) and math.isfinite(v):
            g.values.append(float(v))
    for g in groups.values():
        if g.values:
            g.mean = math.fsum(g.values) / len(g.values)
            g.sd = statistics.stdev(g.values) if len(g.values) > 1 else None
    sign = 1.0 if goal == "minimize" else -1.0
    order = list(groups.values())
    order.sort(key=lambda g: (g.mean is None, sign * g.mean if g.mean is not None else 0.0))
    return order


def best_trial(group: Group, metric: str, goal: str) -> dict | None:
    ok = [
        t
        for t in group.trials
        if t.get("status") == "ok"
        and isinstance((t.get("metrics") or {}).get(metric), (int, float))
    ]
    if not ok:
        return None
    sign = 1.0 if goal == "minimize" else -1.0
    return min(ok, key=lambda t: sign * t["metrics"][metric])


# -- the sweep folder ---------------------------------------------------------------------
def sweep_dir_for(plan: Plan, out: str | Path | None = None) -> Path:
    """out, else runs/sweeps/<name> (relative to the current folder)."""
    if out is not None:
        if not str(out).strip():
            raise option_error(
                InputError, "{o[out]} is empty; give a folder, e.g. {o[out]} runs/sweeps/try2"
            )
        return Path(out)
    return Path("runs") / "sweeps" / plan.sweep.name


def _unusable(what: str) -> InputError:
    return InputError(f"{what}; choose another folder", kind="run_dir_unusable", what=what)


def _swept(sweep_dir: Path, entry: str) -> bool:
    """An entry of a sweep folder that mg sweep writes: the plan, the results, a
    temporary file, a trial's folder holding only run files."""
    if entry in ("sweep.yaml", "results.jsonl") or (entry[:1] == "." and entry.endswith(".tmp")):
        return True
    d = sweep_dir / entry
    return bool(_ID.match(entry)) and d.is_dir() and _only_run_files(d)


def _prepare_dir(sweep_dir: Path, resume: bool, force: bool) -> None:
    """The sweep folder can take the sweep: it is new or empty, or the sweep is resumed,
    or (force) it holds only an earlier sweep's files, which are deleted."""
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise _unusable(f"{sweep_dir}: exists and is not a folder")
    if not sweep_dir.exists() or resume:
        return
    entries = sorted(os.listdir(sweep_dir))
    if not entries:
        return
    if not force:
        if "sweep.yaml" in entries or "results.jsonl" in entries:
            raise option_error(
                InputError,
                "{sweep_dir}: holds a sweep already; add {o[resume]} to finish it (finished "
                "trials are kept), {o[force]} to start over, or {o[out]} to choose another folder",
                sweep_dir=sweep_dir,
            )
        raise _unusable(f"{sweep_dir}: the folder holds files")
    foreign = [e for e in entries if not _swept(sweep_dir, e)]
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise InputError(
            f"{sweep_dir}: refusing to start the sweep over: the folder holds files mg did "
            f"not write ({shown}); choose another folder",
            kind="run_dir_foreign",
            run_dir=sweep_dir,
            shown=shown,
        )
    for e in entries:
        p = sweep_dir / e
        if p.is_dir():
            _clear_run(p)
            p.rmdir()
        else:
            p.unlink()


def _only_run_files(d: Path) -> bool:
    from microgradcli.train import is_run_file

    return all(is_run_file(f) for f in os.listdir(d))


def _clear_run(d: Path) -> None:
    from microgradcli.train import is_run_file

    if not d.is_dir():
        return
    for f in os.listdir(d):
        if is_run_file(f):
            (d / f).unlink()


def _patch_summary(data: bytes, run_dir: Path) -> bytes:
    """The worker's summary names its temporary folder; name the trial's folder instead."""
    try:
        s = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return data
    if isinstance(s, dict) and "run_dir" in s:
        s["run_dir"] = str(run_dir)
        return (json.dumps(s, indent=1, allow_nan=False) + "\n").encode("utf-8")
    return data


def _portable_files(trial: Trial, files: dict[str, bytes], run_dir: Path) -> dict[str, bytes]:
    """A CSV data.path as mg train stores it in this trial's folder (relative to it), not
    to the worker's temporary one: config.yaml and model.json's config, as train writes
    them. Anything unexpected keeps the worker's bytes (an absolute path still works)."""
    from microgradcli.checkpoint import checkpoint_from_dict
    from microgradcli.config import dump_config
    from microgradcli.train import portable

    try:
        stored = portable(config_from_dict(trial.config), run_dir)
        out = dict(files)
        out["config.yaml"] = dump_config(stored).encode("utf-8")
        if "model.json" in files:
            ck = checkpoint_from_dict(json.loads(files["model.json"]))
            ck.config = config_dict(stored)
            out["model.json"] = (json.dumps(ck.to_dict(), indent=1) + "\n").encode("utf-8")
        return out
    except (ImportError, MgError, ValueError, TypeError, KeyError):
        return files


class _Results:
    """results.jsonl: one whole line per finished trial, appended and flushed; never a
    second line for an id (a lost worker's trial may come back twice)."""

    def __init__(self, path: Path, keep: list[dict]):
        write_atomic(path, "".join(json.dumps(r, allow_nan=False) + "\n" for r in keep))
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self.ids = {r["id"] for r in keep}

    def __enter__(self) -> _Results:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, line: dict) -> bool:
        if line["id"] in self.ids:
            return False
        self.ids.add(line["id"])
        os.write(self.fd, (json.dumps(line, allow_nan=False) + "\n").encode("utf-8"))
        return True

    def close(self) -> None:
        os.close(self.fd)


# -- where trials run ---------------------------------------------------------------------
class SweepInterrupted(MgError):
    """Ctrl-C: pending trials cancelled, finished ones kept (exit 130)."""

    exit_code = 130


def dask_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("distributed") is not None


@dataclass
class Outcome:
    """What run_sweep did: the sweep folder, every result line, and how it ended."""

    sweep_dir: Path
    results: list[dict]
    ran: int
    skipped: int
    backend: str
    workers: int
    seconds: float
    interrupted: bool = False

    def ended(self, status: str) -> list[dict]:
        """The result lines of the trials that ended so: ok, diverged or failed."""
        return [r for r in self.results if r["status"] == status]


CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler before giving up (one error, exit 2)
PROBE_TIMEOUT = 3.0  # seconds a scheduler may take to say its first bytes
WORKER_WAIT = 10.0  # seconds a scheduler may take to have a first worker
STOP_WAIT = 10.0  # seconds running trials get to stop after Ctrl-C


class _NoSigint:
    """SIGINT ignored while worker processes start: they inherit it, so a Ctrl-C at the
    terminal (sent to the whole process group) reaches only this process, which stops
    them in order, and no worker prints a traceback."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class _InProcess:
    """One job: trials one after the other, in this process."""

    workers = 1
    describe = "in this process"

    def __init__(self):
        self.interrupted = False
        self.active = 0

    def running(self) -> int:
        return self.active

    def run(self, payloads: list[dict], should_stop: Callable[[], bool]) -> Iterator[dict | None]:
        for i, p in enumerate(payloads):
            if should_stop():
                self.interrupted = True
                return
            self.active = 1
            res = run_trial(p, should_stop)
            self.active = 1 if i + 1 < len(payloads) else 0  # the next one starts now
            if res["status"] == "interrupted":
                self.interrupted = True
                return
            yield res

    def close(self) -> None:
        pass


def _one_line(e: BaseException) -> str:
    """An unexpected exception as one line of a message (Dask's span several)."""
    return " ".join(f"{type(e).__name__}: {e}".split())


def _crashed(payload: dict, error: str, worker: str = "?") -> dict:
    return {
        "id": payload["id"],
        "status": "failed",
        "error": error,
        "files": {},
        "seconds": 0.0,
        "worker": worker,
    }


class _Pool:
    """Local worker processes without Dask: concurrent.futures.ProcessPoolExecutor."""

    def __init__(self, jobs: int):
        import concurrent.futures as cf
        import multiprocessing

        self.cf = cf
        self.workers = jobs
        self.describe = f"{jobs} local worker processes (concurrent.futures)"
        self.interrupted = False
        # spawn, not fork: this process may hold threads (the progress bar)
        self.ex = cf.ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_pool_init,
        )
        self.futures: dict = {}

    def running(self) -> int:
        return sum(1 for f in self.futures if f.running())  # integer sum

    def _result(self, f, payload: dict) -> dict:
        try:
            return f.result()
        except Exception as e:  # the worker process died (killed, out of memory)
            return _crashed(payload, f"the worker process died ({_one_line(e)})")

    def run(self, payloads: list[dict], should_stop: Callable[[], bool]) -> Iterator[dict | None]:
        cf = self.cf
        with _NoSigint():
            self.futures = {self.ex.submit(run_trial, p): p for p in payloads}
        pending = set(self.futures)
        while pending:
            done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            for f in done:
                yield self._result(f, self.futures[f])
            if not done:
                yield None
            if pending and should_stop():
                self.interrupted = True
                for f in pending:
                    f.cancel()
                for proc in list(getattr(self.ex, "_processes", {}).values()):
                    try:
                        os.kill(proc.pid, signal.SIGINT)  # the running trials stop and clean up
                    except (OSError, AttributeError):
                        pass
                running = [f for f in pending if not f.cancelled()]
                done, _ = cf.wait(running, timeout=STOP_WAIT)
                for f in done:
                    if not f.cancelled():
                        res = self._result(f, self.futures[f])
                        if res["status"] in ("ok", "diverged"):
                            yield res  # finished just before the stop: keep it
                return

    def close(self) -> None:
        self.ex.shutdown(wait=True, cancel_futures=True)


def _check_reachable(address: str) -> None:
    """A refused or unroutable tcp:// address fails at once (Dask would retry it until
    its timeout), and so does a server that does not speak Dask; other protocols are
    left to Dask."""
    from distributed.comm.registry import backends

    scheme, sep, _ = address.strip().partition("://")
    if sep and scheme not in backends:  # Dask's client would fail, then hang in its cleanup
        raise option_error(
            InputError,
            "{o[scheduler]} {address}: Dask has no {scheme}:// addresses (it has {have}); "
            "e.g. tcp://10.0.0.5:8786",
            address=address,
            scheme=scheme,
            have=", ".join(f"{k}://" for k in sorted(backends)),
        )
    m = re.match(r"^(?:tcp://)?\[?([^\[\]/]+?)\]?:(\d+)$", address.strip())
    if not m:
        if sep and scheme != "tcp":
            return
        raise option_error(
            InputError,
            "{o[scheduler]} {address}: expected an address such as tcp://10.0.0.5:8786",
            address=address,
        )
    _check_speaks_first(address, m.group(1), int(m.group(2)))
    _check_handshake(address)


def _unreachable(address: str, reason: str) -> InputError:
    return option_error(
        InputError,
        "cannot reach the Dask scheduler at {address} ({reason}); start one with "
        "`dask scheduler` and check the address, or run locally without {o[scheduler]}",
        address=address,
        reason=reason,
    )


def _check_speaks_first(address: str, host: str, port: int) -> None:
    """Something listens at host:port and speaks first, as a Dask server does: a web
    server, such as the dashboard on 8787, waits for a request, and Dask's client would
    wait forever."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as conn:
            conn.settimeout(PROBE_TIMEOUT)
            try:
                first = conn.recv(1)
            except TimeoutError:
                first = b""
    except OSError as e:
        raise _unreachable(address, e.strerror or str(e) or type(e).__name__) from None
    if not first:
        raise InputError(
            f"what answers at {address} is not a Dask scheduler (it said nothing in "
            f"{PROBE_TIMEOUT:g} s; the dashboard's port is not the scheduler's, which "
            "is 8786 by default); check the address `dask scheduler` printed"
        )


def _check_handshake(address: str) -> None:
    """What answers speaks Dask and is a scheduler: Dask's own code says hello and asks
    who it is, in a thread and an event loop of their own. Anything else fails here, not
    in a Client, whose cleanup would then wait for its timeout and print a traceback."""
    import asyncio

    from distributed.comm import connect

    async def identify() -> Any:
        comm = await connect(address, timeout=CONNECT_TIMEOUT)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    answer: dict[str, Any] = {}

    def probe() -> None:
        try:
            answer["identity"] = asyncio.run(asyncio.wait_for(identify(), CONNECT_TIMEOUT))
        except Exception:  # e.g. garbage read as a frame's length (MemoryError), or as msgpack
            pass

    thread = threading.Thread(target=probe, name="mg-dask-identity", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT + 1.0)
    identity = answer.get("identity")
    if not isinstance(identity, dict) or not isinstance(identity.get("type"), str):
        raise InputError(
            f"what answers at {address} is not a Dask scheduler (what it says is not "
            "Dask's handshake); check the address `dask scheduler` printed"
        )
    if identity["type"] in ("Worker", "Nanny"):
        theirs = identity.get("scheduler")
        hint = f"; its scheduler is at {theirs}" if isinstance(theirs, str) else ""
        raise InputError(
            f"{address} is a Dask {identity['type'].lower()}, not the scheduler: give the "
            f"scheduler's address (`dask scheduler` printed it){hint}"
        )


def _dask_versions() -> dict[str, str]:
    return versions()


class _Dask:
    """Dask: a LocalCluster of worker processes, or a running cluster's scheduler."""

    remote = True  # its workers may be other machines: trials carry their data files

    def __init__(self, jobs: int | None = None, address: str | None = None):
        import logging

        # Dask logs a lost worker or a slow close on this process's stderr; mg says what
        # matters itself, so only Dask's errors get through.
        logging.getLogger("distributed").setLevel(logging.ERROR)
        self.interrupted = False
        self.cluster = None
        self.futures: dict = {}
        if address is not None:
            self._connect(address)
        else:
            self._start_local(jobs)
        try:
            self._check_versions()
        except BaseException:
            self.close()
            raise

    def _connect(self, address: str) -> None:
        """A running cluster's scheduler, once it has a worker."""
        from distributed import Client

        _check_reachable(address)
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except Exception as e:  # refused, timed out, or something else answered
            reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
            if not isinstance(e, (OSError, TimeoutError)):
                reason = f"what answered is not a Dask scheduler: {reason}"
            raise _unreachable(address, reason) from None
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT)
        except (TimeoutError, OSError):
            self.client.close()
            raise InputError(
                f"the Dask scheduler at {address} has no workers after {WORKER_WAIT:g} s; "
                f"start some with `dask worker {address}`"
            ) from None
        n = len(self.client.scheduler_info(n_workers=-1).get("workers", {}))
        self.workers = n
        self.describe = f"the Dask cluster at {address} ({n} worker{'s' if n != 1 else ''} now)"

    def _start_local(self, jobs: int | None) -> None:
        """A LocalCluster of `jobs` worker processes, one thread each, no dashboard."""
        import logging

        from distributed import Client, LocalCluster

        # Another cluster's dashboard on port 8787 only makes Dask warn that it took
        # another port for its HTTP server: noise for a user who asked for no dashboard.
        with _NoSigint(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.cluster = LocalCluster(
                n_workers=jobs,
                processes=True,
                threads_per_worker=1,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        self.client = Client(self.cluster, set_as_default=False)
        self.workers = jobs or 1
        self.describe = f"{jobs} local worker processes (Dask LocalCluster)"

    def _check_versions(self) -> None:
        """Every worker runs this mg and Python, and the scheduler (which unpickles each
        trial) can import mg."""
        ours = versions()
        try:
            self.client.run_on_scheduler(_dask_versions)
            found = self.client.run(_dask_versions)
        except Exception as e:  # e.g. ModuleNotFoundError: mg is not installed there
            raise InputError(
                f"the Dask cluster cannot run mg ({_one_line(e)}); its scheduler and every "
                "worker need the same mg and Python as this machine: install them there"
            ) from None
        for worker, theirs in sorted(found.items()):
            if theirs != ours:
                raise _mismatch(worker, theirs, ours)

    def running(self) -> int:
        try:
            return sum(len(v) for v in self.client.processing().values())  # integer sum
        except Exception:
            return 0

    def _result(self, f, payload: dict) -> dict:
        try:
            return f.result()
        except Exception as e:  # e.g. KilledWorker: the trial took down worker after worker
            return _crashed(payload, _one_line(e))

    def run(self, payloads: list[dict], should_stop: Callable[[], bool]) -> Iterator[dict | None]:
        token = payloads[0]["token"] if payloads else ""
        self.futures = {
            self.client.submit(run_trial, p, key=f"mg-trial-{p['id']}-{token}", pure=False): p
            for p in payloads
        }
        pending = set(self.futures)
        while pending:
            done = {f for f in pending if f.done()}
            pending -= done
            if not done:
                time.sleep(0.1)
                yield None
            for f in done:
                yield self._result(f, self.futures[f])
            if pending and should_stop():
                self.interrupted = True
                try:  # running trials stop at their next step (and remove their files)
                    self.client.run(_request_stop, token)
                except Exception:
                    pass
                try:
                    busy = {k for keys in self.client.processing().values() for k in keys}
                except Exception:
                    busy = set()
                running = [f for f in pending if f.key in busy]
                self.client.cancel([f for f in pending if f.key not in busy])
                deadline = time.monotonic() + STOP_WAIT
                while running and time.monotonic() < deadline:
                    for f in [f for f in running if f.done()]:
                        running.remove(f)
                        res = self._result(f, self.futures[f])
                        if res["status"] in ("ok", "diverged"):
                            yield res  # finished just before the stop: keep it
                    time.sleep(0.05)
                self.client.cancel(running)
                return

    def close(self) -> None:
        try:
            self.client.close(timeout=STOP_WAIT)
        except Exception:
            pass
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=STOP_WAIT)
            except Exception:
                pass


def choose_backend(jobs: int | None, scheduler: str | None, n_trials: int):
    """Where trials run: a Dask scheduler, this process (one job), or local processes
    (Dask's LocalCluster when installed, else a ProcessPoolExecutor)."""
    if scheduler is not None:
        if not dask_available():
            raise option_error(
                InputError,
                "{o[scheduler]} needs Dask; install the sweep extra: "
                "pip install 'microgradcli[sweep]'",
            )
        return _Dask(address=scheduler)
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    jobs = max(1, min(jobs, n_trials))
    if jobs == 1:
        return _InProcess()
    if dask_available():
        return _Dask(jobs=jobs)
    return _Pool(jobs)


def _resumable(sweep_dir: Path, plan: Plan) -> list[dict]:
    """Result lines of trials already finished (ok or diverged) whose folders are whole."""
    if not (sweep_dir / "results.jsonl").is_file():
        return []
    ids = {t.id for t in plan.trials}
    kept, seen = [], set()
    for r in read_results(sweep_dir):
        tid = r["id"]
        if tid in ids and tid not in seen and r.get("status") in ("ok", "diverged"):
            if all((sweep_dir / tid / f).is_file() for f in RUN_FILES):
                kept.append(r)
                seen.add(tid)
    return kept


def _start_folder(sweep_dir: Path, plan: Plan, kept: list[dict]) -> _Results:
    """The sweep folder with its plan (sweep.yaml) and results.jsonl, holding the lines
    of the trials kept from before."""
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{sweep_dir}: cannot create the sweep folder ({e.strerror})") from None
    text = yaml.safe_dump(plan.describe(), sort_keys=False, allow_unicode=True, width=100)
    write_atomic(sweep_dir / "sweep.yaml", text)
    return _Results(sweep_dir / "results.jsonl", kept)


def _store_files(trial: Trial, files: dict[str, bytes], run_dir: Path) -> Path | None:
    """A finished trial's files in its folder, as mg train would have written them there;
    None when the trial left none."""
    if not files:
        return None
    _clear_run(run_dir)
    if trial.config["data"].get("path"):
        files = _portable_files(trial, files, run_dir)
    for name, data in files.items():
        if name == "summary.json":
            data = _patch_summary(data, run_dir)
        write_atomic(run_dir / name, data)
    return run_dir


def _run_trials(
    plan: Plan,
    todo: list[Trial],
    backend,
    results: _Results,
    emit: Callable[[str, dict], None],
    stop: Callable[[], bool],
) -> list[dict]:
    """Run the trials on the backend; store each as it finishes and return their lines."""
    ours, token = versions(), uuid.uuid4().hex
    base_dir = str(plan.sweep.base_dir)
    payloads = [
        {"id": t.id, "config": t.config, "base_dir": base_dir, "versions": ours, "token": token}
        for t in todo
    ]
    if getattr(backend, "remote", False):  # another machine may not have the CSV file
        _ship_data(payloads, plan.sweep.base_dir)
    by_id = {t.id: t for t in todo}
    lines, last_tick = [], 0.0
    for res in backend.run(payloads, stop):
        now = time.perf_counter()
        if res is None or now - last_tick > 0.5:
            last_tick = now
            emit("tick", {"running": backend.running()})
        if res is None:
            continue
        if res["status"] == "mismatch":
            raise _mismatch(res["worker"], res.get("versions") or {}, ours)
        if res["status"] == "interrupted" or res["id"] in results.ids:
            continue
        trial = by_id[res["id"]]
        run_dir = _store_files(trial, res["files"], results.path.parent / trial.id)
        line = finite_or_null(_result_line(plan, trial, res, run_dir))
        if results.add(line):
            lines.append(line)
            emit("result", line)
    return lines


def run_sweep(
    plan: Plan,
    *,
    out: str | Path | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    force: bool = False,
    on_event: Callable[[str, dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Outcome:
    """Run the plan's trials and write the sweep folder; never print.

    on_event(kind, data): "start" (backend, total, done), "kept" (the line of a trial
    finished before, on resume), "result" (a results.jsonl line, as it is written) and
    "tick" (running: trials running now), often. should_stop() is
    polled: when it says yes, pending trials are cancelled, running ones stopped,
    finished ones kept, and the outcome says interrupted. A worker with another mg or
    Python raises VersionMismatch before any trial runs.
    """
    emit = on_event or (lambda kind, data: None)
    t0 = time.perf_counter()
    sweep_dir = sweep_dir_for(plan, out)
    _prepare_dir(sweep_dir, resume, force)
    kept = _resumable(sweep_dir, plan) if resume else []
    done_ids = {r["id"] for r in kept}
    todo = [t for t in plan.trials if t.id not in done_ids]
    backend = choose_backend(jobs, scheduler, len(todo)) if todo else _InProcess()
    try:
        with _start_folder(sweep_dir, plan, kept) as results:
            start = {"backend": backend.describe, "workers": backend.workers}
            total = {"total": len(plan.trials), "done": len(kept), "sweep_dir": str(sweep_dir)}
            emit("start", {**start, **total})
            for line in kept:
                emit("kept", line)
            ran = _run_trials(plan, todo, backend, results, emit, should_stop or (lambda: False))
    finally:
        backend.close()
    order = {t.id: t.index for t in plan.trials}
    return Outcome(
        sweep_dir=sweep_dir,
        results=sorted([*kept, *ran], key=lambda r: order.get(r["id"], 0)),
        ran=len(ran),
        skipped=len(kept),
        backend=backend.describe,
        workers=backend.workers,
        seconds=time.perf_counter() - t0,
        interrupted=backend.interrupted,
    )
