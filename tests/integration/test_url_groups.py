"""QStash URL groups (`/v2/topics`) through the official SDK and raw HTTP against a real
gateway, Redis and receivers: every SDK url_group method, publishes fanning out to the
endpoints, default headers, validation, CRD-managed Topics answering 409, and namespace
tokens seeing only their namespace."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import redis
from qstash import QStash
from qstash.errors import QStashError
from qstash.log import Log, LogState
from redis.asyncio import Redis

from herald_core.keys import Keys
from herald_core.routing_store import RoutingStore
from herald_core.routing_sync import delete_topic, sync_subscription, sync_topic
from tests.integration.test_publish import verify
from tests.support.gateway import TOKEN, Gateway
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]
SHARDS = 4
T = TypeVar("T")


def on_routing_store(redis_url: str, call: Callable[[RoutingStore], Awaitable[T]]) -> T:
    """Run `call` with a RoutingStore on the test's Redis, as the operator would."""

    async def run() -> T:
        client = Redis.from_url(redis_url)
        try:
            return await call(RoutingStore(client, Keys("herald", SHARDS)))
        finally:
            await client.aclose()

    return asyncio.run(run())


@pytest.fixture
def herald(make_gateway: Callable[..., Gateway]) -> Gateway:
    return make_gateway(shards=SHARDS)


@pytest.fixture
def client(herald: Gateway) -> Iterator[QStash]:
    sdk = QStash(TOKEN, base_url=herald.url, retry=False)
    yield sdk
    sdk.http._client.close()


def created_log(client: QStash, message_id: str) -> Log:
    """The CREATED log row of a message (the message itself is gone once delivered)."""
    [row] = client.log.list(filter={"message_id": message_id, "state": LogState.CREATED}).logs
    return row


def status_of(error: QStashError) -> int:
    return int(str(error).split("status: ")[1].split(",")[0])


def test_every_sdk_url_group_method(client: QStash, receiver: Receiver) -> None:
    billing, shipping = receiver.url(receiver.new_path()), receiver.url(receiver.new_path())
    client.url_group.delete("orders")  # absent: still 200, as the SDKs' own tests expect
    client.url_group.upsert_endpoints("orders", [{"url": billing, "name": "billing"},
                                                 {"url": shipping}])  # fmt: skip
    group = client.url_group.get("orders")
    assert group.name == "orders"
    assert group.created_at > 0 and group.updated_at == group.created_at
    assert sorted((e.url, e.name) for e in group.endpoints) == sorted(
        [(billing, "billing"), (shipping, None)])  # fmt: skip
    assert [g.name for g in client.url_group.list()] == ["orders"]

    # upsert again: no duplicate for a known URL; a named endpoint changes its URL
    moved = receiver.url(receiver.new_path())
    client.url_group.upsert_endpoints(
        "orders", [{"url": shipping}, {"url": moved, "name": "billing"}]
    )
    again = client.url_group.get("orders")
    assert again.created_at == group.created_at and again.updated_at > group.updated_at
    assert sorted(e.url for e in again.endpoints) == sorted([moved, shipping])

    client.url_group.remove_endpoints("orders", [{"name": "billing"}])
    assert [e.url for e in client.url_group.get("orders").endpoints] == [shipping]
    client.url_group.remove_endpoints("orders", [{"url": shipping}])  # the last: group gone
    with pytest.raises(QStashError) as missing:
        client.url_group.get("orders")
    assert status_of(missing.value) == 404
    assert client.url_group.list() == []

    client.url_group.upsert_endpoints("orders", [{"url": shipping}])
    client.url_group.delete("orders")
    assert client.url_group.list() == []
    with pytest.raises(QStashError) as gone:
        client.url_group.remove_endpoints("orders", [{"url": shipping}])
    assert status_of(gone.value) == 404


def test_publish_to_a_group_reaches_every_endpoint_signed(
    client: QStash, herald: Gateway, receiver: Receiver
) -> None:
    paths = [receiver.new_path() for _ in range(3)]
    urls = [receiver.url(p) for p in paths]
    client.url_group.upsert_endpoints("fan", [{"url": urls[0], "name": "first"},
                                              {"url": urls[1]}, {"url": urls[2]}])  # fmt: skip
    answers = client.message.publish_json(url_group="fan", body={"order": 42})
    assert isinstance(answers, list) and sorted(a.url for a in answers) == sorted(urls)
    assert len({a.message_id for a in answers}) == 3
    by_url = {a.url: a.message_id for a in answers}
    for path, url in zip(paths, urls, strict=True):
        [delivery] = receiver.wait_for(path, 1)
        assert delivery.body == b'{"order": 42}'
        assert delivery.header("Upstash-Topic-Name") == "fan"
        assert delivery.header("Upstash-Message-Id") == by_url[url]
        verify(delivery, url)
    named = created_log(client, by_url[urls[0]])
    assert named.url_group == "fan" and named.endpoint == "first"
    assert created_log(client, by_url[urls[1]]).endpoint is None

    # a namespaced name works the same way, and a raw publish answers the JSON array
    client.url_group.upsert_endpoints("shop/fan", [{"url": urls[0]}])
    response = herald.publish("shop/fan", b"x")
    assert response.status_code == 200 and [a["url"] for a in response.json()] == [urls[0]]
    receiver.wait_for(paths[0], 2)


