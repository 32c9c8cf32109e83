"""Subscriber credentials from Secrets end to end: the real operator resolves a
Subscription's `secretRef` and `headersFrom`, a real gateway sends the headers to a real
receiver, a rotated Secret is picked up, a missing one stops the routing, and the values
appear nowhere else: not in the Subscription (status, annotations), Events, the operator's
or the gateway's log, nor the gateway's API answers."""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any

import pytest

from tests.support.gateway import wait_until
from tests.support.kube import GROUP, KubeServer
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration
TOKEN = "tok-3b9d0f1e7a2c4d58"
ROTATED = "tok-rotated-8e4f1a6c2b9d"
API_KEY = "key-5a7c9e1b3d"


@pytest.fixture
def recheck_env(operator_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_OPERATOR_REFERENCE_RECHECK", "0.3")
    monkeypatch.setenv("HERALD_OPERATOR_HEALTH_INTERVAL", "0.2")


def secret(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "shop"},
            "data": {k: base64.b64encode(v.encode()).decode()
                     for k, v in data.items()}}  # fmt: skip


def billing_on_orders(kube: KubeServer, spec: dict[str, Any]) -> None:
    """Topic shop/orders and its Subscription `billing` with `spec` (the topic added)."""
    kube.create(GROUP, "topics", {"apiVersion": GROUP, "kind": "Topic",
                                  "metadata": {"name": "orders", "namespace": "shop"},
                                  "spec": {}})  # fmt: skip
    kube.create(GROUP, "subscriptions", {
        "apiVersion": GROUP, "kind": "Subscription",
        "metadata": {"name": "billing", "namespace": "shop"},
        "spec": {"topic": "orders", **spec}})  # fmt: skip


def test_secret_headers_reach_the_receiver_and_nothing_else(
    recheck_env: None, run_operator, kube: KubeServer, make_gateway, receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    path = receiver.new_path()
    url = receiver.url(path)
    with run_operator() as runner:
        kube.create("v1", "secrets", secret("billing-token", token=TOKEN))
        kube.create("v1", "secrets", secret("vendor", **{"api.key": API_KEY}))
        billing_on_orders(kube, {"endpoint": {"url": url}, "headers": {"X-Team": "b"},
                                 "secretRef": {"name": "billing-token"},
                                 "headersFrom": [{"name": "X-Api-Key", "secretKeyRef": {
                                     "name": "vendor", "key": "api.key"}}]})  # fmt: skip
        kube.wait_condition("subscriptions", "shop", "billing", "Ready", "True")
        resolved = kube.condition("subscriptions", "shop", "billing", "SecretsResolved")
        assert resolved["status"] == "True"
        gateway = make_gateway(shards=4)
        wait_until(lambda: gateway.publish("shop/orders", b"first").status_code == 200,
                   what="routed")  # fmt: skip
        [got] = receiver.wait_for(path, 1)
        assert got.header("Authorization") == f"Bearer {TOKEN}"
        assert got.header("X-Api-Key") == API_KEY
        assert got.header("X-Team") == "b"

        # rotation: the next publish after the recheck carries the new token
        rotated_at = time.monotonic()
        kube.patch("v1", "secrets", "shop", "billing-token",
                   {"data": {"token": base64.b64encode(ROTATED.encode()).decode()}})  # fmt: skip

        def rotated() -> bool:
            before = len(receiver.received(path))
            gateway.publish("shop/orders", b"after rotation")
            latest = receiver.wait_for(path, before + 1)[-1]
            return latest.header("Authorization") == f"Bearer {ROTATED}"

        wait_until(rotated, timeout=10, interval=0.05, what="rotated token delivered")
        rotation = time.monotonic() - rotated_at

        answers = [gateway.client.get("/v2/topics").text,
                   gateway.client.get("/v2/topics/shop/orders").text,
                   gateway.client.get("/v2/logs").text,
                   gateway.client.get("/v2/events").text]  # fmt: skip
        assert "REDACTED:" in answers[2]  # the logs show the header, redacted

        # a missing Secret: not routed, and said so
        kube.delete("v1", "secrets", "shop", "vendor")
        missing = kube.wait_condition("subscriptions", "shop", "billing", "SecretsResolved",
                                      "False")  # fmt: skip
        assert missing["reason"] == "SecretNotFound"
        assert kube.condition("subscriptions", "shop", "billing", "Ready")["reason"] == (
            "SecretNotFound")  # fmt: skip
        wait_until(lambda: gateway.publish("shop/orders", b"x").json() == [], what="unrouted")
        obj = kube.herald("subscriptions", "shop", "billing")
        events = kube.events("shop")
    # (printed outside the block: KopfRunner captures stdout while the operator runs)
    print(f"\nrotated token delivered {rotation:.2f}s after the Secret changed (recheck 0.3s)")
    operator_log = caplog.text + runner.stdout
    gateway.stop()
    gateway_log = gateway.log_path.read_text()
    assert "SecretsResolved" in json.dumps(events) and "billing" in operator_log
    for value in (TOKEN, ROTATED, API_KEY, base64.b64encode(TOKEN.encode()).decode()):
        for where, text in (("subscription", json.dumps(obj)), ("events", json.dumps(events)),
                            ("operator log", operator_log), ("gateway log", gateway_log),
                            *(("gateway API", a) for a in answers)):  # fmt: skip
            assert value not in text, f"{where} shows a credential"


def test_secret_headers_off_read_no_secret_and_say_so(
    operator_env: str, run_operator, kube: KubeServer, receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """HERALD_SUBSCRIPTION_SECRETS off (the chart then grants no `get` on Secrets): a
    Subscription naming a Secret is not routed, says why, and no Secret is read."""
    monkeypatch.setenv("HERALD_SUBSCRIPTION_SECRETS", "false")
    with run_operator():
        kube.create("v1", "secrets", secret("billing-token", token=TOKEN))
        billing_on_orders(kube, {"endpoint": {"url": receiver.url("/off")},
                                 "secretRef": {"name": "billing-token"}})  # fmt: skip
        kube.wait_condition("subscriptions", "shop", "billing", "SecretsResolved", "False")
        found = kube.get(GROUP, "subscriptions", "shop", "billing")
        assert found is not None
        status = found["status"]
        [cond] = [c for c in status["conditions"] if c["type"] == "SecretsResolved"]
        assert cond["reason"] == "SecretsDisabled"
    assert not [p for p in kube.emulator.requested_paths if "/secrets/billing-token" in p]
