"""The gateway's in-memory copy of the routing tables and namespace tokens.

A topic publish reads the cache only: no Redis round trip. The cache follows Redis three
ways: the pub/sub channel names each changed table (reloaded after a short debounce, so a
burst of 1,000 Subscription changes costs one read per table); every `refresh` seconds the
version key is compared and everything is re-read when it moved past what the cache has
seen (a missed message, a flushed or failed-over Redis); and a lookup that misses asks Redis
once before answering 404, so a topic created a moment ago is never refused.

The version read before an announced table is re-read becomes the cache's version, so an
announced change is read once, never again by the periodic check; and the operator writes
nothing (no version bump, no announcement) when nothing changed, so a quiet cluster costs
a gateway one GET per `refresh` and no reload (`herald_routing_reloads_total`).
"""

from __future__ import annotations

import asyncio
import logging
import time

from prometheus_client import Counter
from redis import exceptions as redis_errors
from redis.asyncio.client import PubSub

from herald_core.errors import StoreError
from herald_core.reconnect import Backoff
from herald_core.routing import RoutingTable
from herald_core.routing_store import RoutingStore, token_hash
from herald_core.tasks import cancel_and_wait

logger = logging.getLogger(__name__)
_DEBOUNCE = 0.02
#: The longest wait between two tries to resubscribe (s).
_BACKOFF_MAX = 5.0


class RoutingCache:
    def __init__(
        self, store: RoutingStore, *, refresh: float, reloads: Counter | None = None
    ) -> None:
        self._store = store
        self._reloads = reloads
        self._refresh = refresh
        self.tables: dict[str, RoutingTable] = {}
        self._tokens: dict[str, str] = {}
        self._version = -1
        self._task: asyncio.Task[None] | None = None
        self.loaded = asyncio.Event()

    @property
    def store(self) -> RoutingStore:
        return self._store

    def remember(self, topic_id: str, table: RoutingTable | None) -> None:
        """A table this gateway just wrote (None: deleted), so its next publish sees it
        without waiting for the pub/sub announcement."""
        tables = dict(self.tables)
        if table is None:
            tables.pop(topic_id, None)
        else:
            tables[topic_id] = table
        self.tables = tables

    # -- reads on the publish path ------------------------------------------------------------

    def get(self, topic_id: str) -> RoutingTable | None:
        return self.tables.get(topic_id)

    async def lookup(self, topic_id: str) -> RoutingTable | None:
        """The cached table; on a miss, one read from Redis (answers for new topics)."""
        table = self.tables.get(topic_id)
        if table is None:
            table = await self._store.table(topic_id)
            if table is not None:
                self.tables[topic_id] = table
        return table

    async def token_namespace(self, token: str) -> str | None:
        """The namespace of a namespace token; a miss is checked in Redis once."""
        namespace = self._tokens.get(token_hash(token))
        if namespace is None:
            namespace = await self._store.token_namespace(token)
            if namespace is not None:
                self._tokens[token_hash(token)] = namespace
        return namespace

    # -- following Redis ----------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="herald-routing")

    async def aclose(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def reload_all(self) -> None:
        version = await self._store.version()
        self.tables = await self._store.tables()
        self._tokens = await self._store.tokens()
        self._version = version
        self._count("all")
        self.loaded.set()

    async def _reload(self, changed: set[str]) -> None:
        # Read before the tables: a change after this read bumps the version past it, so
        # the periodic check still catches one whose announcement was lost.
        version = await self._store.version()
        if "tokens" in changed:
            self._tokens = await self._store.tokens()
            self._count("tokens")
        ids = sorted(changed - {"tokens"})
        if ids:
            fresh = await self._store.tables(ids)
            tables = dict(self.tables)
            for topic_id in ids:
                if topic_id in fresh:
                    tables[topic_id] = fresh[topic_id]
                else:
                    tables.pop(topic_id, None)
            self.tables = tables
            self._count("table", len(ids))
        self._version = max(self._version, version)

    def _count(self, kind: str, n: int = 1) -> None:
        if self._reloads is not None:
            self._reloads.labels(kind).inc(n)
        logger.debug("routing reload: %s (%d)", kind, n)

    async def _follow(self) -> None:
        backoff = Backoff(_BACKOFF_MAX)
        while True:
            try:
                await self._listen(backoff)
            except (StoreError, redis_errors.RedisError, OSError) as exc:
                delay = backoff.failed()
                logger.warning("routing tables: %s; retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)

    async def _listen(self, backoff: Backoff) -> None:
        pubsub = self._store.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._store.keys.channel)
            await self.reload_all()  # after subscribing, so no change falls in between
            backoff.succeeded()
            checked = time.monotonic()
            while True:
                changed = await self._collect(pubsub, self._refresh)
                if changed:
                    await self._reload(changed)
                if time.monotonic() - checked >= self._refresh:
                    checked = time.monotonic()
                    if await self._store.version() != self._version:
                        await self.reload_all()
        finally:
            await pubsub.aclose()

    async def _collect(self, pubsub: PubSub, timeout: float) -> set[str]:
        """The ids announced within `timeout`, plus those following within the debounce."""
        changed: set[str] = set()
        wait = timeout
        started = time.monotonic()
        while True:
            message = await pubsub.get_message(timeout=wait)
            if message is not None and message.get("type") == "message":
                changed.add(message["data"].decode())
            if message is None or time.monotonic() - started > timeout + 0.25:
                return changed
            wait = _DEBOUNCE
