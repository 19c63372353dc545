"""Config files: defaults, every kind of validation error, --set overrides, schema, dumping."""

from __future__ import annotations

import io
import json
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradcli.config import (
    Config,
    CsvData,
    MoonsData,
    config_dict,
    config_from_dict,
    config_schema,
    dump_config,
    load_config,
    parse_override,
)
from microgradcli.errors import InputError


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def error_of(path, overrides=()) -> str:
    with pytest.raises(InputError) as info:
        load_config(path, list(overrides))
    return str(info.value)


# -- defaults and round trips -----------------------------------------------------------
def test_an_empty_mapping_gets_spec_defaults(tmp_path):
    cfg, base = load_config(write(tmp_path, "{}  # an empty file is an error"))
    assert base == tmp_path.resolve()
    assert cfg.name == "exp"  # the file's name
    assert cfg.seed == 1
    assert isinstance(cfg.data, MoonsData)
    assert (cfg.data.n_samples, cfg.data.noise, cfg.data.val_split, cfg.data.normalize) == (
        100,
        0.1,
        0.0,
        False,
    )
    assert cfg.model.hidden == [16, 16]
    assert (cfg.model.activation, cfg.model.output_activation, cfg.model.init) == (
        "relu",
        "linear",
        "uniform",
    )
    t = cfg.train
    assert (t.epochs, t.loss, t.optimizer, t.lr, t.momentum) == (100, "hinge", "sgd", 1.0, 0.9)
    assert (t.schedule, t.lr_end, t.batch_size, t.l2, t.patience) == (
        "linear",
        0.1,
        None,
        1e-4,
        None,
    )
    assert (cfg.output.dir, cfg.output.checkpoint_every) == (None, 0)


def test_dump_round_trips_in_yaml_and_json(tmp_path):
    cfg, _ = load_config(Path("configs/spiral.yaml"))
    assert Config.model_validate(yaml.safe_load(dump_config(cfg))) == cfg
    assert Config.model_validate(json.loads(dump_config(cfg, "json"))) == cfg
    assert Config.model_validate(cfg.model_dump()) == cfg
    assert list(config_dict(cfg)["data"])[0] == "source"
    assert "hidden: [16, 16]" in dump_config(cfg)


def test_yaml_exponent_without_dot_is_a_number(tmp_path):
    # YAML 1.1 reads 1e-4 as a string; a config must still take it as a number.
    cfg, _ = load_config(write(tmp_path, "train:\n  l2: 1e-4\n"))
    assert cfg.train.l2 == 1e-4


def test_yaml_11_base_60_and_octal_numbers_are_not_numbers(tmp_path):
    # YAML 1.1 reads 1:30 as 90 and 010 as 8; YAML 1.2 (and a reader) does not.
    assert "train.lr: must be a number (got '1:30')" in error_of(
        write(tmp_path, "train:\n  lr: 1:30\n")
    )
    cfg, _ = load_config(write(tmp_path, "train:\n  epochs: 010\n"), ["model.hidden=[0x10]"])
    assert (cfg.train.epochs, cfg.model.hidden) == (10, [16])
    assert parse_override("train.lr=1:2") == (("train", "lr"), "1:2")


def test_relative_csv_path_resolves_against_the_config_folder(tmp_path):
    sub = tmp_path / "cfgs"
    sub.mkdir()
    p = write(sub, "data:\n  source: csv\n  path: ../data/t.csv\n")
    cfg, base = load_config(p)
    assert base == sub.resolve()
    assert isinstance(cfg.data, CsvData)
    assert Path(cfg.data.path) == (tmp_path / "data" / "t.csv").resolve()


def test_stdin_config_resolves_against_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("data: {source: csv, path: t.csv}\n"))
    cfg, base = load_config("-")
    assert base == tmp_path.resolve() or base == Path.cwd()
    assert Path(cfg.data.path) == (tmp_path / "t.csv").resolve()
    assert cfg.name == "experiment"


def test_stdin_config_that_is_not_utf8(monkeypatch):
    raw = io.TextIOWrapper(io.BytesIO(b"name: a\xff\n"), encoding="utf-8", errors="surrogateescape")
    monkeypatch.setattr(sys, "stdin", raw)
    with pytest.raises(
        InputError,
        match=r"^<stdin>: cannot read the config file: it is not UTF-8 text \(byte 0xff at offset 7\)$",
    ):
        load_config("-")


