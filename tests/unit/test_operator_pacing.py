"""The operator's pacing decisions, pure: capped jittered backoff, conditions kept during a
Redis outage, timers spread over their interval."""

from __future__ import annotations

import random

from herald_operator.pacing import initial_delay, retry_delay, unavailable_conditions

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


def test_unavailable_turns_ready_false_once_and_keeps_the_rest() -> None:
    first = unavailable_conditions([READY, FOUND], "down", 2, "t1")
    assert first[0] == {**READY, "status": "False", "reason": "RedisUnavailable",
                             "message": "down", "observedGeneration": 2,
                             "lastTransitionTime": "t1"}  # fmt: skip
    assert first[1] == FOUND
    # a retry later: the very same conditions (so no status write)
    assert unavailable_conditions(first, "down", 2, "t2") == first
    assert unavailable_conditions([], "down", 1, "t1")[0]["reason"] == "RedisUnavailable"
