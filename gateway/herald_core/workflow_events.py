"""Workflow waiters (Upstash Workflow's `context.waitForEvent`, `waitForWebhook`): a run's
step waiting for an event until a deadline, and its end, notified or timed out.

A waiter lives in its run's shard (herald_core.workflows.run_shard), in the run's waiters
hash by event id, and in the shard's deadline set; ending it appends the waiting step's
result to the run's steps array with the message that delivers it, in one script
(WORKFLOW_RESUME) that takes the waiter only if it is still there as read: a notify and a
timeout racing, on any number of gateways, end it exactly once.

`POST /v2/notify/{eventId}` must find every run waiting for an event, whatever its shard:
an index, one set per event in the shard the event id hashes to, names them (each member
the run id and the waiter's own nonce, so ending one waiter removes its entry and never a
later waiter's of the same run). On Redis Cluster the index and the waiter are on different
slots: the index entry is written before the waiter and removed after it ends, so a
waiter is never missing from it; an entry whose waiter is gone (a gateway died between)
is skipped by readers (it costs one set member).

An event sent to one run — a webhook call, a notify naming the run — finds its waiter or,
when nothing waits yet, is kept in the run's mailbox for that event (lookback, as QStash
documents it for both): the next wait for it ends at once with the oldest kept event,
which WORKFLOW_RESUME takes from the mailbox as it appends the step. Kept events last the
log retention.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson

from herald_core.ids import shard_for_key
from herald_core.keys import ShardKeys
from herald_core.scripts import workflow_events as scripts
from herald_core.store import NewMessage, Store
from herald_core.workflows import run_shard

Headers = dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class Waiter:
    """A run's step waiting for `event_id` (what `POST /v2/wait/{eventId}` registered)."""

    run_id: str
    event_id: str
    #: Where the notification goes, and with which headers (the wait request's own).
    url: str
    headers: Headers
    deadline_ms: int
    timeout_url: str
    timeout_headers: Headers
    timeout_body: str | None
    #: The waiting step as the SDK described it (stepId, stepName, stepType, ...).
    step: dict[str, Any]
    #: The step's timeout as the SDK gave it ("7d").
    timeout: str
    nonce: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def step_id(self) -> int:
        step_id = self.step.get("stepId")
        return step_id if isinstance(step_id, int) else 0

    def to_json(self) -> bytes:
        return orjson.dumps({
            "r": self.run_id, "e": self.event_id, "u": self.url, "h": self.headers,
            "d": self.deadline_ms, "tu": self.timeout_url, "th": self.timeout_headers,
            "tb": self.timeout_body, "s": self.step, "t": self.timeout, "n": self.nonce,
        })  # fmt: skip

    @classmethod
    def from_json(cls, raw: bytes) -> Waiter:
        d = orjson.loads(raw)
        return cls(d["r"], d["e"], d["u"], d["h"], d["d"], d["tu"], d["th"], d["tb"], d["s"],
                   d["t"], d["n"])  # fmt: skip

    def public(self) -> dict[str, Any]:
        """As `GET /v2/waiters/{eventId}` and a notify's answer show it (QStash's `Waiter`:
        the deadline in Unix seconds)."""
        out: dict[str, Any] = {
            "url": self.url, "deadline": self.deadline_ms // 1000, "headers": self.headers,
            "timeoutUrl": self.timeout_url, "timeoutHeaders": self.timeout_headers,
        }  # fmt: skip
        if self.timeout_body is not None:
            out["timeoutBody"] = self.timeout_body
        return out


class Resumed(enum.Enum):
    """How ending a waiter went (WORKFLOW_RESUME's reply)."""

    APPENDED = "ok"
    #: Another notify, or the timeout, ended it first.
    GONE = "gone"
    NO_RUN = "none"
    ENDED = "ended"
    DUPLICATE = "dup"
    #: The steps array grew since the body was built: build it again.
    STALE = "stale"


class WaitResult(enum.Enum):
    WAITING = "ok"
    NO_RUN = "none"
    ENDED = "ended"
    #: The step has its result already: nothing to wait for.
    DONE = "dup"


class MailResult(enum.Enum):
    """What became of an event sent to one run (WORKFLOW_MAIL's reply)."""

    #: A waiter waits for it: end it (`resume`).
    WAITING = "waiting"
    #: Kept for the run's next wait for the event.
    KEPT = "kept"
    NO_RUN = "none"
    ENDED = "ended"


