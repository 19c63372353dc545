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
