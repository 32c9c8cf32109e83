"""How the operator spreads its work over time and behaves while Redis is unavailable.

- Timers (resyncs, health readings) start at a random point of their interval (`every`),
  so 10,000 objects resync spread over the interval, not in one burst every interval.
- A Redis failure is retried with capped exponential backoff with jitter (`retry_delay`),
  not every few seconds forever.
- While Redis is unavailable, each object's `Ready` turns False once (reason
  `RedisUnavailable`; its other conditions, e.g. `TopicFound`, are kept, and its transition
  time is kept across retries, so a retry writes no status), and the operator posts one
  Warning Event per outage, not one per object and retry (`Outage`).
- Writes of one topic's table are serialised (`topic_lock`), so a whole-topic sync, which
  removes the entries of subscriptions it does not know, never races a subscription's own
  write or removal (herald_core.routing_sync).
"""

from __future__ import annotations

import asyncio
import random
import weakref
from dataclasses import dataclass, field
from typing import Any

import kopf

#: Seconds before the first retry after a Redis failure (then doubling, up to the cap).
RETRY_BASE = 1.0
UNAVAILABLE = "RedisUnavailable"
_rng = random.Random()


def initial_delay(interval: float) -> Any:
    """A kopf `initial_delay` callable: a random point of the first interval."""

    def delay(**_: Any) -> float:
        return _rng.uniform(0, interval)

    return delay


def every(resource: tuple[str, str, str], interval: float, fn: Any, when: Any = None) -> None:
    """Register `fn` as a timer of `resource` (group, version, plural) every `interval`
    seconds, the first at a random point of the first interval (`initial_delay`). Timers are
    registered at start-up, their intervals being settings; kopf's registry is the process's
    and only appends, so this replaces the registration of an earlier start in the same
    process (the control-plane tests start the operator many times): without that, both
    would run, the older with its old interval."""
    kopf.timer(*resource, interval=interval, initial_delay=initial_delay(interval),
               when=when)(fn)  # fmt: skip
    handlers: list[Any] = kopf.get_default_registry()._spawning._handlers
    newest = handlers[-1]
    handlers[:-1] = [h for h in handlers[:-1] if h.id != newest.id]


def retry_delay(retry: int, cap: float, rng: random.Random = _rng) -> float:
    """Seconds before retry number `retry` (0-based): exponential from RETRY_BASE, capped,
    with "equal jitter" (between half and all of it), so retries of many objects spread."""
    ceiling = min(cap, RETRY_BASE * 2.0 ** min(retry, 30))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


class Outage:
    """Whether the operator is in a Redis outage: one Warning Event when one begins, one
    Normal Event when Redis answers again (on the objects that noticed)."""

    def __init__(self) -> None:
        self.down = False

    def failed(self, body: Any, error: Exception) -> None:
        if not self.down:
            self.down = True
            kopf.event(body, type="Warning", reason=UNAVAILABLE,
                       message=f"Redis is unavailable; retrying with backoff: {error}")  # fmt: skip

    def succeeded(self, body: Any) -> None:
        if self.down:
            self.down = False
            kopf.event(body, type="Normal", reason="RedisAvailable", message="Redis answers again")


@dataclass
class Shared:
    """Operator-wide state of the handlers. kopf hands each object a shallow copy of the
    operator's memo, so whatever handlers of different objects share must be one object
    put into the memo at start-up (a key one handler adds stays on its object's copy)."""

    outage: Outage = field(default_factory=Outage)
    locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )
    #: When a throttled operator-wide job (token reconcile, table sweep) last ran.
    last_run: dict[str, float] = field(default_factory=dict)
    #: Background cleanups (herald_operator.sweeps), cancelled when the operator stops.
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def shared(memo: Any) -> Shared:
    """The operator-wide state (created by the start-up handler)."""
    return memo.setdefault("shared", Shared())  # type: ignore[no-any-return]


def topic_lock(memo: Any, namespace: str, topic: str) -> asyncio.Lock:
    """The lock of one topic's table (one per topic while anyone holds or waits on it)."""
    locks = shared(memo).locks
    lock = locks.get((namespace, topic))
    if lock is None:
        lock = locks[(namespace, topic)] = asyncio.Lock()
    return lock


def outage(memo: Any) -> Outage:
    return shared(memo).outage
