"""Experiment configs: pydantic models for every section, loading, overrides and errors.

A config is YAML (read with a yaml.SafeLoader only). Every section forbids unknown keys, so
a typo fails loudly with a "did you mean"; every value is range-checked; every error
names the file and line, the key path (`train.lr`), the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from microgradcli.activations import HIDDEN, OUTPUT
from microgradcli.errors import InputError, option_error
from microgradcli.fileio import read_input
from microgradcli.limits import check_config_size
from microgradcli.losses import LOSSES
from microgradcli.nn import INITS
from microgradcli.optim import OPTIMIZERS, SCHEDULES

__all__ = [
    "Config",
    "config_dict",
    "config_from_dict",
    "config_schema",
    "dump_config",
    "load_config",
    "parse_override",
]

MAX_ERRORS = 5  # validation errors reported at once; the rest are counted


def number(v: Any) -> Any:
    """A number field takes numbers only: `lr: "0.1"` and `epochs: true` are refused, as
    the JSON Schema that `mg schema` prints refuses them (pydantic alone would convert)."""
    if isinstance(v, (str, bool)):
        raise PydanticCustomError("float_type", "Input should be a valid number")
    return v


def whole_number(v: Any) -> Any:
    """number() for whole-number fields (10.0 is still 10, as in JSON Schema)."""
    if isinstance(v, (str, bool)):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return v


def flag(v: Any) -> Any:
    """A true/false field takes true or false only: `exact: 1` or `"no"` is refused, as the
    JSON Schema refuses it (pydantic alone would convert)."""
    if not isinstance(v, bool):
        raise PydanticCustomError("bool_type", "Input should be true or false")
    return v


Number = Annotated[float, BeforeValidator(number)]
Whole = Annotated[int, BeforeValidator(whole_number)]
Flag = Annotated[bool, BeforeValidator(flag)]


class _Section(BaseModel):
    """Shared by every section: unknown keys are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# -- data -----------------------------------------------------------------------------
class _DataCommon(_Section):
    val_split: Number = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Fraction of the samples held out for validation (chosen by a seeded shuffle).",
    )
    normalize: Flag = Field(
        False,
        description="Standardize every feature with the training set's mean and standard deviation.",
    )


class InlineData(_DataCommon):
    """Samples written in the config itself."""

    source: Literal["inline"] = Field(description="Samples written in the config: x and y.")
    x: list[list[Number]] = Field(
        min_length=1, description="Input rows, all of the same width, e.g. [[2.0, 3.0, -1.0]]."
    )
    y: list[Number | Whole | str] = Field(
        min_length=1,
        description="One label or target per row: ±1 or 0/1 (binary), classes, or real numbers.",
    )

    @model_validator(mode="after")
    def _shapes(self) -> InlineData:
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} rows but y has {len(self.y)} labels")
        widths = {len(row) for row in self.x}
        if 0 in widths:
            raise ValueError("every row of x needs at least one value")
        if len(widths) > 1:
            first = len(self.x[0])
            bad = next(i for i, row in enumerate(self.x) if len(row) != first)
            raise ValueError(
                f"rows of x must all have the same width: row 1 has {first} values, "
                f"row {bad + 1} has {len(self.x[bad])}"
            )
        return self


class CsvData(_DataCommon):
    """A table in a CSV file: numeric feature columns and one target column."""

    source: Literal["csv"] = Field(description="Read samples from a CSV file.")
    path: str = Field(
        min_length=1,
        description="The CSV file; a relative path is relative to the config file's folder.",
    )
    target: str | Whole | None = Field(
        None,
        description="The target column: a header name or a 0-based index (negative counts "
        "from the end); null = the last column.",
    )
    header: Flag | None = Field(
        None, description="Whether the first row names the columns; null = detect it."
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="The field separator.")


class _Generator(_DataCommon):
    n_samples: Whole = Field(100, ge=2, description="How many samples to generate.")


