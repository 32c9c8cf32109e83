"""All Redis access: enqueue, claim, settle, signing keys, backlog.

Callers get `StoreError` for any Redis failure; the gateway maps it to 503 and the worker
backs off and tries again. Scripts run by EVALSHA; after a Redis restart flushed the script
cache they are loaded again transparently.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from herald_core import scripts
from herald_core.batching import GroupCommit
from herald_core.errors import StoreError
from herald_core.keys import Keys
from herald_core.models import Message, Task

T = TypeVar("T")

#: (op, message id, argument) as SETTLE takes them.
Settlement = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class _Script:
    source: str
    sha: str

    @classmethod
    def of(cls, source: str) -> _Script:
        return cls(source, hashlib.sha1(source.encode()).hexdigest())


_ENQUEUE = _Script.of(scripts.ENQUEUE)
_CLAIM = _Script.of(scripts.CLAIM)
_SETTLE = _Script.of(scripts.SETTLE)
_LOAD_KEYS = _Script.of(scripts.LOAD_KEYS)
_ROTATE_KEYS = _Script.of(scripts.ROTATE_KEYS)
_ALL = (_ENQUEUE, _CLAIM, _SETTLE, _LOAD_KEYS, _ROTATE_KEYS)


@dataclass(frozen=True, slots=True)
class _Enqueue:
    shard: int
    message: Message
    body: bytes
    due_ms: int


@dataclass(frozen=True, slots=True)
class ClaimResult:
    tasks: list[Task]
    #: Per claimed shard: the earliest due time (ms) left in it, None when empty.
    next_due: dict[int, int | None]


class Store:
    """Herald's repository over one Redis connection pool."""

    def __init__(self, redis: Redis, keys: Keys, *, lease_margin_ms: int) -> None:
        self.redis = redis
        self.keys = keys
        self._lease_margin_ms = lease_margin_ms
        self._enqueues = GroupCommit(self._enqueue_many)
        self._next_shard = random.randrange(keys.shards)

    @classmethod
    def from_url(cls, url: str, keys: Keys, *, lease_margin_ms: int) -> Store:
        redis = Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=15
        )
        return cls(redis, keys, lease_margin_ms=lease_margin_ms)

    async def aclose(self) -> None:
        await self.redis.aclose()

    async def _guard(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call`; reload scripts once if Redis lost them; map failures to StoreError."""
        try:
            try:
                return await call()
            except redis_errors.NoScriptError:
                await self._load_scripts()
                return await call()
        except redis_errors.RedisError as exc:
            raise _store_error(exc) from exc

    async def _load_scripts(self) -> None:
        for script in _ALL:
            await self.redis.script_load(script.source)

    async def _evalsha(self, script: _Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await self._guard(lambda: self.redis.evalsha(script.sha, len(keys), *keys, *args))

    # -- health ---------------------------------------------------------------------------

    async def ping(self) -> None:
        await self._guard(self.redis.ping)

    # -- messages -------------------------------------------------------------------------

    def pick_shard(self) -> int:
        """The shard for the next publish: one per batch, so a batch is one script call."""
        return self._next_shard

    async def enqueue(self, shard: int, message: Message, body: bytes, due_ms: int) -> None:
        """Store a message and its first delivery task atomically.

        Concurrent calls share round trips (`GroupCommit`); each still gets its own answer.
        """
        await self._enqueues.submit(_Enqueue(shard, message, body, due_ms))

    async def _enqueue_many(self, items: Sequence[_Enqueue]) -> list[BaseException | None]:
        self._next_shard = (self._next_shard + 1) % self.keys.shards
        by_shard: dict[int, list[Any]] = defaultdict(list)
        for item in items:
            message = item.message
            timeout_ms = int(message.timeout * 1000)
            by_shard[item.shard] += (message.id, message.to_json(), item.body, timeout_ms,
                                     item.due_ms)  # fmt: skip

        async def run() -> list[Any]:
            pipe = self.redis.pipeline(transaction=False)
            for shard, args in by_shard.items():
                sk = self.keys.shard(shard)
                pipe.evalsha(_ENQUEUE.sha, 1, sk.due, sk.message_prefix, *args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
            if any(isinstance(r, redis_errors.NoScriptError) for r in replies):
                raise redis_errors.NoScriptError("scripts flushed")  # _guard reloads, reruns
            return replies

        replies = dict(zip(by_shard, await self._guard(run), strict=True))
        return [
            _store_error(replies[i.shard]) if isinstance(replies[i.shard], Exception) else None
            for i in items
        ]

    async def claim(self, limits: dict[int, int], now_ms: int) -> ClaimResult:
        """Claim up to `limits[shard]` due tasks from each shard, in one round trip."""

        async def run() -> list[Any]:
            pipe = self.redis.pipeline(transaction=False)
            for shard, limit in limits.items():
                sk = self.keys.shard(shard)
                args = (now_ms, limit, self._lease_margin_ms, sk.message_prefix)
                pipe.evalsha(_CLAIM.sha, 2, sk.due, sk.lease, *args)
            return await pipe.execute()

        replies = await self._guard(run)
        tasks: list[Task] = []
        next_due: dict[int, int | None] = {}
        for shard, reply in zip(limits, replies, strict=True):
            head = int(reply[0])
            next_due[shard] = None if head < 0 else head
            for i in range(1, len(reply), 4):
                message = Message.from_json(reply[i + 1])
                tasks.append(Task(shard, message, reply[i + 2] or b"", int(reply[i + 3])))
        return ClaimResult(tasks, next_due)

    async def settle(self, batches: dict[int, list[Settlement]]) -> None:
        """Record attempt outcomes (ack, retry, defer) for many tasks in one round trip."""

        async def run() -> None:
            pipe = self.redis.pipeline(transaction=False)
            for shard, ops in batches.items():
                sk = self.keys.shard(shard)
                flat = [part for op in ops for part in op]
                pipe.evalsha(_SETTLE.sha, 2, sk.due, sk.lease, sk.message_prefix, *flat)
            await pipe.execute()

        await self._guard(run)

    async def backlog(self) -> list[tuple[int, int]]:
        """Per shard: (tasks waiting, tasks leased)."""

        async def run() -> list[int]:
            pipe = self.redis.pipeline(transaction=False)
            for sk in self.keys.all_shards():
                pipe.zcard(sk.due)
                pipe.zcard(sk.lease)
            return await pipe.execute()

        counts = await self._guard(run)
        return list(zip(counts[::2], counts[1::2], strict=True))

    async def message_exists(self, shard: int, message_id: str) -> bool:
        key = self.keys.shard(shard).message(message_id)
        return bool(await self._guard(lambda: self.redis.exists(key)))

    # -- signing keys ---------------------------------------------------------------------

    async def load_signing_keys(self, current: str, next_: str) -> tuple[str, str]:
        """Install the configured keys unless rotations of these same keys are stored."""
        seed = hashlib.sha256(f"{current}\0{next_}".encode()).hexdigest()
        reply = await self._evalsha(_LOAD_KEYS, (self.keys.signing_keys,), (seed, current, next_))
        return _pair(reply)

    async def rotate_signing_keys(self, fresh: str) -> tuple[str, str]:
        reply = await self._evalsha(_ROTATE_KEYS, (self.keys.signing_keys,), (fresh,))
        return _pair(reply)

    async def signing_keys(self) -> tuple[str, str] | None:
        key = self.keys.signing_keys
        reply = await self._guard(lambda: self.redis.hmget(key, ["current", "next"]))
        return None if reply[0] is None else _pair(reply)


def _store_error(exc: Exception) -> StoreError:
    return StoreError(f"redis: {exc.__class__.__name__}: {exc}")


def _pair(reply: Iterable[Any]) -> tuple[str, str]:
    current, next_ = (v.decode() if isinstance(v, bytes) else str(v) for v in reply)
    return current, next_
