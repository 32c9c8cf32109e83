"""The Redis client factory: which client each HERALD_REDIS_MODE builds, and the settings it
refuses (no server needed: clients connect on their first command)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from herald_core.errors import ConfigError
from herald_core.redis_client import connect, is_cluster, parse_nodes
from herald_core.settings import Settings


def test_nodes_parse_with_ipv6_and_spaces() -> None:
    nodes = Settings.model_validate({"redis_sentinels": " a:1, [::1]:6379 ,,b.svc:26379"})
    assert parse_nodes(nodes.redis_sentinels, "redis_sentinels") == [
        ("a", 1), ("::1", 6379), ("b.svc", 26379)]  # fmt: skip


@pytest.mark.parametrize("bad", ["a", "a:", ":1", "a:x", "a:0", "a:70000"])
def test_bad_nodes_name_the_setting(bad: str) -> None:
    with pytest.raises(ConfigError, match="HERALD_REDIS_CLUSTER_NODES"):
        parse_nodes((bad,), "redis_cluster_nodes")


async def test_each_mode_builds_its_client() -> None:
    standalone = connect(Settings())
    cluster = connect(Settings(redis_mode="cluster", redis_cluster_nodes=("h1:7000", "h2:7001")))
    sentinel = connect(Settings(redis_mode="sentinel", redis_sentinels=("s:26379",),
                                redis_url="redis://:pw@ignored/3"))  # fmt: skip
    try:
        assert type(standalone) is Redis and not is_cluster(standalone)
        assert isinstance(cluster, RedisCluster) and is_cluster(cluster)
        assert isinstance(sentinel, Redis) and not is_cluster(sentinel)
        pool_kwargs = sentinel.connection_pool.connection_kwargs
        assert pool_kwargs["password"] == "pw" and pool_kwargs["db"] == 3
        assert "host" not in pool_kwargs  # the Sentinels say where the master is
    finally:
        for client in (standalone, cluster, sentinel):
            await client.aclose()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"redis_mode": "sentinel"}, "HERALD_REDIS_SENTINELS is required"),
        ({"redis_mode": "sentinel", "redis_sentinels": "s:1", "redis_master_name": ""},
         "HERALD_REDIS_MASTER_NAME"),
        ({"redis_mode": "cluster", "redis_url": "unix:///tmp/r.sock"}, "not unix://"),
        ({"redis_mode": "sentinel", "redis_sentinels": "s:1", "redis_url": "unix:///r.sock"},
         "not unix://"),
    ],
)  # fmt: skip
def test_inconsistent_settings_are_refused(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        connect(Settings(**settings))  # type: ignore[arg-type]


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="redis_mode"):
        Settings(redis_mode="replicated")  # type: ignore[arg-type]