class MoonsData(_Generator):
    """Two interleaving half circles (binary, labels 0/1)."""

    source: Literal["moons"] = Field(description="Two interleaving half circles, labels 0/1.")
    noise: Number = Field(0.1, ge=0.0, description="Standard deviation of Gaussian noise added.")


class CirclesData(_Generator):
    """A small circle inside a large one (binary, labels 0/1)."""

    source: Literal["circles"] = Field(description="A circle inside a circle, labels 0/1.")
    noise: Number = Field(0.05, ge=0.0, description="Standard deviation of Gaussian noise added.")
    factor: Number = Field(
        0.5, gt=0.0, lt=1.0, description="Radius of the inner circle relative to the outer."
    )


class XorData(_Generator):
    """Points in the four quadrants, labelled 1 where x1*x2 > 0 (binary, labels 0/1)."""

    source: Literal["xor"] = Field(description="The XOR pattern over four quadrants, labels 0/1.")
    noise: Number = Field(0.1, ge=0.0, description="Standard deviation of Gaussian noise added.")


class BlobsData(_Generator):
    """Gaussian blobs around centres evenly spaced on a circle (labels 0..classes-1)."""

    source: Literal["blobs"] = Field(description="Gaussian blobs, one per class.")
    noise: Number = Field(0.5, ge=0.0, description="Standard deviation of each blob.")
    classes: Whole = Field(3, ge=2, description="How many blobs (classes).")


class SpiralData(_Generator):
    """Interleaved spiral arms, one per class (labels 0..classes-1), as in CS231n."""

    source: Literal["spiral"] = Field(description="Interleaved spiral arms, one per class.")
    noise: Number = Field(
        0.2, ge=0.0, description="Standard deviation of the noise added to each point's angle."
    )
    classes: Whole = Field(3, ge=2, description="How many arms (classes).")


class Mnist1dData(_Generator):
    """MNIST-1D (Greydanus 2020): ten 1-D digit templates, padded, shifted, scaled, sheared
    and noised into 40 features (labels 0..9); a benchmark an MLP gets about 68% right."""

    source: Literal["mnist1d"] = Field(description="MNIST-1D: 40 features, 10 classes.")
    n_samples: int = Field(4000, ge=10, description="How many samples to generate.")
    noise: float = Field(
        1.0, ge=0.0, description="Scale of the paper's noises (1 = as published, 0 = none)."
    )


DataConfig = Annotated[
    InlineData | CsvData | MoonsData | CirclesData | XorData | BlobsData | SpiralData | Mnist1dData,
    Field(discriminator="source"),
]
_DATA_MODELS: dict[str, type[_Section]] = {
    "inline": InlineData,
    "csv": CsvData,
    "moons": MoonsData,
    "circles": CirclesData,
    "xor": XorData,
    "blobs": BlobsData,
    "spiral": SpiralData,
    "mnist1d": Mnist1dData,
}
SOURCES = tuple(_DATA_MODELS)  # the `data.source` choices


# -- model, train, output ---------------------------------------------------------------
class ModelConfig(_Section):
    """The MLP; its input and output sizes come from the data."""

    hidden: list[Annotated[Whole, Field(ge=1)]] = Field(
        default_factory=lambda: [16, 16],
        description="Hidden layer sizes, e.g. [16, 16]; [] is a linear model.",
    )
    activation: Literal[HIDDEN] = Field("relu", description="Activation of the hidden layers.")
    output_activation: Literal[OUTPUT] = Field(
        "linear",
        description="Activation of the output layer (softmax is part of cross_entropy; bce "
        "and cross_entropy need linear).",
    )
    init: Literal[tuple(INITS)] = Field(
        "uniform",
        description="Weight init: uniform U(-1,1) as micrograd, xavier (Glorot), he (Kaiming).",
    )


