"""Herald on a local Redis Cluster (3 masters + 3 replicas): the whole publish → deliver →
retry → DLQ path, a fan-out over shards on different masters, and real `herald gateway`
processes living through a `CLUSTER FAILOVER` and a master SIGKILLed under load."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from herald_core.ids import shard_of
from herald_core.keys import Keys
from herald_core.redis_client import connect
from herald_core.routing_store import RoutingStore
from herald_core.settings import Settings
from herald_gateway.dev.manifests import apply_manifests
from tests.support.gateway import Gateway, wait_until
from tests.support.receiver import Answer, Receiver
from tests.support.redis_topologies import LocalCluster, Publisher, delivery_counts

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
SHARDS = 16


async def _fan_out_topic(settings: Settings, urls: list[str]) -> None:
    """A topic whose Subscriptions each have flow control: their messages go to the shards
    of their flow keys, so one publish writes to several shards (several masters)."""
    routes = RoutingStore(connect(settings), Keys("herald", SHARDS))
    subs = {("default", f"sub-{i}"): {"topic": "fan", "endpoint": {"url": url},
                                      "flowControl": {"parallelism": 8}}
            for i, url in enumerate(urls)}  # fmt: skip
    try:
        await apply_manifests(routes, {("default", "fan"): {}}, subs, ({}, {}))
    finally:
        await routes.redis.aclose()


def test_publish_deliver_retry_dlq_and_fan_out_on_a_cluster(
    redis_cluster: LocalCluster, make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateway = make_gateway(**redis_cluster.settings(), shards=SHARDS)

    ok = receiver.new_path()
    ids = {gateway.publish(receiver.url(ok), b"%d" % i).json()["messageId"] for i in range(40)}
    wait_until(lambda: set(delivery_counts(receiver, ok)) >= ids, what="all delivered")
    assert all(int(node.cmd("DBSIZE")) > 0 for node in redis_cluster.master_nodes())  # spread out

    doomed = receiver.new_path(*[Answer(500)] * 3)
    retry = {"Upstash-Retries": "2", "Upstash-Retry-Delay": "20"}
    message_id = gateway.publish(receiver.url(doomed), b"doomed", **retry).json()["messageId"]
    attempts = receiver.wait_for(doomed, 3)
    assert [a.header("Upstash-Retried") for a in attempts] == ["0", "1", "2"]

    def dead_letters() -> list[str]:
        return [m["messageId"] for m in gateway.client.get("/v2/dlq").json()["messages"]]

    assert wait_until(dead_letters, what="the dead letter") == [message_id]

    paths = [receiver.new_path() for _ in range(4)]
    settings = Settings(**redis_cluster.settings(), shards=SHARDS)  # type: ignore[arg-type]
    asyncio.run(_fan_out_topic(settings, [receiver.url(p) for p in paths]))
    answer = wait_until(lambda: gateway.publish("fan", b"to all"), what="the topic is known")
    assert answer.status_code == 200 and len(answer.json()) == 4
    shards = {shard_of(m["messageId"], SHARDS) for m in answer.json()}
    assert len(shards) > 1  # one publish over several shards: no MULTI on a cluster
    for path in paths:
        receiver.wait_for(path, 1)


def test_filtered_bulk_actions_on_a_cluster(
    redis_cluster: LocalCluster, make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    """Messages and dead letters spread over shards on every master: a filtered cancel, list,
    retry and delete touch exactly the matching ones, wherever they live."""
    gateway = make_gateway(**redis_cluster.settings(), shards=SHARDS)
    keys = [f"key-{i}" for i in range(8)]  # a message's flow key decides its shard
    pending = {}
    for key in keys:
        for label in ("keep", "drop"):
            headers = {
                "Upstash-Delay": "1h",
                "Upstash-Flow-Control-Key": key,
                "Upstash-Flow-Control-Value": "rate=10",
                "Upstash-Label": label,
            }
            answer = gateway.publish("http://127.0.0.1:9/x", b"x", **headers).json()
            pending[(key, label)] = answer["messageId"]  # fmt: skip
    assert len({shard_of(i, SHARDS) for i in pending.values()}) > 2

    def alive() -> set[tuple[str, str]]:
        return {k for k, i in pending.items()
                if gateway.client.get(f"/v2/messages/{i}").status_code == 200}  # fmt: skip

    by_key = gateway.client.delete("/v2/messages", params={"flowControlKey": keys[:2]})
    assert by_key.json() == {"cancelled": 4}
    by_label = gateway.client.delete("/v2/messages", params={"label": "drop"})
    assert by_label.json() == {"cancelled": 6}
    assert alive() == {(key, "keep") for key in keys[2:]}

    path = receiver.new_path(*[Answer(500)] * 6)
    for n in range(6):
        headers = {
            "Upstash-Retries": "0",
            "Upstash-Label": f"l{n % 3}",
            "Upstash-Flow-Control-Key": keys[n],
            "Upstash-Flow-Control-Value": "rate=10",
        }
        gateway.publish(receiver.url(path), b"%d" % n, **headers)  # fmt: skip

    def letters(**params: str) -> list[dict[str, object]]:
        return list(gateway.client.get("/v2/dlq", params=params).json()["messages"])

    wait_until(lambda: len(letters()) == 6, what="6 dead letters")
    assert len({shard_of(str(m["dlqId"]), SHARDS) for m in letters()}) > 1
    assert len(letters(label="l0")) == 2
    retried = gateway.client.post("/v2/dlq/retry", params={"label": "l0"}).json()
    assert len(retried["responses"]) == 2
    assert sorted(d.body for d in receiver.wait_for(path, 8)[6:]) == [b"0", b"3"]
    deleted = gateway.client.delete("/v2/dlq", params={"label": "l1", "flowControlKey": keys[1]})
    assert deleted.json()["deleted"] == 1
    assert sorted(m["labels"][0] for m in letters()) == ["l1", "l2", "l2"]  # type: ignore[index]


def _wait_accepted(publisher: Publisher, since: float, count: int, what: str) -> None:
    wait_until(lambda: publisher.accepted_since(since) >= count, timeout=30, what=what)


def test_failover_and_killed_master_under_load_lose_nothing(
    redis_cluster: LocalCluster, make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    # WAIT 1: a publish is acknowledged once a replica holds it, so the SIGKILLed master
    # cannot take an acknowledged message with it. A claim whose reply died with the master
    # is handed out again when its lease ends: short leases (1 s timeout + 1 s margin).
    settings = {**redis_cluster.settings(), "shards": SHARDS, "redis_wait_replicas": 1,
                "redis_backoff_max": 0.2, "default_timeout": 1, "lease_duration": 1}  # fmt: skip
    gateways = [make_gateway(**settings), make_gateway(**settings)]
    path = receiver.new_path()
    publisher = Publisher(gateways, receiver.url(path))
    publisher.start()
    try:
        _wait_accepted(publisher, 0, 100, "load before the failover")

        first = redis_cluster.master_nodes()[0]
        switched = time.monotonic()
        redis_cluster.failover(redis_cluster.replica_of(first))  # coordinated: no write is lost
        redis_cluster.wait_healthy()
        _wait_accepted(publisher, time.monotonic(), 100, "load after the failover")

        victim = redis_cluster.master_nodes()[1]
        killed = time.monotonic()
        victim.stop(kill=True)
        wait_until(lambda: len(redis_cluster.master_nodes()) == redis_cluster.masters, timeout=20,
                   interval=0.05, what="a replica promoted")  # fmt: skip
        promoted = time.monotonic()
        victim.start()  # as Kubernetes restarts a pod: it comes back as the new replica
        redis_cluster.wait_healthy()
        _wait_accepted(publisher, time.monotonic(), 100, "load after the kill")
    finally:
        publisher.stop()

    accepted = set(publisher.accepted)
    wait_until(lambda: set(delivery_counts(receiver, path)) >= accepted, timeout=30,
               what="every accepted message delivered")  # fmt: skip
    counts = delivery_counts(receiver, path)
    lost = accepted - set(counts)
    duplicates = sum(n - 1 for n in counts.values())
    refused_failover, _ = publisher.refused_between(switched, killed)
    refused_kill, outage = publisher.refused_between(killed)
    print(f"\ncluster: {len(accepted)} accepted, {len(lost)} lost, {duplicates} duplicated; "
          f"failover: {refused_failover} refused; master killed: promoted after "
          f"{promoted - killed:.1f}s, {refused_kill} refused over {outage:.1f}s")  # fmt: skip
    assert not lost
    for gateway in gateways:  # recovered by themselves: never restarted, ready
        assert gateway.process is not None and gateway.process.poll() is None
        assert gateway.client.get("/readyz").status_code == 200


def test_queues_schedules_and_flow_control_on_a_cluster(
    redis_cluster: LocalCluster, make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateway = make_gateway(**redis_cluster.settings(), shards=SHARDS, cron_minute=0.2,
                           schedule_poll=0.05, global_parallelism=4)  # fmt: skip
    client = gateway.client
    fifo = receiver.new_path(Answer(500), *[Answer(200)] * 4)
    for i in range(4):
        response = client.post(f"/v2/enqueue/cq/{receiver.url(fifo)}", content=b"%d" % i,
                               headers={"Upstash-Retry-Delay": "20"})  # fmt: skip
        assert response.status_code == 200
    assert [r.body for r in receiver.wait_for(fifo, 5)] == [b"0", b"0", b"1", b"2", b"3"]
    assert client.get("/v2/queues/cq").json()["parallelism"] == 1

    ticks = receiver.new_path()
    response = client.post(f"/v2/schedules/{receiver.url(ticks)}",
                           headers={"Upstash-Cron": "* * * * *"})  # fmt: skip
    schedule_id = response.json()["scheduleId"]
    receiver.wait_for(ticks, 3)
    client.delete(f"/v2/schedules/{schedule_id}")

    limited = receiver.new_path()
    flow = {"Upstash-Flow-Control-Key": "ck", "Upstash-Flow-Control-Value": "rate=100"}
    gateway.publish(receiver.url(limited), b"x", **flow)
    assert client.post("/v2/flowControl/ck/pin?parallelism=2").status_code == 200
    assert client.get("/v2/flowControl/ck").json()["parallelismMax"] == 2
    receiver.wait_for(limited, 1)
    assert client.get("/v2/globalParallelism").json()["parallelismMax"] == 4
