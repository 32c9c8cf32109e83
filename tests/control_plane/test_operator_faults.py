"""Operator faults (issue 7 part 5): a real `herald operator` process SIGKILLed
mid-reconcile and while deletions wait on finalizers (kopf's, held until resync timers
stop), objects changed, moved and deleted while no operator runs, and Redis unreachable
for a while (the operator restarted meanwhile). Whatever happened, the state converges:
the routing tables in Redis hold exactly what the objects say, every live object is Ready
at its generation (or TopicNotFound), and the finalizers of deleted objects are released
(the objects disappear)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from herald_core.keys import Keys
from herald_gateway.dev.embedded import RedisServer, free_port
from tests.support.gateway import REPO, wait_until
from tests.support.kube import GROUP, KubeServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROUTES = Keys("herald", 4).routing
FINALIZER = "herald.dev/finalizer"


def topic(name: str) -> dict[str, Any]:
    return {"apiVersion": GROUP, "kind": "Topic", "metadata": {"name": name, "namespace": "shop"},
            "spec": {"delivery": {"retries": 2}}}  # fmt: skip


def subscription(name: str, topic_name: str = "orders") -> dict[str, Any]:
    return {"apiVersion": GROUP, "kind": "Subscription",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"topic": topic_name,
                     "endpoint": {"url": f"http://{name}.shop/h"}}}  # fmt: skip


def objects(kube: KubeServer, plural: str) -> list[dict[str, Any]]:
    response = kube.client.get(f"/apis/{GROUP}/namespaces/shop/{plural}")
    response.raise_for_status()
    return list(response.json().get("items") or [])


def tables(r: redis.Redis) -> dict[str, set[str]]:
    """Every routing table in Redis: topic id → its subscription entries' names."""
    out = {}
    members: set[bytes] = r.smembers(ROUTES.topics)  # type: ignore[assignment]
    for raw in members:
        tid = raw.decode()
        fields: list[bytes] = r.hkeys(ROUTES.table(tid))  # type: ignore[assignment]
        out[tid] = {f.decode()[2:] for f in fields if f.startswith(b"s:")}
    return out


def desired(kube: KubeServer) -> dict[str, set[str]]:
    """What the tables must be: per Topic, the Subscriptions naming it."""
    want: dict[str, set[str]] = {f"shop/{t['metadata']['name']}": set()
                                 for t in objects(kube, "topics")}  # fmt: skip
    for sub in objects(kube, "subscriptions"):
        tid = f"shop/{sub['spec']['topic']}"
        if tid in want:
            want[tid].add(sub["metadata"]["name"])
    return want


def problems(kube: KubeServer, r: redis.Redis) -> list[str]:
    """Why the state has not converged yet (empty once it has)."""
    out = []
    if (got := tables(r)) != (want := desired(kube)):
        out.append(f"tables {got} != objects {want}")
    for plural in ("topics", "subscriptions"):
        for obj in objects(kube, plural):
            meta, name = obj["metadata"], f"{plural}/{obj['metadata']['name']}"
            if meta.get("deletionTimestamp"):
                out.append(f"{name} still being deleted (finalizers {meta.get('finalizers')})")
            elif FINALIZER not in (meta.get("finalizers") or []):
                out.append(f"{name} has no finalizer")
            # Ready, unless it is a Subscription whose Topic does not exist (any more)
            routed = plural == "topics" or f"shop/{obj['spec']['topic']}" in want
            expected = ("True", None) if routed else ("False", "TopicNotFound")
            ready = [c for c in (obj.get("status") or {}).get("conditions", [])
                     if c["type"] == "Ready"] or [{}]  # fmt: skip
            got_ready = (ready[0].get("status"), ready[0].get("reason") if not routed else None)
            if got_ready != expected:
                out.append(f"{name}: Ready {ready[0]}, expected {expected}")
            elif ready[0].get("observedGeneration") != meta.get("generation"):
                out.append(f"{name} Ready at generation {ready[0].get('observedGeneration')}")
    return out