class TrainConfig(_Section):
    """The loss, the optimiser and its learning-rate schedule."""

    # exact: false only with engine: tensor, in the schema too (editors agree with mg)
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"not": {"required": ["engine"], "properties": {"engine": {"const": "tensor"}}}},
            "then": {"properties": {"exact": {"const": True}}},
        }
    )

    epochs: Whole = Field(100, ge=1, description="Epochs in total (a resumed run counts them all).")
    loss: Literal[tuple(LOSSES)] = Field(
        "hinge",
        description="mse (regression, or binary), hinge (max-margin, binary), bce (binary, on "
        "logits), cross_entropy (multi-class, softmax on logits).",
    )
    reduction: Literal["mean", "sum"] = Field(
        "mean",
        description="Average the per-sample losses (mean) or add them up (sum, as the "
        "lecture's first training loop does).",
    )
    optimizer: Literal[tuple(OPTIMIZERS)] = Field(
        "sgd", description="sgd, momentum (heavy ball) or adam."
    )
    lr: Number = Field(1.0, gt=0.0, description="Learning rate (at the start of the schedule).")
    momentum: Number = Field(
        0.9, ge=0.0, lt=1.0, description="Momentum of the momentum optimiser; beta1 of adam."
    )
    beta2: Number = Field(0.999, ge=0.0, lt=1.0, description="adam's beta2.")
    eps: Number = Field(1e-8, gt=0.0, description="adam's epsilon.")
    schedule: Literal[tuple(SCHEDULES)] = Field(
        "linear",
        description="Learning rate over the epochs: constant; linear or cosine from lr to "
        "lr_end; step multiplies by gamma every step_size epochs.",
    )
    lr_end: Number = Field(0.1, ge=0.0, description="Final learning rate of linear and cosine.")
    step_size: Whole | None = Field(
        None, ge=1, description="Epochs between drops of the step schedule; null = epochs/4."
    )
    gamma: Number = Field(
        0.5, gt=0.0, le=1.0, description="Factor of each drop of the step schedule."
    )
    batch_size: Whole | None = Field(
        None, ge=1, description="Samples per step (seeded shuffle each epoch); null = full batch."
    )
    l2: Number = Field(1e-4, ge=0.0, description="L2 penalty: l2 * sum of squared weights.")
    patience: Whole | None = Field(
        None,
        ge=1,
        description="Stop after this many epochs without improvement of val_loss (or of loss "
        "without a validation split), keeping the best model; null = never.",
    )
    min_delta: Number = Field(
        0.0, ge=0.0, description="How much lower a loss must be to count as an improvement."
    )
    engine: Literal["scalar", "tensor"] = Field(
        "scalar",
        description="scalar: a graph node per number (the lesson); tensor: numpy arrays with "
        "their own small engine (microgradcli.tensor), the same numbers much faster.",
    )
    exact: Flag = Field(
        True,
        description="tensor only: true gives the scalar engine's losses and weights bit for bit; "
        "false allows BLAS and numpy's own functions (faster, equal to about 1e-9).",
    )

    @model_validator(mode="after")
    def _exact_is_the_tensor_engines(self) -> TrainConfig:
        if not self.exact and self.engine == "scalar":  # would be ignored: say so instead
            raise ValueError(
                "exact is false but engine is scalar: exact: false applies to the tensor "
                "engine only (the scalar engine is always exact); set engine: tensor, or "
                "drop exact"
            )
        return self


class OutputConfig(_Section):
    """Where the run directory goes and how often it is checkpointed."""

    dir: str | None = Field(
        None,
        description="Run directory (relative to the current folder); null = runs/<name>.",
    )
    checkpoint_every: Whole = Field(
        0, ge=0, description="Write model.json every this many epochs; 0 = only at the end."
    )
    snapshot_every: Whole = Field(
        0,
        ge=0,
        description="Keep the weights every this many epochs (and at the start and the end) "
        "in snapshots.jsonl, for `mg plot boundary --animate`; 0 = never.",
    )


