"""Issue 13: the operator's steady state is quiet, and stays correct under races and Redis
outages. The real operator (kopf, in-process) against the emulated API server, a Redis of
the test's own (so INFO commandstats counts only this test) and, where it matters, a real
gateway process.

(a) resyncs that find nothing changed write nothing to Redis and PATCH nothing;
(b) a gateway reloads nothing then, and exactly the changed table after one edit;
(c) whole-topic syncs racing Subscription creates and deletes lose none and resurrect none;
(d) Redis unavailable: capped backoff, one Warning Event, conditions kept, one status
    write per object, deletions do not wait.
"""

from __future__ import annotations

import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from herald_core.keys import Keys
from herald_gateway.dev.embedded import RedisServer
from tests.support import redis_stats
from tests.support.gateway import Gateway, wait_until
from tests.support.kube import GROUP, KubeServer
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration
ROUTES = Keys("herald", 4).routing


def topic(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": GROUP, "kind": "Topic", "metadata": {"name": name, "namespace": "shop"},
            "spec": spec}  # fmt: skip


def subscription(name: str, url: str, topic_name: str = "orders") -> dict[str, Any]:
    return {"apiVersion": GROUP, "kind": "Subscription",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"topic": topic_name, "endpoint": {"url": url}}}  # fmt: skip


def entries(r: redis.Redis, tid: str = "shop/orders") -> set[str]:
    fields: list[bytes] = r.hkeys(ROUTES.table(tid))  # type: ignore[assignment]
    return {f.decode()[2:] for f in fields if f.startswith(b"s:")}


@pytest.fixture
def own_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """A Redis server of this test's own (AOF: it comes back from a stop with its data)."""
    server = RedisServer(tmp_path / "redis", appendfsync="always")
    server.start()
    monkeypatch.setenv("HERALD_REDIS_URL", server.url)
    # Counting resyncs by their scripts (`resyncs_seen`): no health reading meanwhile (the
    # first is at a random point of the first interval, an hour here).
    monkeypatch.setenv("HERALD_OPERATOR_HEALTH_INTERVAL", "3600")
    yield server
    server.stop()


