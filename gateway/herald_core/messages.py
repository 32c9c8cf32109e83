"""Stored messages (`/v2/messages`): read one, select pending ones, cancel, outcomes.

A message id names its shard (herald_core.ids), so callers pass ids and never shards. A
message is "pending" from its publish until it is delivered, failed or cancelled: waiting,
delayed, retrying, in flight, or waiting for a flow-control slot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from herald_core.fields import BODY, META, metadata, stored_message
from herald_core.ids import by_shard, dlq_id_of, shard_of, shard_of_kind
from herald_core.models import Message
from herald_core.records import StoredMessage
from herald_core.store import Store

#: Messages whose metadata one round trip reads while selecting.
_CHUNK = 1000


class Messages:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._shards = store.keys.shards

    def _shard(self, message_id: str) -> int | None:
        return shard_of_kind(message_id, "msg_", self._shards)

    def _by_shard(self, message_ids: Sequence[str]) -> dict[int, list[str]]:
        return by_shard(message_ids, "msg_", self._shards)

    def owns(self, message_id: str) -> bool:
        """Whether `message_id` can be one of Herald's messages at all."""
        return self._shard(message_id) is not None

    async def get(self, message_id: str) -> StoredMessage | None:
        """A pending message and its body; None when gone or never Herald's."""
        shard = self._shard(message_id)
        if shard is None:
            return None
        key, redis = self._store.keys.shard(shard).message(message_id), self._store.redis
        reply: list[Any] = await self._store.guard(lambda: redis.hmget(key, [META, BODY]))
        return stored_message(*reply)

    async def select(
        self,
        keep: Callable[[Message], bool] | None,
        limit: int | None,
        message_ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Ids of pending messages — of `message_ids`, else all — for which `keep` holds
        (None: keep all, reading no metadata; a named id that is gone is then kept too),
        at most `limit`. Reads stop once `limit` are found."""
        candidates = await self._pending() if message_ids is None else self._by_shard(message_ids)
        remaining = limit
        chosen: list[str] = []
        for shard, ids in candidates.items():
            ids = list(dict.fromkeys(ids))
            if keep is not None:
                kept = []
                for at in range(0, len(ids), _CHUNK):
                    metas = await self._metadata(shard, ids[at : at + _CHUNK])
                    kept += [m.id for m in metas if m is not None and keep(m)]
                    if remaining is not None and len(kept) >= remaining:
                        break
                ids = kept
            if remaining is not None:
                ids, remaining = ids[:remaining], remaining - len(ids[:remaining])
            chosen += ids
            if remaining == 0:
                break
        return chosen

    async def cancel(self, message_ids: Sequence[str], now_ms: int) -> int:
        """Cancel messages wherever they wait; returns how many were still there."""
        return await self._store.cancel(self._by_shard(message_ids), now_ms)

    async def outcomes(self, message_ids: Sequence[str]) -> dict[str, str]:
        """Per message: IN_PROGRESS while stored, FAIL once dead-lettered, else SUCCESS
        (delivered, or cancelled, or its dead letter is past retention). Ids that cannot
        be Herald's are left out."""
        found = [(i, shard_of(i, self._shards)) for i in message_ids]
        known = [(i, s) for i, s in found if s is not None]
        shard_keys = self._store.keys.shard

        def fill(pipe: Any) -> None:
            for message_id, shard in known:
                sk = shard_keys(shard)
                pipe.exists(sk.message(message_id))
                pipe.exists(sk.dlq_prefix + dlq_id_of(message_id))

        replies = await self._store.pipelined(fill) if known else []
        return {message_id: "IN_PROGRESS" if replies[2 * n] else
                "FAIL" if replies[2 * n + 1] else "SUCCESS"
                for n, (message_id, _shard) in enumerate(known)}  # fmt: skip

    async def _metadata(self, shard: int, message_ids: Sequence[str]) -> list[Message | None]:
        """The stored metadata of messages of one shard (None where gone)."""
        sk = self._store.keys.shard(shard)

        def fill(pipe: Any) -> None:
            for message_id in message_ids:
                pipe.hget(sk.message(message_id), META)

        replies = await self._store.pipelined(fill) if message_ids else []
        return [metadata(m) for m in replies]

    async def _pending(self) -> dict[int, list[str]]:
        """Ids of every pending message, by shard."""
        all_keys = self._store.keys.all_shards()

        def fill(pipe: Any) -> None:
            for sk in all_keys:
                pipe.zrange(sk.due, 0, -1)
                pipe.zrange(sk.lease, 0, -1)
                pipe.smembers(sk.flow_keys)

        replies = await self._store.pipelined(fill)
        out = {
            shard: [i.decode() for i in replies[3 * shard] + replies[3 * shard + 1]]
            for shard in range(self._shards)
        }
        waitlists = [(shard, key) for shard in out for key in replies[3 * shard + 2]]

        def fill_waitlists(pipe: Any) -> None:
            for shard, key in waitlists:
                pipe.zrange(all_keys[shard].waitlist_prefix.encode() + key, 0, -1)

        if waitlists:
            for (shard, _), ids in zip(waitlists, await self._store.pipelined(fill_waitlists),
                                       strict=True):  # fmt: skip
                out[shard] += [i.decode() for i in ids]
        return out
