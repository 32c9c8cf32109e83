"""Dead letters (`/v2/dlq`): read, list newest failure first, delete, retry as new messages.

A dead letter's id (`dlq_` + its message id's body) names its shard (herald_core.ids), so
callers pass ids and never shards. Each shard indexes its dead letters by failure time (a
sorted set); a page merges them (herald_core.listing) and its cursor is
`<failed at ms>:<dlq id>`, the key of the last dead letter examined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from herald_core.fields import Raw, dead_letter
from herald_core.ids import by_shard, new_message_id, shard_of_kind
from herald_core.listing import (
    Cursor,
    Key,
    cursor_text,
    keys_below,
    newest_first,
    read_cursor,
    score_tops,
)
from herald_core.models import Message
from herald_core.records import DeadLetter, Page
from herald_core.store import NewMessage, Store

#: Builds the new message of a retry from the dead one and the new message's id.
Redelivery = Callable[[Message, str], Message]
_Row = tuple[str, Raw]


class DeadLetters:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._shards = store.keys.shards

    def _shard(self, dlq_id: str) -> int | None:
        return shard_of_kind(dlq_id, "dlq_", self._shards)

    def _by_shard(self, dlq_ids: Sequence[str]) -> dict[int, list[str]]:
        return by_shard(dlq_ids, "dlq_", self._shards)

    async def _read(self, shard: int, dlq_ids: Sequence[str]) -> list[Raw | None]:
        """The hashes of dead letters of one shard (None where gone), in one round trip."""
        prefix = self._store.keys.shard(shard).dlq_prefix

        def fill(pipe: Any) -> None:
            for dlq_id in dlq_ids:
                pipe.hgetall(prefix + dlq_id)

        replies = await self._store.pipelined(fill) if dlq_ids else []
        return [entry or None for entry in replies]

    async def get(self, dlq_id: str) -> DeadLetter | None:
        shard = self._shard(dlq_id)
        if shard is None:
            return None
        [raw] = await self._read(shard, [dlq_id])
        return None if raw is None else dead_letter(dlq_id, raw)

    async def named(
        self, dlq_ids: Sequence[str], keep: Callable[[DeadLetter], bool]
    ) -> list[DeadLetter]:
        """The dead letters of `dlq_ids` that still exist and are kept (each once)."""
        found: list[DeadLetter] = []
        for shard, ids in self._by_shard(list(dict.fromkeys(dlq_ids))).items():
            raws = await self._read(shard, ids)
            found += [dead_letter(i, r) for i, r in zip(ids, raws, strict=True) if r is not None]
        return [entry for entry in found if keep(entry)]

    def cursor(self, raw: str | None) -> Cursor | None:
        """The cursor a client passed back (None for none); InvalidField if not ours."""
        return read_cursor(raw, lambda dlq_id: dlq_id.startswith("dlq_"))

    async def page(
        self, cursor: Cursor | None, count: int, keep: Callable[[DeadLetter], bool]
    ) -> Page[DeadLetter]:
        """Up to `count` kept dead letters, newest failure first, below `cursor`."""
        start: Key | None = None if cursor is None else cursor.key
        bounds: dict[int, Key | None] = dict.fromkeys(range(self._shards), start)
        merged = await newest_first(self._fetch, _decode, bounds, count, keep)
        return Page(merged.rows, cursor_text(merged.last))

    async def _fetch(self, wanted: dict[int, Key | None], n: int) -> dict[int, list[Any]]:
        """Per shard, up to `n` dead letters below its bound: (key, (dlq id, hash))."""
        shard_keys = self._store.keys.shard
        tops = score_tops(wanted)

        def fill(pipe: Any) -> None:
            for shard, top in tops.items():
                pipe.zrevrangebyscore(shard_keys(shard).dlq, top, "-inf", 0, n + 1000, True)

        out: dict[int, list[Any]] = {}
        for shard, members in zip(tops, await self._store.pipelined(fill), strict=True):
            keys = keys_below(members, wanted[shard], n)
            raws = await self._read(shard, [k[1] for k in keys])
            out[shard] = [(k, (k[1], r)) for k, r in zip(keys, raws, strict=True) if r]
        return out

    async def delete(self, dlq_ids: Sequence[str]) -> int:
        """Delete these dead letters; returns how many were still there."""
        return await self._store.delete_dead_letters(self._by_shard(dlq_ids))

    async def retry(self, dlq_id: str, build: Redelivery) -> str | None:
        """Store a dead letter again as a new message (`build` makes it from the dead one;
        the stored body is reused) in place of the dead letter. Returns the new message's
        id, or None when the dead letter is gone."""
        shard = self._shard(dlq_id)
        if shard is None:
            return None
        [raw] = await self._read(shard, [dlq_id])
        if raw is None:
            return None
        message = build(dead_letter(dlq_id, raw).message, new_message_id(shard, self._shards))
        new = NewMessage(message, b"", message.not_before)  # the script reuses the body
        if not await self._store.retry_dead_letter(shard, dlq_id, new):
            return None
        return message.id


def _decode(row: _Row) -> DeadLetter:
    return dead_letter(*row)
