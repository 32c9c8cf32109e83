"""The invariants a chaos run must keep, checked from what the publisher, the receivers and
Redis recorded (pure: no I/O, so each rule is unit-tested on hand-made records).

- every accepted message (a 2xx with a `messageId`) not cancelled is delivered (answered
  200 by a receiver) at least once; duplicates are counted, not forbidden;
- a `cancel` message whose cancel was acknowledged before it was due is never delivered, and
  a cancel answered 404 for a message never delivered means the message was lost;
- after a `flaky` message's cancel is acknowledged no new attempt starts: an attempt may
  still arrive from a request already in flight, so an attempt numbered past the last one
  seen before the acknowledgement + 1 is a violation;
- the DLQ holds exactly the `dead` messages (the accepted ones all, and of those whose
  publish got no answer, any), and the failure callbacks report exactly the DLQ.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.chaos.load import CANCEL_DELAY, Cancel, Publish
from tests.chaos.receiver import Hit, Report


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    #: The publisher's sequence number (the forwarded `X-Chaos-Seq`), -1 if absent.
    seq: int


@dataclass(slots=True)
class Findings:
    accepted: int = 0
    #: Publishes answered otherwise (503 while Redis was down) or not at all (gateway killed).
    refused: int = 0
    unanswered: int = 0
    #: Accepted messages that had to be delivered, and those that never were.
    must_deliver: int = 0
    lost: list[str] = field(default_factory=list)
    #: What is known of a few lost messages.
    lost_samples: list[str] = field(default_factory=list)
    #: Messages delivered more than once, and the extra deliveries in all.
    duplicated: int = 0
    extra_deliveries: int = 0
    #: A few duplicated messages' attempts: (Upstash-Retried, answer) each, in order.
    duplicate_samples: list[list[tuple[int, str]]] = field(default_factory=list)
    #: Delivered messages whose publish got no 2xx (stored, but the answer was lost).
    unacknowledged_delivered: int = 0
    cancels_acknowledged: int = 0
    cancel_violations: list[str] = field(default_factory=list)
    #: Cancelled `flaky` messages whose in-flight attempt arrived after the acknowledgement.
    in_flight_at_cancel: int = 0
    dead_expected: int = 0
    dead_letters: int = 0
    missing_from_dlq: list[str] = field(default_factory=list)
    unexpected_in_dlq: list[str] = field(default_factory=list)
    callbacks_missing: list[str] = field(default_factory=list)
    callbacks_unexpected: list[str] = field(default_factory=list)
    duplicate_callbacks: int = 0
    #: Per phase the publish was sent in: accepted, lost, duplicated.
    by_phase: dict[str, dict[str, int]] = field(default_factory=dict)

    def violations(self) -> list[str]:
        checks = {
            "lost": self.lost,
            "delivered after cancel": self.cancel_violations,
            "missing from DLQ": self.missing_from_dlq,
            "unexpected in DLQ": self.unexpected_in_dlq,
            "failure callback missing": self.callbacks_missing,
            "unexpected failure callback": self.callbacks_unexpected,
        }
        return [f"{name}: {len(ids)} ({', '.join(ids[:5])})" for name, ids in checks.items() if ids]


def check(
    publishes: Iterable[Publish],
    cancels: dict[str, Cancel],
    hits: Iterable[Hit],
    dead_letters: Iterable[DeadLetter],
    reports: Iterable[Report],
) -> Findings:
    found = Findings()
    publishes = list(publishes)
    by_id = {p.message_id: p for p in publishes if p.message_id is not None}
    attempts: dict[str, list[Hit]] = defaultdict(list)
    for hit in hits:
        if hit.kind != "callback":  # failure callbacks are checked against the DLQ
            attempts[hit.message_id].append(hit)
    delivered = Counter(h.message_id for hs in attempts.values() for h in hs if h.outcome == "ok")

    _count_publishes(found, publishes)
    for publish in publishes:
        phase = found.by_phase.setdefault(publish.phase,
                                          {"accepted": 0, "lost": 0, "duplicated": 0})  # fmt: skip
        if publish.message_id is None:
            continue
        phase["accepted"] += 1
        phase["duplicated"] += delivered[publish.message_id] > 1
        if publish.kind == "dead" or publish.message_id in cancels:
            continue
        found.must_deliver += 1
        if not delivered[publish.message_id]:
            found.lost.append(publish.message_id)
            phase["lost"] += 1
    extra = {i: n - 1 for i, n in delivered.items() if n > 1}
    found.duplicated, found.extra_deliveries = len(extra), sum(extra.values())
    found.duplicate_samples = [
        [(h.retried, h.outcome) for h in attempts[i]] for i in list(extra)[:5]
    ]
    found.unacknowledged_delivered = sum(1 for i in delivered if i not in by_id)

    for cancel in cancels.values():
        _check_cancel(found, cancel, by_id.get(cancel.message_id), attempts[cancel.message_id])
    _check_dead(found, publishes, list(dead_letters), list(reports))
    for message_id in found.lost[:5]:
        sent, withdrawn = by_id.get(message_id), cancels.get(message_id)
        found.lost_samples.append(
            f"{message_id}: {sent.kind if sent else '?'} sent in "
            f"{sent.phase if sent else '?'}, cancel answered "
            f"{withdrawn.status if withdrawn else '-'}, attempts "
            f"{[(h.retried, h.outcome) for h in attempts[message_id]]}"
        )
    return found


def _count_publishes(found: Findings, publishes: list[Publish]) -> None:
    for publish in publishes:
        if publish.message_id is not None:
            found.accepted += 1
        elif publish.status is None:
            found.unanswered += 1
        else:
            found.refused += 1


def _check_cancel(
    found: Findings, cancel: Cancel, publish: Publish | None, hits: list[Hit]
) -> None:
    if cancel.kind == "cancel" and publish is not None and cancel.status == 404:
        # Not found: fine if it was delivered already (the cancel came late), lost if not.
        if not any(h.outcome == "ok" for h in hits):
            found.lost.append(cancel.message_id)
    if cancel.acked is None:
        return
    found.cancels_acknowledged += 1
    if cancel.kind == "cancel":
        if publish is not None and cancel.acked < publish.sent + CANCEL_DELAY and hits:
            found.cancel_violations.append(cancel.message_id)
        return
    before = [h.retried for h in hits if h.at <= cancel.acked]
    after = [h.retried for h in hits if h.at > cancel.acked]
    if after:
        found.in_flight_at_cancel += 1
    if any(r > max(before, default=-1) + 1 for r in after):
        found.cancel_violations.append(cancel.message_id)


def _check_dead(
    found: Findings, publishes: list[Publish], dead: list[DeadLetter], reports: list[Report]
) -> None:
    dead_seqs = {p.seq for p in publishes if p.kind == "dead"}
    expected = {p.message_id for p in publishes if p.kind == "dead" and p.message_id is not None}
    in_dlq = {d.message_id for d in dead}
    found.dead_expected, found.dead_letters = len(expected), len(dead)
    found.missing_from_dlq = sorted(expected - in_dlq)
    found.unexpected_in_dlq = sorted(d.message_id for d in dead if d.seq not in dead_seqs)
    if len(in_dlq) != len(dead):
        found.unexpected_in_dlq.append("a message dead-lettered twice")
    reported = Counter(r.source_id for r in reports)
    found.callbacks_missing = sorted(in_dlq - set(reported))
    found.callbacks_unexpected = sorted(set(reported) - in_dlq)
    found.duplicate_callbacks = sum(n - 1 for n in reported.values())


def recovery(
    publishes: Iterable[Publish],
    hits: Iterable[Hit],
    at: float,
    kinds: tuple[str, ...] = ("normal",),
) -> tuple[int, float]:
    """At time `at` (a fault's end): how many accepted messages of `kinds` were undelivered
    (by default the `normal` ones: the others are dead-lettered, cancelled or not due yet),
    and how long until the last of them was delivered (inf if one never was)."""
    first_ok: dict[str, float] = {}
    for hit in hits:
        if hit.outcome == "ok" and hit.message_id not in first_ok:
            first_ok[hit.message_id] = hit.at
    waiting = [first_ok.get(p.message_id, float("inf")) for p in publishes
               if p.message_id is not None and p.kind in kinds
               and p.answered is not None and p.answered <= at
               and first_ok.get(p.message_id, float("inf")) > at]  # fmt: skip
    return len(waiting), max(waiting, default=at) - at
