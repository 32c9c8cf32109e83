"""The `Upstash-Retry-Delay` expression language: a tokenizer, a recursive-descent parser
and an evaluator over a small immutable tree. The result is a delay in milliseconds,
computed from `retried` (retries already done) with float math only and clamped to a day.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from herald_core.errors import InvalidField

__all__ = [
    "MAX_DELAY_MS",
    "MAX_DEPTH",
    "MAX_EXPRESSION_LENGTH",
    "Expression",
    "compile_expression",
]

MAX_EXPRESSION_LENGTH = 256
MAX_DEPTH = 32
MAX_DELAY_MS = 86_400_000.0

_VARIABLE = "retried"


# ---------------------------------------------------------------- float-only primitives


def _clamp(value: float) -> float:
    """NaN and negatives (and -0.0) become 0.0, +inf and large values become a day."""
    if not value > 0.0:
        return 0.0
    return min(value, MAX_DELAY_MS)


def _div(left: float, right: float) -> float:
    if right == 0.0:
        if left > 0.0:
            return math.inf
        return -math.inf if left < 0.0 else math.nan
    return left / right


def _pow(base: float, exponent: float) -> float:
    try:
        return math.pow(base, exponent)
    except OverflowError:
        odd = exponent.is_integer() and math.fmod(exponent, 2.0) != 0.0
        return -math.inf if base < 0.0 and odd else math.inf
    except ValueError:  # negative base with a fractional exponent, or 0 ** negative
        return math.nan


def _integral(function: Callable[[float], int], value: float) -> float:
    """floor / ceil that hand infinities and NaN back instead of raising."""
    return float(function(value)) if math.isfinite(value) else value


def _round(value: float) -> float:
    """Round half away from zero, like Go's math.Round; exact for every float."""
    if not math.isfinite(value):
        return value
    whole = float(math.trunc(value))
    if abs(value - whole) >= 0.5:
        whole += math.copysign(1.0, value)
    return whole


def _extreme(pick: Callable[[Sequence[float]], float], values: Sequence[float]) -> float:
    """min / max that propagate NaN whatever its position, like Go's math.Min / math.Max."""
    if any(math.isnan(value) for value in values):
        return math.nan
    return pick(values)


def _sqrt(value: float) -> float:
    return math.sqrt(value) if value >= 0.0 else math.nan


def _exp(value: float) -> float:
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


_Impl: TypeAlias = Callable[[Sequence[float]], float]


@dataclass(frozen=True, slots=True)
class _Function:
    min_args: int
    max_args: int | None  # None: no upper bound
    impl: _Impl

    def arity_problem(self, name: str, count: int) -> str | None:
        if self.max_args is None:
            if count >= self.min_args:
                return None
            return f"{name} takes at least {self.min_args} arguments"
        if count == self.min_args:
            return None
        plural = "argument" if self.min_args == 1 else "arguments"
        return f"{name} takes {self.min_args} {plural}"


_FUNCTIONS: dict[str, _Function] = {
    "pow": _Function(2, 2, lambda args: _pow(args[0], args[1])),
    "exp": _Function(1, 1, lambda args: _exp(args[0])),
    "sqrt": _Function(1, 1, lambda args: _sqrt(args[0])),
    "abs": _Function(1, 1, lambda args: abs(args[0])),
    "floor": _Function(1, 1, lambda args: _integral(math.floor, args[0])),
    "ceil": _Function(1, 1, lambda args: _integral(math.ceil, args[0])),
    "round": _Function(1, 1, lambda args: _round(args[0])),
    "min": _Function(2, None, lambda args: _extreme(min, args)),
    "max": _Function(2, None, lambda args: _extreme(max, args)),
}

_BINARY: dict[str, Callable[[float, float], float]] = {
    "+": lambda left, right: left + right,
    "-": lambda left, right: left - right,
    "*": lambda left, right: left * right,
    "/": _div,
}


# ---------------------------------------------------------------- tree


@dataclass(frozen=True, slots=True)
class _Number:
    value: float

    def compute(self, retried: float) -> float:
        return self.value


@dataclass(frozen=True, slots=True)
class _Retried:
    def compute(self, retried: float) -> float:
        return retried


@dataclass(frozen=True, slots=True)
class _Negate:
    operand: _Node

    def compute(self, retried: float) -> float:
        return -self.operand.compute(retried)


@dataclass(frozen=True, slots=True)
class _Binary:
    op: str
    left: _Node
    right: _Node

    def compute(self, retried: float) -> float:
        return _BINARY[self.op](self.left.compute(retried), self.right.compute(retried))


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: tuple[_Node, ...]

    def compute(self, retried: float) -> float:
        values = [arg.compute(retried) for arg in self.args]
        return _FUNCTIONS[self.name].impl(values)


