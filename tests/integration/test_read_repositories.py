"""The store's read side in a real Redis: messages, the event log and dead letters come
back as typed records from ids alone, and listings page across shards with opaque cursors."""

from __future__ import annotations

import base64
import dataclasses
import itertools
from collections.abc import AsyncIterator

import orjson
import pytest
from redis.asyncio import Redis

from herald_core.claims import WorkHint
from herald_core.dead_letters import DeadLetters
from herald_core.errors import InvalidField
from herald_core.event_log import EventLog
from herald_core.ids import dlq_id_of, queue_shard, shard_for_key, shard_of
from herald_core.keys import Keys
from herald_core.messages import Messages
from herald_core.models import Message
from herald_core.records import Attempt, LogEntry
from herald_core.store import Enqueued, NewMessage, Settlement, Store, StoreLimits

pytestmark = pytest.mark.integration

SHARDS = 4
NOW = 1_700_000_000_000


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    store = Store(Redis.from_url(redis_url), Keys("herald", SHARDS), StoreLimits())
    yield store
    await store.aclose()


def _shard(message_id: str) -> int:
    shard = shard_of(message_id, SHARDS)
    assert shard is not None
    return shard


_keys = (f"key-{n}" for n in itertools.count())


async def _publish(store: Store, shard: int, url: str = "http://a/hook", due: int = NOW) -> str:
    """Store a message in `shard` (the store places it by its deduplication key); its id."""
    dedup_key = next(key for key in _keys if shard_for_key(key, SHARDS) == shard)
    message = Message(id="", url=url, method="POST", headers={"X-A": "1"}, max_retries=0,
                      timeout=30.0, created_at=NOW, not_before=due)  # fmt: skip
    enqueued = await store.enqueue(NewMessage(message, b"body of " + url.encode(), due), dedup_key)
    assert not enqueued.deduplicated and _shard(enqueued.message_id) == shard
    return enqueued.message_id


async def _fail(store: Store, message_id: str, event: dict[str, object]) -> str:
    """Claim the message and fail it for good, as a worker does; the dead letter's id."""
    shard = _shard(message_id)
    claimed = await store.claim({shard: 10}, NOW + 1)
    assert message_id in {task.message.id for task in claimed.tasks}
    dlq_id = dlq_id_of(message_id)
    settlement = Settlement.failed(message_id, dlq_id, orjson.dumps(event), ())
    await store.settle({shard: [settlement]}, NOW + 2, {})
    return dlq_id


async def test_messages_are_read_selected_and_cancelled_by_id(store: Store) -> None:
    messages = Messages(store)
    ids = [await _publish(store, shard, f"http://a/{shard}") for shard in range(SHARDS)]
    later = await _publish(store, 1, "http://b/later", due=NOW + 3_600_000)

    found = await messages.get(ids[2])
    assert found is not None
    assert (found.message.id, found.message.url) == (ids[2], "http://a/2")
    assert found.body == b"body of http://a/2"
    assert await messages.get("msg_" + "0" * 26) is None  # Herald's shape, never stored
    assert await messages.get(dlq_id_of(ids[0])) is None  # a dead letter's id is not a message
    assert not messages.owns("nope") and messages.owns(ids[0])

    assert sorted(await messages.select(None, None)) == sorted([*ids, later])
    on_b = await messages.select(lambda m: m.url.startswith("http://b/"), None)
    assert on_b == [later]
    assert len(await messages.select(lambda m: True, 2)) == 2
    named = [ids[3], ids[3], "junk", ids[0]]  # repeated and foreign ids: each kept once
    assert sorted(await messages.select(None, None, named)) == sorted([ids[0], ids[3]])

    assert await messages.outcomes([ids[0], "junk"]) == {ids[0]: "IN_PROGRESS"}
    assert await messages.cancel([ids[0], ids[3], "junk"], NOW + 5) == 2
    assert await messages.cancel([ids[0]], NOW + 6) == 0  # gone already
    assert await messages.get(ids[0]) is None
    assert await messages.outcomes([ids[0]]) == {ids[0]: "SUCCESS"}


async def test_the_event_log_pages_every_shard_newest_first(store: Store) -> None:
    log = EventLog(store)
    ids = [await _publish(store, shard % SHARDS, f"http://a/{shard}") for shard in range(7)]
    await Messages(store).cancel([ids[5]], NOW + 10)

    everything = await log.page(None, 100, lambda entry: True)
    assert everything.cursor is None
    rows = everything.rows
    cancelled = [e.state for e in rows if e.message.id == ids[5]]
    assert cancelled == ["CANCELED", "CANCEL_REQUESTED", "CREATED"]
    created = [e for e in rows if e.state == "CREATED"]
    assert sorted(e.message.id for e in created) == sorted(ids)
    first = next(e for e in created if e.message.id == ids[0])
    assert isinstance(first, LogEntry) and first.body == b"body of http://a/0"
    assert (first.retried, first.next_delivery, first.attempt) == (0, None, Attempt())
    times = [e.time for e in rows]
    assert times == sorted(times, reverse=True)

    # page by page, two at a time: the same rows, each once, in the same order
    paged: list[LogEntry] = []
    cursor = None
    while True:
        page = await log.page(log.cursor(cursor), 2, lambda entry: True)
        paged += page.rows
        if page.cursor is None:
            break
        cursor = page.cursor
    assert paged == rows

    only = await log.page(None, 100, lambda e: e.message.id == ids[1], message_ids=[ids[1]])
    assert [e.message.id for e in only.rows] == [ids[1]]
    for bad in ("x", "1-2", f"1-2-{SHARDS}", "1-2-a"):
        with pytest.raises(InvalidField):
            log.cursor(bad)


