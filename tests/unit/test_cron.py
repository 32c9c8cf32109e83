"""Cron expressions of schedules: parsing, zones, and the scaled minute tests use."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from herald_core.cron import parse_cron
from herald_core.errors import InvalidField


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


@pytest.mark.parametrize(
    ("expression", "now", "expected"),
    [
        ("* * * * *", "2026-11-26T10:00:00+00:00", "2026-11-26T10:01:00+00:00"),
        ("* * * * *", "2026-11-26T10:00:30+00:00", "2026-11-26T10:01:00+00:00"),
        ("*/15 * * * *", "2026-11-26T10:07:00+00:00", "2026-11-26T10:15:00+00:00"),
        ("0 4 * * *", "2026-11-26T05:00:00+00:00", "2026-11-27T04:00:00+00:00"),
        ("0 0 1 1 *", "2026-11-26T00:00:00+00:00", "2027-01-01T00:00:00+00:00"),
        ("30 9 * * 1-5", "2026-11-28T12:00:00+00:00", "2026-11-30T09:30:00+00:00"),  # Sat → Mon
        # 04:00 in New York is 09:00 UTC in winter, 08:00 UTC in summer
        ("CRON_TZ=America/New_York 0 4 * * *", "2026-11-26T10:00:00+00:00",
         "2026-11-27T09:00:00+00:00"),
        ("CRON_TZ=America/New_York 0 4 * * *", "2026-07-01T10:00:00+00:00",
         "2026-07-02T08:00:00+00:00"),
    ],
)  # fmt: skip
def test_next_tick(expression: str, now: str, expected: str) -> None:
    assert parse_cron(expression).next_after(ms(now)) == ms(expected)


def test_a_tick_is_strictly_after_now() -> None:
    cron = parse_cron("* * * * *")
    tick = ms("2026-11-26T10:01:00+00:00")
    assert cron.next_after(tick) == tick + 60_000


def test_a_shorter_minute_scales_time() -> None:
    cron = parse_cron("* * * * *")
    start = ms("2026-11-26T10:00:00.250+00:00")
    ticks = [cron.next_after(start, minute=0.5)]
    for _ in range(5):
        ticks.append(cron.next_after(ticks[-1], minute=0.5))
    assert {b - a for a, b in itertools.pairwise(ticks)} == {500}
    assert 0 < ticks[0] - start <= 500


@pytest.mark.parametrize(
    "text",
    ["", "* * * *", "* * * * * *", "61 * * * *", "* 24 * * *", "CRON_TZ=Mars/Base * * * * *",
     "CRON_TZ= * * * * *", "every minute", "x" * 300],
)  # fmt: skip
def test_bad_expressions_name_the_header(text: str) -> None:
    with pytest.raises(InvalidField, match="Upstash-Cron"):
        parse_cron(text)
