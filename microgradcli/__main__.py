"""`python -m microgradcli` works like `mg`."""

from microgradcli import main

main()
