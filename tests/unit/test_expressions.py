"""Unit tests for herald_core.expressions, the `Upstash-Retry-Delay` language.

Table-driven cases for parsing, evaluation and clamping, plus a seeded fuzz loop.
"""

from __future__ import annotations

import math
import random

import pytest

from herald_core.errors import InvalidField
from herald_core.expressions import (
    MAX_DELAY_MS,
    MAX_DEPTH,
    MAX_EXPRESSION_LENGTH,
    Expression,
    compile_expression,
)


@pytest.mark.parametrize(
    ("source", "retried", "delay"),
    [
        ("1000", 0, 1000.0),
        ("1000 * (1 + retried)", 2, 3000.0),
        ("pow(2, retried) * 1000", 3, 8000.0),
        ("max(1000, pow(2, retried) * 100)", 0, 1000.0),
        ("max(1000, pow(2, retried) * 100)", 5, 3200.0),
        ("7000 * retried", 0, 0.0),
        ("7000 * retried", 2, 14000.0),
        ("-5 + 2*3", 0, 1.0),
        ("+5", 0, 5.0),
        ("--5", 0, 5.0),
        ("- - +5", 0, 5.0),
        ("10 - 2 - 3", 0, 5.0),
        ("100 / 4 / 5", 0, 5.0),
        ("2 + 3 * 4", 0, 14.0),
        ("(2 + 3) * 4", 0, 20.0),
        ("1.5 * 1000", 0, 1500.0),
        (".5 * 1000", 0, 500.0),
        ("1. * 10", 0, 10.0),
        ("\t1000\n*\r2 ", 0, 2000.0),
        ("round(2.5)", 0, 3.0),
        ("round(1.5)", 0, 2.0),
        ("round(0.5)", 0, 1.0),
        ("round(2.4)", 0, 2.0),
        ("round(-2.5)", 0, 0.0),
        ("round(-2.5) * -1", 0, 3.0),
        ("round(0.49999999999999994) * 1000", 0, 0.0),
        ("floor(2.7)", 0, 2.0),
        ("ceil(2.1)", 0, 3.0),
        ("-floor(-2.1)", 0, 3.0),
        ("abs(-7)", 0, 7.0),
        ("sqrt(16)", 0, 4.0),
        ("exp(0)", 0, 1.0),
        ("min(1,2,3)", 0, 1.0),
        ("max(1, 2, 3, retried)", 9, 9.0),
        ("min(retried * 1000, 5000)", 10, 5000.0),
        ("pow(2, 0.5) * pow(2, 0.5)", 0, pytest.approx(2.0)),
        # clamping and float edge cases
        ("exp(1000)", 0, MAX_DELAY_MS),
        ("1/0", 0, MAX_DELAY_MS),
        ("-1/0", 0, 0.0),
        ("0/0", 0, 0.0),
        ("sqrt(-1)", 0, 0.0),
        ("pow(10, 100000)", 0, MAX_DELAY_MS),
        ("pow(-10, 1001)", 0, 0.0),
        ("-pow(-10, 1001)", 0, MAX_DELAY_MS),
        ("pow(-8, 1/3)", 0, 0.0),
        ("pow(0, -1)", 0, 0.0),
        ("floor(exp(1000))", 0, MAX_DELAY_MS),
        ("ceil(1/0)", 0, MAX_DELAY_MS),
        ("round(1/0)", 0, MAX_DELAY_MS),
        ("floor(0/0) + 5", 0, 0.0),
        ("max(0/0, 5)", 0, 0.0),
        ("max(5, 0/0)", 0, 0.0),
        ("exp(1000) - exp(1000)", 0, 0.0),
        ("100000000000", 0, MAX_DELAY_MS),
        ("-1", 0, 0.0),
        ("-0", 0, 0.0),
        ("retried", -5, 0.0),
        ("retried", 10**400, MAX_DELAY_MS),
    ],
)
def test_evaluate(source: str, retried: int, delay: float) -> None:
    result = compile_expression(source).evaluate(retried)
    assert result == delay
    assert not math.copysign(1.0, result) < 0  # never -0.0


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("1 +", "unexpected end of expression, expected a number, a name or a parenthesis"),
        ("(1", 'unexpected end of expression, expected ")"'),
        ("1)", 'unexpected ")" at position 1'),
        ("(1 + 2))", 'unexpected ")" at position 7'),
        ("()", 'unexpected ")" at position 1, expected a number, a name or a parenthesis'),
        ("pow(1)", "pow takes 2 arguments"),
        ("pow(1, 2, 3)", "pow takes 2 arguments"),
        ("exp()", "exp takes 1 argument"),
        ("sqrt(1, 2)", "sqrt takes 1 argument"),
        ("min(1)", "min takes at least 2 arguments"),
        ("max()", "max takes at least 2 arguments"),
        ("max(1,)", 'unexpected ")" at position 6, expected a number, a name or a parenthesis'),
        ("max(1 2)", 'unexpected "2" at position 6, expected "," or ")"'),
        ("foo(1)", 'unknown function "foo"'),
        ("Pow(2, 3)", 'unknown function "Pow"'),
        ("retried(1)", 'unknown function "retried"'),
        ("x * 2", 'unknown name "x"'),
        ("Retried", 'unknown name "Retried"'),
        ("pow", 'function "pow" needs an argument list'),
        ("1 ** 2", 'unexpected "*" at position 3, expected a number, a name or a parenthesis'),
        ("__import__('os')", 'unexpected "\'" at position 11'),
        ("1;2", 'unexpected ";" at position 1'),
        ("2 3", 'unexpected "3" at position 2'),
        ("1e3", 'unexpected "e3" at position 1'),
        ("1.2.3", 'unexpected ".3" at position 3'),
        ("1 % 2", 'unexpected "%" at position 2'),
        ("1 ^ 2", 'unexpected "^" at position 2'),
        ("1,2", 'unexpected "," at position 1'),
        ("1\u00a02", 'unexpected "\u00a0" at position 1'),
        ("\u0661", 'unexpected "\u0661" at position 0'),
        ("1" * 257, "expression longer than 256 characters"),
        ("(" * 40 + "1" + ")" * 40, "expression nested deeper than 32"),
        ("-" * 33 + "1", "expression nested deeper than 32"),
        ("abs(" * 33 + "1" + ")" * 33, "expression nested deeper than 32"),
    ],
)
def test_compile_rejects(source: str, problem: str) -> None:
    with pytest.raises(InvalidField) as caught:
        compile_expression(source)
    assert caught.value.field == "Upstash-Retry-Delay"
    assert caught.value.problem == problem