def test_default_headers_apply_to_publishes_and_the_publisher_wins(
    client: QStash, herald: Gateway, receiver: Receiver
) -> None:
    path = receiver.new_path()
    client.url_group.upsert_endpoints("hooks", [{"url": receiver.url(path)}])
    patched = herald.client.patch("/v2/topics/hooks", json={"headers": {
        "Upstash-Method": "PUT", "Upstash-Forward-X-Team": ["billing"], "Upstash-Retries": "0",
        "Upstash-Header-Forward": ["true"]}})  # fmt: skip
    assert patched.status_code == 200, patched.text
    shown = herald.client.get("/v2/topics/hooks").json()
    assert shown["headers"]["Upstash-Method"] == "PUT" and shown["managedBy"] == "api"

    [first] = herald.publish("hooks", b"a", **{"X-Github-Event": "push"}).json()
    [delivery] = receiver.wait_for(path, 1)
    assert delivery.method == "PUT" and delivery.header("X-Team") == "billing"
    assert delivery.header("X-Github-Event") == "push"  # Upstash-Header-Forward: true
    assert created_log(client, first["messageId"]).max_retries == 0

    [second] = herald.publish(
        "hooks",
        b"b",
        **{"Upstash-Method": "POST", "Upstash-Retries": "2", "Upstash-Forward-X-Team": "override"},
    ).json()
    delivery = receiver.wait_for(path, 2)[1]
    assert delivery.method == "POST" and delivery.header("X-Team") == "override"
    assert created_log(client, second["messageId"]).max_retries == 2

    for headers, field in (({"X-Team": "a"}, "headers.X-Team"),
                           ({"Upstash-Retries": "lots"}, "Upstash-Retries"),
                           ({"Upstash-Delay": "1"}, "Upstash-Delay")):  # fmt: skip
        refused = herald.client.patch("/v2/topics/hooks", json={"headers": headers})
        assert refused.status_code == 400 and field in refused.json()["error"], refused.text
    assert herald.client.patch("/v2/topics/nope", json={"headers": {}}).status_code == 404
    assert herald.client.patch("/v2/topics/hooks", json={"headers": {}}).status_code == 200
    assert "headers" not in herald.client.get("/v2/topics/hooks").json()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v2/topics/bad%20name/endpoints", {"endpoints": [{"url": "http://a/h"}]},
         "url group name"),
        ("/v2/topics/a:b/endpoints", {"endpoints": [{"url": "http://a/h"}]}, "url group name"),
        ("/v2/topics/Shop/g/endpoints", {"endpoints": [{"url": "http://a/h"}]}, "url group name"),
        ("/v2/topics/g/endpoints", {"endpoints": [{"url": "ftp://a/h"}]}, "endpoints[0].url"),
        ("/v2/topics/g/endpoints", {"endpoints": [{"url": "not a url"}]}, "endpoints[0].url"),
        ("/v2/topics/g/endpoints", {"endpoints": []}, "endpoints"),
        ("/v2/topics/g/endpoints", {"endpoints": [{"url": "http://a/h", "name": "a b"}]},
         "endpoints[0].name"),
        ("/v2/topics/g/endpoints", None, "body"),
    ],
)  # fmt: skip
def test_bad_names_and_urls_are_400_and_store_nothing(
    herald: Gateway, path: str, body: Any, field: str
) -> None:
    if body is None:
        response = herald.client.post(path, content=b"{not json")
    else:
        response = herald.client.post(path, json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]
    assert herald.client.get("/v2/topics").json() == []


def _crd_topic(store: RoutingStore, url: str) -> Awaitable[Any]:
    return sync_topic(store, "shop", "orders", {"delivery": {"retries": 2}},
                      {"billing": {"topic": "orders", "endpoint": {"url": url}}}, 1000)  # fmt: skip