@pytest.fixture
def r(own_redis: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(own_redis.url)
    yield client
    client.close()


def reloads(gateway: Gateway) -> Counter[str]:
    text = gateway.metrics()
    found = re.findall(r'herald_routing_reloads_total\{kind="(\w+)"\} ([0-9.]+)', text)
    return Counter({kind: int(float(n)) for kind, n in found})


def endpoints(gateway: Gateway) -> set[str]:
    """The URLs a gateway's cache routes shop/orders to: a publish delayed by an hour (so
    nothing is delivered, and no delivery count moves while the test counts writes)."""
    response = gateway.publish("shop/orders", b"probe", **{"Upstash-Delay": "1h"})
    return {m["url"] for m in response.json()} if response.status_code == 200 else set()


def all_ready(kube: KubeServer, names: list[str]) -> bool:
    return all(kube.condition("subscriptions", "shop", n, "Ready").get("status") == "True"
               for n in names)  # fmt: skip


def handled(kube: KubeServer, plural: str, names: list[str]) -> bool:
    """kopf is done with the objects' changing handlers: the last handled spec is stored
    and no retry is pending (kopf keeps a progress annotation per pending handler)."""
    for name in names:
        notes = ((kube.herald(plural, "shop", name) or {}).get("metadata") or {}).get(
            "annotations") or {}  # fmt: skip
        done = ("last-handled-configuration", "kopf-managed")
        pending = [k for k in notes if k.startswith("herald.dev/") and k[11:] not in done]
        if "herald.dev/last-handled-configuration" not in notes or pending:
            return False
    return True


def resyncs_seen(r: redis.Redis, subscriptions: int, rounds: int) -> bool:
    """Every Subscription resync runs its entry's compare-and-write script (one EVALSHA;
    the health timers, which also read Redis, are held off in these tests): at least
    `rounds` resyncs of each have run since the last reset."""
    return redis_stats.calls(r).get("evalsha", 0) >= subscriptions * rounds


def test_nothing_changed_nothing_written_then_one_edit_reloads_one_table(
    run_operator, kube: KubeServer, own_redis: RedisServer, r: redis.Redis, receiver: Receiver,
    tmp_path: Path,
) -> None:  # fmt: skip
    paths = {n: receiver.new_path() for n in ("a", "b", "c", "a2")}
    with run_operator():
        kube.create(GROUP, "topics", topic("orders", delivery={"retries": 2}))
        kube.create(GROUP, "topics", topic("audit"))
        kube.create(GROUP, "subscriptions", subscription("a", receiver.url(paths["a"])))
        kube.create(GROUP, "subscriptions", subscription("b", receiver.url(paths["b"])))
        kube.create(GROUP, "subscriptions",
                    subscription("c", receiver.url(paths["c"]), "audit"))  # fmt: skip
        wait_until(lambda: all_ready(kube, ["a", "b", "c"]), what="all Ready")
        wait_until(lambda: (kube.herald("topics", "shop", "orders") or {}).get("status", {})
                   .get("subscriptions") == 2, what="topic counts")  # fmt: skip
        # the API role only: a worker's own housekeeping (scheduler lease, claims) writes
        # to Redis every second by design, and is not what this test counts
        gateway = Gateway(own_redis.url, tmp_path / "gw.log", shards=4, routing_refresh=0.2,
                          roles="api")  # fmt: skip
        try:
            gateway.start()
            wait_until(lambda: len(endpoints(gateway)) == 2, what="gateway routes")
            # one full round of resyncs after everything settled, then count
            redis_stats.reset(r)
            wait_until(lambda: resyncs_seen(r, 3, 1), what="a round of resyncs")
            redis_stats.reset(r)
            first, reloads_before = len(kube.emulator.written), reloads(gateway)
            wait_until(lambda: resyncs_seen(r, 3, 4), timeout=20, what="four rounds of resyncs")
            assert redis_stats.writes(r) == {}
            assert kube.emulator.written[first:] == []  # (key, name, body) of any write
            assert reloads(gateway) - reloads_before == Counter()

            # one edit: its entry is written once, the gateway reloads that table only
            redis_stats.reset(r)
            kube.patch(GROUP, "subscriptions", "shop", "a",
                       {"spec": {"endpoint": {"url": receiver.url(paths["a2"])}}})  # fmt: skip

            wait_until(lambda: reloads(gateway) - reloads_before == Counter(table=1),
                       what="the gateway reloaded the table")  # fmt: skip
            wait_until(lambda: resyncs_seen(r, 3, 2), timeout=20, what="resyncs after the edit")
            written = redis_stats.writes(r)
            assert written == {"hset": 1, "incr": 1, "publish": 1}, written  # the entry only
            assert reloads(gateway) - reloads_before == Counter(table=1)  # and only that
            assert receiver.url(paths["a2"]) in endpoints(gateway)
        finally:
            gateway.close()


def test_topic_syncs_racing_creates_and_deletes_lose_and_resurrect_nothing(
    run_operator, kube: KubeServer, rclient: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no timer heals anything here: a lost or resurrected entry would stay
    monkeypatch.setenv("HERALD_OPERATOR_RESYNC_INTERVAL", "3600")
    with run_operator():
        kube.create(GROUP, "topics", topic("orders"))
        wait_until(lambda: rclient.exists(ROUTES.table("shop/orders")), what="table")
        live: set[str] = set()
        for i in range(40):
            kube.create(GROUP, "subscriptions", subscription(f"n{i}", f"http://n{i}/h"))
            live.add(f"n{i}")
            # each Topic change re-syncs the whole table from the index of Subscriptions
            kube.patch(GROUP, "topics", "shop", "orders", {"spec": {"delivery": {"retries": i}}})
            if i >= 4 and i % 2 == 0:
                kube.delete(GROUP, "subscriptions", "shop", f"n{i - 4}")
                live.discard(f"n{i - 4}")
        wait_until(lambda: all_ready(kube, sorted(live)), timeout=30, what="live ones Ready")
        wait_until(lambda: kube.condition("topics", "shop", "orders", "Ready")
                   .get("observedGeneration") == 41, timeout=30,
                   what="last topic sync")  # fmt: skip
        try:
            wait_until(lambda: entries(rclient) == live, timeout=10, what="table == live")
        except AssertionError:
            got = entries(rclient)
            raise AssertionError(f"lost {live - got}, resurrected {got - live}") from None
        assert b'"retries":39' in rclient.hget(ROUTES.table("shop/orders"), "topic")  # type: ignore[operator]


class Refuser:
    """Listens where Redis was and closes every connection at once, counting them: how
    often the operator tried while Redis was unavailable."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.attempts = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.attempts += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


def test_redis_outage_backs_off_warns_once_keeps_conditions_never_holds_deletes(
    run_operator, kube: KubeServer, own_redis: RedisServer, r: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("HERALD_OPERATOR_RETRY_MAX", "0.5")
    names = ["a", "b", "gone"]
    with run_operator():
        kube.create(GROUP, "topics", topic("orders"))
        kube.create(GROUP, "topics", topic("old"))
        for name in names:
            kube.create(GROUP, "subscriptions", subscription(name, f"http://{name}/h"))
        wait_until(lambda: all_ready(kube, names), what="all Ready")
        wait_until(lambda: handled(kube, "subscriptions", names)
                   and handled(kube, "topics", ["orders", "old"]), what="handled")  # fmt: skip
        before, events_before = Counter(kube.emulator.writes), len(kube.events())
        first = len(kube.emulator.written)
        own_redis.stop()
        refuser = Refuser(own_redis.port)
        try:
            for name in ("a", "b"):
                kube.wait_condition("subscriptions", "shop", name, "Ready", "False", timeout=10)
            # deletions go through at once, Redis or not
            kube.delete(GROUP, "subscriptions", "shop", "gone")
            kube.delete(GROUP, "topics", "shop", "old")
            wait_until(lambda: kube.herald("subscriptions", "shop", "gone") is None
                       and kube.herald("topics", "shop", "old") is None, timeout=30,
                       what="deleted while Redis is down")  # fmt: skip
            # many retries later (a backoff that kept doubling would have stopped trying) ...
            wait_until(lambda: refuser.attempts >= 40, timeout=30, what="retries")
            api = Counter(kube.emulator.writes) - before
            written = kube.emulator.written[first:]
            events = kube.events()[events_before:]
        finally:
            refuser.close()
        for name in ("a", "b"):
            ready = kube.condition("subscriptions", "shop", name, "Ready")
            assert ready["reason"] == "RedisUnavailable"
            assert kube.condition("subscriptions", "shop", name, "TopicFound")["status"] == "True"
        assert kube.condition("topics", "shop", "orders", "Ready")["reason"] == "RedisUnavailable"
        # ... one Warning Event, and one status write per live object (its transition), not
        # one per retry
        warnings = [(e["type"], e["reason"]) for e in events if e["type"] != "Normal"]
        assert warnings == [("Warning", "RedisUnavailable")], events
        # one status write per live object for the outage (its transition), not one per
        # retry; a few others at most (orders' count once gone left; the deleted ones)
        outage = Counter(name for key, name, body in written
                         if "/status" in key and "RedisUnavailable" in str(body))  # fmt: skip
        assert {"a", "b", "orders"} <= set(outage) and max(outage.values()) == 1, written
        assert api["update subscriptions/status"] + api["update topics/status"] <= 10, written
        # no changing handler retried (kopf would PATCH its progress each time): one PATCH,
        # the release of gone's finalizer
        assert api["update subscriptions"] <= 1, api

        own_redis.start()  # with its data: what the deletes left is removed in the background
        wait_until(lambda: all_ready(kube, ["a", "b"]), timeout=10, what="Ready again")
        wait_until(lambda: entries(r) == {"a", "b"}, timeout=10, what="entry of gone removed")
        wait_until(lambda: not r.exists(ROUTES.table("shop/old")), timeout=10, what="table gone")
