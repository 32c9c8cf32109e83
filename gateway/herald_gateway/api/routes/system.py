"""Health, readiness, metrics, signing keys and the OpenAPI document."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from herald_core.errors import StoreError
from herald_core.signing import new_signing_key
from herald_gateway.api.auth import require_full_admin
from herald_gateway.api.openapi import document_bytes
from herald_gateway.api.routes._common import authorized, json_response, now_ms, state


async def healthz(request: Request) -> Response:
    """Alive: never touches Redis (a liveness probe must not restart on a Redis outage)."""
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    await state(request)["store"].ping()  # StoreError → 503
    return PlainTextResponse("ready")


async def metrics(request: Request) -> Response:
    st = state(request)
    try:
        st["metrics"].set_backlog(await st["store"].backlog(), now_ms(request))
    except StoreError:  # metrics must render even when Redis is down
        st["metrics"].redis_errors.inc()
    return Response(st["metrics"].render(), media_type="text/plain; version=0.0.4")


async def openapi(request: Request) -> Response:
    """Herald's OpenAPI document (herald_gateway.api.openapi): public, like /healthz."""
    return Response(document_bytes(), media_type="application/json")


async def get_keys(request: Request) -> Response:
    st = authorized(request)
    require_full_admin(request, st["settings"])
    keyring = st["keyring"]
    return json_response({"current": keyring.current, "next": keyring.next})


async def rotate_keys(request: Request) -> Response:
    keyring = authorized(request)["keyring"]
    current, next_ = await keyring.rotate(new_signing_key())
    return json_response({"current": current, "next": next_})
