"""Typed calls of the delivery scripts of one shard: ENQUEUE, CLAIM, SETTLE, RENEW, CANCEL
(herald_core/lua/<name>.lua states each one's KEYS, ARGV and reply)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from herald_core.keys import ShardKeys
from herald_core.scripts.lua import ScriptCall, load

_ENQUEUE = load("enqueue")
_CLAIM = load("claim")
_SETTLE = load("settle")
_RENEW = load("renew")
_CANCEL = load("cancel")


class SettleOutcome(enum.Enum):
    """What an attempt came to, as SETTLE records it (codes documented in settle.lua)."""

    #: Delivered: the message is removed.
    DELIVERED = "A"
    #: Failed, to be retried: arg "<retries done>:<due ms>".
    RETRY = "R"
    #: Failed for good: arg the dead-letter id; the message moves to the DLQ.
    FAILED = "F"
    #: Not attempted (the worker handed it back): arg the due ms; no attempt spent.
    DEFER = "D"


@dataclass(frozen=True, slots=True)
class NewMessageArgs:
    """A new message as the scripts store it (`read_message` in lua/include/messages.lua)."""

    id: str
    metadata: bytes | str
    body: bytes
    timeout_ms: int
    due_ms: int
    #: Whether the CREATED log row carries the body.
    log_body: bool
    #: "<key>\t<parallelism>\t<rate>\t<period ms>", or "" without flow control.
    flow: str
    #: Its queue's name, or "".
    queue: str

    def argv(self) -> tuple[Any, ...]:
        return (self.id, self.metadata, self.body, self.timeout_ms, self.due_ms,
                "1" if self.log_body else "0", self.flow, self.queue)  # fmt: skip


@dataclass(frozen=True, slots=True)
class EnqueueArgs:
    message: NewMessageArgs
    #: Deduplication key ("" = none) and how long it is remembered (ms).
    dedup_key: str
    window_ms: int


@dataclass(frozen=True, slots=True)
class SettleArgs:
    outcome: SettleOutcome
    message_id: str
    #: As `SettleOutcome` says for each outcome.
    arg: str
    #: Event JSON for the log rows.
    event: bytes
    #: Callbacks, stored if the outcome takes effect.
    new: Sequence[NewMessageArgs]


def enqueue(sk: ShardKeys, log_max_rows: int, items: Iterable[EnqueueArgs]) -> ScriptCall:
    """Reply: per message b"" (stored) or the id of the message it duplicates."""
    args: list[Any] = [sk.base, log_max_rows]
    for item in items:
        args += (*item.message.argv(), item.dedup_key, item.window_ms)
    return _ENQUEUE.call((sk.due, sk.log), tuple(args))


def claim(sk: ShardKeys, now_ms: int, limit: int, lease_ms: int, log_max_rows: int) -> ScriptCall:
    """Reply: [next due ms or -1, then id, metadata, body, retries done per task]."""
    keys = (sk.due, sk.lease, sk.log, sk.flow_keys)
    return _CLAIM.call(keys, (now_ms, limit, lease_ms, sk.base, log_max_rows))


def settle(
    sk: ShardKeys,
    log_max_rows: int,
    now_ms: int,
    lease_ms: int,
    handoffs: int,
    outcomes: Iterable[SettleArgs],
) -> ScriptCall:
    """Reply: the tasks handed off, as CLAIM gives them (without the head)."""
    args: list[Any] = [sk.base, log_max_rows, now_ms, lease_ms, handoffs]
    for o in outcomes:
        args += (o.outcome.value, o.message_id, o.arg, o.event, len(o.new))
        for new in o.new:
            args += new.argv()
    return _SETTLE.call((sk.due, sk.lease, sk.log, sk.dlq, sk.flow_keys), tuple(args))


def renew(sk: ShardKeys, until_ms: int, held: Iterable[tuple[str, int]]) -> ScriptCall:
    """`held`: (message id, the lease expiry its holder last set). Reply: the ids renewed."""
    return _RENEW.call((sk.lease,), (until_ms, *(v for pair in held for v in pair)))


def cancel(sk: ShardKeys, log_max_rows: int, now_ms: int, ids: Iterable[str]) -> ScriptCall:
    """Reply: how many of the messages were still stored."""
    return _CANCEL.call((sk.due, sk.lease, sk.log), (sk.base, log_max_rows, now_ms, *ids))
