"""Status conditions (herald_operator.conditions) and delivery health
(herald_operator.reconcile.health), pure: API conventions, Degraded from sampled counters,
the Topic roll-up and the printer-column summary."""

from __future__ import annotations

import pytest

from herald_core.delivery_stats import DeliveryStats, parse_stats
from herald_operator.conditions import (
    Want,
    changed,
    event_type,
    merge_conditions,
    put_conditions,
    status_changes,
    summary,
)
from herald_operator.reconcile.health import HealthMonitor, Thresholds, topic_health

T = Thresholds(failure_ratio=0.5, min_attempts=3, window=10.0, stall=5.0)


def test_transition_time_moves_only_with_status_and_other_writers_are_kept() -> None:
    first = merge_conditions([], [Want("Ready", True, "Routed", "a")], 1, "t1")
    assert first == [{"type": "Ready", "status": "True", "reason": "Routed", "message": "a",
                      "observedGeneration": 1, "lastTransitionTime": "t1"}]  # fmt: skip
    degraded = merge_conditions(first, [Want("Degraded", None, "Measuring", "m")], 1, "t2",
                                owned=("Degraded",))  # fmt: skip
    assert [c["type"] for c in degraded] == ["Ready", "Degraded"]
    assert degraded[1]["status"] == "Unknown"
    again = merge_conditions(degraded, [Want("Ready", True, "Routed", "b")], 2, "t3",
                             owned=("Ready",))  # fmt: skip
    assert again[0]["lastTransitionTime"] == "t1" and again[0]["observedGeneration"] == 2
    assert again[1] == degraded[1]
    flipped = merge_conditions(again, [Want("Ready", False, "TopicNotFound", "c")], 2, "t4",
                               owned=("Ready", "TopicFound"))  # fmt: skip
    assert flipped[0]["lastTransitionTime"] == "t4"
    assert changed(again, flipped) == [flipped[0]]


def test_reasons_are_camel_case_and_events_follow_polarity() -> None:
    with pytest.raises(ValueError, match="CamelCase"):
        Want("Ready", True, "routes synced", "")
    assert event_type({"type": "Degraded", "status": "True"}) == "Warning"
    assert event_type({"type": "Degraded", "status": "False"}) == "Normal"
    assert event_type({"type": "Ready", "status": "False"}) == "Warning"
    assert event_type({"type": "Ready", "status": "Unknown"}) == "Normal"


def test_status_changes_holds_only_what_differs() -> None:
    current = {"delivered": 3, "conditions": [{"type": "Ready"}]}
    assert status_changes(current, {"delivered": 3, "conditions": [{"type": "Ready"}]}) == {}
    assert status_changes(current, {"delivered": 4, "backlog": 0}) == {"delivered": 4, "backlog": 0}


def stats(delivered: int = 0, errors: int = 0, **kw: int | str) -> DeliveryStats:
    return DeliveryStats(delivered=delivered, failed_attempts=errors, **kw)  # type: ignore[arg-type]


def test_failure_ratio_turns_degraded_and_clears_on_success() -> None:
    m = HealthMonitor(T)
    assert m.observe("s", stats(), 0, False).ok is None  # Unknown until a second sample
    bad = m.observe("s", stats(1, 3, last_error="HTTP 500", last_error_ms=900), 1000, False)
    assert (bad.ok, bad.reason) == (True, "FailureRatioHigh")
    assert "3 of 4 attempt(s) failed" in bad.message and "HTTP 500" in bad.message
    # the latest outcome is a delivery, but an attempt failed in this interval: still bad
    late = stats(3, 4, last_error_ms=900, last_delivered_ms=1500)
    assert m.observe("s", late, 1500, False).ok is True
    # no failure since the previous sample and the latest outcome a delivery: recovered
    good = m.observe("s", late, 2000, False)
    assert (good.ok, good.reason) == (False, "DeliveriesSucceeding")
    assert m.latest("s") == good
    # and stays so while nothing fails, though the window still holds the failures
    assert m.observe("s", stats(3, 4, last_error_ms=900, last_delivered_ms=1500), 3000,
                     False).ok is False  # fmt: skip
    again = stats(3, 6, last_error_ms=3500, last_delivered_ms=1500)
    assert m.observe("s", again, 4000, False).ok is True  # failing again


