"""Routing tables in a real Redis: idempotent writes, guards, versions, tokens, parking."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from herald_core.keys import Keys
from herald_core.routing import Delivery, SubscriptionRoute, TopicRoute
from herald_core.routing_store import RoutingStore, token_hash

pytestmark = pytest.mark.integration

TOPIC = TopicRoute("shop", "orders", Delivery(retries=5))
A = SubscriptionRoute("a", "http://a/hook", {"X-Team": "a"}, Delivery(retries=1))
B = SubscriptionRoute("b", "http://b/hook")


@pytest.fixture
async def routing(redis_url: str):
    redis = Redis.from_url(redis_url)
    yield RoutingStore(redis, Keys("herald", 4))
    await redis.aclose()


async def test_tables_are_written_replaced_and_dropped(routing: RoutingStore) -> None:
    v1 = await routing.put_table(TOPIC, [A, B])
    table = await routing.table("shop/orders")
    assert table is not None and table.topic == TOPIC and table.subscriptions == (A, B)
    assert await routing.put_table(TOPIC, [B]) > v1  # replace: a is gone
    assert (await routing.table("shop/orders")).subscriptions == (B,)  # type: ignore[union-attr]
    assert set(await routing.tables()) == {"shop/orders"}
    await routing.drop_table("shop/orders")
    assert await routing.table("shop/orders") is None
    assert await routing.tables() == {}


async def test_one_subscription_changes_only_its_entry(routing: RoutingStore) -> None:
    assert not await routing.put_subscription("shop/orders", A)  # no topic yet: nothing
    assert await routing.table("shop/orders") is None
    await routing.put_table(TOPIC, [])
    assert await routing.put_subscription("shop/orders", A)
    version = await routing.version()
    assert await routing.put_subscription("shop/orders", A)  # unchanged: no new version
    assert await routing.version() == version
    await routing.put_subscription("shop/orders", B)
    await routing.drop_subscription("shop/orders", "a")
    assert (await routing.table("shop/orders")).subscriptions == (B,)  # type: ignore[union-attr]


async def test_guards_protect_api_groups(routing: RoutingStore) -> None:
    assert await routing.put_table(TOPIC, [], guard="-") > 0
    assert await routing.put_table(TOPIC, [A], guard="-") == -1  # exists already
    raw = await routing.raw_topic("shop/orders")
    assert raw is not None
    assert await routing.put_table(TOPIC, [A], guard=raw.decode()) > 0


async def test_tokens_are_stored_as_hashes_per_owner(routing: RoutingStore) -> None:
    await routing.sync_tokens("shop/t1", ["secret-1"])
    await routing.sync_tokens("other/t2", ["secret-2"])
    assert await routing.tokens() == {
        token_hash("secret-1"): "shop",
        token_hash("secret-2"): "other",
    }
    raw: Any = await routing.redis.hgetall(routing.keys.tokens)
    assert b"secret-1" not in b"".join(k + v for k, v in raw.items())
    await routing.sync_tokens("shop/t1", ["secret-3"])  # rotated: the old one is gone
    assert await routing.token_namespace("secret-1") is None
    assert await routing.token_namespace("secret-3") == "shop"
    await routing.sync_tokens("shop/t1", [])
    assert await routing.tokens() == {token_hash("secret-2"): "other"}


async def test_sync_table_writes_only_what_differs(routing: RoutingStore) -> None:
    first = await routing.sync_table(TOPIC, [A, B])
    assert first.version > 0 and first.topic_changed and set(first.written) == {"a", "b"}
    version = await routing.version()
    again = await routing.sync_table(TOPIC, [A, B])  # nothing differs: nothing written
    assert (again.version, again.topic_changed, again.written) == (0, False, ())
    assert await routing.version() == version
    b2 = SubscriptionRoute("b", "http://b2/hook")
    changed = await routing.sync_table(TOPIC, [b2])  # b changed, a gone (not listed)
    assert changed.written == ("b",) and not changed.topic_changed
    table = await routing.table("shop/orders")
    assert table is not None and table.subscriptions == (b2,)
    assert await routing.version() > version


async def test_entry_writes_and_token_syncs_are_quiet_when_unchanged(
    routing: RoutingStore,
) -> None:
    from herald_core.routing_store import EntryWrite

    await routing.sync_table(TOPIC, [])
    assert await routing.put_subscription("shop/orders", A) is EntryWrite.WRITTEN
    version = await routing.version()
    assert await routing.put_subscription("shop/orders", A) is EntryWrite.UNCHANGED
    assert await routing.drop_subscription("shop/orders", "missing") is EntryWrite.UNCHANGED
    await routing.sync_tokens("shop/t", ["token-1"])
    version = await routing.version()
    await routing.sync_tokens("shop/t", ["token-1"])
    assert await routing.version() == version
    await routing.sync_tokens("shop/t", ["token-2"])
    assert await routing.tokens() == {token_hash("token-2"): "shop"}
    assert await routing.version() > version
