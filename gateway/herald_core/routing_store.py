"""Redis I/O of the routing tables and namespace tokens (layout in herald_core.keys).

Writers: the operator and `herald dev --manifests` (CRD-managed tables, tokens) and the
gateway's URL-group API (API-managed tables). Readers: gateway caches
(`herald_gateway.routes_cache`) and the operator's status counts. Every failure is a
`StoreError`, so the operator retries with backoff instead of reporting a silent success.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from herald_core.ids import shard_for_key
from herald_core.keys import Keys, RoutingKeys
from herald_core.redis_client import RedisClient
from herald_core.routing import (
    RoutingTable,
    SubscriptionRoute,
    TopicRoute,
    decode_subscription,
    decode_topic,
    encode_subscription,
    encode_topic,
)
from herald_core.scripts import flow, routing
from herald_core.scripts.lua import ScriptCall
from herald_core.store import guarded

TOPIC_FIELD = "topic"
_SUB_PREFIX = "s:"


class EntryWrite(enum.IntEnum):
    """What a one-entry write did (false only for NO_TABLE)."""

    NO_TABLE = 0  #: the topic has no table (or the API manages it): nothing written
    UNCHANGED = 1  #: the entry was as asked already: nothing written, no version bump
    WRITTEN = 2  #: written or removed; the version moved and gateways were told


@dataclass(frozen=True, slots=True)
class TableSync:
    """What `sync_table` changed: nothing at all when `version` is 0."""

    version: int
    topic_changed: bool
    #: Names of the subscriptions whose entry was written (new or different).
    written: tuple[str, ...]


def token_hash(token: str) -> str:
    """What is stored for a namespace token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def entry_field(name: str) -> str:
    return _SUB_PREFIX + name


def decode_table(raw: dict[bytes, bytes]) -> RoutingTable | None:
    """A table from HGETALL; None when it has no topic entry (absent or half-deleted)."""
    topic = raw.get(TOPIC_FIELD.encode())
    if topic is None:
        return None
    subs = [decode_subscription(v) for k, v in raw.items() if k.startswith(b"s:")]
    subs.sort(key=lambda s: s.name)
    return RoutingTable(decode_topic(topic), tuple(subs))