class Config(_Section):
    """An mg experiment: data, model, training and output."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, title="mg experiment config")

    name: str = Field(
        "experiment",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Names the default run directory runs/<name>; defaults to the file's name.",
    )
    seed: Whole = Field(
        1, ge=0, description="Same seed and config give the same losses and weights, bit for bit."
    )
    data: DataConfig = Field(
        default_factory=lambda: MoonsData(source="moons"),
        description="Where the samples come from.",
        # The union's tag as a plain enum: JSON Schema tools ignore `discriminator`, so
        # without it an editor could only say that no member matched.
        json_schema_extra={
            "type": "object",
            "required": ["source"],
            "properties": {
                "source": {"enum": list(_DATA_MODELS), "description": "The kind of data."}
            },
        },
    )
    model: ModelConfig = Field(default_factory=ModelConfig, description="The network.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="How it is trained.")
    output: OutputConfig = Field(default_factory=OutputConfig, description="What it leaves.")

    @field_validator("data", mode="before")
    @classmethod
    def _data_needs_source(cls, v: Any) -> Any:
        if isinstance(v, dict) and "source" not in v:
            raise PydanticCustomError("missing_source", "data.source is missing")
        return v


# -- errors -----------------------------------------------------------------------------
def _show(value: Any) -> str:
    """A value as the user wrote it in YAML (short)."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_for(path: tuple, raw: Any) -> type[BaseModel] | None:
    """The section model that holds the keys at `path`, or None."""
    if path == ():
        return Config
    if path == ("data",):
        source = raw.get("data", {}).get("source") if isinstance(raw, dict) else None
        return _DATA_MODELS.get(source) if isinstance(source, str) else None
    if len(path) == 1:
        return {"model": ModelConfig, "train": TrainConfig, "output": OutputConfig}.get(path[0])
    return None


_NOTHING = object()


class Problem(NamedTuple):
    """What is wrong with one key: the rule it breaks ("must be > 0"), for type errors the
    kind it must be ("a whole number"), and the value it got (when there is one)."""

    rule: str
    kind: str | None = None
    got: Any = _NOTHING

    def __str__(self) -> str:
        return self.rule if self.got is _NOTHING else f"{self.rule} (got {_show(self.got)})"


_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}
_KINDS = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "finite_number": "a finite number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list, e.g. [16, 16]",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
}


def _describe(err: dict, raw: Any) -> Problem:
    """One pydantic error as a Problem a person can act on."""
    t, ctx, inp = err["type"], err.get("ctx") or {}, err.get("input")
    if t == "extra_forbidden":
        return _unknown_key(tuple(err["loc"]), raw)
    if t == "missing":
        return Problem("missing; this key is required here")
    if t == "missing_source":
        return Problem(f"missing; choose one of {', '.join(SOURCES)}")
    if t in _BOUNDS:
        limit = next(iter(ctx.values()))
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)  # "must be > 0", as a person would write it
        return Problem(f"must be {_BOUNDS[t]} {limit}", got=inp)
    if t in _KINDS:
        return Problem(f"must be {_KINDS[t]}", _KINDS[t], inp)
    rules = {
        "literal_error": f"must be one of {ctx.get('expected', '')}",
        "union_tag_invalid": f"must be one of {', '.join(SOURCES)}",
        "too_short": f"needs at least {ctx.get('min_length')} item(s)",
        "too_long": f"takes at most {ctx.get('max_length')} item(s)",
        "string_too_short": "must not be empty",
        "string_too_long": f"must be at most {ctx.get('max_length')} character(s)",
        "string_pattern_mismatch": "must be letters, digits, '.', '_' or '-' (it names a folder)",
    }
    if t in rules:
        return Problem(rules[t], got=ctx.get("tag", inp) if t == "union_tag_invalid" else inp)
    if t == "value_error":
        return Problem(str(ctx.get("error", err["msg"])))
    msg = err["msg"]
    return Problem(msg[:1].lower() + msg[1:], got=inp)


