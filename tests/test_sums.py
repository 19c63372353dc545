"""Same numbers on Python 3.11-3.13: no builtin sum() of floats on a path to results.

From Python 3.12 on, sum() of floats is compensated (Neumaier), so it rounds differently
from 3.11's left-to-right sum; mg adds floats with engine.lsum instead (SPEC section 2).
"""

from __future__ import annotations

import ast
import random
from functools import reduce
from operator import add
from pathlib import Path

import microgradcli
from microgradcli.engine import Value, dense, lsum, vsum

PACKAGE = Path(microgradcli.__file__).parent

MARK = "# integer sum"  # on a sum() call's lines: it adds integers only, exact on every Python


def _builtin_sums(path: Path) -> list[int]:
    """Lines of the calls of the builtin sum() in a file that are not marked integer-only."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sum":
            span = lines[node.lineno - 1 : node.end_lineno]
            if not any(MARK in line for line in span):
                found.append(node.lineno)
    return sorted(found)


def test_no_builtin_sum_of_floats_in_the_package():
    unexpected = [
        f"{path.relative_to(PACKAGE).as_posix()}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line in _builtin_sums(path)
    ]
    assert not unexpected, (
        "builtin sum() of floats rounds differently from Python 3.12 on; add floats with "
        f"microgradcli.engine.lsum (a sum of integers only may stay, marked '{MARK}'): "
        + ", ".join(unexpected)
    )


def test_the_scan_finds_an_unmarked_sum(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(f"a = sum([0.1, 0.2])\nb = sum([1, 2])  {MARK}\nc = lsum([0.1])\n")
    assert _builtin_sums(f) == [1]


def _left_to_right(values, start=0.0):
    total = start
    for v in values:
        total = total + v
    return total


def test_lsum_adds_left_to_right_where_compensation_would_differ():
    rng = random.Random(7)
    for _ in range(2000):
        xs = [rng.uniform(-1, 1) * 10 ** rng.randint(-8, 8) for _ in range(rng.randint(2, 16))]
        start = rng.uniform(-1, 1)
        assert lsum(xs, start).hex() == _left_to_right(xs, start).hex()
    # A sum a compensated sum gets "right" and a left-to-right sum does not: 1e100 cancels.
    assert lsum([1e100, 1.0, -1e100]) == 0.0
    assert reduce(add, [0.1] * 10, 0.0) == lsum([0.1] * 10) == 0.9999999999999999


def test_dense_and_vsum_round_as_written():
    rng = random.Random(3)
    for _ in range(300):
        n = rng.randint(1, 16)
        w = [Value(rng.uniform(-1, 1)) for _ in range(n)]
        x = [rng.uniform(-3, 3) for _ in range(n)]
        b = Value(rng.uniform(-1, 1))
        want = _left_to_right((wi.data * xi for wi, xi in zip(w, x, strict=True)), b.data)
        assert dense([w], [b], x)[0].data.hex() == want.hex()
        assert vsum(w).data.hex() == _left_to_right(wi.data for wi in w).hex()
