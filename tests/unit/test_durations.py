"""Unit tests for herald_core.durations: Go-style durations and Retry-After values.

Table-driven; no network, no clock (every `now` is passed in).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from herald_core import durations
from herald_core.durations import parse_duration, parse_retry_after
from herald_core.errors import InvalidField

FIELD = "Upstash-Delay"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("10s", 10.0),
        ("300ms", 0.3),
        ("1.5h", 5400.0),
        ("2h45m", 9900.0),
        ("1d10h30m", 124200.0),
        ("1d", 86400.0),
        ("1ns", 1e-9),
        ("1us", 1e-6),
        ("1\u00b5s", 1e-6),
        ("1\u03bcs", 1e-6),
        ("1m30s", 90.0),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("1h1h", 7200.0),
        ("001s", 1.0),
        ("9" * 63 + "d", float("9" * 63) * 86400.0),
    ],
)
def test_parse_duration_accepts(text: str, seconds: float) -> None:
    assert parse_duration(text, field=FIELD) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", 'invalid duration ""'),
        (" ", 'invalid duration " "'),
        ("1 s", 'invalid duration "1 s"'),
        (" 1s", 'invalid duration " 1s"'),
        ("1s\n", 'invalid duration "1s\\n"'),
        ("1", 'missing unit in duration "1"'),
        ("1h30", 'missing unit in duration "1h30"'),
        ("1.2.3s", 'missing unit in duration "1.2.3s"'),
        ("5x", 'unknown unit "x" in duration "5x"'),
        ("1S", 'unknown unit "S" in duration "1S"'),
        ("1e3s", 'unknown unit "e" in duration "1e3s"'),
        ("1sec", 'unknown unit "sec" in duration "1sec"'),
        ("-1s", 'signed duration "-1s" is not allowed'),
        ("+1s", 'signed duration "+1s" is not allowed'),
        ("-0", 'signed duration "-0" is not allowed'),
        ("s", 'invalid duration "s"'),
        (".", 'invalid duration "."'),
        (".s", 'invalid duration ".s"'),
        ("1h.m", 'invalid duration "1h.m"'),
        ("1" * 64 + "s", "duration longer than 64 characters"),
    ],
)
def test_parse_duration_rejects(text: str, problem: str) -> None:
    with pytest.raises(InvalidField) as caught:
        parse_duration(text, field=FIELD)
    assert caught.value.field == FIELD
    assert caught.value.problem == problem


def test_parse_duration_rejects_non_finite(monkeypatch: pytest.MonkeyPatch) -> None:
    # Unreachable within 64 characters; lift the cap to prove the guard exists.
    monkeypatch.setattr(durations, "_MAX_LENGTH", 1000)
    with pytest.raises(InvalidField, match="out of range"):
        parse_duration("9" * 400 + "s", field=FIELD)


NOW = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("value", "delay"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (".5", 0.5),
        (" 120\t", 120.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:28:00 -0000", 60.0),
        ("Wed, 21 Oct 2015 09:28:00 +0200", 60.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("Tue, 20 Oct 2015 07:28:00 GMT", 0.0),
        ("6m5s", 365.0),
        ("500ms", 0.5),
        ("1d", 86400.0),
        ("999999", 999999.0),
    ],
)
def test_parse_retry_after_accepts(value: str, delay: float) -> None:
    assert parse_retry_after(value, NOW) == pytest.approx(delay)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "-1",
        "-1.5",
        "+1",
        "-1s",
        "abc",
        "1x",
        "1e3",
        "nan",
        "inf",
        "Infinity",
        "0x10",
        "1,5",
        "9" * 400,
        "Wed, 21 Oct 99999 07:28:00 GMT",
        "Wed, 32 Oct 2015 07:28:00 GMT",
        "Wed, 21 Foo 2015 07:28:00 GMT",
    ],
)
def test_parse_retry_after_rejects(value: str) -> None:
    assert parse_retry_after(value, NOW) is None


def test_parse_retry_after_non_finite_now() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", float("nan")) is None
    assert parse_retry_after("5", float("nan")) == 5.0


def test_parse_retry_after_never_raises() -> None:
    rng = random.Random(0)
    alphabet = "0123456789.,:+- smhdnuµμWedOctGMT"
    for _ in range(3000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 32)))
        delay = parse_retry_after(value, NOW)
        assert delay is None or delay >= 0.0
