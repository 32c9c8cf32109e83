"""Accepted means delivered: gateway SIGKILLed mid-batch, Redis restarted from its AOF,
SIGTERM with deliveries in flight, and a stalled endpoint beside a healthy one."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from herald_gateway.dev.embedded import RedisServer
from tests.support.gateway import wait_until
from tests.support.receiver import Answer, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "aof", appendfsync="everysec")
    server.start()
    yield server
    server.stop()


def delivered_ids(receiver: Receiver, path: str) -> set[str]:
    return {r.header("Upstash-Message-Id") or "" for r in receiver.received(path)}


def test_sigkill_mid_batch_then_restart_delivers_everything(
    make_gateway, receiver: Receiver
) -> None:
    # Every delivery stalls 300 ms, so a batch is in flight when the gateway is killed;
    # a 0.5 s lease lets the next gateway reclaim it quickly.
    path = receiver.new_path(*[Answer(200, delay=0.3)] * 60)
    settings = {"default_timeout": 1, "lease_duration": 0.5, "host_concurrency": 8}
    first = make_gateway(**settings)
    accepted = {first.publish(receiver.url(path), b"%d" % i).json()["messageId"] for i in range(60)}
    receiver.wait_for(path, 5)
    first.stop(signal.SIGKILL)
    assert delivered_ids(receiver, path) < accepted  # killed with work outstanding

    make_gateway(redis_url=first.redis_url, **settings)
    wait_until(lambda: delivered_ids(receiver, path) >= accepted, timeout=30, what="all delivered")
    assert delivered_ids(receiver, path) == accepted


def test_redis_restart_from_aof_loses_nothing_and_gateway_recovers(
    make_gateway, receiver: Receiver, aof_redis: RedisServer
) -> None:
    path = receiver.new_path()
    gateway = make_gateway(redis_url=aof_redis.url, redis_backoff_max=0.2)
    accepted = {
        gateway.publish(receiver.url(path), b"%d" % i, **{"Upstash-Delay": "1s"}).json()[
            "messageId"
        ]
        for i in range(20)
    }
    aof_redis.stop()  # SIGTERM: Redis writes its AOF out and exits, messages still pending
    assert gateway.client.get("/readyz").status_code == 503
    failed = gateway.publish(receiver.url(path), b"while down")
    assert failed.status_code == 503 and "redis" in failed.json()["error"]

    aof_redis.start()
    wait_until(lambda: gateway.client.get("/readyz").status_code == 200, what="ready again")
    wait_until(lambda: delivered_ids(receiver, path) >= accepted, timeout=15, what="all delivered")
    assert gateway.process is not None and gateway.process.poll() is None  # never restarted
    assert gateway.publish(receiver.url(path), b"after").status_code == 200


def test_sigterm_finishes_in_flight_deliveries(make_gateway, receiver: Receiver) -> None:
    path = receiver.new_path(*[Answer(200, delay=0.5)] * 3)
    gateway = make_gateway(shutdown_grace=5)
    accepted = {gateway.publish(receiver.url(path), b"x").json()["messageId"] for _ in range(3)}
    receiver.wait_for(path, 3)
    # uvicorn re-raises the signal after a graceful shutdown, so the exit status says SIGTERM
    assert gateway.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in gateway.log_path.read_text()
    # Finished and acknowledged before exit: a new gateway has nothing left to redeliver.
    successor = make_gateway(redis_url=gateway.redis_url)
    probe = receiver.new_path()
    successor.publish(receiver.url(probe), b"probe")
    receiver.wait_for(probe, 1)
    assert len(receiver.received(path)) == 3
    assert delivered_ids(receiver, path) == accepted


def test_stalled_endpoint_does_not_delay_another(make_gateway, receiver: Receiver) -> None:
    stalled = receiver.new_path(*[Answer(200, delay=10)] * 40)
    gateway = make_gateway(host_concurrency=8, concurrency=32)
    for i in range(40):
        gateway.publish(receiver.url(stalled), b"%d" % i, **{"Upstash-Timeout": "20s"})
    receiver.wait_for(stalled, 8)  # the stalled host holds its cap of 8 slots

    other = Receiver()  # a second host (its own port)
    other.start()
    try:
        path = other.new_path()
        for i in range(20):
            gateway.publish(other.url(path), b"%d" % i)
        other.wait_for(path, 20, timeout=5)  # long before any stalled request returns
        assert len(receiver.received(stalled)) == 8
    finally:
        other.stop()


def test_readyz_is_503_and_healthz_200_while_redis_is_down(make_gateway, tmp_path) -> None:
    server = RedisServer(tmp_path / "r", appendfsync=None)
    server.start()
    gateway = make_gateway(redis_url=server.url)
    server.stop()
    assert gateway.client.get("/healthz").status_code == 200
    response = gateway.client.get("/readyz")
    assert response.status_code == 503 and "error" in response.json()
