"""The store's scripts on a real Redis: the key names they write are herald_core.keys' own,
and a Redis that lost its script cache (a restart, a failover) gets them loaded again
transparently, on a plain call as on a pipeline."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from herald_core.ids import dlq_id_of
from herald_core.keys import Keys
from herald_core.models import Message
from herald_core.queues import Queues
from herald_core.redis_client import connect
from herald_core.settings import Settings
from herald_core.store import NewMessage, Settlement, Store, StoreLimits

pytestmark = pytest.mark.integration
NOW = 1_700_000_000_000
KEYS = Keys("herald", 1)  # one shard: every message is in shard 0


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    store = Store(connect(Settings(redis_url=redis_url)), KEYS, StoreLimits(lease_ms=1000))
    yield store
    await store.aclose()


def _message(**fields: object) -> Message:
    return Message(id="", url="http://127.0.0.1:9/x", method="POST",
                   headers={}, max_retries=1, timeout=30, created_at=NOW, not_before=NOW,
                   **fields)  # type: ignore[arg-type]  # fmt: skip


async def test_scripts_write_the_keys_keys_py_names(store: Store) -> None:
    sk = KEYS.shard(0)
    await Queues(store).upsert("jobs", NOW, parallelism=1)
    new = _message(queue_name="jobs", flow_key="fk", flow_parallelism=1)
    enqueued = await store.enqueue(NewMessage(new, b"body", NOW))
    queued = dataclasses.replace(new, id=enqueued.message_id)
    redis = store.redis
    assert await redis.hget(sk.message(queued.id), "q") == b"jobs"
    assert await redis.sismember(sk.queues, "jobs")
    assert await redis.exists(sk.queue_prefix + "jobs")
    assert await redis.sismember(sk.flow_all, "fk")
    assert await redis.hget(sk.flow_prefix + "fk", "n") == b"1"
    [task] = (await store.claim({0: 10}, NOW)).tasks
    assert task.message.id == queued.id
    assert await redis.zscore(sk.lease, queued.id) == NOW + 1000
    event = b'{"error": "boom"}'
    failed = Settlement.failed(queued.id, dlq_id_of(queued.id), event, ())
    await store.settle({0: [failed]}, NOW + 1, {})
    assert await redis.exists(sk.dlq_prefix + dlq_id_of(queued.id))
    assert await redis.hget(sk.flow_prefix + "fk", "failed") == b"1"
    assert await redis.hget(sk.queue_prefix + "jobs", "n") == b"0"
    rows: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(sk.log)  # type: ignore[assignment]
    states = [row[b"s"] for _id, row in rows]
    assert states == [b"CREATED", b"ACTIVE", b"ERROR", b"FAILED"]


async def test_a_flushed_script_cache_is_refilled(store: Store) -> None:
    one = await store.enqueue(NewMessage(_message(), b"", NOW))  # scripts loaded by the first
    await store.redis.script_flush()
    two = await store.enqueue(NewMessage(_message(), b"", NOW))  # a pipeline: NOSCRIPT, reload
    await store.redis.script_flush()
    claimed = (await store.claim({0: 10}, NOW)).tasks  # every command failed: reload, rerun
    first, second = sorted((t.message for t in claimed), key=lambda m: m.id)
    assert {first.id, second.id} == {one.message_id, two.message_id}
    await store.redis.script_flush()
    retry = Settlement.retry(first.id, 1, NOW + 5, b"{}", ())
    await store.settle({0: [retry, Settlement.delivered(second.id, b"{}", ())]}, NOW + 1, {})
    await store.redis.script_flush()
    assert await store.load_signing_keys("current", "next") == ("current", "next")  # plain
    assert await store.redis.hget(KEYS.shard(0).message(first.id), "r") == b"1"
    assert not await store.redis.exists(KEYS.shard(0).message(second.id))
