"""Duration parsing for headers such as `Upstash-Delay` and for upstream `Retry-After` values.

Pure functions: Go `time.ParseDuration` syntax (plus `d` for days) and HTTP retry hints,
both turned into seconds as a float.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC
from email.utils import parsedate_to_datetime

from herald_core.errors import InvalidField

__all__ = ["parse_duration", "parse_retry_after"]

_MAX_LENGTH = 64

_UNIT_SECONDS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign
    "\u03bcs": 1e-6,  # Greek small letter mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}

# One "<number><unit>" term; the unit is everything up to the next digit or dot, as in Go.
_TERM = re.compile(r"(?P<number>[0-9]*(?:\.[0-9]*)?)(?P<unit>[^0-9.]*)")
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_OWS = " \t"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _check_shape(text: str, field: str) -> None:
    """Refuse the inputs that never get as far as the term scanner."""
    if len(text) > _MAX_LENGTH:
        raise InvalidField(field, f"duration longer than {_MAX_LENGTH} characters")
    if not text or any(char.isspace() for char in text):
        raise InvalidField(field, f"invalid duration {_quote(text)}")
    if text[0] in "+-":
        raise InvalidField(field, f"signed duration {_quote(text)} is not allowed")


def _term_seconds(match: re.Match[str], text: str, field: str) -> float:
    number, unit = match["number"], match["unit"]
    if number in ("", "."):
        raise InvalidField(field, f"invalid duration {_quote(text)}")
    if not unit:
        raise InvalidField(field, f"missing unit in duration {_quote(text)}")
    if unit not in _UNIT_SECONDS:
        raise InvalidField(field, f"unknown unit {_quote(unit)} in duration {_quote(text)}")
    return float(number) * _UNIT_SECONDS[unit]


def parse_duration(text: str, *, field: str) -> float:
    """Parse a Go-style duration such as "1d10h30m" or "300ms" into seconds.

    Raises `InvalidField(field, problem)` for anything Go would refuse, for signed values,
    for inputs longer than 64 characters and for results that are not finite.
    """
    if text == "0":
        return 0.0
    _check_shape(text, field)
    total = 0.0
    position = 0
    while position < len(text):
        match = _TERM.match(text, position)
        assert match is not None  # every part of the pattern may match empty
        total += _term_seconds(match, text, field)
        position = match.end()
    if not math.isfinite(total):
        raise InvalidField(field, f"duration {_quote(text)} is out of range")
    return total


def _date_delay(value: str, now: float) -> float | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # "-0000": UTC with no claim about local time
        moment = moment.replace(tzinfo=UTC)
    try:
        delay = moment.timestamp() - now
    except (ValueError, OverflowError):
        return None
    return max(0.0, delay) if math.isfinite(delay) else None


def parse_retry_after(value: str, now: float) -> float | None:
    """Turn a `Retry-After` / `X-RateLimit-Reset*` value into a delay in seconds from `now`.

    Accepts plain non-negative seconds ("120", "1.5"), an HTTP date (the delay is never
    negative) or a Go duration ("6m5s"). Returns None for anything else; never raises.
    The caller applies any upper bound.
    """
    text = value.strip(_OWS)
    if not text:
        return None
    if _SECONDS.fullmatch(text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    try:
        return parse_duration(text, field="Retry-After")
    except InvalidField:
        pass
    return _date_delay(text, now)
