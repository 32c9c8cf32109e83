"""Topic/Subscription lifecycle through the real operator: tables in Redis follow the
objects, status reports them, and the operator heals Redis."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import redis

from herald_core.keys import Keys
from tests.support.gateway import wait_until
from tests.support.kube import GROUP, KubeServer

pytestmark = pytest.mark.integration
ROUTES = Keys("herald", 4).routing

TOPIC = {"apiVersion": GROUP, "kind": "Topic",
         "metadata": {"name": "orders", "namespace": "shop"},
         "spec": {"delivery": {"retries": 5, "timeout": "30s"}}}  # fmt: skip


def subscription(name: str, url: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": GROUP, "kind": "Subscription",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"topic": "orders", "endpoint": {"url": url}, **spec}}  # fmt: skip


def table(r: redis.Redis, topic: str = "shop/orders") -> dict[str, bytes]:
    raw: dict[bytes, bytes] = r.hgetall(ROUTES.table(topic))  # type: ignore[assignment]
    return {k.decode(): v for k, v in raw.items()}


def entries(r: redis.Redis) -> set[str]:
    return {k for k in table(r) if k.startswith("s:")}


def test_create_update_delete_follow_the_objects(run_operator, kube: KubeServer, rclient) -> None:
    with run_operator():
        kube.create(GROUP, "topics", copy.deepcopy(TOPIC))
        kube.create(GROUP, "subscriptions", subscription("billing", "http://billing/h"))
        ready = kube.wait_condition("subscriptions", "shop", "billing", "Ready", "True")
        assert ready["reason"] == "Routed"
        assert ready["observedGeneration"] == 1
        topic = kube.herald("topics", "shop", "orders")
        assert topic is not None
        wait_until(lambda: (kube.herald("topics", "shop", "orders") or {}).get("status", {})
                   .get("conditions"), what="topic status")  # fmt: skip
        topic = kube.herald("topics", "shop", "orders") or {}
        assert topic["status"]["observedGeneration"] == 1
        assert topic["status"]["address"] == "http://herald.test/v2/publish/shop/orders"
        assert topic["metadata"]["finalizers"] == ["herald.dev/finalizer"]
        wait_until(lambda: entries(rclient) == {"s:billing"}, what="billing entry")
        assert b'"retries":5' in table(rclient)["topic"]

        # update: the entry follows, observedGeneration too
        kube.patch(GROUP, "subscriptions", "shop", "billing",
                   {"spec": {"delivery": {"retries": 1}, "headers": {"X-Team": "b"}}})  # fmt: skip
        wait_until(lambda: b'"retries":1' in table(rclient).get("s:billing", b""),
                   what="updated entry")  # fmt: skip
        wait_until(lambda: kube.condition("subscriptions", "shop", "billing", "Ready")
                   .get("observedGeneration") == 2, what="generation 2")  # fmt: skip
        kube.patch(GROUP, "topics", "shop", "orders", {"spec": {"delivery": {"retries": 7}}})
        wait_until(lambda: b'"retries":7' in table(rclient).get("topic", b""), what="topic update")

        # delete: the finalizer removes exactly the subscription's entry, then the table
        kube.create(GROUP, "subscriptions", subscription("shipping", "http://shipping/h"))
        wait_until(lambda: entries(rclient) == {"s:billing", "s:shipping"}, what="two entries")
        kube.delete(GROUP, "subscriptions", "shop", "billing")
        wait_until(lambda: entries(rclient) == {"s:shipping"}, what="billing removed")
        wait_until(lambda: kube.herald("subscriptions", "shop", "billing") is None,
                   what="billing gone")  # fmt: skip
        kube.delete(GROUP, "topics", "shop", "orders")
        wait_until(lambda: not rclient.exists(ROUTES.table("shop/orders")), what="table dropped")
        wait_until(lambda: kube.herald("topics", "shop", "orders") is None, what="topic gone")
        assert rclient.smembers(ROUTES.topics) == set()


def test_subscription_before_its_topic_heals(run_operator, kube: KubeServer, rclient) -> None:
    with run_operator():
        kube.create(GROUP, "subscriptions", subscription("early", "http://early/h"))
        missing = kube.wait_condition("subscriptions", "shop", "early", "TopicFound", "False")
        assert missing["reason"] == "TopicNotFound"
        assert kube.condition("subscriptions", "shop", "early", "Ready")["status"] == "False"
        assert not rclient.exists(ROUTES.table("shop/orders"))
        kube.create(GROUP, "topics", copy.deepcopy(TOPIC))
        kube.wait_condition("subscriptions", "shop", "early", "Ready", "True")
        assert entries(rclient) == {"s:early"}


def test_restart_and_flushall_are_healed(run_operator, kube: KubeServer, rclient) -> None:
    with run_operator():
        kube.create(GROUP, "topics", copy.deepcopy(TOPIC))
        kube.create(GROUP, "subscriptions", subscription("billing", "http://billing/h"))
        wait_until(lambda: entries(rclient) == {"s:billing"}, what="entry")
    rclient.flushdb()
    with run_operator():  # resume re-asserts what the objects say
        wait_until(lambda: entries(rclient) == {"s:billing"}, what="entry after restart")
        rclient.flushdb()  # and the timer heals a flushed Redis within an interval
        wait_until(lambda: entries(rclient) == {"s:billing"}, timeout=5, what="entry healed")
