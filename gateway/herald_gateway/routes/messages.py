"""`/v2/messages`: look a message up, cancel one, or cancel many (reference §2.4)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from herald_core.errors import InvalidField, NotFound
from herald_core.store import Store
from herald_gateway.listing import integer, values, view_filter
from herald_gateway.routes._common import (
    authorized,
    by_shard,
    json_response,
    now_ms,
    read_body,
    shard_or_404,
)
from herald_gateway.views import message_view

_FILTERS = ("topicName", "queueName", "url", "label", "scheduleId", "callerIp", "callerIP",
            "fromDate", "toDate", "host", "path", "endpointName")  # fmt: skip


def _shard(store: Store, item_id: str) -> int:
    return shard_or_404(store, item_id, "msg_", "message")


async def get_message(request: Request) -> Response:
    store = authorized(request)["store"]
    message_id = request.path_params["message_id"]
    found = await store.message(_shard(store, message_id), message_id)
    if found is None:
        raise NotFound(f"message {message_id} not found")
    return json_response(message_view(*found))


async def cancel_message(request: Request) -> Response:
    store = authorized(request)["store"]
    message_id = request.path_params["message_id"]
    if not await store.cancel({_shard(store, message_id): [message_id]}, now_ms()):
        raise NotFound(f"message {message_id} not found (delivered, failed or cancelled)")
    return json_response({"cancelled": 1})


async def _body_ids(request: Request) -> list[str] | None:
    raw = await read_body(request, 1024 * 1024)
    if not raw.strip():
        return None
    try:
        ids = orjson.loads(raw).get("messageIds")
    except (orjson.JSONDecodeError, AttributeError):
        raise InvalidField("body", 'expected {"messageIds": [...]}') from None
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise InvalidField("messageIds", "must be a list of message ids")
    return ids or None


async def _matching(store: Store, query: Any, limit: int | None) -> dict[int, list[str]]:
    """Pending messages matching the query's filters (all of them without filters)."""
    pending = await store.pending()
    if not any(values(query, name) for name in _FILTERS):
        chosen = {s: ids for s, ids in pending.items() if ids}
    else:
        keep = view_filter(query, "createdAt")
        chosen = {}
        for shard, ids in pending.items():
            metas = await store.metadata(shard, ids)
            chosen[shard] = [m.id for m in metas if m is not None and keep(message_view(m))]
    if limit is not None:
        remaining, limited = limit, {}
        for shard, ids in chosen.items():
            limited[shard], remaining = ids[:remaining], remaining - len(ids[:remaining])
        chosen = limited
    return chosen


async def cancel_many(request: Request) -> Response:
    """JSON body `{"messageIds": [...]}` (no body: all), or query `messageIds` / filters."""
    store = authorized(request)["store"]
    query = request.query_params
    ids = values(query, "messageIds") or await _body_ids(request)
    if ids:
        targets = by_shard(store, ids, "msg_")
    else:
        limit = integer(query, "count", 0, 1, 500) if query.get("count") else None
        targets = await _matching(store, query, limit)
    return json_response({"cancelled": await store.cancel(targets, now_ms())})
