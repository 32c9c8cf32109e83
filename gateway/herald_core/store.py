"""The Redis connection and the shard-level writes: enqueue, claim, settle, cancel, retry
and delete dead letters, retention, signing keys.

Above the store nothing names a shard, a key or a stored field. The store places every new
message (`enqueue_all`: by queue, flow-control key, callbacks' key, deduplication key, else
the submission's shard, one per submission in turn), gives it an id that names its shard
(herald_core.ids), and tells a worker in this process itself (`on_new_work`) as it tells
the others (a wake-up note). The API reads and changes messages, logs and dead letters
through the repositories built on this class (herald_core.messages, herald_core.event_log,
herald_core.dead_letters; queues, schedules and flow control likewise), which take ids and
return typed records (herald_core.records) decoded in one place (herald_core.fields). The
shard-level methods here are theirs and the delivery worker's.

Callers get `StoreError` for any Redis failure; the gateway maps it to 503 and the worker
backs off and tries again. Scripts run by EVALSHA; after a Redis restart flushed the script
cache they are loaded again transparently. Multi-shard reads and writes go out as one
pipeline (one round trip).

On Redis Cluster (herald_core.redis_client) every script still runs on one slot, so each
shard's changes stay atomic, and a pipeline goes out as one round trip per node. A
submission that spans shards (a topic fan-out) is not one MULTI/EXEC there (MULTI cannot
span slots): its shards are written one script each, so a failure part-way can leave some
of its messages stored and answer 503 (the publisher's retry then stores them again: at
least once, never lost). With `wait_replicas`, a publish is acknowledged only once that
many replicas hold it (WAIT), so a master killed right after cannot take it away.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import random
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis import exceptions as redis_errors

from herald_core import wake
from herald_core.batching import GroupCommit
from herald_core.claims import ClaimPlan, WorkHint
from herald_core.errors import StoreError
from herald_core.ids import new_message_id, queue_shard, shard_for_key
from herald_core.keys import Keys
from herald_core.models import Callback, Message, Task, flow_spec
from herald_core.redis_client import (
    RedisClient,
    connect,
    execute_replicated,
    is_cluster,
    publish,
)
from herald_core.scripts import dead_letters, messages, signing_keys
from herald_core.scripts.lua import ScriptCall, registered
from herald_core.scripts.messages import EnqueueArgs, NewMessageArgs, SettleArgs, SettleOutcome
from herald_core.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")
#: Told of every task stored by this process (where, and when it is due), so a worker in it
#: claims the task at once (herald_gateway.delivery.worker `Worker.notify`).
NewWork = Callable[[WorkHint], None]


@dataclass(frozen=True, slots=True)
class StoreLimits:
    """The settings the store's scripts apply."""

    #: How long a claim is leased before it must be renewed (ms).
    lease_ms: int = 15_000
    log_max_rows: int = 20_000
    log_body_max: int = 8192
    log_retention: float = 3 * 86400.0
    dlq_retention: float = 7 * 86400.0
    dedup_window: float = 600.0
    #: Replicas that must hold a publish before it is acknowledged (WAIT), and how long (ms).
    wait_replicas: int = 0
    wait_timeout_ms: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreLimits:
        return cls(
            lease_ms=int(settings.lease_duration * 1000),
            log_max_rows=settings.log_max_rows,
            log_body_max=settings.log_body_max,
            log_retention=settings.log_retention,
            dlq_retention=settings.dlq_retention,
            dedup_window=settings.dedup_window,
            wait_replicas=settings.redis_wait_replicas,
            wait_timeout_ms=int(settings.redis_wait_timeout * 1000),
        )


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to store: a publish, or a callback created when an attempt settles.

    A publish's message is built with no id (`Message.id` ''): `Store.enqueue_all` gives it
    one, naming the shard it places the message in."""

    message: Message
    body: bytes
    due_ms: int


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What became of one message handed to `Store.enqueue_all`."""

    #: Its id, or the earlier message's it duplicates.
    message_id: str
    #: True when an earlier message had the same deduplication key (nothing was stored).
    deduplicated: bool


