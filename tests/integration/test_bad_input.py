"""Malformed publishes: each a clear 4xx naming the field, and nothing stored in Redis."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.conftest import fresh_database
from tests.support.gateway import TOKEN, Gateway
from tests.support.snapshot import snapshot

pytestmark = pytest.mark.integration

GOOD = "http://127.0.0.1:9/hook"

CASES = [
    # (id, destination, headers, body, status, error fragment)
    ("ftp-scheme", "ftp://example.com/x", {}, b"", 400, "destination url"),
    ("no-scheme", "example.com:80/x", {}, b"", 400, "destination url"),
    ("unknown-topic", "orders", {}, b"", 404, "not found"),
    ("no-host", "http:///path", {}, b"", 400, "destination url"),
    ("delay-no-unit", GOOD, {"Upstash-Delay": "10"}, b"", 400, "Upstash-Delay"),
    ("delay-negative", GOOD, {"Upstash-Delay": "-5s"}, b"", 400, "Upstash-Delay"),
    ("delay-garbage", GOOD, {"Upstash-Delay": "soon"}, b"", 400, "Upstash-Delay"),
    ("delay-too-long", GOOD, {"Upstash-Delay": "400d"}, b"", 400, "Upstash-Delay"),
    ("timeout-zero", GOOD, {"Upstash-Timeout": "0s"}, b"", 400, "Upstash-Timeout"),
    ("timeout-unit", GOOD, {"Upstash-Timeout": "5 s"}, b"", 400, "Upstash-Timeout"),
    ("not-before-text", GOOD, {"Upstash-Not-Before": "tomorrow"}, b"", 400, "Upstash-Not-Before"),
    ("retries-negative", GOOD, {"Upstash-Retries": "-1"}, b"", 400, "Upstash-Retries"),
    ("retries-text", GOOD, {"Upstash-Retries": "three"}, b"", 400, "Upstash-Retries"),
    ("retries-too-many", GOOD, {"Upstash-Retries": "21"}, b"", 400, "Upstash-Retries"),
    ("expr-syntax", GOOD, {"Upstash-Retry-Delay": "1000 *"}, b"", 400, "Upstash-Retry-Delay"),
    ("expr-name", GOOD, {"Upstash-Retry-Delay": "__import__('os')"}, b"", 400, "Retry-Delay"),
    ("expr-function", GOOD, {"Upstash-Retry-Delay": "sin(retried)"}, b"", 400, "Retry-Delay"),
    ("method", GOOD, {"Upstash-Method": "TRACE"}, b"", 400, "Upstash-Method"),
    # unknown Upstash-* headers are accepted (test_headers.py); malformed known ones are not
    (
        "callback-option",
        GOOD,
        {"Upstash-Callback": "http://127.0.0.1:9/cb", "Upstash-Callback-Retries": "many"},
        b"",
        400,
        "Upstash-Callback-Retries",
    ),
    (
        "callback-missing",
        GOOD,
        {"Upstash-Failure-Callback-Label": "x"},
        b"",
        400,
        "Upstash-Failure-Callback",
    ),
    ("header-forward", GOOD, {"Upstash-Header-Forward": "maybe"}, b"", 400, "Header-Forward"),
    ("oversized", GOOD, {}, b"x" * (64 * 1024 + 1), 413, "larger than"),
]


@pytest.fixture(scope="module")
def api_only(redis_base_url: str, tmp_path_factory) -> Iterator[Gateway]:
    """An API-only gateway with a small body limit: nothing but publishes touch Redis."""
    url = fresh_database(redis_base_url)
    log = tmp_path_factory.mktemp("bad-input") / "gateway.log"
    gateway = Gateway(url, log, roles="api", max_body_bytes=64 * 1024).start()
    yield gateway
    gateway.close()


@pytest.fixture
def redis_client(api_only: Gateway) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(api_only.redis_url)
    yield client
    client.close()


@pytest.mark.parametrize(
    ("destination", "headers", "body", "status", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rejected_and_nothing_stored(
    api_only: Gateway, redis_client: redis.Redis, destination, headers, body, status, fragment
) -> None:
    before = snapshot(redis_client)
    response = api_only.publish(destination, body, **headers)
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]
    assert snapshot(redis_client) == before


def test_crlf_in_forwarded_value_is_refused(api_only: Gateway, redis_client: redis.Redis) -> None:
    """HTTP parsers refuse raw CR/LF in headers; the query form can still carry them."""
    before = snapshot(redis_client)
    response = api_only.client.post(
        f"/v2/publish/{GOOD}?upstash-forward-x-evil=a%0D%0ASet-Cookie:%20x=1", content=b""
    )
    assert response.status_code == 400
    assert "Upstash-Forward-X-Evil" in response.json()["error"]
    assert snapshot(redis_client) == before


@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Basic dGVzdA=="])
def test_missing_or_wrong_token_is_401(
    api_only: Gateway, redis_client: redis.Redis, auth: str | None
) -> None:
    before = snapshot(redis_client)
    response = httpx.post(
        f"{api_only.url}/v2/publish/{GOOD}",
        content=b"x",
        headers={"Authorization": auth} if auth else {},
    )
    assert response.status_code == 401
    assert "token" in response.json()["error"]
    assert snapshot(redis_client) == before


def test_token_query_parameter_must_match(api_only: Gateway) -> None:
    response = httpx.post(f"{api_only.url}/v2/publish/{GOOD}?qstash_token=nope", content=b"")
    assert response.status_code == 401
    ok = httpx.post(f"{api_only.url}/v2/publish/{GOOD}?qstash_token={TOKEN}", content=b"")
    assert ok.status_code == 200


def test_valid_publish_does_store(api_only: Gateway, redis_client: redis.Redis) -> None:
    """The control case: the snapshot comparison above can see a stored message."""
    before = snapshot(redis_client)
    assert api_only.publish(GOOD, b"x").status_code == 200
    assert snapshot(redis_client) != before
