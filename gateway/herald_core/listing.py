"""Newest-first listings across shards (logs, dead letters: herald_core.event_log,
herald_core.dead_letters); what a page keeps is the caller's predicate.

Rows live per shard (one stream or sorted set each); a listing merges them by key, newest
first, refilling a shard only when its buffered rows run out. The cursor is the key of the
last row examined, so the next page starts right below it whatever the filters matched.
No I/O here: the caller passes a `fetch` that reads one batch per shard.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from herald_core.digits import is_digits
from herald_core.errors import InvalidField

R = TypeVar("R")
T = TypeVar("T")
Key = tuple[Any, ...]
#: Rows strictly below each shard's bound (None: from the newest), newest first, as read.
Fetch = Callable[[dict[int, Key | None], int], Awaitable[dict[int, list[tuple[Key, R]]]]]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a listing resumes: below this key (which may name a shard). Opaque above the
    store, which hands it out as text in `Page.cursor` and parses it back."""

    key: Key


def read_cursor(raw: str | None, valid_id: Callable[[str], bool]) -> Cursor | None:
    """The cursor of a sorted-set listing (`score:member`, `cursor_text`) a client passed
    back; None for none, InvalidField when this server did not hand it out."""
    if not raw:
        return None
    score, _, member = raw.partition(":")
    if not is_digits(score) or not valid_id(member):
        raise InvalidField("cursor", "not a cursor this server returned")
    return Cursor((int(score), member))


def cursor_text(last: Key | None) -> str | None:
    """The text of a sorted-set listing's next cursor (None: the listing is complete)."""
    return None if last is None else "{}:{}".format(*last)


def score_tops(wanted: dict[int, Key | None]) -> dict[int, str]:
    """Per shard, the highest score a sorted-set listing reads (ZREVRANGEBYSCORE's max)."""
    return {s: "+inf" if b is None else str(b[0]) for s, b in wanted.items()}


def keys_below(members: Sequence[tuple[Any, Any]], bound: Key | None, n: int) -> list[Key]:
    """ZREVRANGEBYSCORE ... WITHSCORES pairs as keys `(score, member)`, strictly below
    `bound` (members sharing its score may come first), at most `n`."""
    keys = [(int(score), m.decode() if isinstance(m, bytes) else str(m)) for m, score in members]
    return [k for k in keys if bound is None or k < bound][:n]


@dataclass(frozen=True, slots=True)
class Merged(Generic[T]):
    rows: list[T]
    #: Key of the last row examined, when more rows may follow.
    last: Key | None


async def newest_first(
    fetch: Fetch[R],
    decode: Callable[[R], T],
    bounds: dict[int, Key | None],
    count: int,
    keep: Callable[[T], bool],
    scan_limit: int = 10_000,
) -> Merged[T]:
    """Up to `count` kept rows across shards, newest first, examining at most `scan_limit`.
    Rows are decoded only when examined (a batch read ahead is mostly never looked at)."""
    batch = min(max(count, 50), 500)
    buffers: dict[int, deque[tuple[Key, R]]] = {s: deque() for s in bounds}
    live = set(bounds)

    async def refill(wanted: dict[int, Key | None]) -> None:
        for shard, rows in (await fetch(wanted, batch)).items():
            buffers[shard].extend(rows)
            if len(rows) < batch:
                live.discard(shard)

    await refill(dict(bounds))
    rows: list[T] = []
    last: Key | None = None
    scanned = 0
    while len(rows) < count and scanned < scan_limit:
        ready = [s for s, buffer in buffers.items() if buffer]
        if not ready:
            return Merged(rows, None)
        shard = max(ready, key=lambda s: buffers[s][0][0])
        last, raw = buffers[shard].popleft()
        row = decode(raw)
        scanned += 1
        if keep(row):
            rows.append(row)
        if not buffers[shard] and shard in live:
            await refill({shard: last})
    more = any(buffers.values()) or bool(live)
    return Merged(rows, last if more else None)
