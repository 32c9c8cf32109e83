"""Delivery workers: claim due tasks from Redis in batches, deliver them concurrently,
settle the outcomes in batches.

Flow: `run` loops claim → spawn one asyncio task per delivery → `Settler` commits outcomes.
What to claim and how long to sleep is the planner's call (herald_core.claims): every store
of new work hints at it (`notify`: directly from publishes in this process, as wake-up notes
over pub/sub from any other, herald_gateway.delivery.wakeup), each claim reports the next due
time left (a waiting task or a lease running out), and every `poll_interval` everything is
looked at, the safety net for notes lost while the subscription was down.
Per-host caps keep one slow endpoint from taking every slot: a task for a host at its cap
waits in a short local line (at most `host_concurrency` long); past that it is deferred in
Redis for `host_defer` seconds without spending an attempt. Every task the worker holds,
in flight or in a line, keeps its lease through the heartbeat (herald_gateway.delivery.leases).
The claim size adapts (AIMD) so a worker stuck on one busy host does not keep claiming
tasks only to hand them back.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter, deque
from typing import Any
from urllib.parse import urlsplit

from herald_core.claims import ClaimPlanner, WorkHint
from herald_core.clock import SYSTEM_CLOCK, Clock
from herald_core.errors import HeraldError, StoreError
from herald_core.ids import dlq_id_of
from herald_core.models import Task
from herald_core.reconnect import Backoff
from herald_core.settings import Settings
from herald_core.store import Settlement, Store
from herald_core.workflow_failures import facts as run_facts, workflow_fields
from herald_core.workflows import run_failed_by
from herald_gateway.delivery.attempts import (
    Outcome,
    Result,
    Step,
    classify,
    event,
    next_step,
    request_headers,
)
from herald_gateway.delivery.callbacks import callbacks_for
from herald_gateway.delivery.grants import Grants
from herald_gateway.delivery.leases import Leases
from herald_gateway.delivery.retention import enforce_retention
from herald_gateway.delivery.sender import Failure, Reply, Sender
from herald_gateway.delivery.settling import Settler
from herald_gateway.keyring import KeyRing
from herald_gateway.metrics import Metrics
from herald_gateway.publish.workflow_events import answer_invoker

logger = logging.getLogger(__name__)
_KEY_REFRESH = 5.0


class Worker:
    def __init__(
        self,
        store: Store,
        sender: Sender,
        keyring: KeyRing,
        settings: Settings,
        metrics: Metrics,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._store, self._sender, self._keyring = store, sender, keyring
        self._settings, self._metrics, self._clock = settings, metrics, clock
        self._settler = Settler(
            store, backoff_max=settings.redis_backoff_max, on_landed=self._landed,
            on_handoff=self._handed_over, clock=clock,
        )  # fmt: skip
        self._leases = Leases(store, settings.lease_duration, clock, metrics.leases_lost.inc)
        self._planner = ClaimPlanner.from_settings(settings)
        self._wake = asyncio.Event()
        self._stopping = False
        self._inflight: set[asyncio.Task[None]] = set()
        self._per_host: Counter[str] = Counter()
        #: Claimed tasks waiting for a slot of their host.
        self._lines: dict[str, deque[Task]] = {}
        self._waiting = 0
        self._claim_size = settings.concurrency
        #: Slots this worker may use (global parallelism grants it; else `concurrency`).
        self._granted = settings.concurrency if settings.global_parallelism == 0 else 0
        self._name = secrets.token_hex(8)
        self._last_claimed = 0

    def _handed_over(self, tasks: list[Task]) -> None:
        """Messages claimed for this worker as its outcomes freed their slots."""
        for task in tasks:
            if self._stopping:
                self._defer(task, 0)
            else:
                self._dispatch(task)

    def _landed(self, hints: list[WorkHint]) -> None:
        """Outcomes are in Redis: what they made due (retries, deferrals, callbacks, the
        next in line behind a freed slot) is claimed on time."""
        for hint in hints:
            self.notify(hint)

    def notify(self, hint: WorkHint) -> None:
        """A task was just stored (where and when it is due: `hint`)."""
        if self._planner.heard(hint):
            self._wake.set()

    def poll_now(self) -> None:
        """Look everywhere at the next step (wake-up notes may have been missed)."""
        self._planner.poll_now()
        self._wake.set()

    # -- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        settler = asyncio.create_task(self._settler.run(), name="herald-settler")
        keys = asyncio.create_task(self._keyring.follow(_KEY_REFRESH), name="herald-keys")
        janitor = asyncio.create_task(enforce_retention(self._store, self._clock),
                                      name="herald-janitor")  # fmt: skip
        grants = Grants(self._store, self._settings, self._clock, self._name, self._usage,
                        self._granted_now)  # fmt: skip
        slots = asyncio.create_task(grants.run(), name="herald-parallelism")
        heartbeat = asyncio.create_task(self._leases.run(), name="herald-leases")
        try:
            backoff = Backoff(self._settings.redis_backoff_max)
            while not self._stopping:
                try:
                    await self._step()
                    backoff.succeeded()
                except StoreError as exc:
                    self._metrics.redis_errors.inc()
                    delay = backoff.failed()
                    logger.warning("claim failed, retrying in %.2fs: %s", delay, exc)
                    await self._sleep(delay)
        finally:
            keys.cancel()
            janitor.cancel()
            slots.cancel()
            await self._finish(settler)  # in-flight leases are renewed until the end
            heartbeat.cancel()

    async def _step(self) -> None:
        free = min(self._settings.concurrency, self._granted) - len(self._inflight) - self._waiting
        free = min(free, self._claim_size)
        now = self._clock() * 1000
        plan = self._planner.plan(free, now)
        if not plan:
            await self._sleep(self._planner.idle_timeout(now, free))
            return
        result = await self._store.claim(plan, int(now))
        self._planner.claimed(result)
        self._last_claimed = len(result.tasks)
        deferred = sum(not self._dispatch(task) for task in result.tasks)
        self._adapt_claim_size(len(result.tasks), deferred)

    def _adapt_claim_size(self, claimed: int, deferred: int) -> None:
        """Shrink to what could be dispatched when tasks had to be handed back; else grow."""
        if deferred:
            self._claim_size = max(1, claimed - deferred)
        else:
            self._claim_size = min(self._settings.concurrency, self._claim_size * 2)

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            try:
                async with asyncio.timeout(seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
        self._wake.clear()

    # -- one delivery ---------------------------------------------------------------------

    def _dispatch(self, task: Task) -> bool:
        """Start, queue or (if the host's line is full) defer a claimed task."""
        host = urlsplit(task.message.url).netloc
        cap = self._settings.host_concurrency
        if self._per_host[host] < cap:
            self._leases.hold(task)
            self._start(task, host)
            return True
        line = self._lines.setdefault(host, deque())
        if len(line) < cap:
            self._leases.hold(task)
            line.append(task)
            self._waiting += 1
            return True
        self._defer(task, self._settings.host_defer)
        return False

    def _defer(self, task: Task, seconds: float) -> None:
        self._leases.release(task)
        due = int((self._clock() + seconds) * 1000)
        self._settler.add(task, Settlement.defer(task.message.id, due))

    def _start(self, task: Task, host: str) -> None:
        self._per_host[host] += 1
        job = asyncio.create_task(self._guarded(task))
        self._inflight.add(job)
        job.add_done_callback(lambda done: self._done(done, task, host))

    def _done(self, job: asyncio.Task[None], task: Task, host: str) -> None:
        self._leases.release(task)
        self._inflight.discard(job)
        self._per_host[host] -= 1
        self._next_in_line(host)
        if not self._per_host[host]:
            del self._per_host[host]
        self._wake.set()

    def _next_in_line(self, host: str) -> None:
        line = self._lines.get(host)
        if not line or self._stopping:
            return
        task = line.popleft()
        self._waiting -= 1
        if not line:
            del self._lines[host]
        self._start(task, host)  # its lease was renewed while it waited

    async def _guarded(self, task: Task) -> None:
        """The outermost frame of a delivery: a bug must not strand the task until its
        lease runs out, so it goes back to Redis for another try."""
        try:
            await self._deliver(task)
        except Exception:
            logger.exception("delivery of %s crashed; handing it back", task.message.id)
            self._defer(task, self._settings.host_defer)

    async def _deliver(self, task: Task) -> None:
        message = task.message
        started = time.perf_counter()
        try:
            now = self._clock()
            headers = request_headers(task, self._keyring.current, int(now),
                                      self._settings.region)  # fmt: skip
            answer = await self._sender.send(
                message.method, message.url, headers, task.body, message.timeout
            )
        except asyncio.CancelledError:  # shutdown grace is over: hand the task back now
            self._defer(task, 0)
            raise
        now = self._clock()
        outcome = classify(answer, now)
        now_ms = int(now * 1000)
        step = next_step(task, outcome, now_ms)
        label = Result.FAILED if step.final and outcome.result is Result.RETRY else outcome.result
        self._metrics.record_attempt(label, outcome.status, time.perf_counter() - started)
        # a flow-control or queue slot frees: once recorded, the next in line is due
        # (a callback may hold its queue message's slot: lua/include/slots.lua, hold_done)
        frees_slot = (message.flow_key is not None or message.queue_name is not None
                      or message.callback_of is not None)  # fmt: skip
        failed = step.final and label is not Result.DELIVERED
        workflow = None
        if failed:  # a workflow run's message: its failure callback's fields, its invoker
            workflow = await self._workflow_fields(task)
            await self._answer_invoker(task, now_ms)
        settlement = self._settlement(task, answer, outcome, step, now_ms, workflow)
        self._settler.add(task, settlement, frees_slot=frees_slot)
        if failed:
            logger.info("message %s failed for good after %d retries: %s",
                        message.id, task.retried, outcome.error)  # fmt: skip

    async def _workflow_fields(self, task: Task) -> dict[str, Any] | None:
        """The workflow fields of the failure callback of a run's step (read from the run's
        record: rare, a step failing for good); None for other messages."""
        message = task.message
        run_id = run_failed_by(message.headers) if message.failure_callback else None
        if run_id is None:
            return None
        try:
            found = await run_facts(self._store, [run_id])
        except StoreError:
            found = {}
        return workflow_fields(found[run_id]) if run_id in found else None

    async def _answer_invoker(self, task: Task, now_ms: int) -> None:
        """A run's message dead-letters, so its run fails (in the settle script): a run
        started by `context.invoke` answers its invoker `isFailed` first, as `end_run`
        answers before ending a run (a crash between: the message comes back, fails again,
        and the invoker's step, stored once, is not stored twice)."""
        run_id = run_failed_by(task.message.headers)
        if run_id is None:
            return
        try:
            await answer_invoker(self._store, self._settings, run_id, b"", canceled=False,
                                 failed=True, now_ms=now_ms)  # fmt: skip
        except HeraldError as exc:
            logger.warning("workflow run %s failed; its invoker was not answered: %s",
                           run_id, exc)  # fmt: skip

    def _settlement(
        self,
        task: Task,
        answer: Reply | Failure,
        outcome: Outcome,
        step: Step,
        now_ms: int,
        workflow: dict[str, Any] | None = None,
    ) -> Settlement:
        message_id = task.message.id
        info = event(answer, outcome)
        if outcome.result is Result.DELIVERED:
            new = callbacks_for(task, answer, now_ms, None)
            return Settlement.delivered(message_id, info, new)
        if step.final:
            dlq_id = dlq_id_of(message_id)
            new = callbacks_for(task, answer, now_ms, dlq_id, workflow)
            return Settlement.failed(message_id, dlq_id, info, new)
        new = callbacks_for(task, answer, now_ms, None)
        return Settlement.retry(message_id, task.retried + 1, step.due_ms, info, new)

    # -- lifecycle ------------------------------------------------------------------------

    def _usage(self) -> tuple[int, int]:
        """Slots in use (in flight or in a line) and the size of the last claim."""
        return len(self._inflight) + self._waiting, self._last_claimed

    def _granted_now(self, granted: int) -> None:
        if granted != self._granted:
            self._granted = granted
            self._wake.set()

    def stop(self) -> None:
        """Stop claiming; `run` then finishes in-flight deliveries and returns."""
        self._stopping = True
        self._wake.set()

    async def _finish(self, settler: asyncio.Task[None]) -> None:
        grace = self._settings.shutdown_grace
        for line in self._lines.values():  # never started: straight back to Redis
            for task in line:
                self._defer(task, 0)
        self._lines.clear()
        self._waiting = 0
        if self._inflight:
            logger.info("waiting up to %.0fs for %d deliveries", grace, len(self._inflight))
            _done, late = await asyncio.wait(set(self._inflight), timeout=grace)
            for job in late:  # their leases expire and another worker delivers them
                job.cancel()
        if not await self._settler.drain(timeout=max(grace, 1.0)):
            logger.warning("%d outcomes not recorded; those messages will be retried",
                           len(self._settler))  # fmt: skip
        settler.cancel()
        await asyncio.gather(settler, return_exceptions=True)
