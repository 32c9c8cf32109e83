"""`herald dev --manifests`: the folder's Topic/Subscription YAML is applied through the
operator's sync functions and re-applied (and removed) when files change."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import yaml
from redis.asyncio import Redis

from herald_core.keys import Keys
from herald_core.routing_store import RoutingStore
from herald_core.settings import Settings
from herald_core.tasks import cancel_and_wait
from herald_gateway.dev.manifests import follow, load_manifests

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_examples_load() -> None:
    topics, subs = load_manifests(REPO / "examples", "default")
    assert set(topics) == {("shop", "orders")}
    assert set(subs) == {("shop", "billing"), ("shop", "shipping")}


async def _wait(check, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 - polling Redis: there is no event to wait on
            await asyncio.sleep(0.02)


async def test_folder_is_applied_and_followed(redis_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    shutil.copytree(REPO / "examples", folder)
    settings = Settings(redis_url=redis_url, shards=4)
    redis = Redis.from_url(redis_url)
    store = RoutingStore(redis, Keys("herald", 4))
    task = asyncio.create_task(follow(folder, settings, interval=0.05))
    try:

        async def both() -> bool:
            table = await store.table("shop/orders")
            return table is not None and len(table.subscriptions) == 2

        await _wait(both)
        table = await store.table("shop/orders")
        assert table is not None
        urls = {s.name: s.url for s in table.subscriptions}
        assert urls["shipping"] == "http://shipping.shop.svc:8080/hooks/orders"
        assert table.subscriptions[0].delivery.retries == 3  # billing overrides the topic's 5

        (folder / "subscription-billing.yaml").unlink()

        async def one() -> bool:
            table = await store.table("shop/orders")
            return table is not None and [s.name for s in table.subscriptions] == ["shipping"]

        await _wait(one)
        doc = yaml.safe_load((folder / "topic-orders.yaml").read_text())
        doc["spec"]["delivery"]["retries"] = 9
        (folder / "topic-orders.yaml").write_text(yaml.safe_dump(doc) + "\n# changed\n")

        async def nine() -> bool:
            table = await store.table("shop/orders")
            return table is not None and table.subscriptions[0].delivery.retries == 9

        await _wait(nine)
    finally:
        await cancel_and_wait(task)  # a single cancel can be lost inside redis-py (8.2)
        await redis.aclose()
