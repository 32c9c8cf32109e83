"""Helpers every route uses: typed state, auth, JSON responses, bounded body reads."""

from __future__ import annotations

from typing import Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response

from herald_core.errors import InvalidField, PayloadTooLarge
from herald_gateway.api.auth import require_admin
from herald_gateway.state import State


def now_ms(request: Request) -> int:
    """Unix time in ms, as every stored time is, from the app's clock (herald_core.clock)."""
    return state(request)["clock"].now_ms()


def raw_path(request: Request) -> bytes:
    """The request's path as it came, percent-escapes and all (a destination URL in it)."""
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    return raw


def state(request: Request) -> State:
    return cast(State, request.state._state)


def authorized(request: Request) -> State:
    st = state(request)
    require_admin(request, st["settings"])
    return st


def json_response(content: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request, limit: int = 1024 * 1024) -> dict[str, Any] | None:
    """The request's body as a JSON object; None when it has no body."""
    raw = await read_body(request, limit)
    if not raw.strip():
        return None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidField("body", "not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidField("body", "must be a JSON object")
    return body
