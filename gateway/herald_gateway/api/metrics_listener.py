"""The metrics listener: `/metrics` on a port of its own (HERALD_METRICS_PORT), never on the
API port.

`herald gateway` binds both ports in one uvicorn server (herald_gateway.cli.server), so the
metrics share the API's lifespan state; this middleware sends a request that arrived on the
metrics port to the metrics router (`/metrics` only, 404 for anything else) and every other
request to the API. Unauthenticated metrics thus never reach publishers' Service, Ingress or
NetworkPolicy port, and the API answers `/metrics` with a 404.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from herald_gateway.api.routes import system
from herald_gateway.api.routes._common import json_response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return json_response({"error": exc.detail}, exc.status_code)


class MetricsListener:
    """Pure ASGI middleware routing by the local port a request came in on."""

    def __init__(self, app: ASGIApp, port: int) -> None:
        self.app, self.port = app, port
        router = Router(routes=[Route("/metrics", system.metrics, methods=["GET"])])
        # It sits above the app's own exception handling: 404/405 are answered here.
        self.metrics = ExceptionMiddleware(router, handlers={HTTPException: _http_error})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.port and scope["type"] == "http" and on_port(scope, self.port):
            await self.metrics(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def on_port(scope: Scope, port: int) -> bool:
    """Whether the request arrived on `port` (uvicorn puts the socket's own address in
    `scope["server"]`; None for a unix socket)."""
    server = scope.get("server")
    return server is not None and len(server) > 1 and server[1] == port
