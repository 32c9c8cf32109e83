"""The operator's pacing decisions, pure: capped jittered backoff, conditions kept during a
Redis outage, timers spread over their interval."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import kopf
import pytest

from herald_operator.conditions import Want, merge_conditions
from herald_operator.pacing import every, initial_delay, retry_delay

READY = {"type": "Ready", "status": "True", "reason": "Routed", "message": "m",
         "observedGeneration": 1, "lastTransitionTime": "t0"}  # fmt: skip
FOUND = {"type": "TopicFound", "status": "True", "reason": "TopicFound", "message": "f",
         "observedGeneration": 1, "lastTransitionTime": "t0"}  # fmt: skip


def test_retry_delay_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    for retry, ceiling in ((0, 1), (1, 2), (3, 8), (5, 32), (6, 60), (50, 60), (10_000, 60)):
        delay = retry_delay(retry, 60, rng)
        assert ceiling / 2 <= delay <= ceiling


def test_initial_delays_spread_over_the_interval() -> None:
    delay = initial_delay(60)
    samples = [delay() for _ in range(1000)]
    assert 0 <= min(samples) < 6 and 54 < max(samples) <= 60


@pytest.fixture
def registry() -> Iterator[kopf.OperatorRegistry]:
    before = kopf.get_default_registry()
    fresh = kopf.OperatorRegistry()
    kopf.set_default_registry(fresh)
    yield fresh
    kopf.set_default_registry(before)


async def resync(**_: Any) -> None: ...


async def health(**_: Any) -> None: ...


def test_a_second_start_replaces_its_timers_not_adds_to_them(
    registry: kopf.OperatorRegistry,
) -> None:
    """The operator registers its timers at start-up (their intervals are settings); a
    second start in the same process must not leave the first one's timers running."""
    resource = ("herald.dev", "v1alpha1", "subscriptions")
    every(resource, 60, resync)
    every(resource, 15, health)
    every(resource, 0.5, resync)  # started again, with another interval
    timers = list(registry._spawning.get_all_handlers())
    assert sorted(float(getattr(h, "interval", 0)) for h in timers) == [0.5, 15]


def test_unavailable_turns_ready_false_once_and_keeps_the_rest() -> None:
    """What a Redis outage writes (handlers._store_error): only Ready changes, and a retry
    later produces the very same conditions, so no status write per retry."""
    down = Want("Ready", False, "RedisUnavailable", "down")
    first = merge_conditions([READY, FOUND], [down], 2, "t1", owned=("Ready",))
    [ready] = [c for c in first if c["type"] == "Ready"]
    assert (ready["status"], ready["reason"], ready["lastTransitionTime"]) == ("False",
                                                                               "RedisUnavailable",
                                                                               "t1")  # fmt: skip
    assert FOUND in first
    assert merge_conditions(first, [down], 2, "t2", owned=("Ready",)) == first
