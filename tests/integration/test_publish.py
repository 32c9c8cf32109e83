"""Publish through raw HTTP and the official SDK; what arrives at a real receiver."""

from __future__ import annotations

import base64
import hashlib
import time

import httpx
import jwt
import pytest
from qstash import QStash, Receiver as SignatureReceiver

from tests.support.gateway import CURRENT_KEY, NEXT_KEY, TOKEN, Gateway
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def verify(delivery, url: str, current: str = CURRENT_KEY, next_: str = NEXT_KEY) -> None:
    """Check a delivery's signature the way receivers do.

    The SDK's Receiver only takes text bodies (it hashes `body.encode()`), so binary bodies
    are checked with the same PyJWT call it makes, plus the body-hash comparison.
    """
    signature = delivery.header("Upstash-Signature")
    assert signature, "delivery is not signed"
    try:
        text = delivery.body.decode()
    except UnicodeDecodeError:
        claims = jwt.decode(
            signature, current, algorithms=["HS256"], issuer="Upstash",
            options={"require": ["iss", "sub", "exp", "nbf"]},
        )  # fmt: skip
        assert claims["sub"] == url
        digest = base64.urlsafe_b64encode(hashlib.sha256(delivery.body).digest())
        assert claims["body"].rstrip("=") == digest.decode().rstrip("=")
        return
    SignatureReceiver(current, next_).verify(signature=signature, body=text, url=url)


def test_curl_style_publish_delivers_body_headers_and_signature(
    gateway: Gateway, receiver: Receiver
) -> None:
    path = receiver.new_path()
    url = receiver.url(path)
    response = gateway.client.post(
        f"/v2/publish/{url}",
        params={"a": "1", "b": "two words"},
        content=b'{"hello": "world"}',
        headers={
            "Content-Type": "application/json",
            "Upstash-Forward-X-Custom": "yes",
            "upstash-forward-authorization": "Bearer downstream",
            "X-Not-Forwarded": "nope",
        },
    )
    assert response.status_code == 200, response.text
    message_id = response.json()["messageId"]
    assert message_id.startswith("msg_")

    [delivery] = receiver.wait_for(path, 1)
    assert delivery.method == "POST"
    assert delivery.body == b'{"hello": "world"}'
    # the destination's query exactly as the client encoded it (httpx < 0.28: %20, later: +)
    assert delivery.query == response.request.url.query.decode()
    assert delivery.header("Content-Type") == "application/json"
    assert delivery.header("X-Custom") == "yes"
    assert delivery.header("Authorization") == "Bearer downstream"
    assert delivery.header("X-Not-Forwarded") is None
    assert delivery.header("User-Agent") == "Upstash-QStash"
    assert delivery.header("Upstash-Message-Id") == message_id
    assert delivery.header("Upstash-Retried") == "0"
    assert delivery.header("Upstash-Caller-Ip") == "127.0.0.1"
    verify(delivery, f"{url}?{delivery.query}")


