"""`/v2/dlq`: dead letters — list, get, delete, and retry as new messages (reference §2.8)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from herald_core.errors import InvalidField, NotFound
from herald_core.ids import new_message_id
from herald_core.models import Message
from herald_core.numbers import is_digits
from herald_core.store import NewMessage, Store
from herald_gateway.listing import Key, integer, newest_first, values, view_filter
from herald_gateway.publishing import redelivery
from herald_gateway.routes._common import (
    authorized,
    by_shard,
    json_response,
    read_body,
    shard_or_404,
)
from herald_gateway.views import dlq_view

Entry = tuple[str, dict[bytes, bytes]]


def _shard(store: Store, item_id: str) -> int:
    return shard_or_404(store, item_id, "dlq_", "dead letter")


def _cursor(raw: str | None) -> Key | None:
    if not raw:
        return None
    score, _, dlq_id = raw.partition(":")
    if not is_digits(score) or not dlq_id.startswith("dlq_"):
        raise InvalidField("cursor", "not a cursor this server returned")
    return (int(score), dlq_id)


async def _page(store: Store, query: Any, count: int) -> tuple[list[Entry], Key | None]:
    matches = view_filter(query, "createdAt")
    cursor = _cursor(query.get("cursor"))

    async def fetch(wanted: dict[int, Key | None], n: int) -> dict[int, list[tuple[Key, Entry]]]:
        tops = {s: "+inf" if b is None else str(b[0]) for s, b in wanted.items()}
        index = await store.read_dlq_index(tops, n + 1000)
        out: dict[int, list[tuple[Key, Entry]]] = {}
        for shard, members in index.items():
            bound = wanted[shard]
            keys = [(int(score), m.decode()) for m, score in members]
            keys = [k for k in keys if bound is None or k < bound][:n]
            entries = await store.dead_letters(shard, [k[1] for k in keys])
            out[shard] = [(k, (k[1], e)) for k, e in zip(keys, entries, strict=True) if e]
        return out

    def keep(entry: Entry) -> bool:
        return matches(dlq_view(*entry))

    bounds: dict[int, Key | None] = dict.fromkeys(range(store.keys.shards), cursor)
    page = await newest_first(fetch, bounds, count, keep)
    return page.rows, page.last


def _cursor_text(last: Key | None) -> str | None:
    return None if last is None else f"{last[0]}:{last[1]}"


async def list_dlq(request: Request) -> Response:
    store = authorized(request)["store"]
    count = integer(request.query_params, "count", 100, 1, 100)
    rows, last = await _page(store, request.query_params, count)
    body: dict[str, Any] = {"messages": [dlq_view(*row) for row in rows]}
    if last is not None:
        body["cursor"] = _cursor_text(last)
    return json_response(body)


async def _entry(store: Store, dlq_id: str) -> dict[bytes, bytes]:
    [entry] = await store.dead_letters(_shard(store, dlq_id), [dlq_id])
    if entry is None:
        raise NotFound(f"dead letter {dlq_id} not found")
    return entry


async def get_dlq(request: Request) -> Response:
    store = authorized(request)["store"]
    dlq_id = request.path_params["dlq_id"]
    return json_response(dlq_view(dlq_id, await _entry(store, dlq_id)))


async def delete_dlq(request: Request) -> Response:
    store = authorized(request)["store"]
    dlq_id = request.path_params["dlq_id"]
    if not await store.delete_dead_letters({_shard(store, dlq_id): [dlq_id]}):
        raise NotFound(f"dead letter {dlq_id} not found")
    return Response(status_code=200)


async def _selected(request: Request, store: Store, limit: int) -> tuple[list[str], Key | None]:
    """Dead letters named by `dlqIds` (query or JSON body), else those the filters match."""
    ids = values(request.query_params, "dlqIds")
    raw = await read_body(request, 1024 * 1024)
    if not ids and raw.strip():
        try:
            ids = orjson.loads(raw).get("dlqIds") or []
        except (orjson.JSONDecodeError, AttributeError):
            raise InvalidField("body", 'expected {"dlqIds": [...]}') from None
        if not all(isinstance(i, str) for i in ids):
            raise InvalidField("dlqIds", "must be a list of DLQ ids")
    if ids:
        return ids, None
    rows, last = await _page(store, request.query_params, limit)
    return [dlq_id for dlq_id, _ in rows], last


async def delete_many(request: Request) -> Response:
    store = authorized(request)["store"]
    limit = integer(request.query_params, "count", 100, 1, 100)
    ids, last = await _selected(request, store, limit)
    body: dict[str, Any] = {
        "deleted": await store.delete_dead_letters(by_shard(store, ids, "dlq_"))
    }
    if last is not None:
        body["cursor"] = _cursor_text(last)
    return json_response(body)


async def _retry(request: Request, store: Store, dlq_id: str) -> str | None:
    """Store the dead letter again as a new message (with override headers); its new id."""
    shard = _shard(store, dlq_id)
    [entry] = await store.dead_letters(shard, [dlq_id])
    if entry is None:
        return None
    settings = authorized(request)["settings"]
    now_ms = int(time.time() * 1000)
    original = Message.from_json(entry[b"m"])
    message = redelivery(
        original, new_message_id(shard, settings.shards), request.headers.items(), settings,
        now_ms,
    )  # fmt: skip
    new = NewMessage(message, b"", message.not_before)  # the script reuses the stored body
    if not await store.retry_dead_letter(shard, dlq_id, new):
        return None
    worker = authorized(request)["worker"]
    if worker is not None:
        worker.notify(shard, message.not_before)
    return message.id


async def retry_one(request: Request) -> Response:
    store = authorized(request)["store"]
    dlq_id = request.path_params["dlq_id"]
    message_id = await _retry(request, store, dlq_id)
    if message_id is None:
        raise NotFound(f"dead letter {dlq_id} not found")
    return json_response({"messageId": message_id}, 201)


async def retry_many(request: Request) -> Response:
    store = authorized(request)["store"]
    limit = integer(request.query_params, "count", 100, 1, 100)
    ids, last = await _selected(request, store, limit)
    responses = []
    for dlq_id in ids:
        message_id = await _retry(request, store, dlq_id)
        if message_id is not None:
            responses.append({"messageId": message_id})
    return json_response({"cursor": _cursor_text(last) or "", "responses": responses}, 201)
