"""Writing files so that a killed process never leaves a truncated one behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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


def read_text(
    path: str | os.PathLike,
    what: str,
    *,
    missing_hint: str = "",
    folder_hint: str = "",
    encoding: str = "utf-8",
) -> str:
    """The text of a file, or an InputError saying what is wrong with it and what to do.

    `what` names the file for the user ("model file", "config file"); the hints follow
    a '; ' when the file is missing or is a folder.
    """
    from microgradcli.errors import InputError

    try:
        return Path(path).read_text(encoding=encoding)
    except FileNotFoundError:
        hint = f"; {missing_hint}" if missing_hint else ""
        raise InputError(f"{path}: no such {what}{hint}") from None
    except IsADirectoryError:
        hint = f"; {folder_hint}" if folder_hint else f", not a {what}"
        raise InputError(f"{path}: is a folder{hint}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the {what} ({e})") from None


def write_output(path: str | os.PathLike | None, data: bytes, what: str) -> None:
    """Write a picture or text to path atomically, or to stdout for '-' (or None).

    An unwritable path (a folder, a missing permission) is an InputError naming it.
    """
    import sys

    from microgradcli.errors import InputError

    if path is None or str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
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
    from microgradcli.errors import InputError

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
        raise InputError(f"{path}: {shown}; the output must end in {ends} (or give --format)")
    return by_suffix[suffix]


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
