"""The scheduler: every worker process fires the schedules' due ticks (herald_core.schedules).

Ticks are claimed atomically in Redis, so however many gateways run, each tick is taken by
one of them; the message it produces is deduplicated on (schedule, tick), so a tick taken
again after a crash stores nothing twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging

from herald_core.clock import SYSTEM_CLOCK, Clock
from herald_core.cron import parse_cron
from herald_core.errors import InvalidRequest, NotFound
from herald_core.routing import split_destination, topic_id
from herald_core.schedules import Schedule, Schedules, Tick
from herald_core.settings import Settings
from herald_core.store import Store
from herald_gateway.metrics import Metrics
from herald_gateway.publish.destinations import TopicRef, read_destination
from herald_gateway.publish.fanout import targets
from herald_gateway.publish.publishing import parse_publish
from herald_gateway.publish.staging import stage
from herald_gateway.routing_cache import RoutingCache
from herald_gateway.scheduling.keeper import Keeper

logger = logging.getLogger(__name__)
_BATCH = 500
_CONCURRENT = 256
_DAY_MS = 86_400_000


def tick_dedup_key(schedule_id: str, tick_ms: int) -> str:
    return hashlib.sha256(f"schedule\0{schedule_id}\0{tick_ms}".encode()).hexdigest()


class Scheduler(Keeper):
    what = "firing schedules"

    def __init__(
        self,
        store: Store,
        settings: Settings,
        routing: RoutingCache | None = None,
        metrics: Metrics | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(clock, settings.schedule_poll, settings.redis_backoff_max)
        self._store, self._settings = store, settings
        self._routing, self._metrics = routing, metrics
        self._schedules = Schedules(store)

    def wake(self) -> None:
        """A schedule was created or replaced: look at the due ticks now."""
        self.wake_now()

    async def run_once(self) -> float:
        """Fire what is due; returns how long to wait before looking again (s)."""
        now = self._clock.now_ms()
        lease = int(self._settings.schedule_lease * 1000)
        claimed, head = await self._schedules.claim(now, lease, _BATCH)
        # together (a bounded number at a time): their messages share the store's round
        # trips (group commit), and every tick is recorded in one more
        limit = asyncio.Semaphore(_CONCURRENT)

        async def fire(schedule: Schedule, tick: int) -> Tick:
            async with limit:
                return await self._fire(schedule, tick, now)

        outcomes = await asyncio.gather(*(fire(s, tick) for s, tick in claimed),
                                        return_exceptions=True)  # fmt: skip
        # a tick whose message could not be stored is not recorded: it comes back when its
        # lease ends
        recorded = [t for t in outcomes if isinstance(t, Tick)]
        await self._schedules.done(recorded)
        if self._metrics is not None:
            for tick in recorded:
                kind = "failed" if tick.error else "skipped" if tick.fired is None else "fired"
                self._metrics.schedule_ticks.labels(kind).inc()
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        if len(claimed) == _BATCH:
            return 0.0
        # the next tick: the earliest left when claiming, or one just set by `done`
        nexts = [t.next_tick for t in recorded if t.next_tick] + ([head] if head else [])
        poll = self._settings.schedule_poll
        if not nexts:
            return poll
        return max(0.0, min(poll, (min(nexts) - self._clock() * 1000) / 1000))

    async def _fire(self, schedule: Schedule, tick: int, now: int) -> Tick:
        try:
            cron = parse_cron(schedule.cron)
        except InvalidRequest as exc:  # cannot happen unless the cron library changed
            return Tick(schedule, None, now + _DAY_MS, None, str(exc))
        next_tick = cron.next_after(max(now, tick), self._settings.cron_minute)
        if schedule.paused:
            return Tick(schedule, None, next_tick)
        try:
            destination = read_destination(schedule.destination)
            if isinstance(destination, TopicRef):
                messages = await self._fan_out(schedule, destination, tick)
            else:
                messages = [await self._publish(schedule, destination, tick, now)]
        except (InvalidRequest, NotFound) as exc:  # settings changed, or the topic is gone
            logger.warning("schedule %s could not fire: %s", schedule.id, exc)
            return Tick(schedule, tick, next_tick, None, str(exc))
        return Tick(schedule, tick, next_tick, messages)

    async def _publish(self, schedule: Schedule, destination: str, tick: int, now: int) -> str:
        """A URL destination: one message, deduplicated on (schedule, tick)."""
        request = parse_publish(destination, schedule.query, schedule.headers, schedule.body,
                                self._settings, now, queue=schedule.queue)  # fmt: skip
        dedup = tick_dedup_key(schedule.id, tick)
        staged = stage(targets(request, None, self._settings), tick, schedule.caller_ip,
                       dedup=dedup, schedule_id=schedule.id)  # fmt: skip
        [enqueued] = await self._store.enqueue_all(staged)
        return enqueued.message_id

    async def _fan_out(self, schedule: Schedule, topic: TopicRef, tick: int) -> list[str]:
        """A topic (URL group) destination: one message per subscription, each deduplicated
        on (schedule, tick) like a URL destination's."""
        namespace, name = split_destination(topic.name, self._settings.default_namespace)
        table = None if self._routing is None else await self._routing.lookup(
            topic_id(namespace, name))  # fmt: skip
        if table is None:
            raise NotFound(f'topic "{namespace}/{name}" not found')
        if not table.subscriptions:
            return []
        request = parse_publish(topic, schedule.query, schedule.headers, schedule.body,
                                self._settings, tick, defaults=table.topic.headers)  # fmt: skip
        request = dataclasses.replace(request, dedup_id=f"{schedule.id}-{tick}")
        staged = stage(targets(request, table, self._settings), tick, schedule.caller_ip,
                       schedule_id=schedule.id)  # fmt: skip
        return [enqueued.message_id for enqueued in await self._store.enqueue_all(staged)]
