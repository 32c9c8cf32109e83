"""Delivery health, pure: a Subscription's `Degraded` condition from the counters the
delivery scripts keep (herald_core.delivery_stats), sampled every health interval, and a
Topic's roll-up of its Subscriptions'.

Degraded when, over the last `window`, at least `min_attempts` attempts ended and at least
`failure_ratio` of them failed (message: the last error), or when an attempt has been in
flight for `stall` with none ending (a hung endpoint). It clears as soon as no attempt
failed since the previous sample and the latest outcome is a success (the last delivery is
newer than the last failed attempt), so recovery shows within one or two intervals rather
than when the window forgets the failures, and a flaky endpoint does not flap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from herald_core.delivery_stats import DeliveryStats
from herald_operator.conditions import Want

DEGRADED = "Degraded"
_MESSAGE_MAX = 1024


@dataclass(frozen=True, slots=True)
class Thresholds:
    failure_ratio: float = 0.5
    min_attempts: int = 5
    #: Seconds.
    window: float = 300.0
    stall: float = 600.0


@dataclass(frozen=True, slots=True)
class _Sample:
    at_ms: int
    delivered: int
    failed_attempts: int


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.0f}s" if ms >= 10_000 else f"{ms / 1000:.1f}s"


class HealthMonitor:
    """Samples per subscription (kept in the operator's memo; a restart starts afresh with
    one interval of Unknown) and the latest verdict of each, for the Topic roll-up."""

    def __init__(self, thresholds: Thresholds) -> None:
        self.thresholds = thresholds
        self._samples: dict[Any, deque[_Sample]] = {}
        self._latest: dict[Any, Want] = {}

    def observe(self, key: Any, stats: DeliveryStats, now_ms: int, paused: bool) -> Want:
        samples = self._samples.setdefault(key, deque())
        sample = _Sample(now_ms, stats.delivered, stats.failed_attempts)
        if samples and (sample.delivered < samples[-1].delivered
                        or sample.failed_attempts < samples[-1].failed_attempts):  # fmt: skip
            samples.clear()  # counters went back: Redis was flushed, start over
        previous = samples[-1] if samples else None
        recovered = (previous is not None and previous.failed_attempts == sample.failed_attempts
                     and stats.last_delivered_ms > stats.last_error_ms)  # fmt: skip
        samples.append(sample)
        horizon = now_ms - self.thresholds.window * 1000
        while len(samples) > 2 and samples[1].at_ms <= horizon:
            samples.popleft()  # keep one sample at or before the window's start as baseline
        want = self._verdict(samples, previous is None, recovered, stats, now_ms, paused)
        self._latest[key] = want
        return want

    def latest(self, key: Any) -> Want | None:
        return self._latest.get(key)

    def forget(self, key: Any) -> None:
        self._samples.pop(key, None)
        self._latest.pop(key, None)

    def _verdict(self, samples: deque[_Sample], first: bool, recovered: bool,
                 stats: DeliveryStats, now_ms: int, paused: bool) -> Want:  # fmt: skip
        t = self.thresholds
        if paused:
            return Want(DEGRADED, False, "Paused", "deliveries are paused")
        hung = now_ms - stats.claimed_since_ms if stats.claimed_since_ms else 0
        if stats.backlog > 0 and hung >= t.stall * 1000:
            return Want(DEGRADED, True, "DeliveriesStalled",
                        f"an attempt has been in flight for {_seconds(hung)} with none ending; "
                        f"{stats.backlog} message(s) waiting")  # fmt: skip
        if first:
            return Want(DEGRADED, None, "Measuring", "delivery health not measured yet")
        base, now = samples[0], samples[-1]
        delivered = now.delivered - base.delivered
        failed = now.failed_attempts - base.failed_attempts
        attempts = delivered + failed
        counts = f"{failed} of {attempts} attempt(s) failed in the last {_seconds(t.window * 1000)}"
        if attempts >= t.min_attempts and failed >= t.failure_ratio * attempts and not recovered:
            message = f"{counts}; last error: {stats.last_error}"
            return Want(DEGRADED, True, "FailureRatioHigh", message[:_MESSAGE_MAX])
        if attempts == 0:
            return Want(DEGRADED, False, "NoRecentAttempts",
                        f"no attempt ended in the last {_seconds(t.window * 1000)}")  # fmt: skip
        return Want(DEGRADED, False, "DeliveriesSucceeding", counts)


def topic_health(subscriptions: Mapping[str, Want | None]) -> tuple[Want, int]:
    """A Topic's Degraded condition and how many of its subscriptions are degraded."""
    bad = {name: w for name, w in sorted(subscriptions.items()) if w is not None and w.ok}
    if bad:
        detail = "; ".join(f"{name}: {w.reason}" for name, w in bad.items())
        message = f"{len(bad)} of {len(subscriptions)} subscription(s) degraded ({detail})"
        return Want(DEGRADED, True, "SubscriptionsDegraded", message[:_MESSAGE_MAX]), len(bad)
    if not subscriptions:
        return Want(DEGRADED, False, "NoSubscriptions", "the topic has no subscriptions"), 0
    if any(w is None or w.ok is None for w in subscriptions.values()):
        return Want(DEGRADED, None, "Measuring", "subscriptions not all measured yet"), 0
    return Want(DEGRADED, False, "SubscriptionsHealthy",
                f"{len(subscriptions)} subscription(s), none degraded"), 0  # fmt: skip
