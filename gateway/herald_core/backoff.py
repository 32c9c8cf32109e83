"""When to try again: the pure retry policy of a failed attempt (reference §4.2)."""

from __future__ import annotations

import math
from functools import lru_cache

from herald_core.expressions import compile_expression

MAX_BACKOFF = 86_400.0
_compiled = lru_cache(maxsize=1024)(compile_expression)


def default_backoff(retried: int) -> float:
    """QStash's default: `min(86400, e^(2.5 n))` seconds, n = retries including this one."""
    exponent = 2.5 * (retried + 1)
    return MAX_BACKOFF if exponent > math.log(MAX_BACKOFF) else math.exp(exponent)


def retry_delay(retried: int, expression: str | None, retry_after: float | None) -> float:
    """Seconds until the next attempt after `retried` retries have been done.

    A destination's `Retry-After` (already parsed, seconds) wins when it is within a day;
    then the message's `Upstash-Retry-Delay` expression (milliseconds); else the default.
    """
    if retry_after is not None and 0 <= retry_after <= MAX_BACKOFF:
        return retry_after
    if expression is not None:
        return _compiled(expression).evaluate(retried) / 1000.0
    return default_backoff(retried)