def test_compile_uses_given_field() -> None:
    with pytest.raises(InvalidField) as caught:
        compile_expression("x", field="retryDelay")
    assert caught.value.field == "retryDelay"


@pytest.mark.parametrize(
    "source",
    [
        "(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH,
        "-" * MAX_DEPTH + "1",
        "abs(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH,
        "1" * MAX_EXPRESSION_LENGTH,
        "+".join(["1"] * (MAX_EXPRESSION_LENGTH // 2)),
    ],
)
def test_limits_are_inclusive(source: str) -> None:
    assert 0.0 <= compile_expression(source).evaluate(0) <= MAX_DELAY_MS


def test_expression_is_immutable_and_keeps_source() -> None:
    expression = compile_expression("pow(2, retried) * 1000")
    assert isinstance(expression, Expression)
    assert expression.source == "pow(2, retried) * 1000"
    assert expression == compile_expression("pow(2, retried) * 1000")
    assert hash(expression) == hash(compile_expression("pow(2, retried) * 1000"))
    with pytest.raises(AttributeError):
        expression.source = "1"  # type: ignore[misc]


_FUZZ_PIECES = [
    *"0123456789.+-*/(), ",
    "retried",
    "pow(",
    "exp(",
    "sqrt(",
    "abs(",
    "floor(",
    "ceil(",
    "round(",
    "min(",
    "max(",
    "1000",
    "1e308",
    "x",
    ";",
]


_FUZZ_FUNCTIONS = {
    "pow": 2,
    "exp": 1,
    "sqrt": 1,
    "abs": 1,
    "floor": 1,
    "ceil": 1,
    "round": 1,
    "min": 3,
    "max": 2,
}


def _random_tree(rng: random.Random, depth: int) -> str:
    """A mostly well-formed expression, so the fuzz also reaches the evaluator."""
    roll = rng.random()
    if depth <= 0 or roll < 0.3:
        return rng.choice(["retried", "0", "1", "2.5", ".5", "1000", "1e308", "99999999999"])
    if roll < 0.6:
        op = rng.choice("+-*/")
        return f"{_random_tree(rng, depth - 1)} {op} {_random_tree(rng, depth - 1)}"
    if roll < 0.7:
        return rng.choice("-+") + _random_tree(rng, depth - 1)
    if roll < 0.8:
        return f"({_random_tree(rng, depth - 1)})"
    name, arity = rng.choice(list(_FUZZ_FUNCTIONS.items()))
    args = ", ".join(_random_tree(rng, depth - 1) for _ in range(arity))
    return f"{name}({args})"


def _mutate(rng: random.Random, source: str) -> str:
    chars = list(source)
    for _ in range(rng.randint(1, 3)):
        position = rng.randint(0, len(chars))
        if rng.random() < 0.5 and position < len(chars):
            del chars[position]
        else:
            chars.insert(position, rng.choice(_FUZZ_PIECES))
    return "".join(chars)


def _random_source(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.25:
        return "".join(rng.choice(_FUZZ_PIECES) for _ in range(rng.randint(0, 24)))
    if roll < 0.5:
        return "".join(rng.choice("0123456789.+-*/(), retdpowx") for _ in range(rng.randint(0, 40)))
    tree = _random_tree(rng, rng.randint(0, 6))
    return tree if roll < 0.75 else _mutate(rng, tree)


def test_fuzz_compile_and_evaluate() -> None:
    rng = random.Random(0)
    compiled = 0
    for _ in range(5000):
        source = _random_source(rng)
        try:
            expression = compile_expression(source)
        except InvalidField:
            continue
        compiled += 1
        for retried in range(6):
            delay = expression.evaluate(retried)
            assert isinstance(delay, float)
            assert math.isfinite(delay)
            assert 0.0 <= delay <= MAX_DELAY_MS
    assert compiled > 1000  # the fuzz must reach the evaluator, not only the error paths
