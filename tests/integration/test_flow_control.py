"""Flow control (`Upstash-Flow-Control-*` and Subscription `flowControl`): parallelism and
rate limits hold at a real receiver; waitlisted messages can be cancelled."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from herald_core.delivery_stats import read_stats
from herald_core.keys import Keys
from herald_core.routing_store import RoutingStore
from herald_gateway.dev.manifests import apply_manifests
from tests.support.gateway import Gateway
from tests.support.receiver import Answer, Received, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def max_in_flight(requests: list[Received], stall: float) -> int:
    """Most requests the receiver was holding at once (each held for `stall` seconds)."""
    events = sorted([(r.at, 1) for r in requests] + [(r.at + stall, -1) for r in requests])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def flow(key: str, value: str) -> dict[str, str]:
    return {"Upstash-Flow-Control-Key": key, "Upstash-Flow-Control-Value": value}


@pytest.mark.parametrize("parallelism", [1, 2])
def test_parallelism_caps_requests_in_flight(
    gateway: Gateway, receiver: Receiver, parallelism: int
) -> None:
    stall = 0.15
    path = receiver.new_path(*[Answer(200, delay=stall)] * 6)
    for i in range(6):
        headers = flow(f"p{parallelism}-{path}", f"parallelism={parallelism}")
        assert gateway.publish(receiver.url(path), b"%d" % i, **headers).status_code == 200
    requests = receiver.wait_for(path, 6)
    # `at` is taken on arrival, the answer leaves `stall` later: a little slack each side
    assert max_in_flight(requests, stall - 0.01) == parallelism


def test_rate_never_exceeds_its_period(gateway: Gateway, receiver: Receiver) -> None:
    path = receiver.new_path()
    for i in range(12):
        gateway.publish(receiver.url(path), b"%d" % i, **flow(f"r-{path}", "rate=5, period=1s"))
    arrivals = sorted(r.at for r in receiver.wait_for(path, 12, timeout=15))
    windows = [later - earlier for earlier, later in zip(arrivals, arrivals[5:], strict=False)]
    assert min(windows) >= 0.95, windows  # any 6 starts span at least one period
    metrics = gateway.metrics()
    assert 'outcome="delivered",status_class="2xx"} 12.0' in metrics


def test_waitlisted_messages_can_be_cancelled(gateway: Gateway, receiver: Receiver) -> None:
    path = receiver.new_path(Answer(200, delay=1.0))
    key = flow(f"c-{path}", "parallelism=1")
    ids = [gateway.publish(receiver.url(path), b"%d" % i, **key).json()["messageId"]
           for i in range(3)]  # fmt: skip
    receiver.wait_for(path, 1)  # the first holds the only slot; the others wait
    response = gateway.client.delete("/v2/messages", params={"messageIds": [ids[2]]})
    assert response.json() == {"cancelled": 1}
    # ids[0] (in flight: too late to stop, but it counts) and ids[1] (waitlisted)
    assert gateway.client.delete("/v2/messages").json() == {"cancelled": 2}
    probe = receiver.new_path()
    gateway.publish(receiver.url(probe), b"probe", **{"Upstash-Delay": "1500ms"})
    receiver.wait_for(probe, 1)
    assert [r.body for r in receiver.received(path)] == [b"0"]


async def test_subscription_flow_control(make_gateway, receiver: Receiver, redis_url) -> None:
    stall = 0.1
    path = receiver.new_path(*[Answer(200, delay=stall)] * 5)
    topic = {"delivery": {"retries": 1}}
    sub = {"topic": "jobs", "endpoint": {"url": receiver.url(path)},
           "flowControl": {"parallelism": 1}}  # fmt: skip
    redis = Redis.from_url(redis_url)
    try:
        routes = RoutingStore(redis, Keys("herald", 16))
        await apply_manifests(routes, {("ops", "jobs"): topic}, {("ops", "worker"): sub},
                              ({}, {}))  # fmt: skip
    finally:
        await redis.aclose()
    gateway = await asyncio.to_thread(make_gateway)
    for i in range(5):
        response = await asyncio.to_thread(gateway.publish, "ops/jobs", b"%d" % i)
        assert response.status_code == 200 and len(response.json()) == 1
    requests = await asyncio.to_thread(receiver.wait_for, path, 5)
    assert max_in_flight(requests, stall - 0.01) == 1
    assert {r.header("Upstash-Topic-Name") for r in requests} == {"jobs"}


async def _apply(redis_url: str, topic: dict, subs: dict) -> RoutingStore:  # type: ignore[type-arg]
    redis = Redis.from_url(redis_url)
    routes = RoutingStore(redis, Keys("herald", 16))
    await apply_manifests(routes, {("ops", "jobs"): topic}, subs, ({}, {}))
    return routes


async def test_paused_subscription_keeps_messages_and_counts(
    make_gateway, receiver: Receiver, redis_url
) -> None:
    path = receiver.new_path(Answer(500))  # the first attempt fails, its retry is due soon
    sub = {"topic": "jobs", "endpoint": {"url": receiver.url(path)},
           "delivery": {"retries": 2, "retryDelay": "300"}}  # fmt: skip
    routes = await _apply(redis_url, {}, {("ops", "worker"): sub})
    try:
        gateway = await asyncio.to_thread(make_gateway)
        await asyncio.to_thread(gateway.publish, "ops/jobs", b"first")
        await asyncio.to_thread(receiver.wait_for, path, 1)  # failed: retrying
        await apply_manifests(routes, {("ops", "jobs"): {}},
                              {("ops", "worker"): {**sub, "paused": True}}, ({}, {}))  # fmt: skip
        await asyncio.to_thread(gateway.publish, "ops/jobs", b"second")  # accepted, kept
        probe = receiver.new_path()
        await asyncio.to_thread(gateway.publish, receiver.url(probe), b"p",
                                **{"Upstash-Delay": "800ms"})  # fmt: skip
        await asyncio.to_thread(receiver.wait_for, probe, 1)
        assert len(receiver.received(path)) == 1  # neither the retry nor the new message
        [stats] = await read_stats(routes.redis, Keys("herald", 16), [("ops/jobs", "worker")])
        assert (stats.delivered, stats.failed, stats.backlog) == (0, 0, 2)

        await apply_manifests(routes, {("ops", "jobs"): {}}, {("ops", "worker"): sub}, ({}, {}))
        requests = await asyncio.to_thread(receiver.wait_for, path, 3)
        assert sorted(r.body for r in requests[1:]) == [b"first", b"second"]

        async def settled() -> bool:
            [stats] = await read_stats(routes.redis, Keys("herald", 16), [("ops/jobs", "worker")])
            return (stats.delivered, stats.failed, stats.backlog) == (2, 0, 0)

        async with asyncio.timeout(5):
            while not await settled():  # noqa: ASYNC110 - polling Redis, no event to wait on
                await asyncio.sleep(0.02)
    finally:
        await routes.redis.aclose()
