"""Newton's method on an expression, with gradient descent beside it for comparison.

Minimisation takes x <- x - H^-1 grad f (one variable: x - f'/f''), with the gradient
and the Hessian from the engine's backward pass differentiated again
(microgradcli.derivatives); the linear system H d = grad f is solved by Gaussian
elimination with partial pivoting (`solve`, below). Root finding (root=True) takes
x <- x - f/f'. Each run yields one Step per iterate and then one Outcome.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from microgradcli.errors import MathDomainError

__all__ = ["Outcome", "SingularMatrix", "Step", "gradient_descent", "newton", "solve"]

Result = Literal["converged", "singular", "diverged", "not converged"]
_FAR = 1e100  # an iterate this far out has diverged


@dataclass
class Step:
    k: int  # 0 is the start
    x: dict[str, float]
    f: float
    grad_norm: float  # |grad f| (root mode: |f'|)
    step: float | None  # the size of the step that led here (None at the start)


@dataclass
class Outcome:
    result: Result
    steps: int  # steps taken
    x: dict[str, float]
    f: float | None  # None when f could not be evaluated there (diverged)
    why: str  # one sentence for a person


class SingularMatrix(MathDomainError):
    """The linear system has no unique solution (a zero pivot at column `column`)."""

    def __init__(self, column: int):
        self.column = column
        super().__init__(f"the matrix is singular (no pivot in column {column + 1})")


def solve(a: list[list[float]], b: list[float], eps: float = 1e-12) -> list[float]:
    """x with A x = b, by Gaussian elimination with partial pivoting (A, b are copied).

    A pivot smaller than eps times the largest entry of A counts as zero: SingularMatrix.
    """
    n = len(b)
    m = [[float(v) for v in row] + [float(b[i])] for i, row in enumerate(a)]
    scale = max((abs(v) for row in a for v in row), default=0.0)
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))  # the largest below
        if abs(m[pivot][col]) <= eps * scale or scale == 0.0:
            raise SingularMatrix(col)
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            factor = m[r][col] / m[col][col]
            if factor:
                for c in range(col, n + 1):
                    m[r][c] -= factor * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        acc = m[r][n]
        for c in range(r + 1, n):
            acc -= m[r][c] * x[c]
        x[r] = acc / m[r][r]
    return x


def _norm(v: list[float]) -> float:
    return math.hypot(*v)


def _growing(sizes: list[float]) -> bool:
    """The last three steps each at least twice as long as the one before."""
    return len(sizes) >= 3 and sizes[-1] > 2 * sizes[-2] > 4 * sizes[-3]


def _diverged(x: dict[str, float]) -> bool:
    return any(not math.isfinite(v) or abs(v) > _FAR for v in x.values())


def newton(
    expression,
    start: Mapping[str, float],
    iters: int = 50,
    tol: float = 1e-8,
    root: bool = False,
) -> Iterator[Step | Outcome]:
    """Newton's method from `start`: one Step per iterate, then the Outcome.

    Minimisation stops when |grad f| <= tol; root finding when |f| <= tol.
    """
    from microgradcli.derivatives import derivatives, hessian

    names = list(expression.variables)
    x = {n: float(start[n]) for n in names}
    far = 1e3 * (1.0 + _norm(list(x.values())))
    step: float | None = None
    sizes: list[float] = []
    for k in range(iters + 1):
        try:
            if root:
                r = derivatives(expression, x, 1)
                f, g = r.value, [r.grads[names[0]][0]]
                h = [[g[0]]]  # root mode solves f' d = f
                rhs = [f]
                size = abs(f)
            else:
                hs = hessian(expression, x)
                f, g, h, rhs = hs.value, hs.grad, hs.matrix, hs.grad
                size = _norm(g)
        except MathDomainError as e:
            if k == 0:
                raise
            yield Outcome("diverged", k, x, None, f"stopped at step {k}: {e}")
            return
        yield Step(k, dict(x), f, _norm(g), step)
        if _growing(sizes) and _norm(list(x.values())) > far:
            shown = ", ".join(f"{v:.3g}" for v in sizes[-3:])
            yield Outcome("diverged", k, x, f, f"diverged: the steps grow ({shown})")
            return
        try:
            d = solve(h, rhs)
        except SingularMatrix:
            d = None
        if size <= tol and (root or d is not None):  # a minimum needs a usable Hessian
            yield Outcome("converged", k, x, f, f"converged after {k} steps")
            return
        if d is None:
            what = "f'(x) is 0" if root else "the Hessian is singular"
            if not root and size <= tol:
                what += " (the gradient is 0: a stationary point, not known to be a minimum)"
            yield Outcome("singular", k, x, f, f"{what} at step {k}: Newton cannot take a step")
            return
        if k == iters:
            yield Outcome("not converged", k, x, f, f"did not converge in {iters} steps")
            return
        x = {n: x[n] - d[i] for i, n in enumerate(names)}
        step = _norm(d)
        sizes.append(step)
        if _diverged(x):
            yield Outcome("diverged", k + 1, x, None, f"diverged at step {k + 1}")
            return


def gradient_descent(
    expression, start: Mapping[str, float], lr: float, iters: int = 100_000, tol: float = 1e-8
) -> Iterator[Step | Outcome]:
    """x <- x - lr * grad f from `start`, until |grad f| <= tol: Steps, then the Outcome."""
    names = list(expression.variables)
    x = {n: float(start[n]) for n in names}
    step: float | None = None
    for k in range(iters + 1):
        try:
            root, leaves = expression.build(x)
            root.backward()
        except MathDomainError as e:
            if k == 0:
                raise
            yield Outcome("diverged", k, x, None, f"stopped at step {k}: {e}")
            return
        g = [leaves[n].grad for n in names]
        norm = _norm(g)
        yield Step(k, dict(x), root.data, norm, step)
        if norm <= tol:
            yield Outcome("converged", k, x, root.data, f"converged after {k} steps")
            return
        if k == iters:
            yield Outcome("not converged", k, x, root.data, f"did not converge in {iters} steps")
            return
        x = {n: x[n] - lr * g[i] for i, n in enumerate(names)}
        step = lr * norm
        if _diverged(x):
            yield Outcome("diverged", k + 1, x, None, f"diverged at step {k + 1}")
            return
