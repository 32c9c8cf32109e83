"""Schedules (reference §2.7): a publish request kept in Redis and replayed at cron ticks.

A schedule is stored as the request that created it (destination, query, the headers that
configure delivery, body), so every publish header applies to each message it produces,
checked once at creation. Every gateway with the worker role claims due ticks with one
script (herald_core/lua/schedule_claim.lua): a tick is taken by exactly one gateway. The
message a tick produces carries a deduplication key made of the schedule id and the tick,
so if the gateway dies between storing it and recording the tick, the gateway that claims
the tick again after the lease stores nothing new.

Catch-up rule: ticks missed while no gateway ran are not replayed one by one. The first
claim after the gap fires once (for the oldest missed tick) and the schedule continues
with the first tick after now.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from herald_core.ids import ALPHABET
from herald_core.scripts import schedules as scripts
from herald_core.store import Store


def new_schedule_id() -> str:
    return "scd_" + "".join(secrets.choice(ALPHABET) for _ in range(26))


@dataclass(frozen=True, slots=True)
class Schedule:
    id: str
    cron: str
    #: The destination as it stood in the path, the raw query and the configuring headers.
    destination: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    created_at: int
    queue: str | None = None
    caller_ip: str | None = None
    #: Changes whenever the schedule is (re)created: a claimed tick of an older version
    #: is not recorded.
    version: str = ""
    paused: bool = False
    last_tick: int | None = None
    next_tick: int | None = None
    #: Message ids produced by the last tick.
    last_messages: list[str] = field(default_factory=list)
    error: str | None = None

    def definition(self) -> bytes:
        return orjson.dumps(
            {"id": self.id, "cron": self.cron, "destination": self.destination,
             "query": self.query, "headers": self.headers, "created_at": self.created_at,
             "queue": self.queue, "caller_ip": self.caller_ip}
        )  # fmt: skip

    @classmethod
    def from_hash(cls, raw: dict[bytes, bytes]) -> Schedule:
        d = orjson.loads(raw[b"j"])
        last, nxt = raw.get(b"l"), raw.get(b"n")
        return cls(
            id=d["id"], cron=d["cron"], destination=d["destination"], query=d["query"],
            headers=[(n, v) for n, v in d["headers"]], body=raw.get(b"b", b""),
            created_at=d["created_at"], queue=d.get("queue"), caller_ip=d.get("caller_ip"),
            version=raw.get(b"v", b"").decode(), paused=raw.get(b"paused") == b"1",
            last_tick=int(last) if last else None, next_tick=int(nxt) if nxt else None,
            last_messages=orjson.loads(raw[b"st"]) if raw.get(b"st") else [],
            error=raw[b"e"].decode() if raw.get(b"e") else None,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Tick:
    """What a claimed tick did: fired (its tick ms, the messages it produced, or the error
    that stopped it) or skipped (`fired` None: the schedule is paused)."""

    schedule: Schedule
    fired: int | None
    next_tick: int
    messages: list[str] | None = None
    error: str | None = None


class Schedules:
    """Schedules in Redis: definitions, the due index, tick claims."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._prefix = store.keys.schedule_prefix
        self._due = store.keys.schedules_due

    async def put(self, schedule: Schedule, first_tick: int) -> None:
        """Create, or replace whole (same id), a schedule due at `first_tick`."""
        await self._store.run(scripts.schedule_put(
            self._store.keys, schedule.id, schedule.definition(), schedule.body,
            secrets.token_hex(8), first_tick, schedule.paused,
        ))  # fmt: skip
        await self._store.wake(None)  # idle schedulers learn of its first tick

    async def get(self, schedule_id: str) -> Schedule | None:
        key = self._prefix + schedule_id
        raw = await self._store.guard(lambda: self._store.redis.hgetall(key))
        return Schedule.from_hash(cast(dict[bytes, bytes], raw)) if raw else None

    async def all(self) -> list[Schedule]:
        ids = cast(list[bytes], await self._store.guard(
            lambda: self._store.redis.zrange(self._due, 0, -1)))  # fmt: skip

        def fill(pipe: Any) -> None:
            for schedule_id in ids:
                pipe.hgetall(self._prefix + schedule_id.decode())

        found = await self._store.pipelined(fill) if ids else []
        return sorted((Schedule.from_hash(raw) for raw in found if raw),
                      key=lambda s: s.created_at)  # fmt: skip

    async def delete(self, schedule_id: str) -> None:
        await self._store.run(scripts.schedule_delete(self._store.keys, schedule_id))

    async def set_paused(self, schedule_id: str, paused: bool) -> bool:
        """Pause or resume (ticks while paused are skipped); False if it does not exist."""
        call = scripts.schedule_pause(self._store.keys, schedule_id, paused)
        return bool(await self._store.run(call))

    async def claim(
        self, now_ms: int, lease_ms: int, limit: int
    ) -> tuple[list[tuple[Schedule, int]], int | None]:
        """Take the due ticks (schedule, tick ms) no other gateway has taken; and the next
        tick left (ms), if any."""
        reply = await self._store.run(
            scripts.schedule_claim(self._store.keys, now_ms, lease_ms, limit)
        )
        head = int(float(reply[0]))
        ticks = []
        for i in range(1, len(reply), 3):
            flat = reply[i + 2]
            raw = dict(zip(flat[::2], flat[1::2], strict=True))
            ticks.append((Schedule.from_hash(raw), int(float(reply[i + 1]))))
        return ticks, None if head < 0 else head

    async def done(self, ticks: list[Tick]) -> None:
        """Record fired (or skipped) ticks and set each schedule's next one, in one round
        trip; a schedule deleted or replaced since its claim is left alone."""

        def fill(pipe: Any) -> None:
            for t in ticks:
                scripts.schedule_done(
                    self._store.keys, t.schedule.id, t.schedule.version, fired=t.fired,
                    next_tick=t.next_tick, error=t.error,
                    messages=None if t.messages is None else orjson.dumps(t.messages),
                ).queue(pipe)  # fmt: skip

        if ticks:
            await self._store.pipelined(fill)
