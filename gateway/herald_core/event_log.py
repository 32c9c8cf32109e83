"""The log of state changes (`GET /v2/logs`): pages of `LogEntry`, newest first.

Each shard keeps its rows in one stream; a page merges them (herald_core.listing). Its
cursor is `<ms>-<seq>-<shard>`, the key of the last row examined: rows order by stream id,
then shard, so the next page starts right below it on every shard.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from herald_core.digits import is_digits
from herald_core.errors import InvalidField
from herald_core.fields import Raw, log_entry
from herald_core.ids import shard_of
from herald_core.listing import Cursor, Key, newest_first
from herald_core.records import LogEntry, Page
from herald_core.store import Store


class EventLog:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._shards = store.keys.shards

    def cursor(self, raw: str | None) -> Cursor | None:
        """The cursor a client passed back (None for none); InvalidField if not ours."""
        return parse_cursor(raw, self._shards)

    async def page(
        self,
        cursor: Cursor | None,
        count: int,
        keep: Callable[[LogEntry], bool],
        message_ids: Sequence[str] | None = None,
    ) -> Page[LogEntry]:
        """Up to `count` kept rows below `cursor`, newest first. With `message_ids`, only
        the shards holding those messages are read (the caller still filters by id)."""
        scope = range(self._shards) if message_ids is None else sorted(
            {s for s in (shard_of(i, self._shards) for i in message_ids) if s is not None}
        )  # fmt: skip
        start: Key | None = None if cursor is None else cursor.key
        bounds: dict[int, Key | None] = dict.fromkeys(scope, start)
        merged = await newest_first(self._fetch, _decode, bounds, count, keep)
        last = None if merged.last is None else "-".join(map(str, merged.last))
        return Page(merged.rows, last)

    async def _fetch(self, wanted: dict[int, Key | None], n: int) -> dict[int, list[Any]]:
        """Per shard, up to `n` stream entries below its bound: (key, (entry id, fields))."""
        shard_keys = self._store.keys.shard
        ends = {shard: _end(bound, shard) for shard, bound in wanted.items()}

        def fill(pipe: Any) -> None:
            for shard, end in ends.items():
                pipe.xrevrange(shard_keys(shard).log, end, "-", n)

        replies = await self._store.pipelined(fill)
        out: dict[int, list[Any]] = {}
        for shard, entries in zip(ends, replies, strict=True):
            out[shard] = []
            for entry_id, fields in entries:
                ms, seq = entry_id.split(b"-")
                out[shard].append(((int(ms), int(seq), shard), (entry_id, fields)))
        return out


def _decode(row: tuple[bytes, Raw]) -> LogEntry:
    return log_entry(*row)


def parse_cursor(raw: str | None, shards: int) -> Cursor | None:
    """`<ms>-<seq>-<shard>` as `page` hands it out; InvalidField for anything else."""
    if not raw:
        return None
    parts = raw.split("-")
    if len(parts) != 3 or not all(map(is_digits, parts)) or int(parts[2]) >= shards:
        raise InvalidField("cursor", "not a cursor this server returned")
    return Cursor((int(parts[0]), int(parts[1]), int(parts[2])))


def _end(bound: Key | None, shard: int) -> str:
    """The XREVRANGE end of `shard` for rows ordered below `bound` = (ms, seq, shard)."""
    if bound is None:
        return "+"
    ms, seq, at = bound
    return f"{ms}-{seq}" if shard < at else f"({ms}-{seq}"
