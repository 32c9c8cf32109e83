"""Topics and the operator: publish latency to topics of 1/10/100 subscriptions, fan-out
deliveries/s against as many URL publishes, the cost of the gateway's routing lookup, and
the time for the operator to bring N Subscriptions to Ready (emulated API server).

Loopback only, bounded in count and time. Run: `python -m bench.topics [--subs-ready N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import redis
from tests.support.gateway import Gateway, wait_until
from tests.support.receiver import Receiver

from herald_core.keys import Keys
from herald_core.routing import SubscriptionRoute, TopicRoute
from herald_core.routing_store import RoutingStore
from herald_gateway.dev.embedded import RedisServer

SHARDS = 4


def _percentiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return f"p50 {q[49] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms"


async def _tables(url: str, receiver: Receiver, sizes: list[int]) -> dict[int, list[str]]:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    store = RoutingStore(client, Keys("herald", SHARDS))
    paths = {}
    for n in sizes:
        paths[n] = [receiver.new_path() for _ in range(n)]
        subs = [SubscriptionRoute(f"s{i}", receiver.url(p)) for i, p in enumerate(paths[n])]
        await store.put_table(TopicRoute("bench", f"t{n}"), subs)
    await client.aclose()
    return paths


def publish_latency(gateway: Gateway, receiver: Receiver, paths: dict[int, list[str]]) -> None:
    for n, subs in paths.items():
        samples = []
        for _ in range(200):
            start = time.perf_counter()
            response = gateway.publish(f"bench/t{n}", b'{"x": 1}')
            samples.append(time.perf_counter() - start)
            assert response.status_code == 200 and len(response.json()) == n
        print(f"publish to a topic of {n:3d} subscriptions: {_percentiles(samples)}")
        wait_until(lambda s=subs: all(len(receiver.received(p)) >= 200 for p in s), timeout=120)


def fanout_rate(gateway: Gateway, receiver: Receiver, paths: list[str], messages: int) -> None:
    before = {p: len(receiver.received(p)) for p in paths}
    start = time.perf_counter()
    for _ in range(messages):
        gateway.publish("bench/t100", b"fan")
    wait_until(lambda: all(len(receiver.received(p)) >= before[p] + messages for p in paths),
               timeout=300)  # fmt: skip
    took = time.perf_counter() - start
    print(
        f"fan-out: {messages * len(paths)} deliveries in {took:.2f}s = "
        f"{messages * len(paths) / took:.0f}/s ({messages} publishes to 100 subscriptions)"
    )
    urls = [receiver.url(receiver.new_path()) for _ in range(len(paths))]
    start = time.perf_counter()
    for _ in range(messages):
        for url in urls:
            gateway.publish(url, b"one")
    wait_until(lambda: all(len(receiver.received(u.split(str(receiver.port))[1])) >= messages
                           for u in urls), timeout=300)  # fmt: skip
    took = time.perf_counter() - start
    print(
        f"URL publishes: {messages * len(urls)} deliveries in {took:.2f}s = "
        f"{messages * len(urls) / took:.0f}/s ({messages * len(urls)} publishes)"
    )


def lookup_cost(gateway: Gateway, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.config_resetstat()
    for _ in range(500):
        gateway.publish("bench/t1", b"x")
    stats = client.info("commandstats")
    client.close()
    routing = {k: v["calls"] for k, v in stats.items()
               if k.split("_", 1)[1] in ("hgetall", "hget", "smembers", "get")}  # fmt: skip
    print(f"Redis routing reads during 500 topic publishes: {routing or 'none'}")
    from herald_gateway.routing_cache import RoutingCache

    cache = RoutingCache(None, refresh=5.0)  # type: ignore[arg-type]
    cache.tables = {f"bench/t{i}": None for i in range(1000)}  # type: ignore[misc]
    start = time.perf_counter()
    for _ in range(1_000_000):
        cache.get("bench/t500")
    took = time.perf_counter() - start  # for 1e6 calls: seconds == µs per call
    print(f"cached lookup: {took:.3f} µs per publish (dict lookup, no Redis)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis", appendfsync="everysec")
        server.start()
        receiver = Receiver()
        receiver.start()
        gateway = Gateway(f"{server.url}", Path(tmp) / "gw.log", shards=SHARDS)
        try:
            gateway.start()
            paths = asyncio.run(_tables(server.url, receiver, [1, 10, 100]))
            wait_until(lambda: gateway.publish("bench/t100", b"warm").status_code == 200)
            publish_latency(gateway, receiver, paths)
            fanout_rate(gateway, receiver, paths[100], args.messages)
            lookup_cost(gateway, server.url)
        finally:
            gateway.close()
            receiver.stop()
            server.stop()


if __name__ == "__main__":
    main()
