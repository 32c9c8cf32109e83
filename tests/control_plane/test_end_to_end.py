"""kubectl apply -f examples/ (against the emulated API server) → the real operator → a
publish to the topic through a real `herald gateway` → both real receivers get it, signed.
Also: deleting a Subscription stops its deliveries; namespace tokens stay in their
namespace; Redis down during a delete neither hangs it nor leaves the entry."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from qstash import Receiver as SignatureReceiver

from herald_core.keys import Keys
from herald_gateway.dev.embedded import RedisServer
from tests.support import k8s_tools
from tests.support.gateway import CURRENT_KEY, NEXT_KEY, wait_until
from tests.support.kube import GROUP, KubeServer
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
ROUTES = Keys("herald", 4).routing
TOPIC = {"apiVersion": GROUP, "kind": "Topic", "metadata": {"name": "orders", "namespace": "shop"}}


def examples_pointing_at(receiver: Receiver, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of examples/ whose subscriptions deliver to fresh paths of `receiver`."""
    out = tmp_path / "examples"
    out.mkdir()
    paths: dict[str, str] = {}
    for source in sorted((REPO / "examples").glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(source.read_text()) if d]
        for doc in docs:
            if doc["kind"] == "Subscription":
                paths[doc["metadata"]["name"]] = receiver.new_path()
                doc["spec"]["endpoint"] = {"url": receiver.url(paths[doc["metadata"]["name"]])}
        (out / source.name).write_text(yaml.safe_dump_all(docs))
    return out, paths


def kubectl(kube_config: str, *args: str) -> str:
    result = subprocess.run([k8s_tools.binary("kubectl"), "--kubeconfig", kube_config, *args],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def table_entries(r: redis.Redis) -> set[bytes]:
    keys: list[bytes] = r.hkeys(ROUTES.table("shop/orders"))  # type: ignore[assignment]
    return {k for k in keys if k.startswith(b"s:")}


def test_kubectl_apply_examples_then_publish_fans_out(
    run_operator, kube: KubeServer, make_gateway, receiver: Receiver, rclient, tmp_path: Path
) -> None:
    folder, paths = examples_pointing_at(receiver, tmp_path)
    config = str(tmp_path / "kubeconfig")
    with run_operator():
        out = kubectl(config, "apply", "--validate=false", "-f", str(folder))
        assert "topic.herald.dev/orders created" in out
        for name in paths:
            kube.wait_condition("subscriptions", "shop", name, "Ready", "True")
        gateway = make_gateway(shards=4)
        response = gateway.publish("shop/orders", b'{"order": 42}',
                                   **{"Content-Type": "application/json"})  # fmt: skip
        assert response.status_code == 200, response.text
        answer = response.json()
        assert isinstance(answer, list) and len(answer) == 2
        assert {a["url"] for a in answer} == {receiver.url(p) for p in paths.values()}
        assert len({a["messageId"] for a in answer}) == 2
        for name, path in paths.items():
            [delivery] = receiver.wait_for(path, 1)
            assert delivery.body == b'{"order": 42}'
            assert delivery.header("Upstash-Topic-Name") == "orders"
            assert delivery.header("X-Team") == name
            SignatureReceiver(CURRENT_KEY, NEXT_KEY).verify(
                signature=delivery.header("Upstash-Signature") or "", body=delivery.body.decode(),
                url=receiver.url(path))  # fmt: skip
        billing = next(a for a in answer if a["url"] == receiver.url(paths["billing"]))
        assert receiver.received(paths["billing"])[0].header("Upstash-Message-Id") == (
            billing["messageId"])  # fmt: skip

        # delete one subscription: it receives nothing more
        kubectl(config, "delete", "subscription", "billing", "-n", "shop", "--wait=false")
        wait_until(lambda: table_entries(rclient) == {b"s:shipping"}, what="billing removed")
        fanned = []  # publishes made before the gateway's cache followed the delete

        def routed_once() -> bool:
            fanned.append(len(gateway.publish("shop/orders", b"probe").json()))
            return fanned[-1] == 1

        wait_until(routed_once, what="gateway saw the delete")
        billing_before = receiver.wait_for(paths["billing"], 1 + fanned.count(2))
        gateway.publish("shop/orders", b"final")
        final = receiver.wait_for(paths["shipping"], 1 + len(fanned) + 1)
        assert final[-1].body == b"final" or any(d.body == b"final" for d in final)
        assert len(receiver.received(paths["billing"])) == len(billing_before)


def test_unknown_and_empty_topics(run_operator, kube: KubeServer, make_gateway) -> None:
    with run_operator():
        gateway = make_gateway(shards=4)
        response = gateway.publish("shop/nope", b"x")
        assert response.status_code == 404
        assert response.json() == {"error": 'topic "shop/nope" not found'}
        kube.create(GROUP, "topics", {"apiVersion": GROUP, "kind": "Topic",
                                      "metadata": {"name": "empty", "namespace": "shop"},
                                      "spec": {}})  # fmt: skip
        wait_until(lambda: gateway.publish("shop/empty", b"x").status_code == 200, what="topic")
        assert gateway.publish("shop/empty", b"x").json() == []


def _token_secret(namespace: str, token: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "herald-token", "namespace": namespace,
                         "labels": {"herald.dev/token": "publisher"}},
            "data": {"token": base64.b64encode(token.encode()).decode()}}  # fmt: skip


