"""The `mg` command line: thin commands over the library, one error boundary."""

from __future__ import annotations

from microgradcli.cli._app import app

# Each module registers its commands on `app` (imports here only: no heavy libraries at
# import time, since `mg grad` runs inside shell loops).
# ruff: noqa: I001 (one import line per command module, so parallel edits never clash)
from microgradcli.cli import grad  # noqa: E402,F401
from microgradcli.cli import train  # noqa: E402,F401
from microgradcli.cli import use  # noqa: E402,F401
from microgradcli.cli import plot  # noqa: E402,F401
from microgradcli.cli import draw  # noqa: E402,F401
from microgradcli.cli import newton  # noqa: E402,F401
from microgradcli.cli import sweep  # noqa: E402,F401


def main() -> None:
    """Entry point of the `mg` script."""
    app(prog_name="mg")
