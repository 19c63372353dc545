"""Exceptions that carry the message a user needs: what went wrong, where, what to do."""

from typing import Any


def plural(n: int, word: str, words: str | None = None) -> str:
    """A count for a message: '1 epoch', '2 epochs', '1 column'."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


class MgError(Exception):
    """Base of every error mg reports to a user; the CLI prints it as one `error:` line."""

    exit_code = 2

    def __init__(self, message: str = "", *, kind: str | None = None, **facts: Any):
        # The message is the library's wording; `kind` and `facts` let a front end word the
        # same advice in its own terms (the CLI's boundary names its flags).
        super().__init__(message)
        self.kind = kind
        self.facts = facts


class _Names(dict):
    """Option names in a library message: the parameter's own name (max_nodes); the CLI's
    --set is the library's override."""

    def __missing__(self, key: str) -> str:
        return "override" if key == "set" else key


def advice(template: str, names: type[dict] = _Names, **values: Any) -> str:
    """A message whose advice names options: `{o[max_nodes]}` in the template is the
    keyword argument `max_nodes` here and `--max-nodes` in the CLI, which formats the same
    template with its own names (the error's kind "options"); `values` fill the rest."""
    return template.format(o=names(), **values)


def option_error(cls: type[MgError], template: str, **values: Any) -> MgError:
    """cls(advice(template, **values)), carrying what the CLI needs to word it in flags."""
    return cls(advice(template, **values), kind="options", template=template, values=values)


class InputError(MgError):
    """Bad usage or bad input: a bad config, expression, file or option (exit 2)."""


class MathDomainError(MgError):
    """An operation outside its domain: log(-1), 1/0, overflow (exit 2 for one-off work)."""


class JobFailed(MgError):
    """The job ran but failed, e.g. training diverged (exit 1)."""

    exit_code = 1


class GraphTooLarge(MgError):
    """A graph (e.g. of a high-order derivative) grew past the number of nodes allowed."""

    def __init__(self, nodes: int, limit: int):
        self.nodes = nodes
        self.limit = limit
        self.order: int | None = None  # set by whoever knows which derivative it was
        self.variable: str | None = None
        super().__init__(
            f"the graph grew past {limit:,} nodes (at {nodes:,}); raise the limit or "
            "differentiate fewer times"
        )
