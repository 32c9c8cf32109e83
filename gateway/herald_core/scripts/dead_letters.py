"""Typed calls of the dead-letter scripts of one shard: DLQ_RETRY, DLQ_DELETE, JANITOR
(herald_core/lua/<name>.lua states each one's KEYS, ARGV and reply)."""

from __future__ import annotations

from collections.abc import Iterable

from herald_core.keys import ShardKeys
from herald_core.scripts.lua import ScriptCall, load
from herald_core.scripts.messages import NewMessageArgs

_DLQ_RETRY = load("dlq_retry")
_DLQ_DELETE = load("dlq_delete")
_JANITOR = load("janitor")


def dlq_retry(sk: ShardKeys, log_max_rows: int, dlq_id: str, message: NewMessageArgs) -> ScriptCall:
    """`message` takes the dead letter's place and body. Reply: 1, or 0 if it is gone."""
    args = (sk.base, log_max_rows, dlq_id, *message.argv())
    return _DLQ_RETRY.call((sk.due, sk.log, sk.dlq), args)


def dlq_delete(sk: ShardKeys, dlq_ids: Iterable[str]) -> ScriptCall:
    """Reply: how many existed."""
    return _DLQ_DELETE.call((sk.dlq,), (sk.dlq_prefix, *dlq_ids))


def janitor(sk: ShardKeys, log_floor_ms: int, dlq_floor_ms: int) -> ScriptCall:
    """Drop log rows and dead letters older than the floors. Reply: dead letters dropped."""
    return _JANITOR.call((sk.log, sk.dlq), (log_floor_ms, dlq_floor_ms, sk.dlq_prefix))
