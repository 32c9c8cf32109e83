"""Flow-control keys as the API shows and steers them (reference §2.11), and the global
parallelism cap shared by every worker.

A key's state lives in its shard (herald_core/lua/include/slots.lua): the limits in
force (the latest message's, unless pinned), deliveries active, the waitlist, the starts
within the rate period. Pinned limits override what messages bring until unpinned; after
an unpin the last pinned values stay until a message brings new ones (as QStash does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from herald_core.ids import shard_for_key
from herald_core.keys import ShardKeys
from herald_core.scripts import flow
from herald_core.store import Store


@dataclass(frozen=True, slots=True)
class FlowKeyInfo:
    key: str
    wait_list_size: int
    parallelism_max: int
    parallelism_count: int
    rate_max: int
    rate_count: int
    #: Seconds; and the start of the current period (Unix seconds).
    rate_period: int
    rate_period_start: int
    paused: bool
    pinned_parallelism: bool
    pinned_rate: bool

    def view(self) -> dict[str, Any]:
        return {
            "flowControlKey": self.key, "waitListSize": self.wait_list_size,
            "parallelismMax": self.parallelism_max, "parallelismCount": self.parallelism_count,
            "rateMax": self.rate_max, "rateCount": self.rate_count,
            "ratePeriod": self.rate_period, "ratePeriodStart": self.rate_period_start,
            "isPaused": self.paused, "isPinnedParallelism": self.pinned_parallelism,
            "isPinnedRate": self.pinned_rate,
        }  # fmt: skip


class FlowControls:
    def __init__(self, store: Store) -> None:
        self._store = store

    def _shard_keys(self, key: str) -> ShardKeys:
        return self._store.keys.shard(shard_for_key(key, self._store.keys.shards))

    async def keys(self, search: str = "") -> list[str]:
        def fill(pipe: Any) -> None:
            for sk in self._store.keys.all_shards():
                pipe.smembers(sk.flow_all)

        found = {k.decode() for members in await self._store.pipelined(fill) for k in members}
        return sorted(k for k in found if search in k)

    async def info(self, keys: list[str], now_ms: int) -> list[FlowKeyInfo | None]:
        def fill(pipe: Any) -> None:
            for key in keys:
                sk = self._shard_keys(key)
                pipe.hmget(sk.flow_prefix + key, "n", "a", "paused", "cp", "cr", "cw", "pp", "pr")
                pipe.zcard(sk.waitlist_prefix + key)
                pipe.zrange(sk.rate_prefix + key, 0, -1, withscores=True)

        replies = await self._store.pipelined(fill) if keys else []
        out: list[FlowKeyInfo | None] = []
        for i, key in enumerate(keys):
            state, waiting, starts = replies[3 * i : 3 * i + 3]
            if state[0] is None:
                out.append(None)
                continue
            _n, active, paused, cp, cr, cw, pp, pr = state
            period_ms = int(cw or 1000)
            recent = [int(score) for _member, score in starts if score > now_ms - period_ms]
            out.append(FlowKeyInfo(
                key=key, wait_list_size=int(waiting), parallelism_max=int(cp or 0),
                parallelism_count=max(0, int(active or 0)), rate_max=int(cr or 0),
                rate_count=len(recent), rate_period=max(1, period_ms // 1000),
                rate_period_start=(min(recent) if recent else now_ms) // 1000,
                paused=paused == b"1", pinned_parallelism=pp == b"1", pinned_rate=pr == b"1",
            ))  # fmt: skip
        return out

    async def set_paused(self, key: str, paused: bool, now_ms: int) -> None:
        await self._store.run(flow.flow_pause(self._shard_keys(key), key, paused, now_ms))

    async def pin(
        self, key: str, parallelism: int | None, rate: int | None, period_ms: int | None
    ) -> None:
        await self._store.run(
            flow.flow_pin(self._shard_keys(key), key, parallelism, rate, period_ms)
        )

    async def unpin(self, key: str, parallelism: bool, rate: bool) -> None:
        sk = self._shard_keys(key)
        fields = [name for name, chosen in (("pp", parallelism), ("pr", rate)) if chosen]
        if fields:
            await self._store.guard(lambda: self._store.redis.hdel(sk.flow_prefix + key, *fields))

    async def reset_rate(self, key: str) -> None:
        sk = self._shard_keys(key)
        await self._store.guard(lambda: self._store.redis.delete(sk.rate_prefix + key))


@dataclass(frozen=True, slots=True)
class Grant:
    #: Slots this worker may use, and slots in use across every live worker.
    granted: int
    in_use: int


async def request_slots(
    store: Store, worker: str, wanted: int, in_use: int, cap: int, now_ms: int, ttl_ms: int
) -> Grant:
    """Global parallelism: ask for `wanted` slots (never fewer than `in_use` is sensible);
    the grants of all live workers never sum above `cap` (0 = no cap)."""
    reply = await store.run(flow.grant(store.keys, worker, wanted, in_use, cap, now_ms, ttl_ms))
    return Grant(int(reply[0]), int(reply[1]))


async def global_in_use(store: Store, now_ms: int) -> int:
    """Deliveries in flight across live workers, as they last reported (read only)."""
    keys = store.keys

    def fill(pipe: Any) -> None:
        pipe.hgetall(keys.parallelism_grants)
        pipe.zrangebyscore(keys.parallelism_seen, f"({now_ms}", "+inf")

    grants, live = await store.pipelined(fill)
    live_workers = set(live)
    return sum(int(value.split(b":")[1]) for worker, value in grants.items()
               if worker in live_workers)  # fmt: skip
