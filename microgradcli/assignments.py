"""Values of variables as users write them: `x=3,y=-0.5`, `x=pi/2`, or a JSON object."""

from __future__ import annotations

import math

from microgradcli.errors import InputError, MathDomainError

AT_EXPECTED = "expected NAME=NUMBER pairs separated by commas, e.g. x=3 or x=3,y=-0.5"


def parse_line(line: str, where: str) -> dict[str, float]:
    """One stdin line: `x=1,y=2` or a JSON object `{"x": 1, "y": 2}`."""
    if not line.startswith("{"):
        return parse_assignments(line, where)
    import json

    def no_duplicates(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise InputError(f"{where}: {key} is given twice")
            seen[key] = value
        return seen

    try:
        obj = json.loads(line, object_pairs_hook=no_duplicates)
    except ValueError as e:
        raise InputError(
            f"{where}: not valid JSON ({e}); expected x=1,y=2 or an object such as "
            '{"x": 1, "y": 2}'
        ) from None
    if not isinstance(obj, dict):
        raise InputError(f'{where}: expected a JSON object such as {{"x": 1, "y": 2}}')
    point = {}
    for name, value in obj.items():
        _check_name(name, where)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(
                f"{where}: the value of {name} must be a number, not {json.dumps(value)}"
            )
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise InputError(f"{where}: the value of {name} must be a finite number")
        point[name] = value
    return point


def parse_assignments(text: str, where: str) -> dict[str, float]:
    """`x=3,y=-0.5` -> {"x": 3.0, "y": -0.5}; a value may also be pi/2 or 1e-3."""
    point: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, raw = (part.strip() for part in item.partition("="))
        if not sep or not name or not raw:
            raise InputError(f"{where}: {AT_EXPECTED}")
        _check_name(name, where)
        if name in point:
            raise InputError(f"{where}: {name} is given twice")
        point[name] = _number(raw, name, where)
    if not point:
        raise InputError(f"{where}: {AT_EXPECTED}")
    return point


def _number(raw: str, name: str, where: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = _constant_expression(raw, name, where)
    if not math.isfinite(value):
        raise InputError(f"{where}: the value of {name} must be a finite number, not {raw}")
    return value


def _constant_expression(raw: str, name: str, where: str) -> float:
    """A value written as an expression without variables, such as pi/2 or -1/3."""
    from microgradcli.expr import parse_expression

    expected = (
        f"{where}: the value of {name} must be a number (such as 3, -0.5 or pi/2), not {raw!r}"
    )
    try:
        expression = parse_expression(raw)
    except InputError:
        raise InputError(expected) from None
    if expression.variables:
        raise InputError(expected)
    try:
        root, _ = expression.build({})
    except MathDomainError as e:
        raise InputError(f"{where}: the value of {name}: {e}") from None
    return root.data


def _check_name(name: str, where: str) -> None:
    from keyword import iskeyword

    from microgradcli.expr import NAME_PATTERN

    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or iskeyword(name):
        raise InputError(
            f"{where}: {name!r} is not a variable name (letters, digits and _, "
            "not starting with a digit)"
        )


class GivenTwice(InputError):
    """A variable given two values (`name` says which); the CLI adds what to do."""

    def __init__(self, where: str, name: str, first: float, second: float):
        self.name = name
        super().__init__(
            f"{where}: {name} is given twice ({name}={first:.10g} and {name}={second:.10g})"
        )


def merge(into: dict[str, float], new: dict[str, float], where: str) -> None:
    for name, value in new.items():
        if name in into:
            raise GivenTwice(where, name, into[name], value)
        into[name] = value


def unused_names(expression, point: dict[str, float]) -> list[tuple[str, str]]:
    """(name, why) for each value given that the expression does not use."""
    from microgradcli.expr import CONSTANTS, FUNCTIONS

    out = []
    for name in point:
        if name in expression.variables:
            continue
        if name in CONSTANTS:
            why = f"{name} is the constant {CONSTANTS[name]:.10g}, not a variable"
        elif name in FUNCTIONS:
            why = f"{name} is a function, not a variable"
        else:
            known = ", ".join(expression.variables) or "none"
            why = f"{name} is not in the expression (its variables: {known})"
        out.append((name, why))
    return out
