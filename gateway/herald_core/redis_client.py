"""The one place Redis clients are built, for the topology `HERALD_REDIS_MODE` names.

    standalone  Redis.from_url(redis_url)
    cluster     RedisCluster.from_url(redis_url, startup_nodes=redis_cluster_nodes): the
                client follows MOVED/ASK and refreshes its slot map after a failover
    sentinel    Sentinel(redis_sentinels).master_for(redis_master_name): every new
                connection asks the Sentinels for the current master; redis_url gives the
                master's password, username, database and TLS only

Everything Herald stores is written by Lua scripts whose keys share one hash tag
(herald_core.keys), so the same scripts run unchanged on a cluster. What differs is
written down where it matters: cross-shard writes are not one MULTI/EXEC on a cluster
(herald_core.store), and pub/sub goes through redis-py's cluster pub/sub (a PUBLISH reaches
every node).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from herald_core.errors import ConfigError, StoreError
from herald_core.settings import Settings

#: What every Redis user in Herald holds: one client over a pool, whatever the topology.
RedisClient: TypeAlias = Redis | RedisCluster

#: Connection options of every client: fail fast on a dead node (the callers back off and
#: retry), notice a half-open connection, never hang a request on a stalled server.
_CONNECTION: dict[str, Any] = {
    "socket_connect_timeout": 2.0,
    "socket_timeout": 10.0,
    "health_check_interval": 15,
    # redis-py 8 caps a pool at 100 connections and then fails calls at once
    # (MaxConnectionsError); a gateway under load has more Redis calls in flight.
    "max_connections": 1024,
}


class _ScriptPipeline(ClusterPipeline):
    """redis-py blocks EVALSHA in cluster pipelines as it cannot know a script's keys share
    a slot; Herald's always do (one hash tag), and the pipeline still checks: it routes
    EVALSHA by its declared keys and refuses keys on several slots."""

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> ClusterPipeline:
        return self.execute_command("EVALSHA", sha, numkeys, *keys_and_args)


class _Cluster(RedisCluster):
    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        if shard_hint:
            raise redis_errors.RedisClusterException("shard_hint is not supported in cluster mode")
        return _ScriptPipeline(self, transaction)  # type: ignore[abstract]


def connect(settings: Settings) -> RedisClient:
    """A client for `settings.redis_mode`; it connects lazily, on its first command."""
    if settings.redis_mode == "cluster":
        return _cluster(settings)
    if settings.redis_mode == "sentinel":
        return _sentinel(settings)
    return Redis.from_url(settings.redis_url, **_CONNECTION)


def is_cluster(redis: RedisClient) -> bool:
    return isinstance(redis, RedisCluster)


def publish(target: Any, channel: str, message: str) -> Any:
    """PUBLISH on a client or queued on a pipeline (returns its awaitable or the pipeline).
    A cluster client needs a node for a command without keys: any one does, as a PUBLISH
    reaches the subscribers of every node."""
    if isinstance(target, RedisCluster | ClusterPipeline):
        return target.execute_command("PUBLISH", channel, message, target_nodes=RedisCluster.RANDOM)
    return target.publish(channel, message)


def parse_nodes(items: Sequence[str], setting: str) -> list[tuple[str, int]]:
    """`host:port` items (IPv6 as `[::1]:6379`) → pairs; ConfigError naming `setting`."""
    nodes = []
    for item in items:
        host, sep, port = item.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"HERALD_{setting.upper()}: {item!r} is not host:port")
        nodes.append((host, int(port)))
    return nodes


def _cluster(settings: Settings) -> RedisCluster:
    if settings.redis_url.startswith("unix:"):
        raise ConfigError("HERALD_REDIS_URL: a Redis Cluster is reached over TCP, not unix://")
    seeds = parse_nodes(settings.redis_cluster_nodes, "redis_cluster_nodes")
    extra: dict[str, Any] = {}
    if settings.redis_wait_replicas:
        # A pipeline the client re-sent by itself (after a connection failed) could WAIT on
        # another node than the one its writes went to: no silent re-sends, Herald's own
        # retries (503 to the publisher, the worker's back-off) take over.
        extra["retry"] = Retry(NoBackoff(), 0)
    if seeds:
        extra["startup_nodes"] = [ClusterNode(host, port) for host, port in seeds]
    return _Cluster.from_url(settings.redis_url, **_CONNECTION, **extra)


def _sentinel(settings: Settings) -> Redis:
    sentinels = parse_nodes(settings.redis_sentinels, "redis_sentinels")
    if not sentinels:
        raise ConfigError("HERALD_REDIS_SENTINELS is required with HERALD_REDIS_MODE=sentinel")
    if not settings.redis_master_name:
        raise ConfigError("HERALD_REDIS_MASTER_NAME is required with HERALD_REDIS_MODE=sentinel")
    master: dict[str, Any] = dict(parse_url(settings.redis_url))
    if master.get("path"):
        raise ConfigError("HERALD_REDIS_URL: a Sentinel master is reached over TCP, not unix://")
    tls = master.pop("connection_class", None) is not None  # rediss:// (unix:// refused above)
    for located_by_sentinel in ("host", "port"):
        master.pop(located_by_sentinel, None)
    sentinel_options: dict[str, Any] = {
        "socket_connect_timeout": _CONNECTION["socket_connect_timeout"],
        "socket_timeout": _CONNECTION["socket_connect_timeout"],
    }
    if settings.redis_sentinel_password.get_secret_value():
        sentinel_options["password"] = settings.redis_sentinel_password.get_secret_value()
    if tls:
        sentinel_options["ssl"] = True
    manager = Sentinel(sentinels, sentinel_kwargs=sentinel_options)
    client: Redis = manager.master_for(
        settings.redis_master_name, redis_class=Redis, ssl=tls, **master, **_CONNECTION
    )
    return client


#: Queues commands on a pipeline; returns, per command, a key it writes (for its node).
Fill = Callable[[Any], Sequence[str]]


async def execute_replicated(
    redis: RedisClient, fill: Fill, *, transaction: bool, replicas: int, timeout_ms: int
) -> list[Any]:
    """Run the writes `fill` queues in one pipeline (MULTI/EXEC with `transaction`, never on
    a cluster) and, with `replicas`, return only once that many replicas of every node
    written hold them (WAIT); StoreError when fewer do within `timeout_ms`. Per-command
    errors come back as exception objects in the replies."""
    if not replicas:
        pipe = redis.pipeline(transaction=transaction)
        fill(pipe)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies
    if isinstance(redis, RedisCluster):
        return await _cluster_replicated(redis, fill, replicas, timeout_ms)
    # WAIT counts the writes of its own connection: both go out on one.
    async with redis.client() as conn:
        pipe = conn.pipeline(transaction=transaction)
        fill(pipe)
        replies = await pipe.execute(raise_on_error=False)
        acked = await conn.execute_command("WAIT", replicas, timeout_ms)  # type: ignore[no-untyped-call]
        _check_acked([acked], replicas)
    return replies


async def _cluster_replicated(
    redis: RedisCluster, fill: Fill, replicas: int, timeout_ms: int
) -> list[Any]:
    # The cluster pipeline sends each node's commands in order on one connection: a WAIT
    # aimed at a node follows that node's writes. A write that MOVED is not re-sent
    # elsewhere (its WAIT would not cover it): it fails, and the slot map is refreshed.
    await redis.initialize()
    pipe = redis.pipeline()
    keys = fill(pipe)
    queued = len(pipe)  # the writes, and any command that is not one (a PUBLISH)
    nodes = {node.name: node for node in (_node_of(redis, key) for key in keys)}
    for node in nodes.values():
        pipe.execute_command("WAIT", replicas, timeout_ms, target_nodes=node)
    replies: list[Any] = await pipe.execute(raise_on_error=False, allow_redirections=False)
    writes, acked = replies[:queued], replies[queued:]
    if any(isinstance(r, redis_errors.AskError | redis_errors.TryAgainError) for r in writes):
        await redis.nodes_manager.initialize()
    _check_acked(acked, replicas)
    return writes


def _node_of(redis: RedisCluster, key: str) -> ClusterNode:
    node = redis.get_node_from_key(key)
    if node is None:
        raise redis_errors.SlotNotCoveredError(f"no node serves the slot of {key}")
    return node


def _check_acked(acked: Sequence[Any], replicas: int) -> None:
    for reply in acked:
        if isinstance(reply, Exception):
            raise reply
        if int(reply) < replicas:
            raise StoreError(f"redis: the write reached {reply} of {replicas} replicas in time")