async def test_dead_letters_are_read_listed_retried_and_deleted(store: Store) -> None:
    dead = DeadLetters(store)
    ids = [await _publish(store, shard, f"http://a/{shard}") for shard in range(SHARDS)]
    response = {"status": 500, "headers": {"X-R": ["1"]}, "body": base64.b64encode(b"no").decode(),
                "error": "HTTP 500"}  # fmt: skip
    dlq_ids = [await _fail(store, message_id, response) for message_id in ids]
    failed = await EventLog(store).page(None, 100, lambda e: e.state == "FAILED")
    expected = Attempt("HTTP 500", 500, {"X-R": ["1"]}, b"no")
    assert [e.attempt for e in failed.rows] == [expected] * SHARDS

    letter = await dead.get(dlq_ids[1])
    assert letter is not None
    assert (letter.dlq_id, letter.message.id) == (dlq_ids[1], ids[1])
    assert letter.body == b"body of http://a/1"
    assert letter.attempt == expected
    assert await dead.get(ids[1]) is None  # a message id is not a dead letter's

    listed = await dead.page(None, 100, lambda d: True)
    assert sorted(d.dlq_id for d in listed.rows) == sorted(dlq_ids) and listed.cursor is None
    first = await dead.page(None, 1, lambda d: True)
    assert first.cursor is not None
    rest = await dead.page(dead.cursor(first.cursor), 100, lambda d: True)
    assert [d.dlq_id for d in first.rows + rest.rows] == [d.dlq_id for d in listed.rows]
    with pytest.raises(InvalidField):
        dead.cursor("12:msg_x")

    named = await dead.named([dlq_ids[2], dlq_ids[2], "junk", dlq_ids[0]], lambda d: True)
    assert sorted(d.dlq_id for d in named) == sorted([dlq_ids[0], dlq_ids[2]])

    told: list[tuple[int, int]] = []

    def build(original: Message, message_id: str) -> Message:
        return dataclasses.replace(original, id=message_id, not_before=NOW + 7)

    def notify(hint: WorkHint) -> None:
        told.append((hint.shard, hint.due_ms))

    store.on_new_work(notify)  # the local worker hears of the retried message
    new_id = await dead.retry(dlq_ids[3], build)
    assert new_id is not None and _shard(new_id) == _shard(ids[3])
    assert told == [(_shard(ids[3]), NOW + 7)]
    again = await Messages(store).get(new_id)
    assert again is not None and again.body == b"body of http://a/3"  # the stored body, reused
    assert await dead.get(dlq_ids[3]) is None
    assert await dead.retry(dlq_ids[3], build) is None

    assert await dead.delete([dlq_ids[0], dlq_ids[1], "junk"]) == 2
    assert await dead.delete([dlq_ids[0]]) == 0
    assert [d.dlq_id for d in (await dead.page(None, 100, lambda d: True)).rows] == [dlq_ids[2]]


async def test_the_store_places_names_and_announces_what_it_stores(store: Store) -> None:
    told: list[tuple[int, int]] = []
    store.on_new_work(lambda hint: told.append((hint.shard, hint.due_ms)))

    def new(url: str, **fields: object) -> NewMessage:
        message = Message(id="", url=url, method="POST", headers={}, max_retries=0, timeout=30,
                          created_at=NOW, not_before=NOW, **fields)  # type: ignore[arg-type]  # fmt: skip
        return NewMessage(message, b"", NOW)

    batch = await store.enqueue_all([(new("http://a/1"), ""), (new("http://a/2"), ""),
                                     (new("http://a/3", queue_name="q"), ""),
                                     (new("http://a/4"), "dedup")])  # fmt: skip
    shards = [_shard(enqueued.message_id) for enqueued in batch]
    assert shards[0] == shards[1]  # nothing to place them by: the submission's one shard
    assert shards[2] == queue_shard("q", SHARDS) and shards[3] == shard_for_key("dedup", SHARDS)
    assert not any(enqueued.deduplicated for enqueued in batch)
    assert told == [(shard, NOW) for shard in shards]
    [again] = await store.enqueue_all([(new("http://a/4"), "dedup")])
    assert again == Enqueued(batch[3].message_id, True) and len(told) == 4  # nothing stored
