"""The expression language of `mg grad` and `mg draw`: parsed, never evaluated as Python.

A small tokenizer and an operator-precedence (shunting-yard) parser turn the text into
a postfix program; `Expression.build` runs that program on engine `Value`s. Nothing
here recurses, so nesting depth is limited by memory only, not by Python's stack, and
nothing is ever handed to eval/exec/compile.

Grammar (Python's precedence, with `^` as an alias of `**`):

    expr   := term (('+' | '-') term)*
    term   := unary (('*' | '/') unary)*
    unary  := ('-' | '+') unary | power
    power  := atom (('**' | '^') unary)?          # right-associative: 2^3^2 = 2^9
    atom   := NUMBER | NAME | 'pi' | 'e' | FUNC '(' expr ')' | '(' expr ')'
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Iterator, Mapping

from microgradcli.engine import Value
from microgradcli.errors import InputError, MathDomainError

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "Expression",
    "ExpressionError",
    "backward_steps",
    "parse_expression",
    "render",
    "value_and_grad",
]

FUNCTIONS = ("exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sin", "cos", "abs")
CONSTANTS = {"pi": math.pi, "e": math.e}
_KNOWN = ", ".join(FUNCTIONS)

# Precedence of the operators; unary minus sits between * and ** as in Python.
_PREC = {"+": 2, "-": 2, "*": 3, "/": 3, "neg": 4, "**": 5}
_ATOM = 6
_LABEL_MAX = 24  # longer subexpressions get a short label built from their parts

_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD_TAIL = re.compile(r"[A-Za-z0-9_.]+")
_DIGITS = "0123456789"
_NAME_START = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
NAME_PATTERN = _NAME  # what a variable name looks like (used by `--at` parsing)

_FORBIDDEN = {
    "//": "floor division ('//') is not allowed (use '/')",
    "==": "comparisons ('==') are not allowed",
    "!=": "comparisons ('!=') are not allowed",
    "<=": "comparisons ('<=') are not allowed",
    ">=": "comparisons ('>=') are not allowed",
    "<<": "bitwise shifts ('<<') are not allowed",
    ">>": "bitwise shifts ('>>') are not allowed",
    ":=": "assignment (':=') is not allowed",
    "<": "comparisons ('<') are not allowed",
    ">": "comparisons ('>') are not allowed",
    "=": "assignment ('=') is not allowed",
    ".": "attribute access ('.') is not allowed",
    "[": "indexing and lists ('[') are not allowed",
    "]": "indexing and lists (']') are not allowed",
    "{": "dicts and sets ('{') are not allowed",
    "}": "dicts and sets ('}') are not allowed",
    "'": "strings are not allowed",
    '"': "strings are not allowed",
    "%": "the remainder operator ('%') is not allowed",
    "@": "the '@' operator is not allowed",
    "&": "bitwise operators ('&') are not allowed",
    "|": "bitwise operators ('|') are not allowed",
    "~": "bitwise operators ('~') are not allowed",
    ";": "statements (';') are not allowed",
    ":": "':' is not allowed (no slices, lambdas or annotations)",
    "#": "comments ('#') are not allowed",
    "\\": "backslashes are not allowed",
    "!": "'!' is not allowed",
}
# Characters pasted from typeset notes, and what to type instead.
_LOOKALIKES = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",  # en dash
    "\u00d7": "*",  # multiplication sign
    "\u00b7": "*",  # middle dot
    "\u22c5": "*",  # dot operator
    "\u2219": "*",  # bullet operator
    "\u00f7": "/",
    "\u00b2": "**2",
    "\u00b3": "**3",
    "\u03c0": "pi",
}
_KEYWORD_MESSAGES = {
    "lambda": "lambdas are not allowed",
    "for": "comprehensions and loops ('for') are not allowed",
    "async": "comprehensions and loops ('async') are not allowed",
    "await": "'await' is not allowed",
    "if": "conditional expressions ('if') are not allowed",
    "else": "conditional expressions ('else') are not allowed",
    "and": "boolean operators ('and') are not allowed",
    "or": "boolean operators ('or') are not allowed",
    "not": "boolean operators ('not') are not allowed",
    "in": "comparisons ('in') are not allowed",
    "is": "comparisons ('is') are not allowed",
    "True": "'True' is not a number or a variable",
    "False": "'False' is not a number or a variable",
    "None": "'None' is not a number or a variable",
}


class ExpressionError(InputError):
    """A syntax error or forbidden construct in an expression: the text, the 1-based
    column and what is wrong, as data. str() is one line; `pointer()` adds a caret line
    (the CLI's error boundary renders that, indented by its own "error: " prefix)."""

    def __init__(self, text: str, column: int, message: str):
        self.text = text
        self.column = column
        self.message = message
        super().__init__(self.head())

    def _window(self) -> tuple[str, int]:
        """The text as shown (printable, at most ~66 characters) and the caret's offset."""
        text, column = self.text, self.column
        # tabs, newlines and control characters would misplace the caret or hide
        shown = "".join(c if c.isprintable() else ("?" if not c.isspace() else " ") for c in text)
        begin = 0  # where the shown part starts in `text`
        if len(shown) > 60:  # a window around the column keeps both lines short
            begin = max(0, min(column - 1 - 30, len(shown) - 60))
            prefix = "..." if begin > 0 else ""
            suffix = "..." if begin + 60 < len(shown) else ""
            shown = prefix + shown[begin : begin + 60] + suffix
            begin -= len(prefix)
        return shown, column - 1 - begin

    def head(self) -> str:
        """`what at column N: <expression>` on one line."""
        return f"{self.message} at column {self.column}: {self._window()[0]}"

    def pointer(self, indent: int = 0) -> str:
        """head() and a caret line under the column, for a line that starts `indent`
        characters before head() (e.g. len("error: ") when printed after that)."""
        shown, offset = self._window()
        pad = indent + len(f"{self.message} at column {self.column}: ") + offset
        return f"{self.head()}\n{' ' * pad}^"


# -- tokens --------------------------------------------------------------------------


def _tokenize(text: str) -> Iterator[tuple[str, object, int]]:
    """(kind, value, column) tuples; kind is 'num', 'name', an operator, or 'end'.

    A generator, so the parser reports problems in the order they appear in the text.
    """
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        col = i + 1
        if c.isspace():
            i += 1
            continue
        if c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            m = _NUMBER.match(text, i)
            tail = _WORD_TAIL.match(text, m.end())
            if tail:  # 2x, 0x1f, 1_000, 1.2.3, 3j: not a number of this language
                word = text[i : tail.end()]
                hint = ""
                if _NAME.fullmatch(tail.group()):
                    hint = f" (for a product write {m.group()}*{tail.group()})"
                raise ExpressionError(text, col, f"'{word}' is not a number{hint}")
            value = float(m.group())
            if math.isinf(value):
                raise ExpressionError(text, col, f"the number {m.group()} is too large")
            yield ("num", value, col)
            i = m.end()
            continue
        if c in _NAME_START:
            m = _NAME.match(text, i)
            word = m.group()
            if keyword.iskeyword(word):
                what = _KEYWORD_MESSAGES.get(word, f"statements ('{word}') are not allowed")
                raise ExpressionError(text, col, what)
            yield ("name", word, col)
            i = m.end()
            continue
        if text.startswith("**", i):
            yield ("**", "**", col)
            i += 2
            continue
        two = text[i : i + 2]
        if two in _FORBIDDEN:
            raise ExpressionError(text, col, _FORBIDDEN[two])
        if c in "+-*/()," or c == "^":
            yield ("**" if c == "^" else c, c, col)
            i += 1
            continue
        if c in _FORBIDDEN:
            raise ExpressionError(text, col, _FORBIDDEN[c])
        shown = repr(c) if c.isprintable() else f"U+{ord(c):04X}"
        if c in _LOOKALIKES:
            hint = f" (write {_LOOKALIKES[c]!r} instead)"
        elif c.isalnum():
            hint = " (names use the letters a-z, A-Z, digits and _)"
        else:
            hint = ""
        raise ExpressionError(text, col, f"unexpected character {shown}{hint}")
    yield ("end", None, n + 1)


# -- parsing -------------------------------------------------------------------------


def parse_expression(text: str) -> Expression:
    """Parse `text` into an Expression, or raise InputError saying what and where."""
    if not isinstance(text, str):
        raise InputError(f"an expression must be text, not {type(text).__name__}")
    if not text.strip():
        raise InputError("empty expression; give one such as '3*x**2 - 4*x + 5'")
    return _Parser(text).parse()


class _Parser:
    """Shunting-yard: operands go straight to the postfix program; operators wait on a
    stack until one that binds less tightly, a ')' or the end sends them there."""

    def __init__(self, text: str):
        self.text = text
        self.program: list[tuple] = []
        # Pending operators: ('(', None, col), ('call', name, col), ('op', symbol, col).
        self.stack: list[tuple] = []
        self.variables: dict[str, None] = {}  # in order of first appearance
        self.call: tuple[str, int] | None = None  # a function name whose '(' comes next
        self.prev = None  # the previous token, for hints

    def parse(self) -> Expression:
        tokens = _tokenize(self.text)
        ahead = next(tokens)
        expect_operand = True
        while True:
            kind, value, col = ahead
            if kind != "end":
                ahead = next(tokens)
            if expect_operand:
                expect_operand = self._operand(kind, value, col, calls=ahead[0] == "(")
            elif kind == "end":
                self._finish()
                return Expression(self.text, self.program, list(self.variables))
            else:
                expect_operand = self._operator(kind, value, col)
            self.prev = (kind, value)

    def _operand(self, kind: str, value, col: int, calls: bool) -> bool:
        """A token where an operand must begin; True while one still must (after '(',
        a unary sign or a function's name)."""
        if kind == "num":
            self.program.append(("num", value))
            return False
        if kind == "name":
            return self._name(value, col, calls)
        if kind == "(":
            if self.call is not None:  # the '(' of a function call
                self.stack.append(("call", *self.call))
                self.call = None
            else:
                self.stack.append(("(", None, col))
        elif kind == "-":
            self.stack.append(("op", "neg", col))
        elif kind != "+":  # unary plus changes nothing
            what = _expected_operand(kind, value, self.prev, self.stack)
            raise ExpressionError(self.text, col, what)
        return True

    def _name(self, name: str, col: int, calls: bool) -> bool:
        """A variable, a constant, or (calls: '(' follows) a function's name."""
        if calls:
            if name not in FUNCTIONS:
                if name in CONSTANTS:
                    what = f"{name} is a constant, not a function"
                else:
                    what = f"unknown function {name}() (known functions: {_KNOWN})"
                raise ExpressionError(self.text, col, what)
            self.call = (name, col)
            return True
        if name in FUNCTIONS:
            raise ExpressionError(self.text, col, f"{name} is a function; call it as {name}(...)")
        if name in CONSTANTS:
            self.program.append(("const", name))
        else:
            self.program.append(("var", name))
            self.variables.setdefault(name, None)
        return False

    def _operator(self, kind: str, value, col: int) -> bool:
        """A token after a complete operand; True when it needs another operand."""
        if kind in _PREC:  # a binary operator; only ** groups from the right
            prec = _PREC[kind]
            self._unwind(lambda top: top > prec or (top == prec and kind != "**"))
            self.stack.append(("op", kind, col))
            return True
        if kind == ")":
            self._unwind(lambda top: True)
            if not self.stack:
                raise ExpressionError(self.text, col, "unmatched ')'")
            opener = self.stack.pop()
            if opener[0] == "call":
                self.program.append(("call", opener[1]))
            return False
        if kind == ",":
            opener = next((s for s in reversed(self.stack) if s[0] != "op"), None)
            if opener is not None and opener[0] == "call":
                what = f"{opener[1]}() takes exactly one argument"
            else:
                what = "commas (tuples) are not allowed"
            raise ExpressionError(self.text, col, what)
        raise ExpressionError(self.text, col, _expected_operator(kind, value, self.prev))

    def _unwind(self, first) -> None:
        """Move pending operators to the program while `first(their precedence)` holds."""
        while self.stack and self.stack[-1][0] == "op" and first(_PREC[self.stack[-1][1]]):
            self.program.append(_op_item(self.stack.pop()[1]))

    def _finish(self) -> None:
        """At the end: every pending operator to the program; an open '(' is an error."""
        while self.stack:
            item = self.stack.pop()
            if item[0] != "op":
                at = item[2] + (len(item[1]) if item[0] == "call" else 0)
                raise ExpressionError(self.text, at, "this '(' is never closed")
            self.program.append(_op_item(item[1]))


def _op_item(symbol: str) -> tuple:
    return ("neg",) if symbol == "neg" else ("bin", symbol)


def _describe(kind: str, value) -> str:
    if kind == "end":
        return "the end"
    if kind == "num":
        return f"the number {_num_text(value)}"
    return f"'{value}'"


def _expected_operand(kind: str, value, prev, stack) -> str:
    if kind == "end" and prev is None:
        return "empty expression"
    if kind == ")" and prev is not None and prev[0] == "(":
        opener = stack[-1] if stack else None
        if opener is not None and opener[0] == "call":
            return f"{opener[1]}() needs an argument"
        return "empty parentheses"
    after = f" after '{prev[1]}'" if prev is not None else ""
    if kind == "end":
        return f"the expression ends too early: expected a number, variable or '('{after}"
    return f"expected a number, variable or '('{after}, found {_describe(kind, value)}"


def _expected_operator(kind: str, value, prev) -> str:
    found = _describe(kind, value)
    hint = ""
    if kind in ("name", "num", "(") and prev is not None and prev[0] in ("num", "name", ")"):
        left = _num_text(prev[1]) if prev[0] == "num" else (prev[1] if prev[0] == "name" else ")")
        right = _num_text(value) if kind == "num" else (value if kind == "name" else "(")
        if kind == "(" and prev[0] == ")":
            hint = f" (only {_KNOWN} can be called)"
        elif kind == "(":
            hint = f" (for a product write {left}*(...))"
        else:
            hint = f" (for a product write {left}*{right})"
    return f"expected an operator such as + - * / ** before {found}{hint}"


# -- the parsed expression -----------------------------------------------------------


class Expression:
    """A parsed expression: its text, its variables, and a postfix program to build."""

    __slots__ = ("text", "variables", "_program")

    def __init__(self, text: str, program: list[tuple], variables: list[str]):
        self.text = text
        self.variables = variables  # in order of first appearance
        self._program = tuple(program)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def __eq__(self, other) -> bool:
        """Equal when they parse to the same tree (spacing and parentheses aside)."""
        if not isinstance(other, Expression):
            return NotImplemented
        return self._program == other._program

    def __hash__(self) -> int:
        return hash(self._program)

    def build(self, values: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
        """A fresh graph of Values at `values`: (root, {variable: its leaf Value}).

        Each operation is the engine's own (x - y is whatever Value.__sub__ builds);
        the nodes it made are then labelled by walking them, so labels, --steps and
        drawings show exactly the graph the engine built.
        """
        leaves: dict[str, Value] = {}
        for name in self.variables:
            if name not in values:
                raise MissingVariable(name)
            leaves[name] = Value(float(values[name]), label=name)
        # Each stack entry is (Value, precedence, rope, text length, depends on a
        # variable?); ropes (nested tuples of text) keep labels and messages linear.
        stack: list[tuple] = []
        precedence: dict[Value, int] = {}  # of every labelled node, for parentheses
        for item in self._program:
            kind = item[0]
            if kind in ("num", "const", "var"):
                text = _num_text(item[1]) if kind == "num" else item[1]
                if kind == "var":
                    v = leaves[text]
                else:
                    v = Value(item[1] if kind == "num" else CONSTANTS[text], label=text)
                precedence[v] = _ATOM
                stack.append((v, _ATOM, text, len(text), kind == "var"))
                continue
            if kind in ("neg", "call"):
                args = (stack.pop(),)
            else:
                b = stack.pop()
                args = (stack.pop(), b)
            prec, rope, length = _compose(item, args)
            out = _apply(_operation(item, args), rope, length)
            out.label = _flatten(rope) if length <= _LABEL_MAX else _short_label(item, args)
            precedence[out] = prec
            _label_inside(out, precedence)
            stack.append((out, prec, rope, length, any(a[4] for a in args)))
        if len(stack) != 1:  # the parser guarantees one result; never trust silently
            raise AssertionError("malformed expression program")
        return stack[0][0], leaves


class MissingVariable(InputError):
    """No value was given for a variable of the expression (`name` says which)."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"no value for {name}")


def _operation(item: tuple, args: tuple):
    """The engine operation for one program item, as a function of no arguments."""
    kind = item[0]
    x = args[0][0]
    if kind == "neg":
        return x.__neg__
    if kind == "call":
        return getattr(x, item[1])
    y = args[1][0]
    op = item[1]
    if op == "+":
        return lambda: x + y
    if op == "-":
        return lambda: x - y
    if op == "*":
        return lambda: x * y
    if op == "/":

        def div() -> Value:
            if y.data == 0.0:  # say which subexpression is 0 (the engine gives numbers)
                den = _flatten(args[1][2]) if args[1][3] <= 40 else "the denominator"
                if den.replace(".", "").strip("0") == "":  # a literal 0: "0 is 0" says nothing
                    raise MathDomainError("division by zero")
                raise MathDomainError(f"division by zero: {den} is 0")
            return x / y

        return div
    # '**': a constant exponent is a plain number (x**2 has one input, and a negative
    # base is fine); a variable exponent needs the engine's two-input power.
    if args[1][4]:
        return lambda: x**y
    return lambda: x**y.data


def _label_inside(out: Value, precedence: dict[Value, int]) -> None:
    """Label the nodes the engine made inside one operation (the -1 and y*-1 of x - y),
    from what they are: their op and their inputs' labels."""
    todo = [c for c in out.children if c not in precedence]
    new: list[Value] = []
    while todo:  # the unlabelled nodes below `out`, each before its inputs
        v = todo.pop()
        if v in precedence or v in new:
            continue
        new.append(v)
        todo.extend(c for c in v.children if c not in precedence)
    for v in sorted(new, key=lambda n: n._id):  # inputs first
        v.label, precedence[v] = _node_label(v, precedence)


def _node_label(v: Value, precedence: dict[Value, int]) -> tuple[str, int]:
    op, kids = v.op, v.children
    if not kids:
        return _num_text(v.data), (_ATOM if v.data >= 0 else _PREC["neg"])

    def part(child: Value, need: int) -> str:
        label = child.label if len(child.label) <= _LABEL_MAX else "…"
        return f"({label})" if precedence[child] < need else label

    if op == "*" and not kids[1].children and kids[1].data == -1.0:
        return f"-{part(kids[0], _ATOM)}", _PREC["neg"]
    if op in ("+", "*", "/"):
        prec = _PREC[op]
        sym = " + " if op == "+" else op
        return f"{part(kids[0], prec)}{sym}{part(kids[1], prec + 1)}", prec
    if op.startswith("**"):
        exponent = op[2:] or part(kids[1], _PREC["neg"])
        return f"{part(kids[0], _ATOM)}**{exponent}", _PREC["**"]
    return f"{op}({part(kids[0], 0)})", _ATOM


def _apply(fn, rope, length) -> Value:
    """Run one engine operation, adding the subexpression to a domain error's message."""
    try:
        return fn()
    except MathDomainError as e:
        message = str(e)
        if length <= 40:
            where = _flatten(rope)
            if where.replace(" ", "") not in message.replace(" ", ""):
                message = f"{message} (in {where})"
        raise MathDomainError(message) from None


def _short_label(item: tuple, args: tuple) -> str:
    """A label for a long subexpression: its operation with short names of its inputs."""
    if item[0] == "neg":
        return f"-{_short(args[0])}"
    if item[0] == "call":
        return f"{item[1]}({_short(args[0])})"
    sym = item[1] if item[1] in ("*", "/", "**") else f" {item[1]} "
    return f"{_short(args[0])}{sym}{_short(args[1])}"


def _short(entry: tuple) -> str:
    """A node's label inside a longer label: itself if short, else '…'."""
    label = entry[0].label
    if len(label) > 12:
        return "…"
    return f"({label})" if entry[1] < _ATOM else label


# -- rendering -----------------------------------------------------------------------


def _num_text(x: float) -> str:
    """A number as the shortest text that parses back to the same float."""
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x)


def _compose(item: tuple, args: tuple) -> tuple[int, object, int]:
    """(precedence, rope, length) of an operation applied to rendered operands."""
    kind = item[0]
    if kind == "neg":
        ((_, p, r, n, *_),) = args
        if p <= _PREC["neg"]:  # -(-x) reads better than --x
            return _PREC["neg"], ("-(", r, ")"), n + 3
        return _PREC["neg"], ("-", r), n + 1
    if kind == "call":
        ((_, _, r, n, *_),) = args
        return _ATOM, (item[1], "(", r, ")"), n + len(item[1]) + 2
    op = item[1]
    prec = _PREC[op]
    (_, pa, ra, na, *_), (_, pb, rb, nb, *_) = args
    if op == "**":  # the base must be an atom; the exponent may be a unary expression
        left_paren, right_paren = pa <= prec, pb < _PREC["neg"]
    else:  # left-associative: a right operand of the same precedence needs parentheses
        left_paren, right_paren = pa < prec, pb <= prec
    if left_paren:
        ra, na = ("(", ra, ")"), na + 2
    if right_paren:
        rb, nb = ("(", rb, ")"), nb + 2
    sym = f" {op} " if op in ("+", "-") else op
    return prec, (ra, sym, rb), na + nb + len(sym)


def _flatten(rope) -> str:
    parts: list[str] = []
    todo = [rope]
    while todo:
        piece = todo.pop()
        if isinstance(piece, str):
            parts.append(piece)
        else:
            todo.extend(reversed(piece))
    return "".join(parts)


def render(expr: Expression) -> str:
    """Canonical text of `expr` that parses back to the same expression."""
    stack: list[tuple] = []
    for item in expr._program:
        kind = item[0]
        if kind == "num":
            text = _num_text(item[1])
            stack.append((None, _ATOM, text, len(text)))
        elif kind in ("var", "const"):
            stack.append((None, _ATOM, item[1], len(item[1])))
        elif kind in ("neg", "call"):
            a = stack.pop()
            stack.append((None, *_compose(item, (a,))))
        else:
            b = stack.pop()
            a = stack.pop()
            stack.append((None, *_compose(item, (a, b))))
    (entry,) = stack
    return _flatten(entry[2])


# -- gradients and the backward pass as data ------------------------------------------


def value_and_grad(expr: Expression, values: Mapping[str, float]) -> tuple[float, dict[str, float]]:
    """The value of `expr` at `values` and its partial derivatives (one backward pass)."""
    root, leaves = expr.build(values)
    root.backward()
    return root.data, {name: leaf.grad for name, leaf in leaves.items()}


def backward_steps(root: Value) -> list[dict]:
    """The backward pass of `root` (after root.backward()), one entry per operation, in
    the order it runs: each node's data and grad, and for each input the local
    derivative and the gradient passed back to it (local * grad)."""
    steps = []
    for node in root.topological_order():
        if not node.children:
            continue
        g = node.grad
        steps.append(
            {
                "node": node.label,
                "op": node.op,
                "data": node.data,
                "grad": g,
                "inputs": [
                    {"node": child.label, "data": child.data, "local": local, "passed": local * g}
                    for child, local in zip(node.children, node.local_grads, strict=True)
                ],
            }
        )
    return steps


def label_graph(root: Value) -> None:
    """Label every unlabelled node below `root` from its op and its inputs' labels (the
    nodes engine.grad builds for a derivative have none)."""
    precedence: dict[Value, int] = {}
    order = root.topological_order()
    for v in reversed(order):  # inputs first
        if v.label:
            precedence[v] = _precedence_of(v)
    for v in reversed(order):
        if v not in precedence:
            v.label, precedence[v] = _node_label(v, precedence)


def _precedence_of(v: Value) -> int:
    """How tightly a labelled node's text binds, from its op (for parentheses)."""
    op = v.op
    if not op:
        return _ATOM if v.data >= 0 else _PREC["neg"]
    if op in ("+", "*", "/"):
        return _PREC[op]
    if op.startswith("**"):
        return _PREC["**"]
    return _ATOM
