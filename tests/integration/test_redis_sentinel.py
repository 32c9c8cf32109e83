"""Herald behind Redis Sentinel (a master, a replica, three Sentinels): publish and deliver,
then the master is SIGKILLed under load; the Sentinels promote the replica and the same
`herald gateway` processes find the new master by themselves and deliver everything."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.gateway import Gateway, wait_until
from tests.support.receiver import Receiver
from tests.support.redis_topologies import LocalSentinel, Publisher, delivery_counts

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[LocalSentinel]:
    topology = LocalSentinel(tmp_path / "sentinel")
    try:
        yield topology.start()
    finally:
        topology.stop()


def test_master_killed_sentinel_promotes_and_gateways_deliver_everything(
    sentinel: LocalSentinel, make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    # WAIT 1 makes an acknowledged publish survive the kill (see test_redis_cluster.py).
    settings = {**sentinel.settings(), "redis_wait_replicas": 1, "redis_backoff_max": 0.2,
                "default_timeout": 1, "lease_duration": 1}  # fmt: skip
    gateways = [make_gateway(**settings), make_gateway(**settings)]
    path = receiver.new_path()
    before = {gateways[0].publish(receiver.url(path), b"x").json()["messageId"] for _ in range(20)}
    wait_until(lambda: set(delivery_counts(receiver, path)) >= before, what="delivered")

    publisher = Publisher(gateways, receiver.url(path))
    publisher.start()
    try:
        wait_until(lambda: publisher.accepted_since(0) >= 100, timeout=30, what="load")
        old = sentinel.current_master()
        killed = time.monotonic()
        old.stop(kill=True)
        wait_until(lambda: sentinel.master_port() != old.port, timeout=20, interval=0.05,
                   what="the Sentinels promote the replica")  # fmt: skip
        promoted = time.monotonic()
        old.start()  # restarted, as Kubernetes would: Sentinel makes it the new replica
        wait_until(lambda: publisher.accepted_since(promoted) >= 100, timeout=30,
                   what="load after the failover")  # fmt: skip
    finally:
        publisher.stop()

    accepted = before | set(publisher.accepted)
    wait_until(lambda: set(delivery_counts(receiver, path)) >= accepted, timeout=30,
               what="every accepted message delivered")  # fmt: skip
    counts = delivery_counts(receiver, path)
    refused, outage = publisher.refused_between(killed)
    print(f"\nsentinel: {len(accepted)} accepted, {len(accepted - set(counts))} lost, "
          f"{sum(n - 1 for n in counts.values())} duplicated; promoted after "
          f"{promoted - killed:.1f}s, {refused} refused over {outage:.1f}s: "
          f"{dict(publisher.reasons)}")  # fmt: skip
    assert accepted <= set(counts)
    for gateway in gateways:
        assert gateway.process is not None and gateway.process.poll() is None
        assert gateway.client.get("/readyz").status_code == 200