def converge(kube: KubeServer, r: redis.Redis, timeout: float = 30) -> None:
    try:
        wait_until(lambda: not problems(kube, r), timeout=timeout, interval=0.1)
    except AssertionError:
        raise AssertionError(f"not converged: {problems(kube, r)}") from None


@pytest.fixture
def start_operator(
    kube: KubeServer, operator_env: str, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """`herald operator --standalone` as a real process (SIGKILLed at the end)."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'gateway'}{os.pathsep}{REPO / 'operator'}"}
        log = tmp_path / f"operator-{len(started)}.log"
        command = [sys.executable, "-m", "herald_gateway.cli", "operator", "--standalone",
                   "--liveness", f"http://127.0.0.1:{free_port()}/healthz"]  # fmt: skip
        with log.open("wb") as out:
            started.append(subprocess.Popen(command, env=env, stdout=out, stderr=out))
        return started[-1]

    yield start
    for process in started:  # what it leaves behind is of no interest: no graceful stop
        sigkill(process)


def sigkill(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait()


def finalized(kube: KubeServer, names: list[str]) -> bool:
    subs = {o["metadata"]["name"]: o for o in objects(kube, "subscriptions")}
    return all(FINALIZER in (subs[n]["metadata"].get("finalizers") or []) for n in names)


def test_killed_mid_reconcile_and_objects_deleted_while_down(
    kube: KubeServer, operator_env: str, own_redis: RedisServer, start_operator
) -> None:
    rclient = redis.Redis.from_url(own_redis.url)
    kube.create(GROUP, "topics", topic("orders"))
    kube.create(GROUP, "topics", topic("audit"))
    for i in range(10):
        kube.create(GROUP, "subscriptions", subscription(f"s{i}"))
    kube.create(GROUP, "subscriptions", subscription("auditor", "audit"))
    first = start_operator()
    converge(kube, rclient)

    # Redis holds every write (CLIENT PAUSE WRITE), so the handlers of these changes are
    # caught mid-reconcile: finalizers added, routing writes waiting, no status yet.
    rclient.client_pause(20_000, all=False)
    new = [f"s{i}" for i in range(10, 30)]
    for name in new:
        kube.create(GROUP, "subscriptions", subscription(name))
    kube.patch(GROUP, "subscriptions", "shop", "s4", {"spec": {"endpoint": {"url": "http://4/h"}}})
    wait_until(lambda: finalized(kube, new), timeout=20, what="finalizers on the new objects")
    sigkill(first)
    rclient.client_unpause()
    assert not any(kube.condition("subscriptions", "shop", name, "Ready") for name in new)

    # While no operator runs: deletes (held by finalizers where they were added), an update
    # and a create.
    for name in ("s0", "s1", "s2"):
        kube.delete(GROUP, "subscriptions", "shop", name)
    kube.delete(GROUP, "topics", "shop", "audit")
    kube.patch(
        GROUP, "subscriptions", "shop", "s3", {"spec": {"endpoint": {"url": "http://new/h"}}}
    )
    kube.create(GROUP, "subscriptions", subscription("late"))

    start_operator()
    converge(kube, rclient)
    assert kube.herald("subscriptions", "shop", "s0") is None  # finalizer released
    assert kube.herald("topics", "shop", "audit") is None
    assert kube.condition("subscriptions", "shop", "auditor", "Ready")["reason"] == "TopicNotFound"
    for sub, url in (("s3", b"http://new/h"), ("s4", b"http://4/h")):
        assert url in rclient.hget(ROUTES.table("shop/orders"), f"s:{sub}")  # type: ignore[operator]
    assert tables(rclient) == {"shop/orders": {f"s{i}" for i in range(3, 30)} | {"late"}}
    rclient.close()


def test_killed_while_deletions_wait_on_finalizers(
    kube: KubeServer, start_operator, rclient: redis.Redis
) -> None:
    kube.create(GROUP, "topics", topic("orders"))
    for i in range(10):
        kube.create(GROUP, "subscriptions", subscription(f"s{i}"))
    operator = start_operator()
    converge(kube, rclient)
    for i in range(10):  # the operator starts releasing these one by one ...
        kube.delete(GROUP, "subscriptions", "shop", f"s{i}")
    kube.delete(GROUP, "topics", "shop", "orders")
    wait_until(lambda: len(objects(kube, "subscriptions")) < 10, what="deletions started")
    sigkill(operator)  # ... and dies in the middle
    start_operator()
    converge(kube, rclient)
    assert objects(kube, "subscriptions") == [] and objects(kube, "topics") == []
    assert tables(rclient) == {}


@pytest.fixture
def own_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """A Redis of the test's own that it can stop and start (no persistence: it comes back
    empty, like a failed-over or flushed Redis)."""
    server = RedisServer(tmp_path / "redis", appendfsync=None)
    server.start()
    monkeypatch.setenv("HERALD_REDIS_URL", server.url)
    yield server
    server.stop()


def test_redis_unreachable_for_a_while_then_back(
    kube: KubeServer, operator_env: str, own_redis: RedisServer, start_operator
) -> None:
    r = redis.Redis.from_url(own_redis.url)
    try:
        kube.create(GROUP, "topics", topic("orders"))
        for name in ("a", "b", "c"):
            kube.create(GROUP, "subscriptions", subscription(name))
        operator = start_operator()
        converge(kube, r)

        own_redis.stop()
        kube.create(GROUP, "subscriptions", subscription("d"))
        kube.patch(
            GROUP, "subscriptions", "shop", "a", {"spec": {"endpoint": {"url": "http://x/h"}}}
        )
        kube.delete(GROUP, "subscriptions", "shop", "b")
        kube.wait_condition("subscriptions", "shop", "d", "Ready", "False", timeout=20)
        assert kube.condition("subscriptions", "shop", "d", "Ready")["reason"] == "RedisUnavailable"
        # a deletion does not wait on Redis (its entry is removed once Redis is back)
        wait_until(lambda: kube.herald("subscriptions", "shop", "b") is None, timeout=20,
                   what="b deleted while Redis is down")  # fmt: skip

        # and the operator dies too: its successor starts while Redis is still down
        sigkill(operator)
        start_operator()
        kube.create(GROUP, "subscriptions", subscription("late"))
        kube.wait_condition("subscriptions", "shop", "late", "Ready", "False", timeout=20)

        own_redis.start()  # empty: the tables must be written again, from the objects
        converge(kube, r)
        assert tables(r) == {"shop/orders": {"a", "c", "d", "late"}}
        assert b"http://x/h" in r.hget(ROUTES.table("shop/orders"), "s:a")  # type: ignore[operator]
    finally:
        r.close()


def test_subscription_moved_to_another_topic_while_down(
    kube: KubeServer, start_operator, rclient: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no timer to hide the fault: the old Topic's table must lose the entry by itself
    monkeypatch.setenv("HERALD_OPERATOR_RESYNC_INTERVAL", "3600")
    kube.create(GROUP, "topics", topic("orders"))
    kube.create(GROUP, "topics", topic("audit"))
    kube.create(GROUP, "subscriptions", subscription("a"))
    kube.create(GROUP, "subscriptions", subscription("b"))
    operator = start_operator()
    converge(kube, rclient)
    sigkill(operator)
    kube.patch(GROUP, "subscriptions", "shop", "a", {"spec": {"topic": "audit"}})
    start_operator()
    converge(kube, rclient)
    assert tables(rclient) == {"shop/orders": {"b"}, "shop/audit": {"a"}}
    # and with the operator running
    kube.patch(GROUP, "subscriptions", "shop", "b", {"spec": {"topic": "audit"}})
    converge(kube, rclient)
    assert tables(rclient) == {"shop/orders": set(), "shop/audit": {"a", "b"}}