_Node: TypeAlias = _Number | _Retried | _Negate | _Binary | _Call


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled retry-delay expression; `evaluate` never raises."""

    source: str
    tree: _Node = dataclasses.field(repr=False)

    def evaluate(self, retried: int) -> float:
        """The delay in milliseconds for the retry after `retried` earlier ones, in [0, a day]."""
        try:
            value = self.tree.compute(float(retried))
        except OverflowError:  # only a gigantic `retried` int can get here
            value = math.inf
        except (ZeroDivisionError, ValueError):  # defensive: the primitives avoid these
            value = math.nan
        return _clamp(value)


# ---------------------------------------------------------------- tokenizer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "number", "name", "op" or "end"
    text: str
    position: int


_WHITESPACE = re.compile(r"[ \t\r\n]*")
_TOKEN = re.compile(
    r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>[-+*/(),])"
)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _tokenize(text: str, field: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while True:
        whitespace = _WHITESPACE.match(text, position)
        position = whitespace.end() if whitespace else position
        if position >= len(text):
            tokens.append(_Token("end", "", len(text)))
            return tokens
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise InvalidField(field, f"unexpected {_quote(text[position])} at position {position}")
        tokens.append(_Token(match.lastgroup, match.group(), position))
        position = match.end()


# ---------------------------------------------------------------- parser


class _Parser:
    """Recursive descent; `depth` counts open parentheses, calls and unary operators."""

    def __init__(self, tokens: list[_Token], field: str) -> None:
        self._tokens = tokens
        self._index = 0
        self._field = field
        self._depth = 0

    # -- helpers

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _next(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind != "end":
            self._index += 1
        return token

    def _fail(self, problem: str) -> InvalidField:
        return InvalidField(self._field, problem)

    def _unexpected(self, token: _Token, wanted: str = "") -> InvalidField:
        suffix = f", expected {wanted}" if wanted else ""
        if token.kind == "end":
            return self._fail(f"unexpected end of expression{suffix}")
        return self._fail(f"unexpected {_quote(token.text)} at position {token.position}{suffix}")

    def _expect(self, text: str) -> None:
        token = self._next()
        if token.kind != "op" or token.text != text:
            raise self._unexpected(token, _quote(text))

    def _enter(self) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._fail(f"expression nested deeper than {MAX_DEPTH}")

    def _leave(self) -> None:
        self._depth -= 1

    def _at_op(self, *ops: str) -> bool:
        token = self._peek()
        return token.kind == "op" and token.text in ops

    # -- grammar

    def parse(self) -> _Node:
        tree = self._sum()
        token = self._peek()
        if token.kind != "end":
            raise self._unexpected(token)
        return tree

    def _sum(self) -> _Node:
        tree = self._product()
        while self._at_op("+", "-"):
            op = self._next().text
            tree = _Binary(op, tree, self._product())
        return tree

    def _product(self) -> _Node:
        tree = self._unary()
        while self._at_op("*", "/"):
            op = self._next().text
            tree = _Binary(op, tree, self._unary())
        return tree

    def _unary(self) -> _Node:
        if not self._at_op("+", "-"):
            return self._primary()
        op = self._next().text
        self._enter()
        operand = self._unary()
        self._leave()
        return _Negate(operand) if op == "-" else operand

    def _primary(self) -> _Node:
        token = self._next()
        if token.kind == "number":
            return _Number(float(token.text))
        if token.kind == "name":
            return self._name(token)
        if token.kind == "op" and token.text == "(":
            self._enter()
            tree = self._sum()
            self._expect(")")
            self._leave()
            return tree
        raise self._unexpected(token, "a number, a name or a parenthesis")

    def _name(self, token: _Token) -> _Node:
        if self._at_op("("):
            return self._call(token.text)
        if token.text == _VARIABLE:
            return _Retried()
        if token.text in _FUNCTIONS:
            raise self._fail(f"function {_quote(token.text)} needs an argument list")
        raise self._fail(f"unknown name {_quote(token.text)}")

    def _call(self, name: str) -> _Node:
        function = _FUNCTIONS.get(name)
        if function is None:
            raise self._fail(f"unknown function {_quote(name)}")
        self._expect("(")
        self._enter()
        args = self._arguments()
        self._leave()
        problem = function.arity_problem(name, len(args))
        if problem is not None:
            raise self._fail(problem)
        return _Call(name, args)

    def _arguments(self) -> tuple[_Node, ...]:
        args: list[_Node] = []
        if self._at_op(")"):
            self._next()
            return ()
        while True:
            args.append(self._sum())
            token = self._next()
            if token.kind == "op" and token.text == ")":
                return tuple(args)
            if token.kind != "op" or token.text != ",":
                raise self._unexpected(token, '"," or ")"')


def compile_expression(text: str, *, field: str = "Upstash-Retry-Delay") -> Expression:
    """Parse a retry-delay expression such as `pow(2, retried) * 1000`.

    Raises `InvalidField(field, problem)` for syntax errors, unknown names or functions,
    wrong arity, inputs over 256 characters and nesting deeper than 32 levels.
    Positions in problems are 0-based character offsets into `text`.
    """
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise InvalidField(field, f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    if not text.strip():
        raise InvalidField(field, "empty expression")
    tree = _Parser(_tokenize(text, field), field).parse()
    return Expression(text, tree)
