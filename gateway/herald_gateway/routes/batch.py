"""`POST /v2/batch` (reference §2.3): many publishes in one request.

Each item runs through the very same publish route (URL or topic destination, with its own
headers and body) as a request of its own, so every rule — auth, validation, dedup, flow
control, fan-out — is the publish route's. The answer is aligned with the input: an object
per URL item, a nested array per topic item, `{"error": ...}` for an item that was refused
(the others are still stored).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Scope

from herald_core.errors import HeraldError, InvalidField
from herald_gateway.routes import publish
from herald_gateway.routes._common import json_response, read_body, state
from herald_gateway.tenancy import authenticate

#: A batch may carry this many items.
MAX_ITEMS = 1000


async def batch(request: Request) -> Response:
    st = state(request)
    await authenticate(request, st)  # an admin or a namespace token; each item checks its own
    settings = st["settings"]
    raw = await read_body(request, settings.max_body_bytes * 10)
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidField("body", "expected a JSON array of messages") from None
    if not isinstance(items, list) or not 0 < len(items) <= MAX_ITEMS:
        raise InvalidField("body", f"expected a JSON array of 1 to {MAX_ITEMS} messages")
    # all items at once: their writes share the store's round trips (group commit)
    answers = await asyncio.gather(*(_answer(request, i, item) for i, item in enumerate(items)))
    return json_response(answers)


async def _answer(request: Request, index: int, item: Any) -> Any:
    try:
        return await _one(request, index, item)
    except HeraldError as exc:
        return {"error": str(exc)}


async def _one(request: Request, index: int, item: Any) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get("destination"), str):
        raise InvalidField(f"[{index}].destination", "each item needs a destination string")
    queue = item.get("queue")
    if queue is not None and not isinstance(queue, str):
        raise InvalidField(f"[{index}].queue", "must be a queue name or null")
    headers = item.get("headers") or {}
    body = item.get("body")
    if not isinstance(headers, dict) or not (body is None or isinstance(body, str)):
        raise InvalidField(f"[{index}]", "headers must be an object and body a string or null")
    if queue is None:
        path = "/v2/publish/" + item["destination"]
        response = await publish.publish(_item_request(request, path, headers, body))
    else:
        path = f"/v2/enqueue/{queue}/{item['destination']}"
        response = await publish.enqueue(_item_request(request, path, headers, body))
    return orjson.loads(bytes(response.body))


def _item_request(
    request: Request, target: str, headers: dict[str, Any], body: str | None
) -> Request:
    """The item as a request of its own (`target`: its path and query), with the batch's
    credentials."""
    path, _, query = target.partition("?")
    raw_headers = [(b"authorization", request.headers.get("authorization", "").encode())]
    for name, value in headers.items():
        values = value if isinstance(value, list) else [value]
        raw_headers += [(str(name).lower().encode(), str(v).encode()) for v in values]
    scope: Scope = {
        **request.scope,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": raw_headers,
    }
    content = (body or "").encode()

    async def receive() -> Message:
        return {"type": "http.request", "body": content, "more_body": False}

    return Request(scope, receive)
