"""mg: a scalar autograd engine with a command line for learning backpropagation."""

__version__ = "0.1.0"


def main() -> None:
    """Entry point of `mg`: a Ctrl-C while the command line is still loading exits 130 too."""
    try:
        from microgradcli.cli import main as run
    except KeyboardInterrupt:
        import sys

        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    run()
