"""`create_app(settings)`: the Starlette application, its routes, error mapping and lifespan.

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
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from herald_core.egress import policy_for
from herald_core.errors import ConfigError, HeraldError, InvalidField
from herald_core.keys import Keys
from herald_core.routing_store import RoutingStore
from herald_core.settings import Settings
from herald_core.store import Store
from herald_core.tasks import cancel_and_wait
from herald_gateway.console.routes import console_routes
from herald_gateway.keyring import KeyRing
from herald_gateway.limits import RequestLimits
from herald_gateway.metrics import Metrics
from herald_gateway.metrics_listener import MetricsListener
from herald_gateway.routes import publish, system
from herald_gateway.routes._common import json_response
from herald_gateway.routes.flow_control import FLOW_CONTROL_ROUTES
from herald_gateway.routes.lifecycle import LIFECYCLE_ROUTES
from herald_gateway.routes.queues import QUEUE_ROUTES
from herald_gateway.routes.schedules import SCHEDULE_ROUTES
from herald_gateway.routes.topics import TOPIC_ROUTES
from herald_gateway.routing_cache import RoutingCache
from herald_gateway.scheduler import Scheduler
from herald_gateway.sender import AiohttpSender, Sender
from herald_gateway.state import State
from herald_gateway.wakeup import WakeListener
from herald_gateway.worker import Worker

logger = logging.getLogger(__name__)

SenderFactory = Callable[[Settings], Sender]


def _default_sender(settings: Settings) -> Sender:
    return AiohttpSender(max_connections=settings.concurrency, egress=policy_for(settings))


def limits(settings: Settings) -> Middleware:
    """The header-count limit (herald_gateway.limits)."""
    return Middleware(RequestLimits, max_headers=settings.max_headers)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client left (or was cut off as too slow) mid-body: nobody to answer, no 500."""
    logger.debug("client left before sending %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def _herald_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HeraldError)
    if isinstance(exc, InvalidField):
        logger.info("refused %s %s: %s", request.method, request.url.path, exc)
    return json_response({"error": str(exc)}, exc.status_code)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return json_response({"error": exc.detail}, exc.status_code)


def check_settings(settings: Settings) -> None:
    """Refuse to serve without credentials or with weak signing keys."""
    if "api" in settings.role_set and not settings.tokens():
        raise ConfigError("HERALD_TOKEN is required")
    for name in ("current_signing_key", "next_signing_key"):
        if len(getattr(settings, name).get_secret_value().encode()) < 32:
            raise ConfigError(f"HERALD_{name.upper()} must be at least 32 bytes")
    policy_for(settings)  # a malformed HERALD_EGRESS_* entry stops the start here
    if settings.metrics_port == settings.port:
        raise ConfigError("HERALD_METRICS_PORT must differ from HERALD_PORT")


def create_app(settings: Settings, sender_factory: SenderFactory = _default_sender) -> Starlette:
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
            worker = Worker(store, sender, keyring, settings, metrics)
        runner = asyncio.create_task(worker.run()) if worker else None
        scheduler = wakeups = None
        if worker is not None:
            schedules = Scheduler(store, settings, worker.notify, routing, metrics)
            scheduler = asyncio.create_task(schedules.run(), name="herald-scheduler")
            listener = WakeListener(store, on_work=worker.notify, on_schedules=schedules.wake,
                                    on_connect=worker.poll_now,
                                    backoff_max=settings.redis_backoff_max)  # fmt: skip
            wakeups = asyncio.create_task(listener.run(), name="herald-wakeups")
        # Everything built so far lives as long as the process: keep it out of the cyclic
        # GC's way, so full collections (tens of ms on the hot path) stay short.
        gc.collect()
        gc.freeze()
        try:
            yield State(
                settings=settings, store=store, keyring=keyring, metrics=metrics, worker=worker,
                routing=routing,
            )  # fmt: skip
        finally:
            if scheduler is not None and wakeups is not None:
                await cancel_and_wait(wakeups)
                await cancel_and_wait(scheduler)
            if worker and runner:
                worker.stop()
                await runner
            await routing.aclose()
            await sender.aclose()
            await store.aclose()

    routes = [
        Route("/v2/publish/{destination:path}", publish.publish, methods=["POST"]),
        *LIFECYCLE_ROUTES,
        *QUEUE_ROUTES,
        *SCHEDULE_ROUTES,
        *FLOW_CONTROL_ROUTES,
        *TOPIC_ROUTES,
        Route("/v2/keys", system.get_keys, methods=["GET"]),
        Route("/v2/keys/rotate", system.rotate_keys, methods=["POST"]),
        Route("/v2/openapi.json", system.openapi, methods=["GET"]),
        Route("/healthz", system.healthz, methods=["GET"]),
        Route("/readyz", system.readyz, methods=["GET"]),
        *console_routes(settings),
        # /metrics: only on HERALD_METRICS_PORT (MetricsListener), never on the API port.
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HeraldError: _herald_error,
            HTTPException: _http_error,
            ClientDisconnect: _client_gone,
        },
        middleware=[Middleware(MetricsListener, port=settings.metrics_port), limits(settings)],
    )
