"""`POST /v2/trigger/{workflowUrl}` and `POST /v2/batch/trigger`: start workflow runs with a
plain HTTP request (herald_gateway.publish.workflow_triggers). Admin tokens only, as a
publish to a URL."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from herald_core.errors import HeraldError, InvalidField
from herald_gateway.api.routes._common import (
    authorized,
    json_response,
    now_ms,
    raw_path,
    read_body,
)
from herald_gateway.api.routes.batch import MAX_ITEMS, item_body, item_headers, wire
from herald_gateway.publish.workflow_triggers import trigger
from herald_gateway.state import State

_PREFIX = b"/v2/trigger/"


async def trigger_one(request: Request) -> Response:
    st = authorized(request)
    destination = raw_path(request)[len(_PREFIX) :].decode("latin-1")
    body = await read_body(request, st["settings"].max_body_bytes)
    query = request.scope["query_string"].decode("latin-1")
    answer = await trigger(st["store"], st["settings"], destination, query,
                           list(request.headers.items()), body, now_ms(request),
                           _caller(request))  # fmt: skip
    return json_response(answer)


async def trigger_batch(request: Request) -> Response:
    st = authorized(request)
    raw = await read_body(request, st["settings"].max_body_bytes * 10)
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidField("body", "expected a JSON array of runs to start") from None
    if not isinstance(items, list) or not 0 < len(items) <= MAX_ITEMS:
        raise InvalidField("body", f"expected a JSON array of 1 to {MAX_ITEMS} runs")
    now, caller = now_ms(request), _caller(request)
    answers = await asyncio.gather(*(_item(st, i, item, now, caller)
                                     for i, item in enumerate(items)))  # fmt: skip
    return json_response(answers, 201)


async def _item(st: State, index: int, item: Any, now: int, caller: str | None) -> Any:
    """One run of a batch: `{destination, body?, headers?}` read as `/v2/batch` reads its
    items, started as a trigger; a refused item answers `{"error"}` (the others start)."""
    try:
        if not isinstance(item, dict) or not isinstance(item.get("destination"), str):
            raise InvalidField(f"[{index}].destination", "each item needs a destination URL")
        body, headers = item.get("body"), item.get("headers") or {}
        if not isinstance(headers, dict) or not (body is None or isinstance(body, str)):
            raise InvalidField(f"[{index}]", "headers must be an object and body a string or null")
        destination, _, query = wire(item["destination"]).partition("?")
        content = item_body(body, st["settings"].max_body_bytes)
        return await trigger(st["store"], st["settings"], destination, query,
                             item_headers(headers), content, now, caller)  # fmt: skip
    except HeraldError as exc:
        return {"error": str(exc)}


def _caller(request: Request) -> str | None:
    return request.client.host if request.client else None


WORKFLOW_TRIGGER_ROUTES = [
    Route("/v2/trigger/{workflowUrl:path}", trigger_one, methods=["POST"]),
    Route("/v2/batch/trigger", trigger_batch, methods=["POST"]),
]
