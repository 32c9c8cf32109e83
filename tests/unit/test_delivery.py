"""Pure delivery decisions: classify answers, decide retries, build signed headers."""

from __future__ import annotations

import math

import jwt
import pytest

from herald_core.backoff import default_backoff, retry_delay
from herald_core.ids import new_message_id, shard_of
from herald_core.models import Message, Task
from herald_core.signing import body_hash, new_signing_key
from herald_gateway.delivery.attempts import Result, classify, next_step, request_headers
from herald_gateway.delivery.sender import Failure, Reply

NOW = 1_700_000_000.0
KEY = "sig_unit_test_key_0123456789abcdefgh"


def task(retried: int = 0, max_retries: int = 3, expr: str | None = None) -> Task:
    message = Message(
        id="msg_x", url="https://a.b/c?d=1", method="POST", headers={"Content-Type": "t/p"},
        max_retries=max_retries, timeout=5, created_at=0, not_before=0, retry_delay=expr,
        caller_ip="10.0.0.1", body_hash=body_hash(b"body"),
    )  # fmt: skip
    return Task(shard=0, message=message, body=b"body", retried=retried)


@pytest.mark.parametrize(
    ("answer", "result", "retry_after"),
    [
        (Reply(200, {}, b""), Result.DELIVERED, None),
        (Reply(204, {}, b""), Result.DELIVERED, None),
        (Reply(299, {}, b""), Result.DELIVERED, None),
        (Reply(301, {"Location": "x"}, b""), Result.RETRY, None),
        (Reply(404, {}, b""), Result.RETRY, None),
        (Reply(500, {}, b""), Result.RETRY, None),
        (Reply(489, {}, b""), Result.RETRY, None),
        (Reply(489, {"Upstash-NonRetryable-Error": "true"}, b""), Result.FAILED, None),
        (Reply(429, {"Retry-After": "7"}, b""), Result.RETRY, 7.0),
        (Reply(429, {"x-ratelimit-reset": "2m"}, b""), Result.RETRY, 120.0),
        (Reply(429, {"X-RateLimit-Reset-Tokens": "250ms"}, b""), Result.RETRY, 0.25),
        (Reply(503, {"Retry-After": "soon"}, b""), Result.RETRY, None),
        (Failure("connection refused"), Result.RETRY, None),
        (Failure("timeout", timed_out=True), Result.RETRY, None),
    ],
)
def test_classify(answer: Reply | Failure, result: Result, retry_after: float | None) -> None:
    outcome = classify(answer, NOW)
    assert outcome.result is result
    assert outcome.retry_after == retry_after


def test_default_backoff_matches_qstash_table() -> None:
    assert [round(default_backoff(n)) for n in range(6)] == [12, 148, 1808, 22026, 86400, 86400]


@pytest.mark.parametrize(
    ("retried", "expr", "retry_after", "seconds"),
    [
        (0, None, None, math.exp(2.5)),
        (2, "1000 * (1 + retried)", None, 3.0),
        (2, "1000 * (1 + retried)", 5.0, 5.0),
        (0, None, 90000.0, math.exp(2.5)),  # over a day: back to the algorithm
        (0, "0", None, 0.0),
    ],
)
def test_retry_delay(retried: int, expr: str | None, retry_after: float | None, seconds: float):
    assert retry_delay(retried, expr, retry_after) == pytest.approx(seconds)


def test_next_step_retries_until_exhausted() -> None:
    retry = classify(Reply(500, {}, b""), NOW)
    step = next_step(task(retried=1, expr="250"), retry, 1000)
    assert not step.final and step.due_ms == 1250
    assert next_step(task(retried=3), retry, 1000).final
    assert next_step(task(), classify(Reply(200, {}, b""), NOW), 1000).final
    assert next_step(
        task(), classify(Reply(489, {"upstash-nonretryable-error": "true"}, b""), NOW), 0
    ).final


def test_request_headers_are_signed_for_the_url() -> None:
    headers = request_headers(task(retried=2), KEY, int(NOW))
    assert headers["User-Agent"] == "Upstash-QStash"
    assert headers["Upstash-Retried"] == "2" and headers["Upstash-Message-Id"] == "msg_x"
    assert headers["Upstash-Caller-Ip"] == "10.0.0.1" and headers["Content-Type"] == "t/p"
    claims = jwt.decode(
        headers["Upstash-Signature"], KEY, algorithms=["HS256"], issuer="Upstash",
        options={"require": ["iss", "sub", "exp", "nbf"], "verify_exp": False, "verify_nbf": False},
    )  # fmt: skip
    assert claims["sub"] == "https://a.b/c?d=1"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["body"] == body_hash(b"body") and claims["jti"].startswith("jwt_")


def test_ids_name_their_shard() -> None:
    for shards in (1, 7, 16, 62):
        for shard in range(shards):
            message_id = new_message_id(shard, shards)
            assert len(message_id) == 30 and shard_of(message_id, shards) == shard
    assert shard_of("msg_short", 16) is None and shard_of("xyz", 16) is None


def test_signing_keys_are_long_enough() -> None:
    key = new_signing_key()
    assert key.startswith("sig_") and len(key) == 32
