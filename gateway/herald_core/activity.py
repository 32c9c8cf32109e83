"""What the console (herald_gateway.api.console) reads besides the API: activity over time,
recent failures by destination, and log rows newer than a cursor (its live tail).

Activity comes from counters the scripts keep as they write log rows (herald_core.scripts,
`tick`): per shard and hour one hash `st:<hour>` of "<state>:<10 s slot>" -> rows, expiring
after 25 h. Counting costs two commands inside scripts that run anyway (no round trip);
reading an hour costs one HGETALL per shard.

The tail reads each shard's log stream past a cursor with one pipelined XRANGE per poll
rather than a blocking XREAD: a multi-key XREAD is refused on Redis Cluster (the shards'
streams live in different slots), and a blocked read would hold a pooled connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from herald_core import fields
from herald_core.credentials import redact_url
from herald_core.models import Message
from herald_core.records import LogEntry
from herald_core.store import Store

#: Width of one counter slot, and of the hour a hash holds.
SLOT_MS = 10_000
HOUR_MS = 3_600_000
#: The states counted (RETRY follows every retried ERROR: not counted again).
COUNTED = ("CREATED", "DELIVERED", "ERROR", "FAILED")

LogRow = tuple[bytes, dict[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class Activity:
    """Counts per state in consecutive buckets of `bucket_ms`, the first starting at `start_ms`."""

    start_ms: int
    bucket_ms: int
    series: dict[str, list[int]]


async def read_activity(store: Store, now_ms: int, window_ms: int, buckets: int) -> Activity:
    """The last `window_ms` of counters, summed over shards into `buckets` buckets."""
    slots_per_bucket = max(1, window_ms // SLOT_MS // buckets)
    last = now_ms // SLOT_MS
    first = last - slots_per_bucket * buckets + 1
    hours = range(first * SLOT_MS // HOUR_MS, last * SLOT_MS // HOUR_MS + 1)

    def fill(pipe: Any) -> None:
        for sk in store.keys.all_shards():
            for hour in hours:
                pipe.hgetall(sk.stats_prefix + str(hour))

    series = {state: [0] * buckets for state in COUNTED}
    for counters in await store.pipelined(fill):
        for name, value in counters.items():
            state, _, slot = name.decode().partition(":")
            if state in series and slot.isdigit() and first <= int(slot) <= last:
                series[state][(int(slot) - first) // slots_per_bucket] += int(value)
    return Activity(first * SLOT_MS, slots_per_bucket * SLOT_MS, series)


@dataclass(slots=True)
class Failing:
    """A destination whose attempts failed recently."""

    destination: str
    errors: int = 0
    dead_lettered: int = 0
    last_error: str = ""
    last_ms: int = 0
    namespace: str | None = None


def destination_of(message: Message) -> tuple[str, str | None]:
    """A readable destination and, for a topic subscription, its namespace."""
    key = message.flow_key or ""
    if key.startswith("sub:"):  # sub:<namespace>/<topic>/<subscription>
        namespace, _, rest = key[4:].partition("/")
        topic, _, name = rest.rpartition("/")
        return f"{namespace}/{topic} → {name}", namespace
    return redact_url(message.url), None


async def recent_failures(store: Store, since_ms: int, per_shard: int = 500) -> list[Failing]:
    """ERROR and FAILED rows since `since_ms` (at most `per_shard` newest rows of each
    shard are looked at), grouped by destination, most errors first."""

    def fill(pipe: Any) -> None:
        for sk in store.keys.all_shards():
            pipe.xrevrange(sk.log, "+", str(since_ms), count=per_shard)

    found: dict[str, Failing] = {}
    for rows in await store.pipelined(fill):
        for entry_id, raw in rows:
            entry = fields.log_entry(entry_id, raw)
            if entry.state not in ("ERROR", "FAILED"):
                continue
            destination, namespace = destination_of(entry.message)
            failing = found.setdefault(destination, Failing(destination, namespace=namespace))
            if entry.state == "FAILED":
                failing.dead_lettered += 1
                continue
            failing.errors += 1
            if entry.time >= failing.last_ms:
                failing.last_ms = entry.time
                failing.last_error = _error_of(entry)
    return sorted(found.values(), key=lambda f: (-f.errors, -f.dead_lettered, f.destination))


def _error_of(entry: LogEntry) -> str:
    attempt = entry.attempt
    if attempt.error:
        return attempt.error[:200]
    return f"HTTP {attempt.status}" if attempt.status else ""


async def log_heads(store: Store) -> dict[int, str]:
    """Each shard's newest log entry id ("0-0" when empty): a tail's starting cursor."""

    def fill(pipe: Any) -> None:
        for sk in store.keys.all_shards():
            pipe.xrevrange(sk.log, "+", "-", count=1)

    heads = await store.pipelined(fill)
    return {shard: rows[0][0].decode() if rows else "0-0" for shard, rows in enumerate(heads)}


async def log_since(store: Store, cursors: dict[int, str], count: int = 200) -> list[LogEntry]:
    """Entries after each shard's cursor, oldest first; advances `cursors`."""

    def fill(pipe: Any) -> None:
        for shard, cursor in cursors.items():
            pipe.xrange(store.keys.shard(shard).log, f"({cursor}", "+", count=count)

    out: list[LogRow] = []
    for shard, rows in zip(cursors, await store.pipelined(fill), strict=True):
        if rows:
            cursors[shard] = rows[-1][0].decode()
        out += rows
    out.sort(key=lambda row: tuple(map(int, row[0].split(b"-"))))
    return [fields.log_entry(entry_id, raw) for entry_id, raw in out]