@dataclass(frozen=True, slots=True)
class Settlement:
    """One attempt's outcome, as SETTLE records it (herald_core/lua/settle.lua); built by
    the constructors below, which give `arg` the form each outcome takes."""

    outcome: SettleOutcome
    message_id: str
    arg: str = ""
    #: Event details for the log rows (error, response status, headers, body).
    event: bytes = b"{}"
    #: Callbacks to store if the settlement takes effect.
    new: tuple[NewMessage, ...] = ()
    #: When the message is due again (a retry, a deferral); None when it is not.
    due_ms: int | None = None

    def soonest(self) -> int | None:
        """The earliest task this outcome makes due once it lands: the message's next
        attempt, or a callback it stores; None for neither."""
        return min((*(n.due_ms for n in self.new),
                    *(() if self.due_ms is None else (self.due_ms,))), default=None)  # fmt: skip

    @classmethod
    def delivered(cls, message_id: str, event: bytes, new: tuple[NewMessage, ...]) -> Settlement:
        return cls(SettleOutcome.DELIVERED, message_id, "", event, new)

    @classmethod
    def retry(
        cls, message_id: str, retried: int, due_ms: int, event: bytes, new: tuple[NewMessage, ...]
    ) -> Settlement:
        """Failed, due again at `due_ms` with `retried` retries done."""
        return cls(SettleOutcome.RETRY, message_id, f"{retried}:{due_ms}", event, new, due_ms)

    @classmethod
    def failed(
        cls, message_id: str, dlq_id: str, event: bytes, new: tuple[NewMessage, ...]
    ) -> Settlement:
        """Failed for good: moved to the DLQ as `dlq_id`."""
        return cls(SettleOutcome.FAILED, message_id, dlq_id, event, new)

    @classmethod
    def defer(cls, message_id: str, due_ms: int) -> Settlement:
        """Handed back unattempted, due at `due_ms`; no attempt spent."""
        return cls(SettleOutcome.DEFER, message_id, str(due_ms), due_ms=due_ms)


@dataclass(frozen=True, slots=True)
class _Enqueue:
    shard: int
    new: NewMessage
    dedup_key: str


@dataclass(frozen=True, slots=True)
class ShardBacklog:
    waiting: int
    leased: int
    #: Due time (ms) of the task that has waited longest; None when nothing waits.
    oldest_due: int | None
    dead_letters: int


@dataclass(frozen=True, slots=True)
class Pending:
    """An outcome waiting to be recorded (`Store.pending`, `Store.settle_pending`)."""

    task: Task
    settlement: Settlement
    #: It frees a flow-control or queue slot: the next in line may be handed over at once.
    frees_slot: bool = False


@dataclass(frozen=True, slots=True)
class ClaimResult:
    tasks: list[Task]
    #: Per claimed shard: the earliest due time (ms) left in it, None when empty.
    next_due: dict[int, int | None]


