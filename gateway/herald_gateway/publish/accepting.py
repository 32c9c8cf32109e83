"""Accepting staged messages: store them durably in one submission, wake a worker.

The last step of every way in (publish, enqueue, batch, topic fan-out, a schedule's tick):
herald_gateway.publish.staging builds the messages, this stores them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from herald_core.store import Store
from herald_gateway.publish.staging import Staged

#: Told (shard, due ms) of every message stored, so a local worker claims it at once.
Notify = Callable[[int, int], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Accepted:
    message_id: str
    #: True when an earlier message had the same deduplication key (nothing was stored).
    deduplicated: bool


async def accept(store: Store, staged: Sequence[Staged], notify: Notify | None) -> list[Accepted]:
    """Store every staged message, all or none (one submission); per message, its id or
    the id of the earlier message it duplicates."""
    if not staged:
        return []
    existing = await store.enqueue_all(staged)
    accepted = []
    for item, earlier in zip(staged, existing, strict=True):
        accepted.append(Accepted(earlier or item.new.message.id, earlier is not None))
        if earlier is None and notify is not None:
            notify(item.shard, item.new.due_ms)
    return accepted