class RoutingStore:
    """Routing tables over a shared connection pool."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis = redis
        self._all_keys = keys
        self.keys: RoutingKeys = keys.routing

    async def _guard(self, call: Callable[[], Awaitable[Any]]) -> Any:
        return await guarded(self.redis, call)

    async def _run(self, call: ScriptCall) -> int:
        return int(await self._guard(lambda: call.run(self.redis)))

    # -- writes -----------------------------------------------------------------------------

    async def put_table(
        self,
        topic: TopicRoute,
        subs: Iterable[SubscriptionRoute],
        *,
        replace: bool = True,
        guard: str = "",
        remove: Sequence[str] = (),
    ) -> int:
        """Write a table (by default replacing it whole); -1 when `guard` did not hold."""
        fields: list[routing.Field] = [(TOPIC_FIELD, encode_topic(topic))]
        fields += [(entry_field(sub.name), encode_subscription(sub)) for sub in subs]
        return await self._run(routing.put_table(
            self.keys, topic.id, fields, replace=replace, guard=guard,
            remove=[entry_field(name) for name in remove],
        ))  # fmt: skip

    async def drop_table(self, topic_id: str, *, guard: str = "", owner: str = "") -> int:
        """Delete a table; -1 when `guard` did not hold or another `owner` manages it."""
        return await self._run(routing.drop_table(self.keys, topic_id, guard=guard, owner=owner))

    async def sync_table(self, topic: TopicRoute, subs: Iterable[SubscriptionRoute]) -> TableSync:
        """Make the table hold exactly this topic and these entries, writing only the fields
        that differ (none: no write, no version bump, no announcement)."""
        entries = [(entry_field(sub.name), encode_subscription(sub)) for sub in subs]
        call = routing.sync_table(self.keys, topic.id, encode_topic(topic), entries)
        reply = await self._guard(lambda: call.run(self.redis))
        written = tuple(bytes(f).decode()[len(_SUB_PREFIX) :] for f in reply[2:])
        return TableSync(int(reply[0]), bool(int(reply[1])), written)

    async def put_subscription(self, topic_id: str, sub: SubscriptionRoute) -> EntryWrite:
        """Write one entry unless it is there already; NO_TABLE while the topic has none."""
        call = routing.put_entry(self.keys, topic_id, entry_field(sub.name),
                                 encode_subscription(sub))  # fmt: skip
        return EntryWrite(await self._run(call))

    async def drop_subscription(self, topic_id: str, name: str) -> EntryWrite:
        return EntryWrite(await self._run(routing.put_entry(self.keys, topic_id,
                                                            entry_field(name), "")))  # fmt: skip

    async def sync_tokens(self, owner: str, tokens: Iterable[str]) -> None:
        """Make `owner` (<ns>/<secret>) hold exactly these tokens (stored as hashes)."""
        await self.sync_token_hashes(owner, [token_hash(t) for t in tokens if t])

    async def sync_token_hashes(self, owner: str, hashes: Iterable[str]) -> None:
        """`sync_tokens` for tokens hashed already (`token_hash`)."""
        await self._run(routing.sync_tokens(self.keys, owner, sorted(set(hashes))))

    async def set_paused(self, flow_keys: dict[str, bool], now_ms: int) -> None:
        """Pause or resume subscriptions' flow-control keys; resuming a paused key releases
        what waited (a key in the asked state already is left alone)."""
        shards = self._all_keys.shards

        async def run() -> list[Any]:
            pipe = self.redis.pipeline(transaction=False)
            for key, paused in flow_keys.items():
                sk = self._all_keys.shard(shard_for_key(key, shards))
                flow.flow_pause(sk, key, paused, now_ms).queue(pipe)
            replies: list[Any] = await pipe.execute()
            return replies

        if flow_keys:
            await self._guard(run)

    async def table_ids(self) -> list[str]:
        """The ids of every table (operator- and API-managed)."""
        members: set[bytes] = await self._guard(lambda: self.redis.smembers(self.keys.topics))
        return sorted(m.decode() for m in members)

    async def version(self) -> int:
        raw = await self._guard(lambda: self.redis.get(self.keys.version))
        return int(raw or 0)

    async def raw_topic(self, topic_id: str) -> bytes | None:
        key = self.keys.table(topic_id)
        raw: bytes | None = await self._guard(lambda: self.redis.hget(key, TOPIC_FIELD))
        return raw

    async def table(self, topic_id: str) -> RoutingTable | None:
        key = self.keys.table(topic_id)
        return decode_table(await self._guard(lambda: self.redis.hgetall(key)))

    async def guarded_table(self, topic_id: str) -> tuple[RoutingTable | None, str]:
        """A table and the `guard` that makes a write of it fail if it changed meanwhile."""
        key = self.keys.table(topic_id)
        raw: dict[bytes, bytes] = await self._guard(lambda: self.redis.hgetall(key))
        topic = raw.get(TOPIC_FIELD.encode())
        return decode_table(raw), "-" if topic is None else topic.decode()

    async def tables(self, topic_ids: Sequence[str] | None = None) -> dict[str, RoutingTable]:
        """Several tables (all of them by default) in two round trips."""
        if topic_ids is None:
            members: set[bytes] = await self._guard(lambda: self.redis.smembers(self.keys.topics))
            topic_ids = sorted(m.decode() for m in members)

        async def run() -> list[Any]:
            pipe = self.redis.pipeline(transaction=False)
            for topic_id in topic_ids:
                pipe.hgetall(self.keys.table(topic_id))
            return await pipe.execute()

        replies = await self._guard(run) if topic_ids else []
        tables = {tid: decode_table(raw) for tid, raw in zip(topic_ids, replies, strict=True)}
        return {tid: table for tid, table in tables.items() if table is not None}

    async def tokens(self) -> dict[str, str]:
        """token hash → namespace."""
        raw: dict[bytes, bytes] = await self._guard(lambda: self.redis.hgetall(self.keys.tokens))
        return {k.decode(): v.decode().partition("/")[0] for k, v in raw.items()}

    async def token_owners(self) -> dict[str, set[str]]:
        """owner (<ns>/<secret>) → the token hashes it holds."""
        raw: dict[bytes, bytes] = await self._guard(lambda: self.redis.hgetall(self.keys.tokens))
        owners: dict[str, set[str]] = {}
        for digest, owner in raw.items():
            owners.setdefault(owner.decode(), set()).add(digest.decode())
        return owners

    async def token_namespace(self, token: str) -> str | None:
        key, field = self.keys.tokens, token_hash(token)
        raw: bytes | None = await self._guard(lambda: self.redis.hget(key, field))
        return None if raw is None else raw.decode().partition("/")[0]