def test_few_attempts_idle_paused_and_stalled() -> None:
    m = HealthMonitor(T)
    m.observe("s", stats(), 0, False)
    assert m.observe("s", stats(0, 2), 1000, False).ok is False  # under min_attempts
    assert m.observe("s", stats(0, 2), 20_000, False).reason == "NoRecentAttempts"
    assert m.observe("s", stats(0, 9), 21_000, True).reason == "Paused"
    hung = stats(0, 9, backlog=2, claimed_since_ms=20_000)
    assert m.observe("s", hung, 24_000, False).reason != "DeliveriesStalled"
    stalled = m.observe("s", hung, 25_000, False)
    assert (stalled.ok, stalled.reason) == (True, "DeliveriesStalled")


def test_window_forgets_old_failures_and_a_flush_starts_over() -> None:
    m = HealthMonitor(T)
    m.observe("s", stats(0, 0), 0, False)
    assert m.observe("s", stats(0, 5), 1000, False).ok is True
    assert m.observe("s", stats(0, 5), 30_000, False).reason == "NoRecentAttempts"
    assert m.observe("s", stats(0, 0), 31_000, False).ok is None  # counters went back


def test_topic_rollup_and_summary() -> None:
    bad = Want("Degraded", True, "FailureRatioHigh", "x")
    ok = Want("Degraded", False, "DeliveriesSucceeding", "y")
    want, n = topic_health({"a": ok, "b": bad})
    assert (want.ok, want.reason, n) == (True, "SubscriptionsDegraded", 1)
    assert "b: FailureRatioHigh" in want.message
    assert topic_health({"a": ok})[0].reason == "SubscriptionsHealthy"
    assert topic_health({"a": ok, "b": None})[0].ok is None
    assert topic_health({})[0].reason == "NoSubscriptions"
    ready = {"type": "Ready", "status": "True", "reason": "Routed"}
    assert summary([ready, {"type": "Degraded", "status": "True", "reason": "R"}]) == {
        "health": "Degraded", "reason": "R"}  # fmt: skip
    assert summary([{**ready, "status": "False", "reason": "TopicNotFound"}]) == {
        "health": "NotReady", "reason": "TopicNotFound"}  # fmt: skip
    assert summary([ready])["health"] == "Unknown"


def test_parse_stats() -> None:
    raw = [b"3", b"1", b"-2", b"7", b"HTTP 503", b"123", None, b"456"]
    assert parse_stats(raw) == DeliveryStats(3, 1, 0, 7, "HTTP 503", 123, 0, 456)


def test_put_conditions_merges_into_the_freshest_list() -> None:
    """What a writer built from an older snapshot goes into the list as stored now."""
    fresh = [{"type": "Ready", "status": "True", "reason": "Routed", "lastTransitionTime": "t1"},
             {"type": "Degraded", "status": "True", "reason": "FailureRatioHigh"},
             {"type": "SecretsResolved", "status": "True", "reason": "Resolved"}]  # fmt: skip
    ours = merge_conditions([], [Want("Ready", True, "Routed", "m"),
                                 Want("Degraded", None, "Measuring", "")], 2, "t9")  # fmt: skip
    merged = put_conditions(fresh, ours, owned=("Ready", "SecretsResolved", "TopicFound"),
                            if_absent=("Degraded",))  # fmt: skip
    assert [c["type"] for c in merged] == ["Ready", "Degraded"]
    assert merged[0]["lastTransitionTime"] == "t1" and merged[0]["observedGeneration"] == 2
    assert merged[1]["status"] == "True"  # the placeholder does not undo a measurement
    assert put_conditions([], ours, owned=("Ready",), if_absent=("Degraded",))[1]["status"] == (
        "Unknown")  # fmt: skip
