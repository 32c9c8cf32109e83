"""`application(settings, lifespan)`: the Starlette application of the API, its routes, error
mapping and middleware. What runs beside it (the lifespan: store, workers, scheduler) is
composed by herald_gateway.app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from herald_core.errors import HeraldError, InvalidField
from herald_core.settings import Settings
from herald_gateway.api.console.routes import console_routes
from herald_gateway.api.limits import RequestLimits
from herald_gateway.api.metrics_listener import MetricsListener
from herald_gateway.api.routes import publish, system
from herald_gateway.api.routes._common import json_response
from herald_gateway.api.routes.flow_control import FLOW_CONTROL_ROUTES
from herald_gateway.api.routes.lifecycle import LIFECYCLE_ROUTES
from herald_gateway.api.routes.queues import QUEUE_ROUTES
from herald_gateway.api.routes.schedules import SCHEDULE_ROUTES
from herald_gateway.api.routes.topics import TOPIC_ROUTES
from herald_gateway.api.routes.workflow_dlq import WORKFLOW_DLQ_ROUTES
from herald_gateway.api.routes.workflow_events import WORKFLOW_EVENT_ROUTES
from herald_gateway.api.routes.workflow_logs import WORKFLOW_LOG_ROUTES
from herald_gateway.api.routes.workflow_triggers import WORKFLOW_TRIGGER_ROUTES
from herald_gateway.api.routes.workflows import WORKFLOW_ROUTES
from herald_gateway.state import State

logger = logging.getLogger(__name__)

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[State]]

ROUTES = [
    Route("/v2/publish/{destination:path}", publish.publish, methods=["POST"]),
    *LIFECYCLE_ROUTES,
    *QUEUE_ROUTES,
    *SCHEDULE_ROUTES,
    *FLOW_CONTROL_ROUTES,
    *TOPIC_ROUTES,
    *WORKFLOW_ROUTES,
    *WORKFLOW_DLQ_ROUTES,
    *WORKFLOW_LOG_ROUTES,
    *WORKFLOW_EVENT_ROUTES,
    *WORKFLOW_TRIGGER_ROUTES,
    Route("/v2/keys", system.get_keys, methods=["GET"]),
    Route("/v2/keys/rotate", system.rotate_keys, methods=["POST"]),
    Route("/v2/openapi.json", system.openapi, methods=["GET"]),
    Route("/healthz", system.healthz, methods=["GET"]),
    Route("/readyz", system.readyz, methods=["GET"]),
    # /metrics: only on HERALD_METRICS_PORT (MetricsListener), never on the API port.
]


def limits(settings: Settings) -> Middleware:
    """The header-count limit (herald_gateway.api.limits)."""
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


def application(settings: Settings, lifespan: Lifespan) -> Starlette:
    return Starlette(
        routes=[*ROUTES, *console_routes(settings)],
        lifespan=lifespan,
        exception_handlers={
            HeraldError: _herald_error,
            HTTPException: _http_error,
            ClientDisconnect: _client_gone,
        },
        middleware=[Middleware(MetricsListener, port=settings.metrics_port), limits(settings)],
    )


__all__ = ["ROUTES", "application"]
