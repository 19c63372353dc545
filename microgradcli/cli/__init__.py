"""The `mg` command line: thin commands over the library, one error boundary."""

from __future__ import annotations

from microgradcli.cli._app import app

# Each module registers its commands on `app` (imports here only: no heavy libraries at
# import time, since `mg grad` runs inside shell loops).
from microgradcli.cli import train  # noqa: E402,F401


def main() -> None:
    """Entry point of the `mg` script."""
    app(prog_name="mg")
