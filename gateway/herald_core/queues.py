"""Queues (reference §2.6, §4.4): FIFO delivery with a per-queue parallelism.

A queue lives in one shard (chosen from its name), with all its messages, so the scripts
that store, settle and cancel them keep its counters exact. A message enqueued waits in
the queue's FIFO list; the scripts move the oldest ones to `due` while fewer than
`parallelism` hold a slot, and a message keeps its slot through its retries until it is
delivered, failed or cancelled, and then until its callbacks are too
(herald_core/lua/include/slots.lua, `pump`, `hold_done`). A paused queue accepts messages
but starts none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from herald_core.errors import InvalidField
from herald_core.ids import queue_shard
from herald_core.scripts import queues as scripts
from herald_core.store import Store

_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
#: Largest parallelism a queue may have.
MAX_PARALLELISM = 1000


def parse_name(name: object, field_name: str = "queueName") -> str:
    """A queue name or schedule id (reference §1.5: letters, digits, '-', '_', '.')."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidField(
            field_name, "names are 1 to 128 characters: letters, digits, '-', '_', '.'"
        )
    return name


def parse_parallelism(value: object, field_name: str = "parallelism") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PARALLELISM:
        raise InvalidField(field_name, f"must be an integer from 1 to {MAX_PARALLELISM}")
    return value


@dataclass(frozen=True, slots=True)
class Queue:
    name: str
    parallelism: int
    paused: bool
    #: Messages accepted and not yet delivered, failed or cancelled.
    lag: int
    created_at: int
    updated_at: int

    def view(self) -> dict[str, Any]:
        """The QStash `Queue` object (the Python SDK indexes all six keys)."""
        return {"name": self.name, "parallelism": self.parallelism, "paused": self.paused,
                "lag": self.lag, "createdAt": self.created_at,
                "updatedAt": self.updated_at}  # fmt: skip


class Queues:
    """Queue settings in Redis, beside the messages the store keeps."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def shard(self, name: str) -> int:
        return queue_shard(name, self._store.keys.shards)

    async def upsert(
        self, name: str, now_ms: int, parallelism: int | None = None, paused: bool | None = None
    ) -> None:
        await self._set(name, now_ms, parallelism, paused, create=True)

    async def set_paused(self, name: str, paused: bool, now_ms: int) -> bool:
        """Pause or resume; False when the queue does not exist."""
        return await self._set(name, now_ms, None, paused, create=False)

    async def _set(
        self, name: str, now_ms: int, parallelism: int | None, paused: bool | None, create: bool
    ) -> bool:
        sk = self._store.keys.shard(self.shard(name))
        call = scripts.queue_set(sk, name, now_ms, parallelism=parallelism, paused=paused,
                                 create=create)  # fmt: skip
        return bool(await self._store.run(call))

    async def delete(self, name: str) -> int:
        """Delete a queue; its messages still waiting are cancelled. Returns how many."""
        sk = self._store.keys.shard(self.shard(name))
        call = scripts.queue_delete(sk, name, self._store.limits.log_max_rows)
        return int(await self._store.run(call))

    async def get(self, name: str) -> Queue | None:
        [queue] = await self._read([name])
        return queue

    async def all(self) -> list[Queue]:
        shards = self._store.keys.all_shards()

        def members(pipe: Any) -> None:
            for sk in shards:
                pipe.smembers(sk.queues)

        names = sorted(n.decode() for found in await self._store.pipelined(members)
                       for n in found)  # fmt: skip
        return [q for q in await self._read(names) if q is not None] if names else []

    async def _read(self, names: list[str]) -> list[Queue | None]:
        def fill(pipe: Any) -> None:
            for name in names:
                sk = self._store.keys.shard(self.shard(name))
                pipe.hmget(sk.queue_prefix + name, "p", "paused", "n", "c", "u")

        out: list[Queue | None] = []
        for name, (p, paused, n, c, u) in zip(names, await self._store.pipelined(fill),
                                               strict=True):  # fmt: skip
            if c is None:
                out.append(None)
                continue
            out.append(Queue(name, int(p or 1), paused == b"1", max(0, int(n or 0)), int(c),
                             int(u or c)))  # fmt: skip
        return out
