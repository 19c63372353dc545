"""Values of variables as users write them, for --at and stdin lines."""

from __future__ import annotations

import math

import pytest

from microgradcli.assignments import merge, parse_assignments, parse_line, unused_names
from microgradcli.errors import InputError
from microgradcli.expr import parse_expression


def test_pairs_numbers_and_constant_expressions():
    assert parse_assignments("x=3, y=-0.5,z=1e-3", "--at") == {"x": 3.0, "y": -0.5, "z": 1e-3}
    assert parse_assignments("t=pi/2", "--at")["t"] == math.pi / 2


def test_a_stdin_line_is_pairs_or_a_json_object():
    assert parse_line("x=1,y=2", "stdin line 1") == {"x": 1.0, "y": 2.0}
    assert parse_line('{"x": 1, "y": 2.5}', "stdin line 2") == {"x": 1.0, "y": 2.5}


@pytest.mark.parametrize(
    "text,words",
    [
        ("x", "expected NAME=NUMBER"),
        ("x=", "expected NAME=NUMBER"),
        ("x=1,x=2", "x is given twice"),
        ("1x=2", "is not a variable name"),
        ("x=abc", "must be a number"),
        ("x=1/0", "division by zero"),
        ('{"x": "1"}', "must be a number"),
        ('{"x": 1, "x": 2}', "x is given twice"),
        ("{nope", "not valid JSON"),
        ("[1, 2]", "expected NAME=NUMBER"),
    ],
)
def test_bad_values_name_where_they_came_from(text, words):
    with pytest.raises(InputError) as info:
        parse_line(text, "stdin line 7")
    assert str(info.value).startswith("stdin line 7") and words in str(info.value)


def test_merge_refuses_a_name_given_twice():
    point = {"x": 1.0}
    merge(point, {"y": 2.0}, "--at")
    assert point == {"x": 1.0, "y": 2.0}
    with pytest.raises(InputError, match="x is given twice"):
        merge(point, {"x": 3.0}, "--at")


def test_unused_names_say_why():
    expression = parse_expression("x*y")
    why = dict(unused_names(expression, {"x": 1.0, "y": 2.0, "pi": 3.0, "exp": 1.0, "q": 0.0}))
    assert set(why) == {"pi", "exp", "q"}
    assert "constant" in why["pi"] and "function" in why["exp"] and "x, y" in why["q"]