# -- every kind of validation error ----------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("train:\n  epocs: 5\n", "exp.yaml:2: train.epocs: unknown key; did you mean 'epochs'?"),
        ("sede: 3\n", "exp.yaml:1: sede: unknown key; did you mean 'seed'?"),
        (
            "data:\n  source: moons\n  noize: 0.3\n",
            "data.noize: unknown key; did you mean 'noise'?",
        ),
        ("model:\n  zzz: 1\n", "model.zzz: unknown key; allowed here: activation, hidden, init"),
        ("data:\n  source: csv\n  path: a.csv\n  n_samples: 5\n", "(it belongs to source"),
        ("train:\n  lr: -1\n", "exp.yaml:2: train.lr: must be > 0 (got -1)"),
        ("train:\n  epochs: 0\n", "train.epochs: must be >= 1 (got 0)"),
        ("train:\n  epochs: many\n", "train.epochs: must be a whole number (got 'many')"),
        ("train:\n  epochs: 2.5\n", "train.epochs: must be a whole number (got 2.5)"),
        ("train:\n  lr: fast\n", "train.lr: must be a number (got 'fast')"),
        ("train:\n  batch_size: 0\n", "train.batch_size: must be >= 1 (got 0)"),
        ("train:\n  momentum: 1.0\n", "train.momentum: must be < 1 (got 1.0)"),
        ("data:\n  source: moons\n  val_split: 1.0\n", "data.val_split: must be < 1 (got 1.0)"),
        ("data:\n  source: moons\n  n_samples: 1\n", "data.n_samples: must be >= 2 (got 1)"),
        ("data:\n  source: moons\n  noise: -0.1\n", "data.noise: must be >= 0 (got -0.1)"),
        ("data:\n  source: moons\n  normalize: maybe\n", "data.normalize: must be true or false"),
        ("model:\n  hidden: [16, 0]\n", "exp.yaml:2: model.hidden[1]: must be >= 1 (got 0)"),
        ("model:\n  hidden: 16\n", "model.hidden: must be a list, e.g. [16, 16] (got 16)"),
        (
            "model:\n  activation: rleu\n",
            "model.activation: must be one of 'tanh', 'relu', 'sigmoid' or 'linear' (got 'rleu')",
        ),
        (
            "train:\n  loss: l1\n",
            "train.loss: must be one of 'mse', 'hinge', 'bce' or 'cross_entropy'",
        ),
        ("data:\n  n_samples: 5\n", "data.source: missing; choose one of inline, csv, moons"),
        ("data:\n  source: mnist\n", "data.source: must be one of inline, csv, moons"),
        ("data:\n  source: csv\n", "exp.yaml:1: data.path: missing; this key is required here"),
        (
            "data:\n  source: inline\n  x: [[1, 2]]\n  y: [1, 2]\n",
            "x has 1 rows but y has 2 labels",
        ),
        (
            "data:\n  source: inline\n  x: [[1, 2], [3]]\n  y: [1, 2]\n",
            "row 1 has 2 values, row 2 has 1",
        ),
        ("train: 3\n", "exp.yaml:1: train: must be a mapping of keys to values (got 3)"),
        ("name: ../evil\n", "name: must be letters, digits, '.', '_' or '-'"),
        (
            "train:\n  loss: bce\nmodel:\n  output_activation: sigmoid\n",
            "exp.yaml:4: model.output_activation: must be linear with train.loss bce",
        ),
        (
            "model:\n  output_activation: sigmoid\n",
            "exp.yaml:2: model.output_activation: must be linear or tanh with train.loss hinge",
        ),
        ("- 1\n- 2\n", "a config must be a mapping of sections"),
        ("seed: 1\nseed: 2\n", "exp.yaml:2: seed: duplicate key (first given on line 1)"),
        ("train:\n  lr: [1, 2\n", "exp.yaml:3:1: invalid YAML"),
        ("train:\n\tlr: 1\n", "exp.yaml:2:1: invalid YAML"),
        ("train:\n  lr: .inf\n", "exp.yaml:2: train.lr: must be a finite number (got Infinity)"),
        ("train:\n  l2: .nan\n", "train.l2: must be a finite number (got NaN)"),
        ("train:\n  epochs: true\n", "train.epochs: must be a whole number (got true)"),
        ("train:\n  epochs: '10'\n", "exp.yaml:2: train.epochs: must be a whole number (got '10')"),
        ('train:\n  lr: "0.1"\n', "exp.yaml:2: train.lr: must be a number (got '0.1')"),
        ("train:\n  epochs: 10.0\n", None),  # a whole number, as JSON Schema counts them
        ("data:\n  source: inline\n  x: [['1']]\n  y: [1]\n", "data.x[0][0]: must be a number"),
        ("data:\n  source: inline\n  x: [[1]]\n  y: [true]\n", "data.y[0]: must be a number"),
        (
            "data:\n  source: csv\n  path: a.csv\n  target: 1.5\n",
            "exp.yaml:4: data.target: must be a string or a whole number (got 1.5)",
        ),
        (
            "data:\n  source: csv\n  path: a.csv\n  target: yes\n",
            "data.target: must be a string or a whole number (got true)",
        ),
        ("model:\n  hidden: [4, yes]\n", "model.hidden[1]: must be a whole number (got true)"),
        (
            "data:\n  source: inline\n  x: [[1, .inf]]\n  y: [1]\n",
            "data.x[0][1]: must be a finite number",
        ),
    ],
)
def test_validation_errors_name_file_line_key_value_and_rule(tmp_path, text, expected):
    if expected is None:
        load_config(write(tmp_path, text))  # valid
        return
    assert expected in error_of(write(tmp_path, text))


