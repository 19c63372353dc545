"""`python -m microgradcli` works like `mg`."""

from microgradcli.cli import main

main()
