"""The system under test: one real redis-server (AOF) and several real `herald gateway`
processes sharing it, with the faults the driver injects (SIGKILL and restart of a gateway,
SIGKILL of Redis and restart from its AOF) and what it reads back (backlog, dead letters,
memory)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from redis.exceptions import RedisError

from herald_core.keys import Keys
from herald_core.models import Message
from herald_gateway.dev.embedded import RedisServer
from tests.support.gateway import Gateway

#: Gateway settings that keep a chaos run short: 1 s attempts, leases back 1 s after that,
#: quick Redis reconnection, small capped logs (so Redis memory can be compared).
GATEWAY_SETTINGS: dict[str, object] = {
    "default_timeout": 1,
    "lease_duration": 1,
    "redis_backoff_max": 0.2,
    "log_max_rows": 200,
    "log_body_max": 0,
    "shards": 16,
}


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Cluster:
    def __init__(self, workdir: Path, gateways: int = 2, appendfsync: str = "always") -> None:
        self.redis = RedisServer(workdir / "redis", appendfsync=appendfsync)
        self.keys = Keys("herald", int(str(GATEWAY_SETTINGS["shards"])))
        self.gateways = [Gateway(self.redis.url, workdir / f"gateway-{i}.log", **GATEWAY_SETTINGS)
                         for i in range(gateways)]  # fmt: skip
        self._down: set[int] = set()
        self.client: aredis.Redis | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self.redis.start)
        self.client = aredis.Redis.from_url(self.redis.url, socket_timeout=5)
        await asyncio.gather(*(asyncio.to_thread(g.start) for g in self.gateways))

    async def close(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(g.close) for g in self.gateways))
        if self.client is not None:
            await self.client.aclose()
        await asyncio.to_thread(self.redis.stop)

    def live(self) -> list[str]:
        """URLs of the gateways that are up."""
        return [g.url for i, g in enumerate(self.gateways) if i not in self._down]

    # -- faults -----------------------------------------------------------------------------

    async def kill_gateway(self, index: int) -> None:
        self._down.add(index)
        await asyncio.to_thread(self.gateways[index].stop, signal.SIGKILL)

    async def restart_gateway(self, index: int) -> None:
        await asyncio.to_thread(self.gateways[index].start)
        self._down.discard(index)

    async def set_appendfsync(self, appendfsync: str) -> None:
        """Switch Redis's AOF fsync policy now and for its next start."""
        await self._pipelined([("CONFIG", "SET", "appendfsync", appendfsync)])
        self.redis.appendfsync = appendfsync

    async def kill_redis(self) -> None:
        await asyncio.to_thread(self.redis.stop, True)

    async def start_redis(self) -> None:
        """Start Redis again on the same port; it loads its AOF."""
        await asyncio.to_thread(self.redis.start)

    # -- reading back -----------------------------------------------------------------------

    async def _pipelined(
        self, commands: Sequence[tuple[str, ...]], attempts: int = 50
    ) -> list[Any]:
        assert self.client is not None
        for _ in range(attempts):  # the pool reconnects after a Redis restart
            try:
                pipe = self.client.pipeline(transaction=False)
                for command in commands:
                    pipe.execute_command(*command)
                return list(await pipe.execute())
            except (RedisError, OSError):
                await asyncio.sleep(0.1)
        raise AssertionError("Redis did not answer the driver")

    async def backlog(self, attempts: int = 50) -> int:
        """Tasks waiting (due, delayed or retrying) or leased, over every shard."""
        shards = self.keys.all_shards()
        commands = [("ZCARD", k) for s in shards for k in (s.due, s.lease)]
        replies = await self._pipelined(commands, attempts)
        return sum(int(r) for r in replies)

    async def dead_letters(self) -> list[Message]:
        """The messages in the DLQ (every shard)."""
        shards = self.keys.all_shards()
        ids = await self._pipelined([("ZRANGE", s.dlq, "0", "-1") for s in shards])
        keys = [s.dlq_prefix + i.decode() for s, found in zip(shards, ids, strict=True)
                for i in found]  # fmt: skip
        metas = await self._pipelined([("HGET", k, "m") for k in keys]) if keys else []
        return [Message.from_json(m) for m in metas if m is not None]

    async def delayed_fsyncs(self) -> int:
        """INFO persistence `aof_delayed_fsync`: times Redis postponed an AOF write because
        the background fsync was stalling (with `everysec`, writes acknowledged meanwhile
        are only in Redis's memory, and a SIGKILL loses them)."""
        [info] = await self._pipelined([("INFO", "persistence")])
        return int(info.get("aof_delayed_fsync", 0))

    async def used_memory(self) -> int:
        [info] = await self._pipelined([("INFO", "memory")])
        return int(info["used_memory"])

    def gateway_rss(self) -> list[int]:
        """RSS of each gateway process (0 for one that is down)."""
        out = []
        for gateway in self.gateways:
            process = gateway.process
            alive = process is not None and process.poll() is None
            out.append(rss_bytes(process.pid) if alive and process is not None else 0)
        return out
