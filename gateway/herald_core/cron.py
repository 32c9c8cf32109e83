"""Cron expressions of schedules (reference §2.7): 5 fields, optional `CRON_TZ=<zone> `.

Evaluated in UTC unless a zone is given (daylight-saving changes follow the zone's rules,
as croniter applies them). `minute` is the length of a cron minute in seconds: 60 in
production; tests shrink it (HERALD_CRON_MINUTE) so a per-minute schedule ticks in a
fraction of a second.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from herald_core.errors import InvalidField

_FIELD = "Upstash-Cron"
_MAX_LENGTH = 256
#: 2026-01-01T00:00:00Z: where scaled (test) cron time starts.
_ORIGIN = 1_767_225_600


@dataclass(frozen=True, slots=True)
class Cron:
    source: str
    expression: str
    zone: ZoneInfo | dt.timezone

    def next_after(self, now_ms: int, minute: float = 60.0) -> int:
        """The first tick strictly after `now_ms` (Unix ms)."""
        if minute == 60.0:
            return self._next(now_ms / 1000) * 1000
        # a shorter minute: cron time runs `scale` times faster from a fixed origin
        scale = 60.0 / minute
        virtual = _ORIGIN + (now_ms / 1000 - _ORIGIN) * scale
        return int((_ORIGIN + (self._next(virtual) - _ORIGIN) / scale) * 1000)

    def _next(self, seconds: float) -> int:
        return _next_tick(self.expression, self.zone, int(seconds))


# croniter takes ~1 ms to parse and step an expression; schedules sharing a cron fire at
# the same instants, so one computation serves all of them.
@functools.lru_cache(maxsize=4096)
def _next_tick(expression: str, zone: ZoneInfo | dt.timezone, seconds: int) -> int:
    moment = dt.datetime.fromtimestamp(seconds, tz=zone)
    return int(croniter(expression, moment).get_next(dt.datetime).timestamp())


@functools.lru_cache(maxsize=4096)
def parse_cron(text: str) -> Cron:
    source = text.strip()
    if not source or len(source) > _MAX_LENGTH:
        raise InvalidField(_FIELD, "a cron expression is required")
    zone: ZoneInfo | dt.timezone = dt.UTC
    expression = source
    if source.startswith("CRON_TZ="):
        name, _, expression = source[len("CRON_TZ=") :].partition(" ")
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidField(_FIELD, f"unknown time zone {name!r}") from None
    expression = " ".join(expression.split())
    if len(expression.split(" ")) != 5 or not croniter.is_valid(expression):
        raise InvalidField(_FIELD, f"{expression!r} is not a 5-field cron expression")
    return Cron(source, expression, zone)
