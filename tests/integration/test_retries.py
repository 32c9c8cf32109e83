"""Retries against a real receiver that fails on purpose: counts, spacing, Retry-After,
489, timeouts, and exhausted retries leaving the queue."""

from __future__ import annotations

import itertools

import pytest
import redis

from tests.support.gateway import Gateway, wait_until
from tests.support.receiver import Answer, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def queue_is_empty(client: redis.Redis) -> bool:
    """No message hash, and nothing waiting or leased, in any shard."""
    if any(client.scan_iter(match="herald:*:m:*")):
        return False
    return all(client.zcard(key) == 0 for key in client.scan_iter(match="herald:*:due"))


def test_fails_twice_then_succeeds_with_expression_spacing(
    gateway: Gateway, receiver: Receiver, redis_client: redis.Redis
) -> None:
    path = receiver.new_path(Answer(500), Answer(502))
    response = gateway.publish(
        receiver.url(path),
        b"retry me",
        **{"Upstash-Retries": "3", "Upstash-Retry-Delay": "200 * (retried + 1)"},
    )
    message_id = response.json()["messageId"]
    attempts = receiver.wait_for(path, 3)
    assert [a.header("Upstash-Retried") for a in attempts] == ["0", "1", "2"]
    assert {a.header("Upstash-Message-Id") for a in attempts} == {message_id}
    assert {a.body for a in attempts} == {b"retry me"}
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.2 * 0.95 and gaps[1] >= 0.4 * 0.95, gaps
    wait_until(lambda: queue_is_empty(redis_client), what="delivered message removed")
    assert len(receiver.received(path)) == 3


def test_retry_after_header_sets_the_next_attempt(gateway: Gateway, receiver: Receiver) -> None:
    path = receiver.new_path(Answer(429, headers={"Retry-After": "1"}))
    gateway.publish(receiver.url(path), b"x", **{"Upstash-Retry-Delay": "10"})
    first, second = receiver.wait_for(path, 2)
    assert second.at - first.at >= 0.95


def test_ratelimit_reset_duration_is_honoured(gateway: Gateway, receiver: Receiver) -> None:
    path = receiver.new_path(Answer(503, headers={"X-RateLimit-Reset-Requests": "600ms"}))
    gateway.publish(receiver.url(path), b"x", **{"Upstash-Retry-Delay": "10"})
    first, second = receiver.wait_for(path, 2)
    assert second.at - first.at >= 0.57


def test_489_non_retryable_fails_at_once(
    gateway: Gateway, receiver: Receiver, redis_client: redis.Redis
) -> None:
    path = receiver.new_path(Answer(489, headers={"Upstash-NonRetryable-Error": "true"}))
    gateway.publish(
        receiver.url(path), b"x", **{"Upstash-Retries": "3", "Upstash-Retry-Delay": "0"}
    )
    receiver.wait_for(path, 1)
    wait_until(lambda: queue_is_empty(redis_client), what="message leaves the queue")
    assert len(receiver.received(path)) == 1


def test_489_without_the_header_is_retried(gateway: Gateway, receiver: Receiver) -> None:
    path = receiver.new_path(Answer(489))
    gateway.publish(receiver.url(path), b"x", **{"Upstash-Retry-Delay": "0"})
    assert len(receiver.wait_for(path, 2)) == 2


def test_stalled_receiver_times_out_and_is_retried(
    gateway: Gateway, receiver: Receiver, redis_client: redis.Redis
) -> None:
    path = receiver.new_path(Answer(200, delay=5), Answer(200, delay=5))
    gateway.publish(
        receiver.url(path),
        b"slow",
        **{"Upstash-Timeout": "300ms", "Upstash-Retries": "1", "Upstash-Retry-Delay": "0"},
    )
    first, second = receiver.wait_for(path, 2, timeout=5)
    assert second.header("Upstash-Retried") == "1"
    assert second.at - first.at >= 0.28
    wait_until(lambda: queue_is_empty(redis_client), timeout=5, what="gave up after timeouts")
    assert len(receiver.received(path)) == 2


def test_exhausted_retries_leave_the_queue(
    gateway: Gateway, receiver: Receiver, redis_client: redis.Redis
) -> None:
    path = receiver.new_path(*[Answer(500)] * 10)
    gateway.publish(
        receiver.url(path), b"x", **{"Upstash-Retries": "2", "Upstash-Retry-Delay": "0"}
    )
    attempts = receiver.wait_for(path, 3)
    wait_until(lambda: queue_is_empty(redis_client), what="exhausted message removed")
    assert len(receiver.received(path)) == 3
    assert [a.header("Upstash-Retried") for a in attempts] == ["0", "1", "2"]
    metrics = gateway.metrics()
    assert 'herald_deliveries_total{outcome="retry",status_class="5xx"} 2.0' in metrics
    assert 'herald_deliveries_total{outcome="failed",status_class="5xx"} 1.0' in metrics


def test_connection_refused_is_retried(gateway: Gateway, receiver: Receiver) -> None:
    from herald_gateway.dev.embedded import free_port

    dead = f"http://127.0.0.1:{free_port()}/nobody"
    gateway.publish(dead, b"x", **{"Upstash-Retries": "1", "Upstash-Retry-Delay": "0"})
    wait_until(
        lambda: 'outcome="failed",status_class="none"} 1.0' in gateway.metrics(),
        what="the last connection attempt failing for good",
    )
    assert 'outcome="retry",status_class="none"} 1.0' in gateway.metrics()
