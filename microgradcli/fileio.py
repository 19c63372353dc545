"""Writing files so that a killed process never leaves a truncated one behind."""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write data to path via a temporary file in the same folder, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())  # mkstemp gives 0600; match open()
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def finite_or_null(obj: Any) -> Any:
    """obj with every NaN and infinity made None (null): JSON has no spelling for them,
    and jq rejects Python's."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_null(v) for v in obj]
    return obj


STDIN = "<stdin>"  # how messages name stdin


def decode(data: bytes, name: str, what: str, offset: int = 0) -> str:
    """UTF-8 bytes as text (a leading byte-order mark dropped), or an InputError naming
    the file and the byte offset of the first byte that is not UTF-8 (`offset`: where
    `data` starts in the file)."""
    from microgradcli.errors import InputError

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            f"{name}: cannot read the {what}: it is not UTF-8 text "
            f"(byte 0x{data[e.start]:02x} at offset {offset + e.start})"
        ) from None
    return text.removeprefix("\ufeff") if offset == 0 else text


def _open_error(path: str | os.PathLike, what: str, e: OSError, missing: str, folder: str):
    from microgradcli.errors import InputError

    if isinstance(e, FileNotFoundError):
        hint = f"; {missing}" if missing else ""
        return InputError(f"{path}: no such {what}{hint}")
    if isinstance(e, IsADirectoryError):
        hint = f"; {folder}" if folder else f", not a {what}"
        return InputError(f"{path}: is a folder{hint}")
    return InputError(f"{path}: cannot read the {what} ({e.strerror or e})")


def read_text(
    path: str | os.PathLike,
    what: str,
    *,
    missing_hint: str = "",
    folder_hint: str = "",
) -> str:
    """The text of a file, or an InputError saying what is wrong with it and what to do.

    `what` names the file for the user ("model file", "config file"); the hints follow
    a '; ' when the file is missing or is a folder. The text must be UTF-8.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise _open_error(path, what, e, missing_hint, folder_hint) from None
    return decode(data, str(path), what)


def _stdin_bytes():
    """stdin as bytes (stdin itself when something replaced it with a text stream)."""
    return getattr(sys.stdin, "buffer", None)


def read_input(
    source: str | os.PathLike, what: str, *, missing_hint: str = "", folder_hint: str = ""
) -> tuple[str, str]:
    """(text, name) of a file or of stdin ('-'): the one way mg reads its input, with one
    decoding policy (UTF-8; anything else is an error naming the file and byte offset)."""
    if str(source) != "-":
        text = read_text(source, what, missing_hint=missing_hint, folder_hint=folder_hint)
        return text, str(source)
    raw = _stdin_bytes()
    if raw is None:
        return sys.stdin.read(), STDIN
    return decode(raw.read(), STDIN, what), STDIN


def input_lines(
    source: str | os.PathLike, what: str, *, missing_hint: str = "", folder_hint: str = ""
) -> tuple[Iterator[str], str]:
    """The lines of a file or of stdin ('-'), read and decoded one at a time (so a pipeline
    gets each answer before the next line arrives), and the name to use in messages."""
    if str(source) == "-":
        raw = _stdin_bytes()
        if raw is None:
            return iter(sys.stdin.readline, ""), STDIN
        return _decoded(iter(raw.readline, b""), STDIN, what), STDIN
    try:
        f = open(source, "rb")  # noqa: SIM115 (closed by the generator)
    except OSError as e:
        raise _open_error(source, what, e, missing_hint, folder_hint) from None

    def lines() -> Iterator[str]:
        with f:
            try:
                yield from _decoded(f, str(source), what)
            except IsADirectoryError as e:
                raise _open_error(source, what, e, missing_hint, folder_hint) from None

    return lines(), str(source)


def _decoded(lines: Iterable[bytes], name: str, what: str) -> Iterator[str]:
    offset = 0
    for line in lines:
        yield decode(line, name, what, offset)
        offset += len(line)


def json_lines(
    text: str, name: str, what: str, torn_tail_ok: bool = False
) -> Iterator[tuple[str, Any]]:
    """(where, record) for each non-blank line of JSON Lines text, where = 'name:line'. A
    line that is not JSON is an InputError at its line and column ('is it a {what}?'),
    except, with torn_tail_ok, a last line with no newline: a writer killed mid-line."""
    from microgradcli.errors import InputError

    lines = text.splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            if torn_tail_ok and lineno == len(lines) and not text.endswith("\n"):
                return
            raise InputError(
                f"{where}:{e.colno}: not valid JSON ({e.msg}); is it a {what}?"
            ) from None
        yield where, rec


def check_numbers(rec: dict, keys: Iterable[str], where: str) -> None:
    """Each of keys in rec is missing, null or a number (true/false is not one)."""
    from microgradcli.errors import InputError

    for key in keys:
        v = rec.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise InputError(f'{where}: "{key}" is {json.dumps(v)}, not a number or null')


