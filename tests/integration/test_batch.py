"""`POST /v2/batch` through the official SDK and raw HTTP: URL and topic items mixed, an
invalid item answered with an error while the others are stored and delivered."""

from __future__ import annotations

import asyncio

import pytest
from qstash import QStash
from redis.asyncio import Redis

from herald_core.keys import Keys
from herald_core.routing_store import RoutingStore
from herald_gateway.dev.manifests import apply_manifests
from tests.support.gateway import Gateway
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def test_sdk_batch_and_batch_json(gateway: Gateway, sdk: QStash, receiver: Receiver) -> None:
    a, b = receiver.new_path(), receiver.new_path()
    results = sdk.message.batch([
        {"url": receiver.url(a) + "?n=1", "body": "first", "headers": {"X-One": "1"}},
        {"url": receiver.url(b), "body": "second", "method": "PUT", "retries": 0},
    ])  # fmt: skip
    [first] = receiver.wait_for(a, 1)
    [second] = receiver.wait_for(b, 1)
    assert first.body == b"first" and first.query == "n=1" and first.header("X-One") == "1"
    assert second.method == "PUT" and second.body == b"second"
    ids = [r.message_id for r in results]  # type: ignore[union-attr]
    assert ids == [first.header("Upstash-Message-Id"), second.header("Upstash-Message-Id")]

    c = receiver.new_path()
    [result] = sdk.message.batch_json([{"url": receiver.url(c), "body": {"k": [1, 2]}}])
    [delivery] = receiver.wait_for(c, 1)
    assert delivery.body == b'{"k": [1, 2]}'
    assert delivery.header("Content-Type") == "application/json"
    assert result.message_id == delivery.header("Upstash-Message-Id")  # type: ignore[union-attr]


async def test_mixed_items_and_per_item_errors(make_gateway, receiver: Receiver, redis_url):
    url_path, sub_path = receiver.new_path(), receiver.new_path()
    redis = Redis.from_url(redis_url)
    try:
        routes = RoutingStore(redis, Keys("herald", 16))
        sub = {"topic": "jobs", "endpoint": {"url": receiver.url(sub_path)}}
        await apply_manifests(routes, {("ops", "jobs"): {}}, {("ops", "w"): sub}, ({}, {}))
    finally:
        await redis.aclose()
    gateway = await asyncio.to_thread(make_gateway)
    items = [
        {"destination": receiver.url(url_path), "headers": {"Upstash-Delay": "10ms"},
         "body": "to a url", "queue": None},
        {"destination": "ops/jobs", "headers": None, "body": "to a topic", "queue": None},
        {"destination": "ftp://nowhere", "headers": {}, "body": "refused"},
        {"destination": receiver.url(url_path), "headers": {"Upstash-Retries": "many"}},
        {"destination": receiver.url(url_path), "queue": "emails", "body": "queued"},
        {"destination": receiver.url(url_path), "queue": "no such/queue"},
    ]  # fmt: skip
    response = await asyncio.to_thread(gateway.client.post, "/v2/batch", json=items)
    assert response.status_code == 200
    url_answer, topic_answer, bad_url, bad_retries, queued, bad_queue = response.json()
    assert url_answer["messageId"].startswith("msg_")
    assert [entry["url"] for entry in topic_answer] == [receiver.url(sub_path)]
    assert "destination url" in bad_url["error"]
    assert "Upstash-Retries" in bad_retries["error"]
    assert queued["messageId"].startswith("msg_")
    assert "queue name" in bad_queue["error"]
    delivered_two = await asyncio.to_thread(receiver.wait_for, url_path, 2)
    assert sorted(r.body for r in delivered_two) == [b"queued", b"to a url"]
    [fanned] = await asyncio.to_thread(receiver.wait_for, sub_path, 1)
    assert fanned.body == b"to a topic"
    assert fanned.header("Upstash-Topic-Name") == "jobs"

    for body in (b"not json", b"{}", b"[]"):
        bad = await asyncio.to_thread(gateway.client.post, "/v2/batch", content=body)
        assert bad.status_code == 400 and "array" in bad.json()["error"]
    unauthorized = await asyncio.to_thread(
        gateway.client.post, "/v2/batch", json=items[:1], headers={"Authorization": "Bearer x"}
    )
    assert unauthorized.status_code == 401 and "token" in unauthorized.json()["error"]