#: What a kept event starts with in its mailbox, so an empty one is not "none" to the
#: scripts ('' is their "no kept event").
_KEPT = b"e"


def event_shard(event_id: str, shards: int) -> int:
    """The shard of an event's index of waiting runs."""
    return shard_for_key("event:" + event_id, shards)


def _member(run_id: str, event_id: str) -> bytes:
    """A waiter's member of its shard's deadline set."""
    return orjson.dumps([run_id, event_id])


class WorkflowEvents:
    """The waiters of one store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _run_keys(self, run_id: str) -> ShardKeys:
        return self._store.keys.shard(run_shard(run_id, self._store.keys.shards))

    def _index(self, event_id: str) -> str:
        shard = event_shard(event_id, self._store.keys.shards)
        return self._store.keys.shard(shard).event_waiters(event_id)

    async def wait(self, waiter: Waiter) -> tuple[WaitResult, bytes | None]:
        """Register `waiter` (replacing the run's earlier waiter for the same event); and
        the oldest event sent to the run for it before it waited (lookback: end the waiter
        with it, `resume(kept=...)`), if any."""
        index = self._index(waiter.event_id)
        entry = orjson.dumps([waiter.run_id, waiter.nonce])
        redis = self._store.redis
        await self._store.guard(lambda: redis.sadd(index, entry))  # first: never unindexed
        sk = self._run_keys(waiter.run_id)
        call = scripts.workflow_wait(sk, waiter.run_id, waiter.event_id, waiter.to_json(),
                                     waiter.deadline_ms,
                                     _member(waiter.run_id, waiter.event_id),
                                     waiter.step_id)  # fmt: skip
        reply = await self._store.run(call)
        result = WaitResult(_text(reply[0]))
        if result is not WaitResult.WAITING:
            await self._store.guard(lambda: redis.srem(index, entry))
            return result, None
        if len(reply) > 1:
            return result, bytes(reply[1])
        await self._store.wake_waits(waiter.deadline_ms)  # the timeout keepers look then
        return result, None

    async def mail(self, run_id: str, event_id: str, data: bytes) -> MailResult:
        """Send an event to one run: kept for its next wait, unless a waiter waits now
        (`MailResult.WAITING`: end it with `resume`). Kept events last the log retention."""
        keep_ms = int(self._store.limits.log_retention * 1000)
        call = scripts.workflow_mail(self._run_keys(run_id), run_id, event_id, _KEPT + data,
                                     keep_ms)  # fmt: skip
        reply = await self._store.run(call)
        return MailResult(_text(reply[0]))

    async def waiter(self, run_id: str, event_id: str) -> tuple[Waiter, bytes] | None:
        """The run's waiter for the event, and its stored form (what `resume` claims)."""
        key = self._run_keys(run_id).run_waiters(run_id)
        redis = self._store.redis
        raw: Any = await self._store.guard(lambda: redis.hget(key, event_id))
        return None if raw is None else (Waiter.from_json(raw), bytes(raw))

    async def waiters(self, event_id: str) -> list[tuple[Waiter, bytes]]:
        """Every waiter of the event, soonest deadline first (index entries whose waiter
        is gone are skipped, and so are waiters of runs that ended: a cancel drops its
        run's waiters after ending it, and a crash between leaves them to their deadline)."""
        index = self._index(event_id)
        redis = self._store.redis
        entries: Any = await self._store.guard(lambda: redis.smembers(index))
        found: dict[str, tuple[Waiter, bytes]] = {}
        for entry in sorted(bytes(e) for e in entries):
            run_id, _nonce = orjson.loads(entry)
            if run_id not in found:
                one = await self.waiter(run_id, event_id)
                if one is not None and await self._running(run_id):
                    found[run_id] = one
        return sorted(found.values(), key=lambda w: w[0].deadline_ms)

    async def _running(self, run_id: str) -> bool:
        key = self._run_keys(run_id).run(run_id)
        redis = self._store.redis
        state: Any = await self._store.guard(lambda: redis.hget(key, "e"))
        return state is not None and not state

    async def resume(
        self,
        waiter: Waiter,
        stored: bytes,
        element: bytes,
        expected: int,
        new: NewMessage,
        kept: bytes | None = None,
    ) -> tuple[Resumed, str]:
        """End `waiter` (as `stored`) with its step's `element` and the message `new`, whose
        body was built from `expected` elements, taking the `kept` event (`wait`'s) from
        its mailbox; (outcome, detail)."""
        sk = self._run_keys(waiter.run_id)
        call = scripts.workflow_resume(sk, self._store.limits.log_max_rows, waiter.run_id,
                                       waiter.event_id, _member(waiter.run_id, waiter.event_id),
                                       stored, waiter.step_id, element, expected,
                                       kept or b"", self._store.message_args(new))  # fmt: skip
        reply = await self._store.run(call)
        outcome = Resumed(_text(reply[0]))
        detail = _text(reply[1]) if len(reply) > 1 else ""
        if outcome is Resumed.APPENDED:
            await self._store.announce(run_shard(waiter.run_id, self._store.keys.shards),
                                       new.due_ms)  # fmt: skip
        if outcome not in (Resumed.STALE, Resumed.GONE):
            await self.unindex(waiter)
        return outcome, detail

    async def drop(self, waiter: Waiter) -> None:
        """Drop a waiter that can never end (its stored headers no longer read as a
        publish under today's settings), so its timeout is not tried forever."""
        sk = self._run_keys(waiter.run_id)
        member = _member(waiter.run_id, waiter.event_id)

        def fill(pipe: Any) -> None:
            pipe.hdel(sk.run_waiters(waiter.run_id), waiter.event_id)
            pipe.zrem(sk.waiters_due, member)

        await self._store.pipelined(fill)
        await self.unindex(waiter)

    async def forget_run(self, run_id: str) -> int:
        """Drop every waiter of a run that has ended (a cancelled run waits no more: no
        notify finds it, no timeout fires for it, nothing of it stays stored until its
        deadline); how many there were."""
        key = self._run_keys(run_id).run_waiters(run_id)
        redis = self._store.redis
        stored: Any = await self._store.guard(lambda: redis.hgetall(key))
        for raw in stored.values():
            await self.drop(Waiter.from_json(raw))
        return len(stored)

    async def unindex(self, waiter: Waiter) -> None:
        """Drop the waiter's entry from its event's index."""
        index = self._index(waiter.event_id)
        entry = orjson.dumps([waiter.run_id, waiter.nonce])
        redis = self._store.redis
        await self._store.guard(lambda: redis.srem(index, entry))

    # -- invocations (context.invoke) -----------------------------------------------------

    async def remember_invoker(self, run_id: str, invoker: bytes) -> None:
        """Note where the result of `run_id` goes (before the run starts: a run is never
        without its invoker)."""
        key = self._run_keys(run_id).invoker(run_id)
        redis = self._store.redis
        # NX: a start sent again (deduplicated) keeps the note as the first left it
        await self._store.guard(lambda: redis.set(key, invoker, nx=True))

    async def invoker(self, run_id: str) -> bytes | None:
        key = self._run_keys(run_id).invoker(run_id)
        redis = self._store.redis
        raw: Any = await self._store.guard(lambda: redis.get(key))
        return None if raw is None else bytes(raw)

    async def forget_invoker(self, run_id: str) -> None:
        """The invoker was answered: its note expires with the run."""
        key = self._run_keys(run_id).invoker(run_id)
        retention_ms = int(self._store.limits.log_retention * 1000)
        redis = self._store.redis
        await self._store.guard(lambda: redis.pexpire(key, retention_ms))

    async def due(self, now_ms: int, limit: int) -> tuple[list[tuple[str, str]], int | None]:
        """Waiters past their deadline (run id, event id), at most `limit` per shard, and
        the earliest deadline left (ms; None when no shard has a waiter)."""
        shards = self._store.keys.all_shards()

        def fill(pipe: Any) -> None:
            for sk in shards:
                pipe.zrangebyscore(sk.waiters_due, "-inf", now_ms, start=0, num=limit)
                pipe.zrange(sk.waiters_due, 0, 0, withscores=True)

        replies = await self._store.pipelined(fill)
        due: list[tuple[str, str]] = []
        earliest: int | None = None
        for members, head in zip(replies[0::2], replies[1::2], strict=True):
            for member in members:
                run_id, event_id = orjson.loads(member)
                due.append((run_id, event_id))
            for _, score in head:
                if score > now_ms:
                    earliest = int(score) if earliest is None else min(earliest, int(score))
        return due, earliest


def kept_data(kept: bytes) -> bytes:
    """The event's data of a kept event (`WorkflowEvents.wait`'s)."""
    return kept[len(_KEPT) :]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