def epoch_lines(path: Path, upto: int) -> list[tuple[str, dict]]:
    """The lines of a run's JSON-lines file (log, snapshots) for epochs up to `upto`, each with
    its record: later lines belong to epochs being redone, and a line torn by a crash is
    skipped (the checkpoint decides what is kept)."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return [
        (line, rec)
        for line, rec in json_objects(text)
        if isinstance(rec.get("epoch"), int) and rec["epoch"] <= upto
    ]


def json_objects(text: str) -> Iterator[tuple[str, dict]]:
    """(line, object) for each line of JSON Lines text that holds a JSON object; the rest
    (a line torn by a killed writer) is skipped: for files mg itself writes and reads."""
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            yield line, rec


def write_output(path: str | os.PathLike | None, data: bytes, what: str) -> None:
    """Write a picture or text to path atomically, or to stdout for '-' (or None).

    An unwritable path (a folder, a missing permission, a folder that does not exist) is an
    InputError naming it; no folder is created.
    """
    from microgradcli.errors import InputError

    if path is None or str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    folder = Path(path).parent
    if not folder.is_dir():  # a typo in a folder name is not a request to create it
        why = f"{folder} is not a folder" if folder.exists() else f"there is no folder {folder}"
        raise InputError(f"{path}: cannot write the {what}: {why}")
    try:
        write_atomic(path, data)
    except OSError as e:
        raise InputError(f"{path}: cannot write the {what} ({e.strerror or e})") from None


def output_format(
    path: str | os.PathLike | None,
    fmt: str | None,
    by_suffix: dict[str, str],
    default: str = "svg",
) -> str:
    """The output format: fmt when given, else path's extension (by_suffix maps '.svg' to
    'svg'), else default for stdout ('-' or None). An unknown one is an InputError."""
    from microgradcli.errors import InputError, option_error

    names = list(dict.fromkeys(by_suffix.values()))
    if fmt is not None:
        f = fmt.strip().lower().lstrip(".")
        if f not in names:
            raise InputError(f"unknown format {fmt!r}; use {_either(names)}")
        return f
    if path is None or str(path) == "-":
        return default
    suffix = Path(str(path)).suffix.lower()
    if suffix not in by_suffix:
        shown = f"extension {suffix!r}" if suffix else "no extension"
        ends = _either(list(by_suffix))
        raise option_error(
            InputError,
            "{path}: {shown}; the output must end in {ends} (or give {o[format]})",
            path=path,
            shown=shown,
            ends=ends,
        )
    return by_suffix[suffix]


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


# -- tables: the one CSV reader of training, eval and predict ------------------------------
def csv_cells(line: str, where: str, delimiter: str = ",", width: int | None = None) -> list[str]:
    """The cells of one CSV line, stripped. A comma at the end (as spreadsheets write) is no
    value: its empty cell is dropped from a first row (width None) and from a row one
    wider than the table's `width`."""
    import csv

    from microgradcli.errors import InputError

    try:
        cells = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error as e:
        raise InputError(f"{where}: not valid CSV ({e})") from None
    cells = [c.strip() for c in cells]
    if len(cells) > 1 and not cells[-1] and (width is None or len(cells) == width + 1):
        cells.pop()
    return cells


def table_lines(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line of a table that holds a row: blank lines and
    '#' comments are skipped."""
    for i, line in enumerate(lines, 1):
        text = line.strip()
        if text and not text.startswith("#"):
            yield i, line


def to_number(value: object) -> float | None:
    """A finite float from a number or from the text of one (never from true or false),
    else None: the one rule for reading a number from a table, a label or JSON."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        v = float(value)
    except (ValueError, OverflowError):
        return None
    return v if math.isfinite(v) else None


def finite_number(value: object, where: str) -> float:
    """to_number(), or an InputError naming `where` and saying what the value is not."""
    from microgradcli.errors import InputError

    v = to_number(value)
    if v is not None:
        return v
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(f"{where}: {json.dumps(value)} is not a number")
    shown = str(value).strip()
    kind = "a finite number" if is_number(shown) else "a number"
    raise InputError(f"{where}: {shown!r} is not {kind}")


def is_number(text: str) -> bool:
    """Whether a cell reads as a number (inf too: a header is words, not numbers)."""
    try:
        float(text)
    except (ValueError, OverflowError):
        return False
    return True


def is_header(first: list[str], second: list[str] | None = None) -> bool:
    """Whether a table's first row names its columns: one of its cells is not a number
    where the row below (when known) has a number."""
    return any(
        not is_number(a) and (second is None or (j < len(second) and is_number(second[j])))
        for j, a in enumerate(first)
    )