def _unknown_key(loc: tuple, raw: Any) -> Problem:
    """An unknown key: the one it was probably meant to be, or what is allowed there."""
    if len(loc) >= 3 and loc[0] == "data" and loc[1] in _DATA_MODELS:
        model = _DATA_MODELS[loc[1]]
    else:
        model = _model_for(loc[:-1], raw)
    allowed = sorted(model.model_fields) if model else []
    key = str(loc[-1])
    match = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if match:
        return Problem(f"unknown key; did you mean '{match[0]}'?")
    where = ""
    if _key_path(loc)[:-1] == ("data",):
        owners = [s for s, m in _DATA_MODELS.items() if key in m.model_fields]
        if owners:
            where = f" (it belongs to source {' or '.join(owners)})"
    return Problem(f"unknown key{where}; allowed here: {', '.join(allowed)}")


def _key_path(loc: tuple) -> tuple:
    """Drop pydantic's union tag: ('data', 'csv', 'path') -> ('data', 'path')."""
    if len(loc) >= 2 and loc[0] == "data" and loc[1] in SOURCES:
        return (loc[0], *loc[2:])
    return loc


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


class ConfigError(InputError):
    """Problems in a config. `override` is the override (KEY=VALUE) the first one came
    from, or None (it came from the file); `rest` is the message after that first
    problem's place. The place of an override is 'override KEY=VALUE' here; the CLI,
    whose overrides are --set options, says '--set KEY=VALUE' (kind "override")."""

    def __init__(self, place: str, rest: str, override: str | None = None, sep: str = ": "):
        tail = f"{sep}{rest}"
        if override is None:
            super().__init__(f"{place}{tail}")
        else:
            super().__init__(f"{place}{tail}", kind="override", override=override, tail=tail)
        self.override, self.rest = override, rest

    @classmethod
    def in_override(cls, override: str, rest: str, sep: str = ": ") -> ConfigError:
        """A problem in an override, at the place the library names it."""
        return cls(_overridden(override), rest, override, sep)


def _overridden(override: str) -> str:
    """How the library names the place of an override (KEY=VALUE, or KEY)."""
    return f"override {override}"