class Store:
    """Herald's Redis connection pool and the shard-level operations on it."""

    def __init__(self, redis: RedisClient, keys: Keys, limits: StoreLimits) -> None:
        self.redis = redis
        #: MULTI/EXEC may span shards (not on a cluster: they live on different slots).
        self._multi_shard_transactions = not is_cluster(redis)
        self.keys = keys
        self.limits = limits
        self._shards = keys.all_shards()
        self._enqueues = GroupCommit(self._enqueue_many)
        self._next_shard = random.randrange(keys.shards)
        self._new_work: NewWork | None = None
        #: Names this store's wake-up notes, so the worker beside it skips them.
        self._origin = secrets.token_hex(6)

    @classmethod
    def from_settings(cls, settings: Settings, keys: Keys) -> Store:
        """A store on the Redis topology the settings name (standalone, cluster, sentinel)."""
        return cls(connect(settings), keys, StoreLimits.from_settings(settings))

    async def aclose(self) -> None:
        await self.redis.aclose()

    async def guard(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run one Redis call the store's way (`guarded`): for the modules beside it
        (queues, schedules, flow control) as for its own methods."""
        return await guarded(self.redis, call)

    async def run(self, call: ScriptCall) -> Any:
        """Run one script call (herald_core.scripts) the store's way (`guarded`)."""
        return await self.guard(lambda: call.run(self.redis))

    async def run_replicated(self, call: ScriptCall) -> Any:
        """`run` for a write a client is told is stored (a workflow step, herald_core.workflows):
        with `wait_replicas`, it returns only once that many replicas hold it (WAIT, as
        `enqueue_all` does for publishes); StoreError when fewer do in time."""
        if not self.limits.wait_replicas:
            return await self.run(call)

        def fill(pipe: Any) -> list[str]:
            call.queue(pipe)
            return [call.keys[0]]  # the node to WAIT on: the one holding the script's keys

        async def run() -> Any:
            [reply] = await execute_replicated(
                self.redis, fill, transaction=False, replicas=self.limits.wait_replicas,
                timeout_ms=self.limits.wait_timeout_ms,
            )  # fmt: skip
            if isinstance(reply, Exception):
                raise reply  # NOSCRIPT: guard loads the scripts and runs it again
            return reply

        return await self.guard(run)

    async def pipelined(self, fill: Callable[[Any], None], *, partial: bool = False) -> list[Any]:
        """One round trip: `fill` queues commands on a pipeline; returns their replies.

        With `partial`, a command that failed while others succeeded comes back as its
        exception instead of failing the call: on a cluster a pipeline spans nodes, and
        one node failing over must not throw away what the others did (claimed tasks).
        """

        async def run() -> list[Any]:
            pipe = self.redis.pipeline(transaction=False)
            fill(pipe)
            replies: list[Any] = await pipe.execute(raise_on_error=not partial)
            failures = [r for r in replies if isinstance(r, Exception)]
            if failures and len(failures) == len(replies):
                raise failures[0]  # nothing done: NOSCRIPT reloads and reruns, else StoreError
            if any(isinstance(f, redis_errors.NoScriptError) for f in failures):
                await load_scripts(self.redis)  # a promoted replica without them: next time
            return replies

        return await self.guard(run)

    async def ping(self) -> None:
        await self.guard(self.redis.ping)

    # -- storing and delivering -----------------------------------------------------------

    def on_new_work(self, hook: NewWork) -> None:
        """Tell `hook` of every task this process stores from now on (set once, by the
        composition root, when the process runs a worker)."""
        if self._new_work is not None:
            raise RuntimeError("the store already tells a worker of new work")
        self._new_work = hook

    async def announce(self, shard: int, due_ms: int) -> None:
        """A task was stored in `shard` outside `enqueue_all` (a DLQ retry, a workflow
        step): tell the local worker, and idle workers elsewhere (`wake`)."""
        if self._new_work is not None:
            self._new_work(WorkHint(shard, due_ms))
        await self.wake({shard: due_ms})

    def message_args(self, new: NewMessage) -> NewMessageArgs:
        """A new message as the scripts store it."""
        message = new.message
        return NewMessageArgs(
            message.id, message.to_json(), new.body, int(message.timeout * 1000), new.due_ms,
            len(new.body) <= self.limits.log_body_max, flow_spec(message),
            message.queue_name or "",
        )  # fmt: skip

    async def enqueue(self, new: NewMessage, dedup_key: str = "") -> Enqueued:
        """Store a message and its first delivery task atomically (`enqueue_all`)."""
        [enqueued] = await self.enqueue_all([(new, dedup_key)])
        return enqueued

    async def enqueue_all(self, items: Sequence[tuple[NewMessage, str]]) -> list[Enqueued]:
        """Store several messages (a batch, a topic fan-out) in one transaction, whatever
        their shards: all or none are written. Each (message, deduplication key or '') gets
        its shard (`placement`; those with nothing to place them by share the submission's
        shard, so a plain batch is one script call) and a fresh id naming it.

        With a deduplication key already seen within the window nothing is stored for that
        message, and the earlier message's id comes back. Concurrent calls share round
        trips (`GroupCommit`). The local worker hears of every task stored (`on_new_work`).
        """
        if not items:
            return []
        shards, default = self.keys.shards, self._next_shard
        staged = []
        for new, dedup_key in items:
            shard = placement(new.message, dedup_key, shards)
            shard = default if shard is None else shard
            message = dataclasses.replace(new.message, id=new_message_id(shard, shards))
            staged.append(_Enqueue(shard, NewMessage(message, new.body, new.due_ms), dedup_key))
        found = await self._enqueues.submit(staged)
        out = []
        for item, earlier in zip(staged, found, strict=True):
            out.append(Enqueued(earlier or item.new.message.id, earlier is not None))
            if earlier is None and self._new_work is not None:
                self._new_work(WorkHint(item.shard, item.new.due_ms))
        return out

    async def _enqueue_many(
        self, batches: Sequence[list[_Enqueue]]
    ) -> list[list[str | None] | Exception]:
        self._next_shard = (self._next_shard + 1) % self.keys.shards
        window_ms = int(self.limits.dedup_window * 1000)
        by_shard: dict[int, list[EnqueueArgs]] = defaultdict(list)
        for item in (item for batch in batches for item in batch):
            by_shard[item.shard].append(
                EnqueueArgs(self.message_args(item.new), item.dedup_key, window_ms)
            )

        # MULTI/EXEC only when one submission (a fan-out) spans shards, so it is written
        # all at once; a plain publish is one script call, atomic by itself. Not on a
        # cluster: there each shard's script is atomic, the fan-out is not (module docstring).
        atomic = self._multi_shard_transactions and any(
            len({item.shard for item in batch}) > 1 for batch in batches
        )

        soonest: dict[int, int] = {}
        for item in (item for batch in batches for item in batch):
            soonest[item.shard] = min(item.new.due_ms, soonest.get(item.shard, item.new.due_ms))

        def fill(pipe: Any) -> list[str]:
            for shard, items in by_shard.items():
                messages.enqueue(self._shards[shard], self.limits.log_max_rows, items).queue(pipe)
            publish(pipe, self.keys.wake, wake.encode(self._origin, soonest))  # other workers
            return [self._shards[shard].due for shard in by_shard]

        async def run() -> list[Any]:
            replies = await execute_replicated(
                self.redis, fill, transaction=atomic, replicas=self.limits.wait_replicas,
                timeout_ms=self.limits.wait_timeout_ms,
            )  # fmt: skip
            if any(isinstance(r, redis_errors.NoScriptError) for r in replies):
                raise redis_errors.NoScriptError("scripts flushed")  # guard reloads, reruns
            return replies

        replies = dict(zip(by_shard, (await self.guard(run))[: len(by_shard)], strict=True))
        positions: dict[int, int] = defaultdict(int)
        results: list[list[str | None] | Exception] = []
        for batch in batches:
            found: list[str | None] = []
            failure: Exception | None = None
            for item in batch:
                reply = replies[item.shard]
                if isinstance(reply, Exception):
                    failure = _store_error(reply)
                    continue
                existing = reply[positions[item.shard]]
                positions[item.shard] += 1
                found.append(existing.decode() if existing else None)
            results.append(failure or found)
        return results

    def wake_hints(self, note: bytes | str) -> list[WorkHint] | None:
        """The new work a wake-up note announces (none for this store's own notes: its
        worker heard of that work directly); None for a schedule change."""
        due = wake.decode(note, self.keys.shards, self._origin)
        return None if due is None else [WorkHint(s, d) for s, d in due.items()]

    async def claim(self, limits: ClaimPlan, now_ms: int) -> ClaimResult:
        """Claim up to `limits[shard]` due tasks from each shard, in one round trip."""
        lease_ms, maxlen = self.limits.lease_ms, self.limits.log_max_rows

        def fill(pipe: Any) -> None:
            for shard, limit in limits.items():
                messages.claim(self._shards[shard], now_ms, limit, lease_ms, maxlen).queue(pipe)

        replies = await self.pipelined(fill, partial=True)
        tasks: list[Task] = []
        next_due: dict[int, int | None] = {}
        for shard, reply in zip(limits, replies, strict=True):
            if isinstance(reply, Exception):  # its node is failing over: polled again later
                next_due[shard] = None
                continue
            head = int(reply[0])
            next_due[shard] = None if head < 0 else head
            tasks += _tasks(shard, reply, 1, now_ms + lease_ms)
        return ClaimResult(tasks, next_due)

    async def settle(
        self, batches: dict[int, list[Settlement]], now_ms: int, handoffs: dict[int, int]
    ) -> list[Task]:
        """Record attempt outcomes (ack, retry, fail, defer) in one round trip. Messages
        whose turn came because these outcomes freed flow-control or queue slots are
        claimed at once, up to `handoffs[shard]`, and returned (herald_core.scripts)."""
        lease_ms = self.limits.lease_ms

        def fill(pipe: Any) -> None:
            for shard, settlements in batches.items():
                outcomes = [SettleArgs(s.outcome, s.message_id, s.arg, s.event,
                                       [self.message_args(new) for new in s.new])
                            for s in settlements]  # fmt: skip
                messages.settle(self._shards[shard], self.limits.log_max_rows, now_ms, lease_ms,
                               handoffs.get(shard, 0), outcomes).queue(pipe)  # fmt: skip

        replies = await self.pipelined(fill)
        return [task for shard, reply in zip(batches, replies, strict=True)
                for task in _tasks(shard, reply, 0, now_ms + lease_ms)]  # fmt: skip

    def pending(self, task: Task, settlement: Settlement, *, frees_slot: bool = False) -> Pending:
        """`settlement` of `task`, ready for `settle_pending`: the callbacks it stores (built
        with no id) get one now, placing them in the task's shard."""
        if any(not new.message.id for new in settlement.new):
            shards = self.keys.shards
            new = tuple(n if n.message.id else dataclasses.replace(
                            n, message=dataclasses.replace(
                                n.message, id=new_message_id(task.shard, shards)))
                        for n in settlement.new)  # fmt: skip
            settlement = dataclasses.replace(settlement, new=new)
        return Pending(task, settlement, frees_slot)

    async def settle_pending(
        self, batch: Sequence[Pending], now_ms: int, *, hand_off: bool
    ) -> list[Task]:
        """`settle` for outcomes of claimed tasks, one script per shard in one round trip;
        with `hand_off`, one message per freed slot is claimed at once and returned."""
        batches: dict[int, list[Settlement]] = defaultdict(list)
        for item in batch:
            batches[item.task.shard].append(item.settlement)
        return await self.settle(batches, now_ms, _frees(batch) if hand_off else {})

    async def renew_leases(
        self, held: Sequence[tuple[Task, int]], until_ms: int
    ) -> list[bool | None]:
        """`renew` for tasks a worker holds, each with the lease expiry it last set. Per
        task: True renewed, False lost (the lease ran out), None unknown (its node could
        not be reached: try again)."""
        by_shard: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for task, until in held:
            by_shard[task.shard].append((task.message.id, until))
        renewed = await self.renew(by_shard, until_ms)
        out: list[bool | None] = []
        for task, _until in held:
            ids = renewed.get(task.shard)
            out.append(None if ids is None else task.message.id in ids)
        return out

    async def renew(
        self, held: dict[int, list[tuple[str, int]]], until_ms: int
    ) -> dict[int, set[str] | None]:
        """Move the leases of tasks a worker holds — per shard, (id, expiry it last set) —
        to `until_ms`, in one round trip. Per shard: the ids renewed, or None when that
        shard could not be reached (its node failing over; try again). A lease that ran out
        (the task went back to `due`, or on to another worker) is left alone."""
        held = {shard: pairs for shard, pairs in held.items() if pairs}

        def fill(pipe: Any) -> None:
            for shard, pairs in held.items():
                messages.renew(self._shards[shard], until_ms, pairs).queue(pipe)

        replies = await self.pipelined(fill, partial=True) if held else []
        return {shard: None if isinstance(reply, Exception) else {i.decode() for i in reply}
                for shard, reply in zip(held, replies, strict=True)}  # fmt: skip

    async def backlog(self) -> list[ShardBacklog]:
        """Per shard: tasks waiting and leased, the oldest due time, dead letters."""

        def fill(pipe: Any) -> None:
            for sk in self._shards:
                pipe.zcard(sk.due)
                pipe.zcard(sk.lease)
                pipe.zrange(sk.due, 0, 0, withscores=True)
                pipe.zcard(sk.dlq)

        replies = await self.pipelined(fill)
        out = []
        for i in range(0, len(replies), 4):
            waiting, leased, head, dead = replies[i : i + 4]
            oldest = int(head[0][1]) if head else None
            out.append(ShardBacklog(int(waiting), int(leased), oldest, int(dead)))
        return out

    # -- messages and dead letters (herald_core.messages, herald_core.dead_letters) --------

    async def cancel(self, by_shard: dict[int, list[str]], now_ms: int) -> int:
        """Cancel messages wherever they wait; returns how many were still there."""

        def fill(pipe: Any) -> None:
            for shard, ids in by_shard.items():
                sk, maxlen = self._shards[shard], self.limits.log_max_rows
                messages.cancel(sk, maxlen, now_ms, ids).queue(pipe)

        by_shard = {shard: ids for shard, ids in by_shard.items() if ids}
        return sum(await self.pipelined(fill)) if by_shard else 0

    async def delete_dead_letters(self, by_shard: dict[int, list[str]]) -> int:
        def fill(pipe: Any) -> None:
            for shard, ids in by_shard.items():
                dead_letters.dlq_delete(self._shards[shard], ids).queue(pipe)

        by_shard = {shard: ids for shard, ids in by_shard.items() if ids}
        return sum(await self.pipelined(fill)) if by_shard else 0

    async def retry_dead_letter(self, shard: int, dlq_id: str, new: NewMessage) -> bool:
        """Replace a dead letter by a new message (same shard, the dead letter's body)."""
        call = dead_letters.dlq_retry(self._shards[shard], self.limits.log_max_rows, dlq_id,
                                      self.message_args(new))  # fmt: skip
        retried = bool(await self.run(call))
        if retried:
            await self.announce(shard, new.due_ms)
        return retried

    async def wake(self, due_by_shard: dict[int, int] | None) -> None:
        """Tell idle workers of new tasks (or, with None, of a schedule change): best
        effort, as the workers' poll finds the work anyway."""
        note = wake.SCHEDULES if due_by_shard is None else wake.encode(self._origin, due_by_shard)
        await self._send_wake(note)

    async def wake_waits(self, deadline_ms: int) -> None:
        """Tell every timeout keeper of a workflow wait ending at `deadline_ms`: best
        effort, as their poll finds it anyway."""
        await self._send_wake(wake.encode_waits(deadline_ms))

    async def _send_wake(self, note: str) -> None:
        try:
            await self.guard(lambda: publish(self.redis, self.keys.wake, note))
        except StoreError as exc:
            logger.debug("wake-up note not sent: %s", exc)

    async def enforce_retention(self, now_ms: int) -> int:
        """Trim logs and dead letters past their retention; returns dead letters dropped."""
        log_floor = now_ms - int(self.limits.log_retention * 1000)
        dlq_floor = now_ms - int(self.limits.dlq_retention * 1000)

        def fill(pipe: Any) -> None:
            for sk in self._shards:
                dead_letters.janitor(sk, log_floor, dlq_floor).queue(pipe)

        return sum(await self.pipelined(fill))

    # -- signing keys ---------------------------------------------------------------------

    async def load_signing_keys(self, current: str, next_: str) -> tuple[str, str]:
        """Install the configured keys unless rotations of these same keys are stored."""
        seed = hashlib.sha256(f"{current}\0{next_}".encode()).hexdigest()
        reply = await self.run(signing_keys.load_keys(self.keys, seed, current, next_))
        return _pair(reply)

    async def rotate_signing_keys(self, fresh: str) -> tuple[str, str]:
        reply = await self.run(signing_keys.rotate_keys(self.keys, fresh))
        return _pair(reply)

    async def signing_keys(self) -> tuple[str, str] | None:
        key = self.keys.signing_keys
        reply = await self.guard(lambda: self.redis.hmget(key, ["current", "next"]))
        return None if reply[0] is None else _pair(reply)


async def guarded(redis: RedisClient, call: Callable[[], Awaitable[T]]) -> T:
    """Run `call`; load every script and run it again if Redis lost them (a restart
    empties the script cache); turn every Redis failure into StoreError."""
    try:
        try:
            return await call()
        except redis_errors.NoScriptError:
            await load_scripts(redis)
            return await call()
    except (redis_errors.RedisError, redis_errors.RedisClusterException) as exc:
        # RedisClusterException (no node for a slot, a cluster not yet formed) is not a
        # RedisError; MOVED/ASK/CLUSTERDOWN are, and the client has refreshed its slot map.
        raise _store_error(exc) from exc


async def load_scripts(redis: RedisClient) -> None:
    for script in registered():
        await redis.script_load(script.source)


def placement(message: Message, dedup_key: str, shards: int) -> int | None:
    """The shard a new message must go to, or None when any will do: messages of one queue
    or flow-control key, and duplicates, must meet in one shard."""
    if message.queue_name is not None:
        return queue_shard(message.queue_name, shards)
    if message.flow_key is not None:
        return shard_for_key(message.flow_key, shards)
    # A callback is stored in its source's shard (by the script that settles the attempt),
    # so a callback's flow-control key places the source where the key lives. (With a queue
    # or a key of its own the source stays there, and its callbacks' limits hold among the
    # messages of that shard only: README "Callbacks".)
    key = next(_callback_flow_keys(message.callback, message.failure_callback), None)
    if key is not None:
        return shard_for_key(key, shards)
    return shard_for_key(dedup_key, shards) if dedup_key else None


def _callback_flow_keys(*callbacks: Callback | None) -> Iterator[str]:
    for callback in callbacks:
        if callback is not None:
            if callback.flow_key is not None:
                yield callback.flow_key
            yield from _callback_flow_keys(callback.callback, callback.failure_callback)


def _frees(batch: Sequence[Pending]) -> dict[int, int]:
    """Per shard: slots the outcomes free (each may take over one message)."""
    frees: dict[int, int] = {}
    for item in batch:
        if item.frees_slot:
            frees[item.task.shard] = frees.get(item.task.shard, 0) + 1
    return frees


def landed(batch: Sequence[Pending], now_ms: int) -> list[WorkHint]:
    """Per shard, the earliest task a landed batch made due (`Settlement.soonest`); a
    freed slot makes the next in line due now."""
    due = dict.fromkeys(_frees(batch), now_ms)
    for item in batch:
        when = item.settlement.soonest()
        shard = item.task.shard
        if when is not None and when < due.get(shard, when + 1):
            due[shard] = when
    return [WorkHint(shard, when) for shard, when in due.items()]


def _tasks(shard: int, reply: list[Any], start: int, lease_until: int) -> list[Task]:
    """Claimed tasks from a script's reply: id, metadata, body, retries done, ..."""
    return [Task(shard, Message.from_json(reply[i + 1]), reply[i + 2] or b"", int(reply[i + 3]),
                 lease_until) for i in range(start, len(reply), 4)]  # fmt: skip


def _store_error(exc: Exception) -> StoreError:
    return StoreError(f"redis: {exc.__class__.__name__}: {exc}")


def _pair(reply: Iterable[Any]) -> tuple[str, str]:
    current, next_ = (v.decode() if isinstance(v, bytes) else str(v) for v in reply)
    return current, next_
