"""The chaos suite at CI size (about 40 s): every invariant of tests.chaos.invariants under
gateway SIGKILLs, Redis restarts (AOF everysec and always), receiver 500s, stalls and cut
connections, at 200 publishes/s through two gateways. `make chaos` runs a longer one.

The invariant rules themselves are unit-tested first on hand-made records, so a broken
check cannot pass a broken run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.driver import Plan, run_blocking
from tests.chaos.invariants import DeadLetter, check, recovery
from tests.chaos.load import CANCEL_DELAY, Cancel, Publish
from tests.chaos.receiver import Hit, Report

T0 = 1_000_000.0


def publish(seq: int, kind: str, message_id: str | None, sent: float = T0) -> Publish:
    status = 200 if message_id else None
    return Publish(seq, kind, "p", sent, sent + 0.01, status, message_id)


def hit(message_id: str, outcome: str = "ok", at: float = T0 + 1, retried: int = 0) -> Hit:
    return Hit(message_id, retried, "ok", 0, outcome, at)


def test_a_message_never_answered_200_is_lost_and_duplicates_are_counted() -> None:
    publishes = [publish(3, "normal", "a"), publish(4, "normal", "b"), publish(5, "normal", None)]
    hits = [hit("a"), hit("a"), hit("b", "error"), hit("b", "stall"), hit("c")]
    found = check(publishes, {}, hits, [], [])
    assert found.lost == ["b"]
    assert (found.duplicated, found.extra_deliveries) == (1, 1)
    assert found.unacknowledged_delivered == 1  # "c": stored, but its publish got no 2xx
    assert found.violations() == ["lost: 1 (b)"]


def test_cancel_rules() -> None:
    publishes = [publish(1, "cancel", "early"), publish(21, "cancel", "gone"),
                 publish(41, "cancel", "late"), publish(2, "flaky", "f")]  # fmt: skip
    cancels = {
        "early": Cancel("early", "cancel", T0 + 0.1, acked=T0 + 0.2, status=200),
        "gone": Cancel("gone", "cancel", T0 + 0.1, status=404),  # 404 before due: lost
        "late": Cancel("late", "cancel", T0 + CANCEL_DELAY + 1, acked=T0 + CANCEL_DELAY + 1.1),
        "f": Cancel("f", "flaky", T0 + 1, acked=T0 + 1.5, status=200),
    }
    hits = [hit("early", at=T0 + 5), hit("late", at=T0 + CANCEL_DELAY),
            hit("f", "error", T0 + 1), hit("f", "error", T0 + 1.6, retried=1)]  # fmt: skip
    found = check(publishes, cancels, hits, [], [])
    assert found.cancel_violations == ["early"]  # cancelled before due, delivered anyway
    assert found.lost == ["gone"]
    assert found.in_flight_at_cancel == 1  # f's attempt 1 was already on its way: allowed
    # ... but attempt 2 can only start after the acknowledgement
    again = check(publishes, cancels, [*hits, hit("f", "ok", T0 + 2, retried=2)], [], [])
    assert again.cancel_violations == ["early", "f"]


def test_dlq_and_failure_callbacks_must_match_the_dead_messages_exactly() -> None:
    publishes = [publish(0, "dead", "d1"), publish(20, "dead", None), publish(40, "dead", "d3"),
                 publish(3, "normal", "n")]  # fmt: skip
    dead = [DeadLetter("d1", 0), DeadLetter("d2", 20), DeadLetter("n", 3)]
    reports = [Report("cb1", "d1", "dlq_1"), Report("cb1b", "d1", "dlq_1"),
               Report("cbx", "x", "dlq_x")]  # fmt: skip
    found = check(publishes, {}, [hit("n")], dead, reports)
    assert found.missing_from_dlq == ["d3"]  # accepted, retries exhausted, not in the DLQ
    assert found.unexpected_in_dlq == ["n"]  # d2's publish was unanswered: allowed
    assert found.callbacks_missing == ["d2", "n"]
    assert found.callbacks_unexpected == ["x"]
    assert found.duplicate_callbacks == 1


def test_recovery_counts_what_was_undelivered_when_the_fault_ended() -> None:
    publishes = [publish(3, "normal", "a"), publish(4, "normal", "b"), publish(5, "normal", "c")]
    hits = [hit("a", at=T0 + 1), hit("b", at=T0 + 3), hit("b", at=T0 + 4)]
    assert recovery(publishes, hits, T0 + 2) == (2, float("inf"))  # c never delivered
    assert recovery(publishes[:2], hits, T0 + 2) == (1, 1.0)


@pytest.mark.chaos
@pytest.mark.timeout(240)
def test_chaos_under_load(tmp_path: Path) -> None:
    result = run_blocking(Plan(), tmp_path)
    print(result.render())  # shown with -s, and in the report of a failure
    assert result.violations() == [], result.render()
    findings = result.findings
    assert findings.must_deliver > 1000 and not findings.lost
    assert findings.dead_letters == findings.dead_expected > 0
    assert findings.cancels_acknowledged > 0
    # zero loss across a Redis SIGKILL with `always`, while there was something to lose
    assert result.findings.by_phase["redis-always"]["lost"] == 0
    assert result.at_risk["redis-always"] > 0
