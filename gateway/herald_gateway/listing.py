"""Newest-first listings across shards (logs, dead letters) and their filters.

Rows live per shard (one stream or sorted set each); a listing merges them by key, newest
first, refilling a shard only when its buffered rows run out. The cursor is the key of the
last row examined, so the next page starts right below it whatever the filters matched.
No I/O here: the caller passes a `fetch` that reads one batch per shard.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from herald_core.errors import InvalidField
from herald_core.numbers import is_digits

K = TypeVar("K")
T = TypeVar("T")
Key = tuple[Any, ...]
#: Rows strictly below each shard's bound (None: from the newest), newest first.
Fetch = Callable[[dict[int, Key | None], int], Awaitable[dict[int, list[tuple[Key, T]]]]]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    #: Key of the last row examined, when more rows may follow.
    last: Key | None


async def newest_first(
    fetch: Fetch[T],
    bounds: dict[int, Key | None],
    count: int,
    keep: Callable[[T], bool],
    scan_limit: int = 10_000,
) -> Page[T]:
    """Up to `count` kept rows across shards, newest first, examining at most `scan_limit`."""
    batch = min(max(count, 50), 500)
    buffers: dict[int, deque[tuple[Key, T]]] = {s: deque() for s in bounds}
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
            return Page(rows, None)
        shard = max(ready, key=lambda s: buffers[s][0][0])
        last, row = buffers[shard].popleft()
        scanned += 1
        if keep(row):
            rows.append(row)
        if not buffers[shard] and shard in live:
            await refill({shard: last})
    more = any(buffers.values()) or bool(live)
    return Page(rows, last if more else None)


# -- query parameters ------------------------------------------------------------------------

IN_PROGRESS = frozenset({"ACTIVE", "RETRY", "ERROR"})


def values(query: Any, name: str) -> list[str]:
    """Every value of a repeatable key, also split on commas (both forms are in use)."""
    out: list[str] = []
    for raw in query.getlist(name):
        out += [v.strip() for v in raw.split(",") if v.strip()]
    return out


def integer(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not is_digits(raw.removeprefix("-")) or not low <= int(raw) <= high:
        raise InvalidField(name, f"must be an integer from {low} to {high}")
    return int(raw)


def states(query: Any, known: Sequence[str]) -> frozenset[str]:
    wanted: set[str] = set()
    for state in values(query, "state"):
        state = state.upper().replace("CANCELLED", "CANCELED")
        if state == "IN_PROGRESS":
            wanted |= IN_PROGRESS
        elif state in known:
            wanted.add(state)
        else:
            raise InvalidField("state", f"unknown state {state!r}")
    return frozenset(wanted)


#: Query key → how to read it from a message or log view.
_FIELDS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "url": lambda v: [v["url"]],
    "topicName": lambda v: [v.get("topicName", "")],
    "queueName": lambda v: [v.get("queueName", "")],
    "scheduleId": lambda v: [v.get("scheduleId", "")],
    "endpointName": lambda v: [v.get("endpointName", "")],
    "callerIp": lambda v: [v.get("callerIP", "")],
    "label": lambda v: list(v.get("labels", [])),
    "host": lambda v: [urlsplit(v["url"]).netloc],
    "path": lambda v: [urlsplit(v["url"]).path],
    "responseStatus": lambda v: [str(v.get("responseStatus", ""))],
}
_ALIASES = {"callerIP": "callerIp", "topic": "topicName"}


def view_filter(query: Any, time_key: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate over views for the filters of reference §2.4, §2.8 and §2.9.

    Several values of one key match any of them; different keys must all match.
    """
    wanted = {
        _ALIASES.get(name, name): set(values(query, name))
        for name in [*_FIELDS, *_ALIASES]
        if values(query, name)
    }
    ids = set(values(query, "messageIds") + values(query, "messageId"))
    low = integer(query, "fromDate", 0, 0, 2**62)
    high = integer(query, "toDate", 2**62, 0, 2**62)

    def keep(view: dict[str, Any]) -> bool:
        if ids and view["messageId"] not in ids:
            return False
        if not low <= view.get(time_key, 0) <= high:
            return False
        return all(set(_FIELDS[name](view)) & allowed for name, allowed in wanted.items())

    return keep
