"""What each kind of token may do, through a real gateway: a read-only token
(`HERALD_READONLY_TOKEN`) reads everything an admin token reads and is refused every write
with nothing changed; a namespace token reads the log rows and messages of its own
namespace's topics only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateway import Gateway, wait_until
from tests.support.receiver import Receiver
from tests.support.tokens import add_namespace_token

pytestmark = pytest.mark.integration

LOOK = "look-token-0123456789"
SHOP = "shop-token-0123456789"


@pytest.fixture
def client_for(gateway_clients: list[httpx.Client]) -> Callable[[Gateway, str], httpx.Client]:
    def make(gateway: Gateway, token: str) -> httpx.Client:
        client = httpx.Client(base_url=gateway.url, timeout=10,
                              headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        gateway_clients.append(client)
        return client

    return make


@pytest.fixture
def gateway_clients() -> Iterator[list[httpx.Client]]:
    clients: list[httpx.Client] = []
    yield clients
    for client in clients:
        client.close()


def _everything(client: httpx.Client, message_id: str) -> dict[str, Any]:
    """What the admin API shows of Herald's state (log rows, messages, queues, schedules,
    topics, keys, dead letters, flow-control keys)."""
    paths = ["/v2/logs", f"/v2/messages/{message_id}", "/v2/queues", "/v2/schedules",
             "/v2/topics", "/v2/dlq", "/v2/flowControl"]  # fmt: skip
    return {path: client.get(path).json() for path in paths}


def test_a_readonly_token_reads_and_is_refused_every_write(
    make_gateway: Callable[..., Gateway],
    receiver: Receiver,
    client_for: Callable[[Gateway, str], httpx.Client],
) -> None:
    gateway = make_gateway(readonly_token=f"other-look-token-0123,{LOOK}")
    path = receiver.new_path()
    url = receiver.url(path)
    gateway.client.post("/v2/topics/shop/grp/endpoints", json={"endpoints": [{"url": url}]})
    gateway.client.post("/v2/queues", json={"queueName": "emails", "parallelism": 1})
    cron = {"Upstash-Cron": "0 0 1 1 *"}
    created = gateway.client.post("/v2/schedules/http://127.0.0.1:9/tick", headers=cron)
    schedule = created.json()["scheduleId"]
    waiting = gateway.publish(url, b"later", **{"Upstash-Delay": "1h"}).json()["messageId"]
    look = client_for(gateway, LOOK)

    # reads: the API, HEAD, the console's reads and its live tail
    assert look.get("/console/api/session").json() == {
        "admin": True, "namespace": "default", "readonly": True}  # fmt: skip
    assert gateway.client.get("/console/api/session").json()["readonly"] is False
    before = _everything(gateway.client, waiting)
    assert _everything(look, waiting) == before
    # but not the signing keys: whoever holds them can forge deliveries receivers trust
    refused = look.get("/v2/keys")
    assert refused.status_code == 403 and "signing keys" in refused.json()["error"]
    assert look.head("/v2/topics").status_code == 200
    assert [t["id"] for t in look.get("/console/api/topics").json()] == ["shop/grp"]
    assert look.get("/console/api/overview").json()["backlog"]["waiting"] >= 1
    with look.stream("GET", "/console/api/tail") as tail:
        lines = tail.iter_lines()
        assert next(lines) == "event: ready"
        [published] = gateway.publish("shop/grp", b"x").json()
        assert any(published["messageId"] in line for line in lines if line.startswith("data: "))
    receiver.wait_for(path, 1)
    before = _everything(gateway.client, waiting)

    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"/v2/publish/{url}", {"content": b"x"}),
        ("POST", "/v2/publish/shop/grp", {"content": b"x"}),
        ("POST", f"/v2/enqueue/emails/{url}", {"content": b"x"}),
        ("POST", "/v2/batch", {"json": [{"destination": url, "body": "x"}]}),
        ("DELETE", f"/v2/messages/{waiting}", {}),
        ("DELETE", "/v2/messages", {}),
        ("POST", "/v2/dlq/retry", {"json": {"dlqIds": ["x"]}}),
        ("POST", "/v2/dlq/retry/x", {}),
        ("DELETE", "/v2/dlq", {"json": {"dlqIds": ["x"]}}),
        ("DELETE", "/v2/dlq/x", {}),
        ("POST", "/v2/queues", {"json": {"queueName": "emails", "parallelism": 5}}),
        ("POST", "/v2/queues/emails/pause", {}),
        ("DELETE", "/v2/queues/emails", {}),
        ("POST", f"/v2/schedules/{url}", {"headers": {"Upstash-Cron": "* * * * *"}}),
        ("POST", f"/v2/schedules/{schedule}/pause", {}),
        ("DELETE", f"/v2/schedules/{schedule}", {}),
        ("POST", "/v2/topics/shop/grp/endpoints", {"json": {"endpoints": [{"url": url}]}}),
        ("DELETE", "/v2/topics/shop/grp/endpoints", {"json": {"endpoints": [{"url": url}]}}),
        ("PATCH", "/v2/topics/shop/grp", {"json": {"headers": {}}}),
        ("DELETE", "/v2/topics/shop/grp", {}),
        ("POST", "/v2/keys/rotate", {}),
        ("POST", "/v2/flowControl/k/pause", {}),
        ("DELETE", "/v2/workflows/runs/wfr_x", {}),
    ]
    for method, route, kwargs in writes:
        response = look.request(method, route, **kwargs)
        assert (response.status_code, response.json()) == (403, {"error": "read-only token"}), (
            method, route)  # fmt: skip
    assert _everything(gateway.client, waiting) == before  # nothing changed
    assert len(receiver.received(path)) == 1  # nothing published
    wrong = client_for(gateway, LOOK + "x").get("/v2/topics")
    assert wrong.status_code == 401


def test_a_namespace_token_reads_only_its_namespaces_logs_and_messages(
    gateway: Gateway, receiver: Receiver, client_for: Callable[[Gateway, str], httpx.Client]
) -> None:
    for namespace in ("shop", "other"):
        url = receiver.url(receiver.new_path())
        gateway.client.post(f"/v2/topics/{namespace}/grp/endpoints",
                            json={"endpoints": [{"url": url}]})  # fmt: skip
    add_namespace_token(gateway.redis_url, "shop", SHOP)
    later = {"Upstash-Delay": "1h"}
    [mine] = gateway.publish("shop/grp", b"mine", **later).json()
    [theirs] = gateway.publish("other/grp", b"theirs", **later).json()
    direct = gateway.publish(receiver.url(receiver.new_path()), b"url", **later).json()
    ids = {mine["messageId"], theirs["messageId"], direct["messageId"]}
    wait_until(lambda: {r["messageId"] for r in gateway.client.get("/v2/logs").json()["logs"]}
               >= ids, what="every message logged")  # fmt: skip
    shop = client_for(gateway, SHOP)

    for path, key in (("/v2/logs", "logs"), ("/v2/events", "events")):
        rows = shop.get(path).json()[key]
        assert rows and {r["messageId"] for r in rows} == {mine["messageId"]}, path
    assert shop.get("/v2/logs", params={"messageId": theirs["messageId"]}).json()["logs"] == []
    assert shop.get("/v2/logs", params={"topicName": "grp"}).json()["logs"] == shop.get(
        "/v2/logs").json()["logs"]  # fmt: skip

    found = shop.get(f"/v2/messages/{mine['messageId']}")
    assert found.status_code == 200 and found.json()["body"] == "mine"
    for other in (theirs, direct):
        response = shop.get(f"/v2/messages/{other['messageId']}")
        assert response.status_code == 404
        assert gateway.client.get(f"/v2/messages/{other['messageId']}").status_code == 200
    # looking is not acting: cancelling still takes an admin token
    assert shop.delete(f"/v2/messages/{mine['messageId']}").status_code == 401
    assert gateway.client.get(f"/v2/messages/{mine['messageId']}").status_code == 200