def test_several_errors_each_get_a_line_in_file_order(tmp_path):
    msg = error_of(write(tmp_path, "train:\n  lr: 0\n  epochs: 0\nseed: -1\n"))
    lines = msg.split("\nerror: ")
    assert len(lines) == 3
    assert "exp.yaml:2: train.lr" in lines[0]
    assert "exp.yaml:3: train.epochs" in lines[1]
    assert "exp.yaml:4: seed" in lines[2]


def test_many_errors_are_capped(tmp_path):
    text = "".join(f"k{i}: 1\n" for i in range(8))
    lines = error_of(write(tmp_path, text)).split("\nerror: ")
    assert len(lines) == 6
    assert lines[-1].endswith("... and 3 more problems in " + str(tmp_path / "exp.yaml"))


def test_missing_and_unreadable_files(tmp_path):
    assert "no such config file" in error_of(tmp_path / "nope.yaml")
    assert "is a folder" in error_of(tmp_path)
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"\xff\xfe\x00bad")
    assert "cannot read the config" in error_of(bad)


def test_config_from_dict_validates_the_same_way():
    with pytest.raises(InputError, match=r"model\.json: train\.lr: must be > 0"):
        config_from_dict({"train": {"lr": 0}}, "model.json")
    assert config_from_dict({}).train.lr == 1.0


# -- overrides ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, path, value",
    [
        ("train.lr=0.5", ("train", "lr"), 0.5),
        ("train.epochs=7", ("train", "epochs"), 7),
        ("model.hidden=[32,32]", ("model", "hidden"), [32, 32]),
        ("train.batch_size=null", ("train", "batch_size"), None),
        ("output.dir=", ("output", "dir"), None),
        ("name=my run", ("name",), "my run"),
        ("data.normalize=true", ("data", "normalize"), True),
        ("model.activation='tanh'", ("model", "activation"), "tanh"),
        ("train.lr = 2", ("train", "lr"), 2),
    ],
)
def test_parse_override(text, path, value):
    assert parse_override(text) == (path, value)


@pytest.mark.parametrize("text", ["train.lr", "=3", "train..lr=1", "train.lr-1", "1x=2"])
def test_malformed_set_says_the_expected_form(text):
    from microgradcli.cli._app import _render

    with pytest.raises(InputError, match=r"expected KEY\.PATH=VALUE, e\.g\. train\.lr=0\.1") as e:
        parse_override(text)
    assert str(e.value).startswith(f"malformed override {text!r}")  # the library's word
    assert _render(e.value).startswith(f"malformed --set {text!r}")  # the CLI's flag


def test_set_with_bad_yaml_value():
    with pytest.raises(
        InputError, match=r"override model\.hidden=\[1,: the value is not valid YAML"
    ):
        parse_override("model.hidden=[1,")


def test_overrides_apply_and_are_validated(tmp_path):
    p = write(tmp_path, "train:\n  lr: 1.0\n")
    cfg, _ = load_config(p, ["train.lr=0.25", "model.hidden=[3]", "output.checkpoint_every=2"])
    assert (cfg.train.lr, cfg.model.hidden, cfg.output.checkpoint_every) == (0.25, [3], 2)
    assert error_of(p, ["train.lr=-2"]) == "override train.lr=-2: train.lr: must be > 0 (got -2)"
    assert error_of(p, ["train.epocs=5"]) == (
        "override train.epocs=5: train.epocs: unknown key; did you mean 'epochs'?"
    )
    assert "override trian.lr=1: trian: unknown key; did you mean 'train'?" in error_of(
        p, ["trian.lr=1"]
    )
    from microgradcli.cli._app import _render  # the CLI names the same place by its flag

    with pytest.raises(InputError) as e:
        load_config(p, ["train.lr=-2"])
    assert _render(e.value) == "--set train.lr=-2: train.lr: must be > 0 (got -2)"
    assert "train.lr is a value, not a section" in error_of(p, ["train.lr.x=1"])


