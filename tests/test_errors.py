"""The library raises, the CLI renders: library messages name arguments, never CLI flags."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from microgradcli.cli._app import _render
from microgradcli.errors import InputError, MgError, advice, option_error

PACKAGE = Path(__file__).resolve().parent.parent / "microgradcli"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def _raised_texts(path: Path):
    """(line, text) of each string literal in the arguments of an exception raised by
    `raise SomethingError(...)` or built by option_error(...) in a module."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if not (name.endswith(("Error", "Failed", "Large")) or name == "option_error"):
            continue
        for arg in node.args:  # the message; keyword arguments are facts for front ends
            for c in ast.walk(arg):
                if isinstance(c, ast.Constant) and isinstance(c.value, str):
                    yield c.lineno, c.value


def test_no_library_message_names_a_cli_flag():
    found = [
        f"{path.relative_to(PACKAGE)}:{line}: {text.strip()[:60]!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "cli" not in path.relative_to(PACKAGE).parts
        for line, text in _raised_texts(path)
        if FLAG.search(text)
    ]
    assert not found, "library messages that name CLI flags:\n" + "\n".join(found)


def test_the_scan_sees_flags_where_they_are(tmp_path):
    import textwrap

    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(
            """
            raise InputError(f"{x}: give --data CONFIG")
            raise option_error(InputError, "give {o[data]} CONFIG")
            """
        )
    )
    texts = [t for _, t in _raised_texts(probe)]
    assert any(FLAG.search(t) for t in texts) and "give {o[data]} CONFIG" in texts


@pytest.mark.parametrize(
    ("template", "values", "library", "cli"),
    [
        ("pass {o[max_nodes]} {n}", {"n": 9}, "pass max_nodes 9", "pass --max-nodes 9"),
        ("use {o[renderer]} builtin", {}, "use renderer builtin", "use --renderer builtin"),
        ("bad {o[set]} {t!r}", {"t": "a"}, "bad override 'a'", "bad --set 'a'"),
        ("{v:,} nodes", {"v": 12345}, "12,345 nodes", "12,345 nodes"),
    ],
)
def test_one_template_two_wordings(template, values, library, cli):
    assert advice(template, **values) == library
    e = option_error(InputError, template, **values)
    assert isinstance(e, InputError) and str(e) == library and _render(e) == cli


def test_an_error_without_a_kind_is_its_message():
    assert _render(MgError("plain words")) == "plain words"