def test_namespace_tokens_publish_only_in_their_namespace(
    run_operator, kube: KubeServer, make_gateway, receiver: Receiver, rclient
) -> None:
    path = receiver.new_path()
    with run_operator():
        kube.create(GROUP, "topics", TOPIC)
        kube.create(GROUP, "subscriptions", {
            "apiVersion": GROUP, "kind": "Subscription",
            "metadata": {"name": "a", "namespace": "shop"},
            "spec": {"topic": "orders", "endpoint": {"url": receiver.url(path)}}})  # fmt: skip
        kube.create("v1", "secrets", _token_secret("shop", "shop-token-123"))
        kube.create("v1", "secrets", _token_secret("other", "other-token-456"))
        wait_until(lambda: rclient.hlen(ROUTES.tokens) == 2, what="tokens synced")
        assert b"shop-token-123" not in b"".join(rclient.hvals(ROUTES.tokens))
        kube.wait_condition("subscriptions", "shop", "a", "Ready", "True")
        gateway = make_gateway(shards=4)

        def post(destination: str, token: str) -> Any:
            return gateway.client.post(f"/v2/publish/{destination}", content=b"x",
                                       headers={"Authorization": f"Bearer {token}"})  # fmt: skip

        assert post("orders", "shop-token-123").status_code == 200  # its own namespace
        assert post("shop/orders", "shop-token-123").status_code == 200
        refused = post("shop/orders", "other-token-456")
        assert refused.status_code == 403, refused.text
        assert "namespace" in refused.json()["error"]
        assert post("orders", "other-token-456").status_code == 404  # other/orders
        assert post(receiver.url(path), "shop-token-123").status_code == 401  # URLs: admin only
        assert post("orders", "wrong-token").status_code == 401
        receiver.wait_for(path, 2)


def test_redis_down_during_delete_neither_hangs_nor_leaves_the_entry(
    run_operator, kube: KubeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = RedisServer(tmp_path / "redis", appendfsync="always")  # comes back with its data
    server.start()
    monkeypatch.setenv("HERALD_REDIS_URL", server.url)
    monkeypatch.setenv("HERALD_OPERATOR_RETRY_MAX", "0.5")
    client = redis.Redis.from_url(server.url)
    try:
        with run_operator():
            kube.create(GROUP, "topics", TOPIC)
            kube.create(GROUP, "subscriptions", {
                "apiVersion": GROUP, "kind": "Subscription",
                "metadata": {"name": "a", "namespace": "shop"},
                "spec": {"topic": "orders", "endpoint": {"url": "http://a/h"}}})  # fmt: skip
            kube.wait_condition("subscriptions", "shop", "a", "Ready", "True")
            assert client.hexists(ROUTES.table("shop/orders"), "s:a")
            server.stop()
            kube.delete(GROUP, "subscriptions", "shop", "a")
            # the deletion completes while Redis is away (no finalizer waits on Redis) ...
            wait_until(lambda: kube.herald("subscriptions", "shop", "a") is None, timeout=20,
                       what="deleted while Redis is down")  # fmt: skip
            server.start()
            # ... and the entry, which Redis kept, is removed once it is back
            wait_until(lambda: not client.hexists(ROUTES.table("shop/orders"), "s:a"),
                       timeout=20, what="entry removed")  # fmt: skip
    finally:
        client.close()
        server.stop()
