"""The app's one error boundary and the rules every command follows (SPEC section 2)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading

import pytest
import typer
from typer.testing import CliRunner

from microgradcli import __version__
from microgradcli.checkpoint import Checkpoint
from microgradcli.cli import app
from microgradcli.cli._app import MgGroup
from microgradcli.errors import InputError, JobFailed
from microgradcli.nn import MLP

runner = CliRunner()


def test_version_and_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"mg {__version__}\n"
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("grad", "draw", "train", "config", "schema", "predict", "eval", "plot"):
        assert command in result.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["frobnicate"], "error: No such command 'frobnicate'"),
        (["--bogus"], "error: No such option: --bogus (see 'mg --help')"),
        (["grad", "x", "--at", "x=1", "--jsn"], "error: No such option: --jsn"),
        (["train"], "error: give the experiment's CONFIG file"),
    ],
)
def test_usage_errors_are_one_error_line_and_exit_2(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def _app_raising(exc: BaseException) -> typer.Typer:
    one = typer.Typer(cls=MgGroup)

    @one.command()
    def boom() -> None:
        raise exc

    @one.command()
    def other() -> None:  # two commands, so `boom` is a subcommand as in mg
        pass

    return one


@pytest.mark.parametrize(
    "exc,code,start",
    [
        (InputError("bad.yaml: train.lr: must be > 0"), 2, "error: bad.yaml: train.lr"),
        (JobFailed("training diverged at epoch 3; lower train.lr"), 1, "error: training"),
        (RuntimeError("oops"), 1, "error: internal error (RuntimeError: oops); this is a bug"),
    ],
)
def test_exceptions_become_error_lines_with_their_exit_codes(exc, code, start, monkeypatch):
    monkeypatch.delenv("MG_DEBUG", raising=False)
    result = runner.invoke(_app_raising(exc), ["boom"])
    assert result.exit_code == code
    assert result.stderr.startswith(start) and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_mg_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("MG_DEBUG", "1")
    result = runner.invoke(_app_raising(RuntimeError("oops")), ["boom"])
    assert isinstance(result.exception, RuntimeError)


def test_python_dash_m_works_like_mg():
    out = subprocess.run(
        [sys.executable, "-m", "microgradcli", "grad", "3*x**2-4*x+5", "--at", "x=3", "--json"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0
    assert '"value": 20.0' in out.stdout and '"x": 14.0' in out.stdout


def test_a_reader_that_leaves_ends_a_command_quietly(tmp_path):
    """`mg predict ... | head -1`: no traceback and no failure when the reader goes."""
    model = tmp_path / "model.json"
    Checkpoint(model=MLP(2, [4, 1], rng=random.Random(0)), task="binary", classes=[-1, 1]).save(
        model
    )
    rows = "".join(f"{i},{-i}\n" for i in range(20000)).encode()
    proc = subprocess.Popen(
        [sys.executable, "-m", "microgradcli", "predict", str(model), "-", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "CI": "1"},
    )

    def feed() -> None:
        try:
            proc.stdin.write(rows)
            proc.stdin.close()
        except BrokenPipeError:  # mg stopped reading once its reader left
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    assert proc.stdout.readline().startswith(b'{"input": [0.0, 0.0]')
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err == b""


def test_ctrl_c_while_the_command_line_loads_exits_130(monkeypatch, capsys):
    import builtins

    import microgradcli

    real_import = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name == "microgradcli.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    with pytest.raises(SystemExit) as info:
        microgradcli.main()
    assert info.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"


RUN_GRAD = (
    "import sys, runpy\n"
    "{prelude}"
    "sys.argv = ['mg', 'grad', 'x**2', '--at', 'x=3', '--json']\n"
    "try:\n"
    "    runpy.run_module('microgradcli', run_name='__main__')\n"
    "except SystemExit as e:\n"
    "    assert e.code in (0, None), e.code\n"
    "from microgradcli.cli import _app\n"
    "print(_app.FAST_PARAMS, 'pydantic' in sys.modules, file=sys.stderr)\n"
)


def run_grad(prelude: str = "") -> subprocess.CompletedProcess:
    code = RUN_GRAD.format(prelude=prelude)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_the_fast_start_up_shortcut_still_applies():
    """Loud on purpose: a Typer release that renamed its private names would otherwise
    quietly cost every `mg grad` in a shell loop ~60 ms (pydantic imported)."""
    proc = run_grad()
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.split() == ["True", "False"], (
        "mg's Typer shortcut (cli/_app.py light_params) no longer applies with this Typer: "
        f"FAST_PARAMS, pydantic imported = {proc.stderr.split()}"
    )


def test_without_typers_private_names_mg_falls_back_to_plain_typer():
    proc = run_grad("import typer._coercion as c\ndel c.RuntimeParam  # as if Typer renamed it\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{"expr": "x**2", "at": {"x": 3.0}, "value": 9.0, "grad": {"x": 6.0}}\n'
    assert proc.stderr.split() == ["False", "True"]  # slower (pydantic), still correct


def test_every_command_summary_is_one_line_in_the_command_list():
    """`mg --help` lists each command by its docstring's first paragraph, line breaks and
    all: draw's, three lines long, printed as five ragged ones at 80 columns."""
    import click

    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        subs = cmd.commands.values() if isinstance(cmd, click.Group) else []
        for c in [cmd, *subs]:
            first = (c.help or "").strip().split("\n\n")[0]
            assert first and "\n" not in first, (name, c.name, first)
