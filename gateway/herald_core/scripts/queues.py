"""Typed calls of the queue scripts: QUEUE_SET, QUEUE_DELETE
(herald_core/lua/<name>.lua states each one's KEYS, ARGV and reply)."""

from __future__ import annotations

from herald_core.keys import ShardKeys
from herald_core.scripts.lua import ScriptCall, load

_QUEUE_SET = load("queue_set")
_QUEUE_DELETE = load("queue_delete")


def queue_set(
    sk: ShardKeys,
    name: str,
    now_ms: int,
    *,
    parallelism: int | None,
    paused: bool | None,
    create: bool,
) -> ScriptCall:
    """Set what is given (None: keep). Reply: 1, or 0 when missing and not created."""
    args = (sk.base, name, "" if parallelism is None else parallelism,
            "" if paused is None else "1" if paused else "0", now_ms,
            "1" if create else "0")  # fmt: skip
    return _QUEUE_SET.call((sk.due,), args)


def queue_delete(sk: ShardKeys, name: str, log_max_rows: int) -> ScriptCall:
    """Reply: how many waiting messages were cancelled."""
    return _QUEUE_DELETE.call((sk.log,), (sk.base, name, log_max_rows))