def test_a_crd_topic_is_listed_but_never_changed_through_the_api(
    herald: Gateway, redis_url: str, redis_client: redis.Redis, receiver: Receiver
) -> None:
    url = receiver.url(receiver.new_path())
    on_routing_store(redis_url, lambda store: _crd_topic(store, url))
    table_key = Keys("herald", SHARDS).routing.table("shop/orders")
    before = redis_client.hgetall(table_key)

    [topic] = herald.client.get("/v2/topics").json()
    assert topic["name"] == "shop/orders" and topic["managedBy"] == "kubernetes"
    assert topic["endpoints"] == [{"url": url, "name": "billing"}]
    assert herald.client.get("/v2/topics/shop/orders").json() == topic
    writes = [
        ("POST", "/v2/topics/shop/orders/endpoints", {"endpoints": [{"url": "http://x/h"}]}),
        ("DELETE", "/v2/topics/shop/orders/endpoints", {"endpoints": [{"name": "billing"}]}),
        ("PATCH", "/v2/topics/shop/orders", {"headers": {"Upstash-Retries": "1"}}),
        ("DELETE", "/v2/topics/shop/orders", None),
    ]
    for method, path, body in writes:
        response = herald.client.request(method, path, json=body)
        assert response.status_code == 409, (method, path, response.text)
        error = response.json()["error"]
        assert "Topic shop/orders" in error and "kubectl" in error
    assert redis_client.hgetall(table_key) == before
    assert len(herald.publish("shop/orders", b"x").json()) == 1  # still routed


def test_operator_sync_leaves_api_groups_of_the_same_name_alone(
    herald: Gateway, redis_url: str
) -> None:
    herald.client.post("/v2/topics/shop/orders/endpoints",
                       json={"endpoints": [{"url": "http://a/h", "name": "a"}]})  # fmt: skip

    async def operator_side(store: RoutingStore) -> None:
        # a Subscription "a" whose Topic does not exist, and the delete of a Topic that
        # never had a table, must not touch the API's group
        sub = {"topic": "orders", "endpoint": {"url": "http://other/h"}}
        assert not (await sync_subscription(store, "shop", "a", sub, None, 1000)).topic_found
        await delete_topic(store, "shop", "orders")
        assert not (await sync_subscription(store, "shop", "a", sub, {}, 1000)).topic_found

    on_routing_store(redis_url, operator_side)
    group = herald.client.get("/v2/topics/shop/orders").json()
    assert group["managedBy"] == "api" and group["endpoints"] == [{"url": "http://a/h",
                                                                   "name": "a"}]  # fmt: skip
    # a Topic object created with that name takes the table over (Kubernetes wins)
    on_routing_store(redis_url, lambda store: _crd_topic(store, "http://crd/h"))
    assert herald.client.get("/v2/topics/shop/orders").json()["managedBy"] == "kubernetes"


def test_namespace_tokens_see_and_change_only_their_namespace(
    herald: Gateway, redis_url: str, receiver: Receiver
) -> None:
    async def tokens(store: RoutingStore) -> None:
        await store.sync_tokens("shop/herald-token", ["shop-token-123"])
        await store.sync_tokens("other/herald-token", ["other-token-456"])

    on_routing_store(redis_url, tokens)
    shop = QStash("shop-token-123", base_url=herald.url, retry=False)
    other = QStash("other-token-456", base_url=herald.url, retry=False)
    try:
        path = receiver.new_path()
        shop.url_group.upsert_endpoints("g", [{"url": receiver.url(path)}])  # lands in "shop"
        herald.client.post("/v2/topics/g/endpoints",  # admin: HERALD_DEFAULT_NAMESPACE
                           json={"endpoints": [{"url": "http://admin/h"}]})  # fmt: skip
        assert [g.name for g in shop.url_group.list()] == ["g"]
        assert shop.url_group.get("g").endpoints[0].url == receiver.url(path)
        assert shop.url_group.get("shop/g").name == "g"
        assert other.url_group.list() == []
        admin = herald.client.get("/v2/topics").json()
        assert [(g["name"], g["namespace"]) for g in admin] == [("g", "default"),
                                                                ("shop/g", "shop")]  # fmt: skip
        for call in (lambda: other.url_group.get("shop/g"),
                     lambda: other.url_group.upsert_endpoints("shop/g", [{"url": "http://x/h"}]),
                     lambda: other.url_group.delete("shop/g")):  # fmt: skip
            with pytest.raises(QStashError) as refused:
                call()
            assert status_of(refused.value) == 403
        with pytest.raises(QStashError) as unknown:
            other.url_group.get("g")  # other/g
        assert status_of(unknown.value) == 404
        assert (
            herald.client.get("/v2/topics", headers={"Authorization": "Bearer x"}).status_code
            == 401
        )

        answers = shop.message.publish(url_group="g", body="from shop")
        assert isinstance(answers, list)
        [answer] = answers
        assert answer.url == receiver.url(path)
        assert receiver.wait_for(path, 1)[0].body == b"from shop"
    finally:
        shop.http._client.close()
        other.http._client.close()