def test_override_later_wins_and_switching_source_drops_old_keys(tmp_path):
    p = write(tmp_path, "data:\n  source: moons\n  noise: 0.3\n  n_samples: 50\n")
    cfg, _ = load_config(p, ["train.lr=0.5", "train.lr=0.7", "data.source=csv", "data.path=x.csv"])
    assert cfg.train.lr == 0.7
    assert isinstance(cfg.data, CsvData)
    cfg, _ = load_config(p, ["data.source=spiral", "data.classes=4"])
    assert (cfg.data.source, cfg.data.classes, cfg.data.noise, cfg.data.n_samples) == (
        "spiral",
        4,
        0.3,
        50,
    )


# -- schema -------------------------------------------------------------------------------------
def _properties(schema: dict):
    for name, sub in schema.get("$defs", {}).items():
        for key, prop in sub.get("properties", {}).items():
            yield f"{name}.{key}", prop
    for key, prop in schema.get("properties", {}).items():
        yield key, prop


def test_schema_describes_every_field_and_forbids_extras():
    schema = config_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["properties"]) == {"name", "seed", "data", "model", "train", "output"}
    props = list(_properties(schema))
    assert len(props) > 40
    missing = [k for k, p in props if not p.get("description")]
    assert missing == []
    assert all(d.get("additionalProperties") is False for d in schema["$defs"].values())
    json.dumps(schema)  # plain JSON


@settings(max_examples=25)
@given(
    lr=st.floats(1e-6, 10.0),
    epochs=st.integers(1, 10_000),
    hidden=st.lists(st.integers(1, 64), max_size=3),
    batch=st.none() | st.integers(1, 512),
    act=st.sampled_from(["tanh", "relu", "sigmoid", "linear"]),
)
def test_any_valid_override_round_trips_through_the_dump(
    tmp_path_factory, lr, epochs, hidden, batch, act
):
    p = tmp_path_factory.mktemp("rt") / "exp.yaml"
    p.write_text("data:\n  source: xor\n")
    sets = [
        f"train.lr={lr!r}",
        f"train.epochs={epochs}",
        f"model.hidden={hidden}",
        f"train.batch_size={'null' if batch is None else batch}",
        f"model.activation={act}",
    ]
    cfg, _ = load_config(p, sets)
    assert (cfg.train.lr, cfg.train.epochs, cfg.model.hidden) == (lr, epochs, hidden)
    assert (cfg.train.batch_size, cfg.model.activation) == (batch, act)
    assert Config.model_validate(yaml.safe_load(dump_config(cfg))) == cfg


def test_the_schema_and_mg_agree_on_sources_quoted_numbers_and_flags(tmp_path):
    """mg schema gives editors data.source as an enum, and refuses quoted numbers as mg does."""
    jsonschema = pytest.importorskip("jsonschema")
    from microgradcli.config import SOURCES, config_schema

    schema = config_schema()
    assert schema["properties"]["data"]["properties"]["source"]["enum"] == list(SOURCES)
    validator = jsonschema.Draft202012Validator(schema)
    for doc, key in (
        ({"data": {"source": "mnist"}}, "data.source"),
        ({"train": {"epochs": "10"}}, "train.epochs"),
        ({"train": {"lr": "0.1"}}, "train.lr"),
    ):
        errors = list(validator.iter_errors(doc))
        assert errors, doc
        if key == "data.source":
            assert any(list(e.absolute_path) == ["data", "source"] for e in errors)
            assert any("is not one of" in e.message for e in errors)
        text = yaml_dump(doc)
        assert f"{key}: must be" in error_of(write(tmp_path, text)), text
    # true/false fields take true or false; exact: false only with the tensor engine
    for doc, says in (
        ({"train": {"exact": 1}}, "train.exact: must be true or false (got 1)"),
        ({"data": {"source": "moons", "normalize": "no"}}, "data.normalize: must be true or"),
        ({"train": {"exact": False}}, "train: exact is false but engine is scalar"),
        ({"train": {"exact": False, "engine": "scalar"}}, "train: exact is false but engine"),
    ):
        assert list(validator.iter_errors(doc)), doc
        assert says in error_of(write(tmp_path, yaml_dump(doc))), doc
    for ok in (
        {"train": {"epochs": 10, "lr": 1}},
        {"data": {"source": "moons"}},
        {"train": {"engine": "tensor", "exact": False}},
        {"train": {"engine": "scalar", "exact": True}},
    ):
        assert not list(validator.iter_errors(ok))
        load_config(write(tmp_path, yaml_dump(ok)))


def yaml_dump(doc: dict) -> str:
    import yaml

    return yaml.safe_dump(doc)
