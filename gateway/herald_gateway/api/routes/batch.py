"""`POST /v2/batch` (reference §2.3): many publishes in one request.

Each item is published as `POST /v2/publish` (or, with a `queue`, `POST /v2/enqueue`) would
publish it — the same `resolve` and `publish_to` (herald_gateway.api.routes.publish) under the
batch's credentials, so every rule (who may publish where, validation, dedup, flow control,
fan-out) is the publish route's. The answer is aligned with the input: an object per URL
item, a nested array per topic item, `{"error": ...}` for an item that was refused (the
others are still stored).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from herald_core.errors import HeraldError, InvalidField, PayloadTooLarge
from herald_core.queues import parse_name
from herald_gateway.api.routes._common import json_response, read_body, state
from herald_gateway.api.routes.publish import publish_to, resolve
from herald_gateway.api.tenancy import Caller, authenticate
from herald_gateway.publish.destinations import read_destination
from herald_gateway.state import State

#: A batch may carry this many items.
MAX_ITEMS = 1000


async def batch(request: Request) -> Response:
    st = state(request)
    caller = await authenticate(request, st)  # an admin or a namespace token
    settings = st["settings"]
    raw = await read_body(request, settings.max_body_bytes * 10)
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidField("body", "expected a JSON array of messages") from None
    if not isinstance(items, list) or not 0 < len(items) <= MAX_ITEMS:
        raise InvalidField("body", f"expected a JSON array of 1 to {MAX_ITEMS} messages")
    caller_ip = request.client.host if request.client else None
    # all items at once: their writes share the store's round trips (group commit)
    answers = await asyncio.gather(
        *(_answer(st, caller, caller_ip, i, item) for i, item in enumerate(items))
    )
    return json_response(answers)


async def _answer(st: State, caller: Caller, caller_ip: str | None, index: int, item: Any) -> Any:
    try:
        return await _one(st, caller, caller_ip, index, item)
    except HeraldError as exc:
        return {"error": str(exc)}


async def _one(st: State, caller: Caller, caller_ip: str | None, index: int, item: Any) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get("destination"), str):
        raise InvalidField(f"[{index}].destination", "each item needs a destination string")
    queue = item.get("queue")
    if queue is not None and not isinstance(queue, str):
        raise InvalidField(f"[{index}].queue", "must be a queue name or null")
    headers = item.get("headers") or {}
    body = item.get("body")
    if not isinstance(headers, dict) or not (body is None or isinstance(body, str)):
        raise InvalidField(f"[{index}]", "headers must be an object and body a string or null")
    if queue is not None:
        queue = parse_name(queue, "queue name")
    # the destination as it would stand in a request's path: its query carries Upstash-*
    # settings too, and what is left of it goes to the destination
    raw, _, query = wire(item["destination"]).partition("?")
    destination = read_destination(raw)
    table = await resolve(st, caller, destination)
    content = item_body(body, st["settings"].max_body_bytes)
    return await publish_to(st, destination, table, query, item_headers(headers), content,
                            queue, caller_ip)  # fmt: skip


def item_body(body: str | None, limit: int) -> bytes:
    """An item's body as a request's, at most `limit` bytes as one publish."""
    content = (body or "").encode()
    if len(content) > limit:
        raise PayloadTooLarge(f"body larger than {limit} bytes")
    return content


def item_headers(headers: dict[Any, Any]) -> list[tuple[str, str]]:
    """An item's headers as a request's: a list value is one header per element."""
    out: list[tuple[str, str]] = []
    for name, value in headers.items():
        values = value if isinstance(value, list) else [value]
        out += [(wire(str(name).lower()), wire(str(v))) for v in values]
    return out


def wire(text: str) -> str:
    """`text` as a request of its own would carry it: UTF-8 bytes, read as Latin-1 like
    every header and path (the sender writes them back as the same bytes)."""
    return text.encode().decode("latin-1")
