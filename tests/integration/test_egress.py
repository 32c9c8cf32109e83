"""The egress policy end to end: real `herald gateway` processes, a real receiver.

A refused destination known at publish (an IP literal, a denied host) answers 400 and stores
nothing; one only known once resolved fails its first attempt for good: the log row says
why, the message is in the DLQ, and the receiver never hears from Herald.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

from tests.support.gateway import Gateway, wait_until
from tests.support.receiver import Receiver
from tests.support.snapshot import snapshot

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def logs(gateway: Gateway, message_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = gateway.client.get(
        "/v2/logs", params={"messageId": message_id}
    ).json()["logs"]
    return rows


@pytest.mark.parametrize(
    "destination",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0:80/",
    ],
)
def test_metadata_destinations_answer_400_and_store_nothing(
    make_gateway: Callable[..., Gateway], redis_client: redis.Redis, destination: str
) -> None:
    gateway = make_gateway(roles="api")  # no worker: nothing else writes to Redis
    before = snapshot(redis_client)
    response = gateway.publish(destination, b"{}")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "destination url" in error and "egress policy" in error
    assert snapshot(redis_client) == before


def test_refused_callback_answers_400(gateway: Gateway, receiver: Receiver) -> None:
    response = gateway.publish(
        receiver.url(receiver.new_path()), b"", **{"Upstash-Callback": "http://169.254.169.254/cb"}
    )
    assert response.status_code == 400
    assert "Upstash-Callback" in response.json()["error"]


@pytest.mark.parametrize("http_client", ["h1", "aiohttp"])
def test_resolved_address_refused_at_connect_time(
    make_gateway: Callable[..., Gateway],
    receiver: Receiver,
    redis_client: redis.Redis,
    http_client: str,
) -> None:
    gateway = make_gateway(egress_deny_cidrs="127.0.0.0/8,::1/128", http_client=http_client)
    path = receiver.new_path()
    # An IP literal is known at publish: refused at once.
    literal = gateway.publish(receiver.url(path), b"x")
    assert literal.status_code == 400
    assert "127.0.0.0/8" in literal.json()["error"]
    # A name is judged when it is resolved: stored, then failed for good on the first try.
    published = gateway.publish(
        f"http://localhost:{receiver.port}{path}", b"x", **{"Upstash-Retries": "3"}
    )
    assert published.status_code == 200, published.text
    message_id = published.json()["messageId"]
    dead = wait_until(
        lambda: gateway.client.get("/v2/dlq", params={"messageId": message_id}).json()["messages"],
        what="dead letter",
    )
    assert "egress refused" in dead[0]["error"] and "127.0.0.0/8" in dead[0]["error"]
    rows = logs(gateway, message_id)
    states = [row["state"] for row in rows]
    assert states == ["FAILED", "ERROR", "ACTIVE", "CREATED"], states  # one attempt, no RETRY
    assert "egress refused" in rows[1]["error"] and "127.0.0.0/8" in rows[1]["error"]
    assert receiver.received(path) == []


def test_denied_host_answers_400(make_gateway: Callable[..., Gateway], receiver: Receiver) -> None:
    gateway = make_gateway(roles="api", egress_deny_hosts="localhost,*.internal.example")
    for url in (f"http://LOCALHOST:{receiver.port}/x", "https://a.internal.example/hook"):
        response = gateway.publish(url)
        assert response.status_code == 400, url
        assert "HERALD_EGRESS_DENY_HOSTS" in response.json()["error"]


@pytest.mark.parametrize("http_client", ["h1", "aiohttp"])
def test_allow_list_opens_a_default_denied_range(
    make_gateway: Callable[..., Gateway], receiver: Receiver, http_client: str
) -> None:
    # Linux connects 0.0.0.0 to the host itself, which is why it is denied by default.
    gateway = make_gateway(egress_allow_cidrs="0.0.0.0/32", http_client=http_client)
    path = receiver.new_path()
    response = gateway.publish(f"http://0.0.0.0:{receiver.port}{path}", b"allowed")
    assert response.status_code == 200, response.text
    [request] = receiver.wait_for(path, 1)
    assert request.body == b"allowed"


def test_a_redirect_is_the_answer_not_followed(gateway: Gateway, receiver: Receiver) -> None:
    from tests.support.receiver import Answer

    target = receiver.new_path()
    path = receiver.new_path(Answer(302, {"Location": receiver.url(target)}, b""))
    published = gateway.publish(receiver.url(path), b"", **{"Upstash-Retries": "0"})
    message_id = published.json()["messageId"]
    dead = wait_until(
        lambda: gateway.client.get("/v2/dlq", params={"messageId": message_id}).json()["messages"],
        what="dead letter",
    )
    assert dead[0]["responseStatus"] == 302
    assert receiver.received(target) == []
