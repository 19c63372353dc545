"""The Typer app and its one error boundary; only microgradcli.cli knows Typer and rich."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.exceptions import Abort

from microgradcli import __version__
from microgradcli.errors import MgError, advice

# Typer's private names, used for speed only: if a Typer release renames them, mg falls
# back to plain Typer (every command still works; start-up imports pydantic, ~60 ms more).
# tests/test_cli_app.py fails loudly when the shortcut silently stopped applying.
try:
    from typer._click.exceptions import NoSuchOption, UsageError  # Typer's own Click
except ImportError:  # pragma: no cover - another Typer: its Click is the public one
    from click.exceptions import NoSuchOption, UsageError
try:
    from typer._coercion import RuntimeParam, build_runtime_param
except ImportError:  # pragma: no cover - exercised by a test in a subprocess
    RuntimeParam = build_runtime_param = None
FAST_PARAMS = RuntimeParam is not None  # text and flag options skip pydantic


def _fail(message: str, code: int) -> typer.Exit:
    sys.stdout.flush()
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


if FAST_PARAMS:

    class _PlainValue(RuntimeParam):
        """str, list[str] and bool values taken as they are; anything else as Typer would."""

        def _coerce_value(self, value, param, ctx):
            kind = self.annotation
            if (kind is bool and isinstance(value, bool)) or (
                kind is str and isinstance(value, str)
            ):
                return value
            if kind == list[str] and isinstance(value, (list, tuple)):
                if all(isinstance(v, str) for v in value):
                    return list(value)
            return build_runtime_param(param.type_descriptor)._coerce_value(value, param, ctx)


def light_params(params: list) -> list:
    """Let text and flag parameters skip Typer's pydantic coercion (cheap start-up).

    Typer 0.29 builds a pydantic TypeAdapter for each parameter it coerces, even an
    absent --help flag, so every run would import pydantic (~60 ms) just to pass
    strings and booleans through. Use from a command's get_params(). Without Typer's
    private names (FAST_PARAMS false) the parameters are left as Typer made them.
    """
    if not FAST_PARAMS:
        return params
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if (
            descriptor is not None
            and getattr(param, "_runtime_param", False) is None
            and getattr(descriptor, "annotation", None) in (str, bool, list[str])
        ):
            param._runtime_param = _PlainValue(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
            )
    return params


class MgGroup(TyperGroup):
    """Turns every failure into `error: ...` on stderr and the exit code SPEC gives."""

    def get_params(self, ctx):
        return light_params(super().get_params(ctx))

    def parse_args(self, ctx, args):
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            if ctx.parent is None:  # plain `mg`: the help is the answer
                text = ctx.get_help()  # rich help prints itself and returns ""
                if text:
                    typer.echo(text)
                raise typer.Exit(0)
            # `mg plot`: one line saying what is missing (Typer would print the whole help)
            path, names = ctx.command_path, "|".join(self.list_commands(ctx))
            raise _fail(f"{path} needs a command: {path} {names} (see '{path} --help')", 2)
        return super().parse_args(ctx, args)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except UsageError as e:
            raise _usage(e) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UsageError as e:
            if e.ctx is None and ctx.invoked_subcommand:  # raised before the command's context
                raise _usage(e, f"{ctx.command_path} {ctx.invoked_subcommand}") from None
            raise _usage(e) from None
        except MgError as e:
            if os.environ.get("MG_DEBUG") == "1":
                raise
            raise _fail(_render(e), e.exit_code) from None
        except (typer.Exit, Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:  # `mg ... | head -1`: the reader left; stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the exit-time flush can't fail again
            raise typer.Exit(0) from None
        except Exception as e:  # a bug: say so, and how to see it
            if os.environ.get("MG_DEBUG") == "1":
                raise
            raise _fail(
                f"internal error ({type(e).__name__}: {e}); this is a bug in mg. "
                "Run again with MG_DEBUG=1 to see the traceback.",
                1,
            ) from None


class ExprCommand(TyperCommand):
    """Parsing for commands whose argument is an expression (mg grad, mg draw, mg plot fn):
    EXPR may start with '-' (-x**2, -tanh(x)), text passes through as is.

    Click would read -tanh(x) as the short options -t -a -n -h (and -h is --help), so
    an argument that starts with a single '-' and is not one of the command's own short
    options is moved behind a '--' before Click sees it. A mistyped long option is
    still an error (with a hint for an expression such as --x).
    """

    def get_params(self, ctx):
        return light_params(super().get_params(ctx))  # no pydantic on the `mg grad` path

    def parse_args(self, ctx, args):
        params = self.get_params(ctx)
        known = [o for p in params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")]
        valued = {
            o
            for p in params
            if not (getattr(p, "is_flag", True) or getattr(p, "count", False))
            for o in p.opts
        }
        if "--" not in args:
            options, exprs = [], []
            for i, arg in enumerate(args):
                after_option = i > 0 and args[i - 1] in valued and args[i - 1] in options
                if arg.startswith("-") and arg[1:2] not in ("", "-") and not after_option:
                    if arg[:2] not in known:  # -x**2, -tanh(x): an expression
                        exprs.append(arg)
                        continue
                options.append(arg)
            args = [*options, "--", *exprs] if exprs else list(args)
        for arg in args:
            if arg == "--":
                break
            name = arg.split("=", 1)[0]
            if name.startswith("--") and name not in known:
                from difflib import get_close_matches

                close = get_close_matches(name, known)
                hint = None
                if not close:  # perhaps an expression such as --x
                    hint = (
                        f"No such option: {name} (an expression that starts with '--' goes "
                        f"after '--': {ctx.command_path} -- {arg!r})"
                    )
                raise NoSuchOption(name, message=hint, possibilities=close, ctx=ctx)
        return super().parse_args(ctx, args)


def _render(e: MgError) -> str:
    """A library error as the CLI says it: an expression error with a caret under its
    column, a missing variable with the --at that gives it."""
    from microgradcli.expr import ExpressionError, MissingVariable

    if isinstance(e, ExpressionError):
        at = e.text[e.column - 1 : e.column + 1]
        if at[:1] == "=" and at != "==":  # x=1 typed as the expression
            e = ExpressionError(e.text, e.column, f"{e.message} (give values with --at x=...)")
        return e.pointer(len("error: "))
    if isinstance(e, MissingVariable):
        return f"{e}; add --at {e.name}=..."
    if e.kind in _IN_FLAGS:
        return _IN_FLAGS[e.kind](**e.facts)
    return str(e)


def _run_dir_taken(run_dir, resumable: bool) -> str:
    resume = f" or --resume {shlex.quote(str(run_dir))} to continue it" if resumable else ""
    return (
        f"{run_dir}: the run folder already holds files; use --force to replace the "
        f"run{resume}, or --out to choose another folder"
    )


class _Flags(dict):
    """Option names as the CLI spells them: max_nodes is --max-nodes."""

    def __missing__(self, key: str) -> str:
        return "--" + key.replace("_", "-")


# A library error's advice in the CLI's own terms, by the error's kind: the library words
# the same facts without naming flags (its callers pass arguments, not options).
_IN_FLAGS: dict[str, Callable[..., str]] = {
    "out_empty": lambda: "--out is empty; give a folder for the run, e.g. --out runs/try2",
    "run_dir_unusable": lambda what: f"{what}; choose another --out",
    "run_dir_taken": _run_dir_taken,
    "run_dir_foreign": lambda run_dir, shown: (
        f"{run_dir}: refusing to --force: the folder holds files mg did not write "
        f"({shown}); choose another --out"
    ),
    "resume_stdin": lambda: (
        "--resume continues a run in its folder; give its folder or its model.json"
    ),
    "resume_with_out": lambda: (
        "--resume continues the run in the checkpoint's folder; leave out --out"
    ),
    "setting": lambda what, setting: f"{what} --set {setting}",
    "diverged": lambda what, run_dir, setting: (
        f"{what}; continue with: mg train --resume {shlex.quote(str(run_dir))} --set {setting}"
    ),
    "options": lambda template, values: advice(template, _Flags, **values),
    "override": lambda override, tail: f"--set {override}{tail}",
    "use_split_all": lambda what: f"{what}; use --split all",
    "split_needs_config": lambda split, source: (
        f"--split {split} needs a config (its data.val_split); {source} is a CSV file"
    ),
    "training_data_unloadable": lambda cause: (
        f"cannot load the model's training data: {_render(cause)}; give --data"
    ),
    "training_config_as_sweep": lambda what, path: (
        f"{what}; to train it once: mg train {shlex.quote(path)}"
    ),
    "within": lambda place, cause: f"{place}{_render(cause)}",
}


def _usage(e: UsageError, where: str = "mg") -> typer.Exit:
    where = e.ctx.command_path if e.ctx is not None else where
    return _fail(f"{e.format_message()} (see '{where} --help')", 2)


def _type_column(original):
    """The help's type column without `<bool>` for a flag (--json takes no value) or `<str>`
    beside an argument already named by its metavar."""

    def display_type_rich(self, ctx):
        if getattr(self, "is_flag", False) or (self.param_type_name == "argument" and self.metavar):
            return None
        return original(self, ctx)

    return display_type_rich


for _cls in (TyperOption, TyperArgument):  # Typer internals: without them, help keeps <bool>
    if hasattr(_cls, "display_type_rich"):
        _cls.display_type_rich = _type_column(_cls.display_type_rich)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mg {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="mg",
    cls=MgGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=(
        "Train small neural networks on a scalar autograd engine, differentiate "
        "expressions and draw computation graphs.\n\n"
        'Example: mg grad "3*x**2-4*x+5" --at x=3'
    ),
)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Train small neural networks on a scalar autograd engine, differentiate expressions
    and draw computation graphs.

    Example: mg grad "3*x**2-4*x+5" --at x=3
    """
