"""Accepting a validated publish: build the message, store it durably, wake a worker.

Shared by the publish and enqueue routes and by the scheduler, which accepts one message
per schedule tick.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from herald_core.ids import new_message_id
from herald_core.settings import Settings
from herald_core.store import NewMessage, Store
from herald_gateway.publishing import PublishSpec, build_message, choose_shard, dedup_key

#: Told (shard, due ms) of every message stored, so a local worker claims it at once.
Notify = Callable[[int, int], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Accepted:
    message_id: str
    #: True when an earlier message had the same deduplication key (nothing was stored).
    deduplicated: bool


async def accept(
    store: Store,
    settings: Settings,
    spec: PublishSpec,
    body: bytes,
    now_ms: int,
    caller_ip: str | None,
    notify: Notify | None,
    *,
    dedup: str | None = None,
    schedule_id: str | None = None,
) -> Accepted:
    """Store one message for `spec`. `dedup` replaces the publish's own deduplication key."""
    key = dedup_key(spec, body) if dedup is None else dedup
    shard = choose_shard(spec, key, settings.shards, store.pick_shard())
    message = build_message(spec, new_message_id(shard, settings.shards), body, now_ms, caller_ip)
    if schedule_id is not None:
        message = dataclasses.replace(message, schedule_id=schedule_id)
    existing = await store.enqueue(shard, NewMessage(message, body, spec.not_before), key)
    if existing is not None:
        return Accepted(existing, True)
    if notify is not None:
        notify(shard, spec.not_before)
    return Accepted(message.id, False)
