"""Output helpers shared by the commands: JSON lines on stdout, progress on stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from microgradcli.fileio import finite_or_null


def json_line(obj: Any) -> str:
    """One JSON object as one line of text (no newline)."""
    return json.dumps(finite_or_null(obj), ensure_ascii=False, allow_nan=False)


def emit_json(obj: Any) -> None:
    """Write one JSON line to stdout and flush, so a pipeline sees it at once."""
    sys.stdout.write(json_line(obj) + "\n")
    sys.stdout.flush()


def emit_json_piped(obj: Any) -> bool:
    """emit_json, or False when the reader has left (`--json | head`); stdout then goes
    to /dev/null, so that later writes and the exit-time flush cannot fail again."""
    try:
        emit_json(obj)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return False
    return True


def emit(text: str) -> None:
    """Write one line of human output to stdout and flush."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()
) -> str:
    """Plain-text columns two spaces apart, each as wide as its widest cell (the columns
    numbered in `right` aligned right), no trailing spaces."""
    lines = [header, *rows]
    widths = [max(len(r[k]) for r in lines) for k in range(len(header))]
    return "\n".join(
        "  ".join(
            c.rjust(w) if k in right else c.ljust(w)
            for k, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in lines
    )


def fancy_stderr(quiet: bool = False) -> bool:
    """Progress bars and colour only for a person at a terminal (SPEC section 2): not with
    --quiet, a non-empty NO_COLOR (no-color.org: an empty one does not count) or CI set to
    anything but an empty value, 0 or false."""
    ci = os.environ.get("CI", "").strip().lower()
    if quiet or os.environ.get("NO_COLOR") or ci not in ("", "0", "false", "no"):
        return False
    return sys.stderr.isatty()


def warn(message: str) -> None:
    """A warning line on stderr."""
    sys.stderr.write(f"warning: {message}\n")
    sys.stderr.flush()


def at_values(at: Sequence[str]) -> dict[str, float]:
    """The values of every --at NAME=VALUE,... given, merged: a name given twice is a
    GivenTwice error."""
    from microgradcli.assignments import merge, parse_assignments

    point: dict[str, float] = {}
    for text in at:
        merge(point, parse_assignments(text, f"--at {text!r}"), "--at")
    return point


def warn_unused(expression, point: dict[str, float], warned: set[str], prefix: str = "") -> None:
    """Warn once per name about values given for names the expression does not use."""
    from microgradcli.assignments import unused_names

    for name, why in unused_names(expression, point):
        if name not in warned:
            warned.add(name)
            warn(f"{prefix}{why}; {name}={point[name]:.10g} is ignored")


def refuse_binary_on_terminal(fmt: str, to_stdout: bool, example: str) -> None:
    """PNG or GIF bytes would garble a terminal: ask for a file instead (before any work
    is done); example is the option to give, e.g. '-o g.png'."""
    from microgradcli.errors import InputError

    if fmt in ("png", "gif") and to_stdout and sys.stdout.isatty():
        raise InputError(
            f"{fmt.upper()} is binary and stdout is a terminal; write it to a file with {example}"
        )


def read_stdin_text() -> str:
    """All of stdin as text, or an InputError naming the byte that is not UTF-8."""
    from microgradcli.fileio import read_input

    return read_input("-", "expression")[0]