@pytest.mark.parametrize(
    "body",
    [b"", b"plain text \xc3\xa9", bytes(range(256)) * 40, b"\x00\xff\x00binary"],
    ids=["empty", "utf8", "all-bytes-10k", "binary"],
)
def test_body_bytes_arrive_identical(gateway: Gateway, receiver: Receiver, body: bytes) -> None:
    path = receiver.new_path()
    response = gateway.publish(
        receiver.url(path), body, **{"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 200
    [delivery] = receiver.wait_for(path, 1)
    assert delivery.body == body
    verify(delivery, receiver.url(path))


def test_method_and_configuration_through_query_parameters(
    gateway: Gateway, receiver: Receiver
) -> None:
    path = receiver.new_path()
    response = gateway.client.post(
        f"/v2/publish/{receiver.url(path)}?keep=1&upstash-method=PUT"
        "&upstash-forward-x-from-query=q&upstash-retries=0",
        content=b"x",
    )
    assert response.status_code == 200, response.text
    [delivery] = receiver.wait_for(path, 1)
    assert delivery.method == "PUT"
    assert delivery.query == "keep=1"
    assert delivery.header("X-From-Query") == "q"


def test_token_in_query_string_authenticates_and_is_not_forwarded(
    gateway: Gateway, receiver: Receiver
) -> None:
    path = receiver.new_path()
    response = gateway.client.post(
        f"/v2/publish/{receiver.url(path)}?qstash_token={TOKEN}&x=1",
        content=b"q",
        headers={"Authorization": ""},
    )
    assert response.status_code == 200, response.text
    [delivery] = receiver.wait_for(path, 1)
    assert delivery.query == "x=1"
    assert TOKEN not in str(delivery.headers)


def test_header_forward_passes_plain_headers_but_never_credentials(
    gateway: Gateway, receiver: Receiver
) -> None:
    path = receiver.new_path()
    response = gateway.publish(
        receiver.url(path),
        b"hook",
        **{"Upstash-Header-Forward": "true", "X-Github-Event": "push", "Content-Type": "a/b"},
    )
    assert response.status_code == 200
    [delivery] = receiver.wait_for(path, 1)
    assert delivery.header("X-Github-Event") == "push"
    assert delivery.header("Content-Type") == "a/b"
    assert delivery.header("Authorization") is None


def test_delay_and_not_before_hold_the_message_back(gateway: Gateway, receiver: Receiver) -> None:
    delayed, scheduled = receiver.new_path(), receiver.new_path()
    sent = time.time()
    gateway.publish(receiver.url(delayed), b"d", **{"Upstash-Delay": "700ms"})
    not_before = int(sent) + 2  # whole seconds, as the header takes
    gateway.publish(
        receiver.url(scheduled),
        b"n",
        **{"Upstash-Not-Before": str(not_before), "Upstash-Delay": "0s"},
    )
    [first] = receiver.wait_for(delayed, 1)
    assert first.at - sent >= 0.7
    [second] = receiver.wait_for(scheduled, 1, timeout=5)
    assert second.at >= not_before


def test_sdk_publish_and_publish_json(sdk: QStash, receiver: Receiver) -> None:
    client = sdk
    raw, js = receiver.new_path(), receiver.new_path()
    result = client.message.publish(
        url=receiver.url(raw) + "?from=sdk",
        body=b"\x01\x02 bytes",
        content_type="application/octet-stream",
        method="PATCH",
        headers={"X-Trace": "abc"},
        retries=2,
        retry_delay="100 * retried",
        timeout="5s",
        delay=0,
    )
    [delivery] = receiver.wait_for(raw, 1)
    assert delivery.header("Upstash-Message-Id") == result.message_id  # type: ignore[union-attr]
    assert delivery.method == "PATCH"
    assert delivery.body == b"\x01\x02 bytes"
    assert delivery.header("X-Trace") == "abc"
    verify(delivery, receiver.url(raw) + "?from=sdk")

    result = client.message.publish_json(url=receiver.url(js), body={"n": 1, "s": "é"})
    [delivery] = receiver.wait_for(js, 1)
    assert delivery.header("Content-Type") == "application/json"
    assert delivery.body == b'{"n": 1, "s": "\\u00e9"}'
    verify(delivery, receiver.url(js))


def test_signature_follows_key_rotation(gateway: Gateway, sdk: QStash, receiver: Receiver) -> None:
    client = sdk
    keys = client.signing_key.get()
    assert (keys.current, keys.next) == (CURRENT_KEY, NEXT_KEY)

    rotated = client.signing_key.rotate()
    assert rotated.current == NEXT_KEY and rotated.next not in (CURRENT_KEY, NEXT_KEY)
    assert len(rotated.next) >= 32
    path = receiver.new_path()
    gateway.publish(receiver.url(path), b"after rotation")
    [delivery] = receiver.wait_for(path, 1)
    # Receivers still on the old pair accept it through their `next` key ...
    verify(delivery, receiver.url(path), CURRENT_KEY, NEXT_KEY)
    # ... and receivers updated to the new pair through their `current` key.
    verify(delivery, receiver.url(path), rotated.current, rotated.next)
    with pytest.raises(Exception, match="signature"):
        verify(delivery, receiver.url(path), CURRENT_KEY, CURRENT_KEY)


@pytest.mark.in_process(False)  # gateway processes, one after the other
def test_rotation_is_kept_in_redis_across_restarts(make_gateway, receiver: Receiver) -> None:
    first = make_gateway()
    rotated = first.client.post("/v2/keys/rotate").json()
    first.stop()
    second = make_gateway(redis_url=first.redis_url)
    assert second.client.get("/v2/keys").json() == rotated


def test_signature_body_claim_matches_body_hash(gateway: Gateway, receiver: Receiver) -> None:
    path = receiver.new_path()
    gateway.publish(receiver.url(path), b"")
    [delivery] = receiver.wait_for(path, 1)
    claims = delivery.header("Upstash-Signature").split(".")[1]  # type: ignore[union-attr]
    payload = base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4))
    assert b'"body":"47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="' in payload
    assert b'"iss":"Upstash"' in payload


def test_health_readiness_and_metrics(gateway: Gateway, receiver: Receiver) -> None:
    assert gateway.client.get("/healthz").status_code == 200
    assert gateway.client.get("/readyz").status_code == 200
    path = receiver.new_path()
    gateway.publish(receiver.url(path), b"m")
    receiver.wait_for(path, 1)
    metrics = gateway.metrics()
    assert "herald_publishes_total 1.0" in metrics
    assert 'herald_deliveries_total{outcome="delivered",status_class="2xx"}' in metrics
    assert "herald_attempt_duration_seconds_bucket" in metrics
    assert 'herald_backlog{shard="0",state="waiting"}' in metrics


@pytest.mark.in_process(False)  # the ports `herald gateway` binds
def test_metrics_only_on_their_own_port(gateway: Gateway) -> None:
    """/metrics (unauthenticated) is served by the metrics listener alone: the API port,
    which the Service and the Ingress expose, answers 404, and the metrics port serves
    nothing but /metrics."""
    assert gateway.client.get("/metrics").status_code == 404
    assert "herald_publishes_total" in gateway.metrics()
    base = gateway.metrics_url.removesuffix("/metrics")
    assert httpx.get(f"{base}/v2/messages", headers=gateway.client.headers).status_code == 404
    assert httpx.get(f"{base}/healthz").status_code == 404
