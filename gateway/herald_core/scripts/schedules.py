"""Typed calls of the schedule scripts: SCHEDULE_CLAIM, SCHEDULE_DONE, SCHEDULE_PUT,
SCHEDULE_PAUSE (herald_core/lua/<name>.lua states each one's KEYS, ARGV and reply)."""

from __future__ import annotations

from herald_core.keys import Keys
from herald_core.scripts.lua import ScriptCall, load

_CLAIM = load("schedule_claim")
_DONE = load("schedule_done")
_PUT = load("schedule_put")
_PAUSE = load("schedule_pause")


def schedule_claim(keys: Keys, now_ms: int, lease_ms: int, limit: int) -> ScriptCall:
    """Reply: [next tick left or -1, then id, tick ms, HGETALL of the schedule per tick]."""
    return _CLAIM.call((keys.schedules_due,), (now_ms, lease_ms, limit, keys.schedule_prefix))


def schedule_done(
    keys: Keys,
    schedule_id: str,
    version: str,
    *,
    fired: int | None,
    next_tick: int,
    messages: bytes | None,
    error: str | None,
) -> ScriptCall:
    """Record a tick (`fired` None: skipped; `messages` None: keep the last ones, else
    their ids as JSON). Reply: 1 if recorded, 0 if the schedule changed since the claim."""
    args = (version, schedule_id, "" if fired is None else fired, next_tick,
            "" if messages is None else messages, error or "")  # fmt: skip
    return _DONE.call((keys.schedule_prefix + schedule_id, keys.schedules_due), args)


def schedule_put(
    keys: Keys,
    schedule_id: str,
    definition: bytes,
    body: bytes,
    version: str,
    first_tick: int,
    paused: bool,
) -> ScriptCall:
    """Create, or replace whole, a schedule. Reply: 1."""
    args = (schedule_id, definition, body, version, first_tick, "1" if paused else "0")
    return _PUT.call((keys.schedule_prefix + schedule_id, keys.schedules_due), args)


def schedule_delete(keys: Keys, schedule_id: str) -> ScriptCall:
    """Reply: 1 if it existed, else 0."""
    args = (schedule_id, "", "", "", "", "")
    return _PUT.call((keys.schedule_prefix + schedule_id, keys.schedules_due), args)


def schedule_pause(keys: Keys, schedule_id: str, paused: bool) -> ScriptCall:
    """Reply: 1, or 0 when there is no such schedule."""
    return _PAUSE.call((keys.schedule_prefix + schedule_id,), ("1" if paused else "0",))
