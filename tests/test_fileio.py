"""Atomic writes and readable errors for the files mg reads."""

from __future__ import annotations

import os

import pytest

from microgradcli.errors import InputError
from microgradcli.fileio import read_text, write_atomic


def test_write_atomic_replaces_whole_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "sub" / "model.json"
    write_atomic(target, "first")
    write_atomic(target, b"second")
    assert target.read_text() == "second"
    assert sorted(os.listdir(target.parent)) == ["model.json"]


def test_write_atomic_failure_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "model.json"
    write_atomic(target, "old")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["model.json"]


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: p / "nope.json", "no such model file; train one"),
        (lambda p: p, "is a folder; give the model file"),
    ],
)
def test_read_text_errors_say_what_and_what_to_do(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        read_text(
            make(tmp_path),
            "model file",
            missing_hint="train one",
            folder_hint="give the model file",
        )


def test_read_text_names_a_file_that_is_not_text(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match=r"config.yaml: cannot read the config file"):
        read_text(bad, "config file")
    with pytest.raises(InputError, match=r"is a folder, not a config file"):
        read_text(tmp_path, "config file")


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing/dir/g.svg", "there is no folder missing/dir"),
        ("a-file/g.svg", "a-file is not a folder"),
    ],
)
@pytest.mark.parametrize("command", [["draw", "x*2", "--at", "x=1"], ["plot", "fn", "x*2"]])
def test_an_output_in_a_folder_that_is_not_there_is_refused_not_created(
    tmp_path, where, message, command
):
    import subprocess
    import sys

    (tmp_path / "a-file").write_text("not a folder\n")
    r = subprocess.run(
        [sys.executable, "-m", "microgradcli", *command, "-o", where],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"error: {where}: cannot write the " + r.stderr.split("cannot write the ")[1]
    assert r.stderr.rstrip().endswith(message) and r.stderr.count("\n") == 1
    assert not (tmp_path / "missing").exists()
