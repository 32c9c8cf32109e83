"""Delivery health end to end: the real operator (kopf against the emulated API server),
a real `herald gateway` and real receivers. A failing endpoint turns its Subscription and
its Topic Degraded within a bounded time, and back when it recovers; Events say so, from
herald-operator. A `service` endpoint without its Service is not resolved."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.gateway import wait_until
from tests.support.kube import GROUP, KubeServer
from tests.support.receiver import Answer, Receiver

pytestmark = pytest.mark.integration
HEALTH_INTERVAL = 0.2


@pytest.fixture
def health_env(operator_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"HEALTH_INTERVAL": HEALTH_INTERVAL, "DEGRADED_MIN_ATTEMPTS": 2,
                        "DEGRADED_WINDOW": 2, "DEGRADED_FAILURE_RATIO": 0.5,
                        "REFERENCE_RECHECK": 0.3}.items():  # fmt: skip
        monkeypatch.setenv(f"HERALD_OPERATOR_{name}", str(value))


def topic(name: str = "orders") -> dict[str, Any]:
    return {"apiVersion": GROUP, "kind": "Topic", "metadata": {"name": name, "namespace": "shop"},
            "spec": {"delivery": {"retries": 30, "retryDelay": "100"}}}  # fmt: skip


def subscription(name: str, endpoint: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": GROUP, "kind": "Subscription",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"topic": "orders", "endpoint": endpoint}}  # fmt: skip


def status(kube: KubeServer, plural: str, name: str) -> dict[str, Any]:
    return dict((kube.herald(plural, "shop", name) or {}).get("status", {}))


def test_failing_endpoint_turns_subscription_and_topic_degraded_and_back(
    health_env: None, run_operator, kube: KubeServer, make_gateway, receiver: Receiver
) -> None:
    failing = receiver.new_path(*[Answer(status=503, body=b"down")] * 12)
    healthy = receiver.new_path()
    with run_operator():
        kube.create(GROUP, "topics", topic())
        kube.create(GROUP, "subscriptions", subscription("flaky", {"url": receiver.url(failing)}))
        kube.create(GROUP, "subscriptions", subscription("fine", {"url": receiver.url(healthy)}))
        for name in ("flaky", "fine"):
            kube.wait_condition("subscriptions", "shop", name, "Ready", "True")
        gateway = make_gateway(shards=4)
        wait_until(lambda: len(gateway.publish("shop/orders", b"warm-up").json()) == 2,
                   what="gateway routes both")  # fmt: skip
        receiver.wait_for(healthy, 1)
        for i in range(3):
            assert gateway.publish("shop/orders", b"order %d" % i).status_code == 200
        first_failure = receiver.wait_for(failing, 1)[0].at

        degraded = kube.wait_condition("subscriptions", "shop", "flaky", "Degraded", "True")
        sub_degraded = time.time() - first_failure
        assert degraded["reason"] == "FailureRatioHigh"
        assert "HTTP 503" in degraded["message"]
        kube.wait_condition("topics", "shop", "orders", "Degraded", "True")
        topic_degraded = time.time() - first_failure
        assert "flaky: FailureRatioHigh" in kube.condition("topics", "shop", "orders",
                                                           "Degraded")["message"]  # fmt: skip
        assert status(kube, "subscriptions", "flaky")["health"] == "Degraded"
        assert status(kube, "topics", "orders")["degradedSubscriptions"] == 1
        assert kube.condition("subscriptions", "shop", "fine", "Degraded")["status"] == "False"

        # the receiver recovers once its scripted failures are spent
        recovered_at = receiver.wait_for(failing, 13, timeout=20)[12].at
        kube.wait_condition("subscriptions", "shop", "flaky", "Degraded", "False", timeout=10)
        sub_cleared = time.time() - recovered_at
        kube.wait_condition("topics", "shop", "orders", "Degraded", "False", timeout=10)
        topic_cleared = time.time() - recovered_at
        wait_until(lambda: status(kube, "subscriptions", "flaky").get("delivered", 0) >= 4,
                   what="counters refreshed")  # fmt: skip
        flaky = status(kube, "subscriptions", "flaky")
        assert (flaky["health"], flaky["backlog"], flaky["failed"]) == ("Healthy", 0, 0)

        events = kube.events("shop")
        degraded_events = [e for e in events if e.get("reason") == "FailureRatioHigh"]
        assert degraded_events and all(e["type"] == "Warning" for e in degraded_events)
        assert {e["reportingComponent"] for e in events} == {"herald-operator"}
        assert {e["source"]["component"] for e in events} == {"herald-operator"}
    print(
        f"\nDegraded after the first failure: subscription {sub_degraded:.2f}s, topic "
        f"{topic_degraded:.2f}s; cleared after recovery: subscription {sub_cleared:.2f}s, "
        f"topic {topic_cleared:.2f}s (health interval {HEALTH_INTERVAL}s)"
    )
    assert max(sub_degraded, topic_degraded, sub_cleared, topic_cleared) < 5


def test_service_endpoint_is_resolved_only_when_its_service_and_port_exist(
    health_env: None, run_operator, kube: KubeServer
) -> None:
    endpoint = {"service": {"name": "billing", "port": 8080, "path": "/hooks"}}
    with run_operator():
        kube.create(GROUP, "topics", topic())
        kube.create(GROUP, "subscriptions", subscription("svc", endpoint))
        missing = kube.wait_condition("subscriptions", "shop", "svc", "EndpointResolved", "False")
        assert missing["reason"] == "ServiceNotFound"
        ready = kube.condition("subscriptions", "shop", "svc", "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "ServiceNotFound")
        kube.create("v1", "services", {"apiVersion": "v1", "kind": "Service",
                                       "metadata": {"name": "billing", "namespace": "shop"},
                                       "spec": {"ports": [{"port": 9090}]}})  # fmt: skip
        wait_until(lambda: kube.condition("subscriptions", "shop", "svc", "EndpointResolved")
                   .get("reason") == "PortNotFound", what="PortNotFound")  # fmt: skip
        kube.patch("v1", "services", "shop", "billing",
                   {"spec": {"ports": [{"port": 9090}, {"port": 8080}]}})  # fmt: skip
        kube.wait_condition("subscriptions", "shop", "svc", "EndpointResolved", "True")
        kube.wait_condition("subscriptions", "shop", "svc", "Ready", "True")
        obj = kube.herald("subscriptions", "shop", "svc") or {}
        assert obj["status"]["endpoint"] == "http://billing.shop.svc:8080/hooks"