class _Where:
    """Names the place a key came from: file:line, or the --set that gave it."""

    def __init__(self, name: str, lines: dict[tuple, int], overrides: dict[tuple, str]):
        self.name, self.lines, self.overrides = name, lines, overrides

    def line(self, path: tuple) -> int:
        for n in range(len(path), -1, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return 0

    def override(self, path: tuple) -> str | None:
        """The --set (KEY=VALUE) that gave the key, or None: it came from the file."""
        source = self.overrides.get(("data", "source"))
        if source is not None and path[:1] == ("data",):  # a new source brings its own keys
            return source
        for n in range(len(path), 0, -1):
            if path[:n] in self.overrides:
                return self.overrides[path[:n]]
        for op, text in self.overrides.items():
            if path and op[: len(path)] == path:  # a --set that created this key's section
                return text
        return None

    def __call__(self, path: tuple) -> str:
        override = self.override(path)
        if override is not None:
            return _overridden(override)
        for n in range(len(path), -1, -1):
            if path[:n] in self.lines:
                return f"{self.name}:{self.lines[path[:n]]}"
        return self.name


def _union_member(loc: tuple) -> bool:
    """Whether an error's location ends in the member of a union it was tried against
    (pydantic names them str, int, function-before[whole_number(), int], ...)."""
    last = loc[-1] if len(loc) > 1 else None
    return isinstance(last, str) and (
        last in ("str", "int", "float", "bool") or last.startswith("function-")
    )


def _problems_error(
    where: _Where, problems: list[tuple[tuple, str]], more: str = ""
) -> ConfigError:
    """One error for problems at key paths, in the order given, each line naming its place."""
    lines = [f"{where(path)}: {_dotted(path)}: {text}" for path, text in problems]
    first, text = problems[0]
    rest = "\nerror: ".join([f"{_dotted(first)}: {text}", *lines[1:], *([more] if more else [])])
    return ConfigError(where(first), rest, where.override(first))


def _validation_error(e: ValidationError, raw: Any, where: _Where) -> ConfigError:
    found: list[tuple[int, tuple, str]] = []  # (its line, its key path, the problem)
    members: dict[tuple, tuple[int, list[str]]] = {}  # a union's path -> (its line, each kind)
    for err in e.errors(include_url=False):
        loc = tuple(err["loc"])
        problem = _describe(err, raw)
        if _union_member(loc):  # one line for the union: "must be a string or a number"
            path = _key_path(loc[:-1])
            index, kinds = members.setdefault(path, (len(found), []))
            kinds.append(problem.kind or problem.rule)
            problem = Problem(f"must be {' or '.join(kinds)}", got=err.get("input"))
            item = (where.line(path), path, str(problem))
            if index == len(found):
                found.append(item)
            else:
                found[index] = item
            continue
        path = _key_path(loc)
        if path == ("data",) and err["type"] in ("union_tag_invalid", "missing_source"):
            path = ("data", "source")
        found.append((where.line(path), path, str(problem)))
    found.sort(key=lambda item: item[0])  # in file order
    more = ""
    if len(found) > MAX_ERRORS:
        more = f"... and {len(found) - MAX_ERRORS} more problems in {where.name}"
    return _problems_error(where, [(path, text) for _, path, text in found[:MAX_ERRORS]], more)


def _cross_check(cfg: Config) -> list[tuple[tuple, str]]:
    """Rules that span sections."""
    problems = []
    loss, out_act = cfg.train.loss, cfg.model.output_activation
    if loss in ("bce", "cross_entropy") and out_act != "linear":
        squash = "sigmoid" if loss == "bce" else "softmax"
        problems.append(
            (
                ("model", "output_activation"),
                f"must be linear with train.loss {loss} (got '{out_act}'): the loss applies "
                f"{squash} to the raw outputs itself",
            )
        )
    if loss == "hinge" and out_act == "sigmoid":
        problems.append(
            (
                ("model", "output_activation"),
                "must be linear or tanh with train.loss hinge (got 'sigmoid'): the hinge "
                "loss needs scores on both sides of 0",
            )
        )
    return problems


# -- loading ------------------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader with YAML 1.2's numbers: `lr: 1:30` is not 90 (base 60 is text),
    `epochs: 010` is 10 (not octal 8), `l2: 1e-4` is a number (YAML 1.1 wants a dot)."""


_NUMBER_RESOLVERS = {
    "tag:yaml.org,2002:int": re.compile(
        r"^(?:[-+]?0b[0-1_]+|[-+]?[0-9][0-9_]*|[-+]?0x[0-9a-fA-F_]+|[-+]?0o[0-7_]+)$"
    ),
    "tag:yaml.org,2002:float": re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
}


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node).replace("_", "")
    sign, digits = (-1, text[1:]) if text[:1] == "-" else (1, text.lstrip("+"))
    base = {"0b": 2, "0o": 8, "0x": 16}.get(digits[:2].lower(), 10)
    return sign * int(digits[2:] if base != 10 else digits, base)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.yaml_implicit_resolvers = {
    first: [(tag, _NUMBER_RESOLVERS.get(tag, regexp)) for tag, regexp in resolvers]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml_lines(text: str, name: str) -> dict[tuple, int]:
    """Line number of every key path in the YAML text; duplicate keys are errors."""
    node = yaml.compose(text, Loader=_Loader)
    lines: dict[tuple, int] = {}

    def walk(n: Any, path: tuple) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for k, v in n.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else None
                line = k.start_mark.line + 1
                if key is None:
                    continue
                if key in seen:
                    dotted = _dotted((*path, key))
                    raise InputError(
                        f"{name}:{line}: {dotted}: duplicate key (first given on line "
                        f"{seen[key]}); keep only one"
                    )
                seen[key] = line
                lines[(*path, key)] = line
                walk(v, (*path, key))
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                lines[(*path, i)] = v.start_mark.line + 1
                walk(v, (*path, i))

    if node is not None:
        walk(node, ())
    return lines


MAX_DEPTH = 64  # nesting levels of a YAML document; a config needs 4
MAX_NODES = 1_000_000  # values in a document with every alias expanded
_BRACKETS = re.compile(r"[^\[\]{}]+")


def _check_yaml_shape(text: str, name: str, override: str | None = None) -> None:
    """Refuse what would exhaust the parser or memory, reading only the event stream (which
    PyYAML produces without recursion): nesting deeper than MAX_DEPTH (the composer would
    recurse past Python's limit) and aliases of aliases that expand past MAX_NODES values
    (a "billion laughs" bomb: small text, exponential data). name is the text's place; an
    override's text names its override (a ConfigError the CLI words as --set)."""
    if override is not None:
        name = _overridden(override)
    # Flow brackets first, in one pass over the text: PyYAML's scanner looks ahead through
    # a run of '[' quadratically (each may open a key), seconds for 10,000 of them.
    depth = 0
    for ch in _BRACKETS.sub("", text):
        depth = depth + 1 if ch in "[{" else max(depth - 1, 0)
        if depth > MAX_DEPTH:
            raise ConfigError(
                name,
                f"the YAML nests deeper than {MAX_DEPTH} levels of brackets; a config has "
                "sections of keys, not deeper structures",
                override,
            )
    depth, nodes = 0, 0
    sizes: dict[str, int] = {}  # anchor -> values in its subtree, aliases expanded
    open_: list[tuple[str | None, int]] = []  # (anchor, nodes before it) per open collection
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            nodes += sizes.get(event.anchor, 1)
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            nodes += 1
            depth += 1
            open_.append((event.anchor, nodes - 1))
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1
                raise ConfigError(
                    name,
                    f"{line}: the YAML nests deeper than {MAX_DEPTH} levels; a config has "
                    "sections of keys, not deeper structures",
                    override,
                    sep=":",
                )
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
            anchor, before = open_.pop()
            if anchor:
                sizes[anchor] = nodes - before
        if nodes > MAX_NODES:
            line = event.start_mark.line + 1
            raise ConfigError(
                name,
                f"{line}: the YAML expands to more than {MAX_NODES:,} values (aliases of "
                "aliases?); a config is small: write the values out",
                override,
                sep=":",
            )


def _parse_yaml(text: str, name: str) -> tuple[Any, dict[tuple, int]]:
    try:
        _check_yaml_shape(text, name)
        lines = _yaml_lines(text, name)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        at = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise InputError(f"{at}: invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise InputError(f"{name}: invalid YAML: {e}") from None
    return data, lines


_OVERRIDE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """'train.lr=0.5' -> (('train', 'lr'), 0.5); the value is parsed as YAML."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not _OVERRIDE_KEY.match(key):
        raise option_error(
            InputError,
            "malformed {o[set]} {t!r}: expected KEY.PATH=VALUE, e.g. train.lr=0.1 "
            "or model.hidden=[32,32]",
            t=text,
        )
    try:
        _check_yaml_shape(value, "", override=key)
        parsed = yaml.load(value, Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e)
        rest = f"the value is not valid YAML ({problem}); quote strings, write lists as [1, 2]"
        raise ConfigError.in_override(text, rest) from None
    return tuple(key.split(".")), parsed


def _apply_override(raw: dict, path: tuple[str, ...], value: Any, text: str) -> None:
    node = raw
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise ConfigError.in_override(
                text,
                f"{_dotted(path[: i + 1])} is a value, not a section; "
                f"set {_dotted(path[: i + 1])}=VALUE instead",
            )
        node = child
    if (
        path == ("data", "source")
        and isinstance(node, dict)
        and node.get("source") != value
        and value in _DATA_MODELS
    ):
        # A new source: keys of the old one would only be reported as unknown.
        allowed = _DATA_MODELS[value].model_fields
        for key in [k for k in node if k not in allowed]:
            del node[key]
    node[path[-1]] = value


def _validate(raw: Any, where: _Where, base_dir: Path | None = None) -> Config:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(
            f"{where(())}: a config must be a mapping of sections (name, seed, data, model, "
            f"train, output), not a {type(raw).__name__}"
        )
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as e:
        raise _validation_error(e, raw, where) from None
    problems = _cross_check(cfg)
    if problems:
        raise _problems_error(where, problems)
    check_config_size(cfg, where.name)  # absurd sizes: refused before anything is allocated
    if base_dir is not None and isinstance(cfg.data, CsvData):
        p = Path(cfg.data.path).expanduser()
        if not p.is_absolute():
            # The resolved config is copied into the run directory: keep it usable there.
            cfg.data.path = str((base_dir / p).resolve())
    return cfg


def load_config(
    path: str | Path, overrides: list[str] | tuple[str, ...] = ()
) -> tuple[Config, Path]:
    """Read, override and validate a config file ('-' = stdin); return it and its folder."""
    text, name = read_input(path, "config file")
    if str(path) == "-":
        base_dir, stem = Path.cwd(), None
    else:
        base_dir, stem = Path(path).resolve().parent, Path(path).stem
    raw, lines = _parse_yaml(text, name)
    if raw is None:  # an empty file, /dev/null, or a pipe whose writer failed: never defaults
        came = "nothing came on stdin" if name == "<stdin>" else "the file holds no YAML"
        raise InputError(
            f"{name}: the config is empty ({came}); a config names at least its data, "
            "e.g. `data: {source: moons}` (see configs/moons.yaml)"
        )
    set_paths = _apply_overrides(raw, overrides)
    if isinstance(raw, dict) and "name" not in raw and stem:
        if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", stem):
            raw["name"] = stem
    cfg = _validate(raw, _Where(name, lines, set_paths), base_dir)
    return cfg, base_dir


def config_from_dict(
    data: Any,
    where: str = "config",
    overrides: list[str] | tuple[str, ...] = (),
    base_dir: str | Path | None = None,
) -> Config:
    """Validate a plain dict (e.g. the config saved in a checkpoint), with --set overrides;
    a relative data.path is relative to base_dir (the checkpoint's folder)."""
    raw = copy.deepcopy(data)
    where_ = _Where(where, {}, _apply_overrides(raw, overrides))
    return _validate(raw, where_, None if base_dir is None else Path(base_dir))


def _apply_overrides(raw: Any, overrides: list[str] | tuple[str, ...]) -> dict[tuple, str]:
    """Apply the --set items to raw (when it is a mapping) in order; {key path: the item that
    set it}, for errors that name the item."""
    set_paths: dict[tuple, str] = {}
    if isinstance(raw, dict):
        for item in overrides:
            key_path, value = parse_override(item)
            _apply_override(raw, key_path, value, item)
            set_paths[key_path] = item
    return set_paths


def config_schema() -> dict:
    """The JSON Schema of a config file, for editors' YAML completion."""
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def config_dict(cfg: Config) -> dict:
    """The config as plain JSON-able data (data.source first, as people write it)."""
    data = cfg.model_dump(mode="json")
    d = data["data"]
    common = ("val_split", "normalize")
    data["data"] = {
        "source": d["source"],
        **{k: v for k, v in d.items() if k != "source" and k not in common},
        **{k: d[k] for k in common},
    }
    return data


class _Dumper(yaml.SafeDumper):
    """Block style for sections, flow style for lists of numbers: `hidden: [16, 16]`."""


def _represent_list(dumper: yaml.SafeDumper, value: list) -> yaml.Node:
    flat = all(not isinstance(v, (dict, list)) for v in value)
    rows = all(
        isinstance(v, list) and all(not isinstance(i, (dict, list)) for i in v) for v in value
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flat or rows)


_Dumper.add_representer(list, _represent_list)


def dump_config(cfg: Config, fmt: str = "yaml") -> str:
    """The resolved config as YAML or as one JSON line."""
    data = config_dict(cfg)
    if fmt == "json":
        return json.dumps(data)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
