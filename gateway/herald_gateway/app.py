"""`create_app(settings)`: the gateway process: the API (herald_gateway.api.application) with
a lifespan that composes what runs beside it.

The lifespan opens the Redis pool, loads the signing keys and, when this process has the
`worker` role, runs the delivery worker until shutdown (SIGTERM → stop claiming, finish
in-flight deliveries within `shutdown_grace`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette

from herald_core.clock import SYSTEM_CLOCK, Clock
from herald_core.egress import policy_for
from herald_core.errors import ConfigError
from herald_core.keys import Keys
from herald_core.routing_store import RoutingStore
from herald_core.settings import Settings
from herald_core.store import Store
from herald_core.tasks import cancel_and_wait
from herald_gateway.api.application import application
from herald_gateway.delivery.h1_sender import H1Sender
from herald_gateway.delivery.sender import AiohttpSender, Sender
from herald_gateway.delivery.wakeup import WakeListener
from herald_gateway.delivery.worker import Worker
from herald_gateway.keyring import KeyRing
from herald_gateway.metrics import Metrics
from herald_gateway.routing_cache import RoutingCache
from herald_gateway.scheduling.scheduler import Scheduler
from herald_gateway.scheduling.waiters import WaitTimeouts
from herald_gateway.state import State

logger = logging.getLogger(__name__)

#: The cyclic GC's thresholds once the gateway is up (`gc.set_threshold`; see `lifespan`).
GC_THRESHOLDS = (10_000, 20, 100)

SenderFactory = Callable[[Settings], Sender]


def _default_sender(settings: Settings) -> Sender:
    """The client `HERALD_HTTP_CLIENT` names, one per worker process."""
    kind = H1Sender if settings.http_client == "h1" else AiohttpSender
    return kind(max_connections=settings.concurrency, egress=policy_for(settings))


def check_settings(settings: Settings) -> None:
    """Refuse to serve without credentials or with weak signing keys."""
    if "api" in settings.role_set and not settings.tokens():
        raise ConfigError("HERALD_TOKEN is required")
    if set(settings.tokens()) & set(settings.readonly_tokens()):
        raise ConfigError("a token cannot be both in HERALD_TOKEN and HERALD_READONLY_TOKEN")
    for name in ("current_signing_key", "next_signing_key"):
        if len(getattr(settings, name).get_secret_value().encode()) < 32:
            raise ConfigError(f"HERALD_{name.upper()} must be at least 32 bytes")
    policy_for(settings)  # a malformed HERALD_EGRESS_* entry stops the start here
    if settings.metrics_port == settings.port:
        raise ConfigError("HERALD_METRICS_PORT must differ from HERALD_PORT")


def create_app(
    settings: Settings, sender_factory: SenderFactory = _default_sender, clock: Clock = SYSTEM_CLOCK
) -> Starlette:
    check_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        keys = Keys(settings.key_prefix, settings.shards)
        store = Store.from_settings(settings, keys)
        keyring = KeyRing(
            store,
            settings.current_signing_key.get_secret_value(),
            settings.next_signing_key.get_secret_value(),
        )
        await keyring.refresh()
        metrics = Metrics()
        routing = RoutingCache(RoutingStore(store.redis, keys), refresh=settings.routing_refresh,
                               reloads=metrics.routing_reloads)  # fmt: skip
        routing.start()
        sender = sender_factory(settings)
        worker = None
        if "worker" in settings.role_set:
            worker = Worker(store, sender, keyring, settings, metrics, clock)
            store.on_new_work(worker.notify)  # what this process stores, its worker claims
        runner = asyncio.create_task(worker.run()) if worker else None
        scheduler = wakeups = timeouts = None
        if worker is not None:
            schedules = Scheduler(store, settings, routing, metrics, clock)
            scheduler = asyncio.create_task(schedules.run(), name="herald-scheduler")
            waits = WaitTimeouts(store, settings, clock)
            timeouts = asyncio.create_task(waits.run(), name="herald-wait-timeouts")

            def look_everywhere() -> None:  # notes sent while unsubscribed are lost
                worker.poll_now()
                waits.wake_now()

            listener = WakeListener(store, on_work=worker.notify, on_schedules=schedules.wake,
                                    on_waits=waits.wake_at, on_connect=look_everywhere,
                                    backoff_max=settings.redis_backoff_max)  # fmt: skip
            wakeups = asyncio.create_task(listener.run(), name="herald-wakeups")
        # Everything built so far lives as long as the process: keep it out of the cyclic
        # GC's way, so full collections (tens of ms on the hot path) stay short. A message
        # makes a few hundred short-lived containers, so the default young-generation
        # threshold (700) ran a collection every few messages: at 10,000 the gateway spends
        # ~10 % less CPU per delivered message; 50,000 saved no more and its longer pauses
        # showed in the publish p99 (docs/benchmarks.md, "Garbage collection thresholds").
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            yield State(
                settings=settings, clock=clock, store=store, keyring=keyring, metrics=metrics,
                routing=routing,
            )  # fmt: skip
        finally:
            if scheduler is not None and wakeups is not None and timeouts is not None:
                await cancel_and_wait(timeouts)
                await cancel_and_wait(wakeups)
                await cancel_and_wait(scheduler)
            if worker and runner:
                worker.stop()
                await runner
            await routing.aclose()
            await sender.aclose()
            await store.aclose()

    return application(settings, lifespan)
