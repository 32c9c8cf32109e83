"""`/v2/dlq`: dead letters — list, get, delete, and retry as new messages (reference §2.8)."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from herald_core.errors import InvalidField, NotFound
from herald_core.ids import new_message_id
from herald_core.models import Message
from herald_core.numbers import is_digits
from herald_core.store import NewMessage, Store
from herald_gateway.filters import DLQ, Filters, parse
from herald_gateway.listing import Key, newest_first
from herald_gateway.publishing import parse_overrides
from herald_gateway.routes._common import (
    authorized,
    by_shard,
    json_object,
    json_response,
    shard_or_404,
)
from herald_gateway.staging import redelivery
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


async def _page(
    store: Store, filters: Filters, cursor: Key | None, count: int
) -> tuple[list[Entry], Key | None]:
    """Up to `count` matching dead letters, newest failure first, below the cursor."""

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
        return filters.matches(dlq_view(*entry))

    bounds: dict[int, Key | None] = dict.fromkeys(range(store.keys.shards), cursor)
    page = await newest_first(fetch, bounds, count, keep)
    return page.rows, page.last


async def _named(store: Store, filters: Filters, ids: tuple[str, ...]) -> list[Entry]:
    """The dead letters `dlqIds` names that still exist and match every other filter."""
    found: list[Entry] = []
    for shard, shard_ids in by_shard(store, list(dict.fromkeys(ids)), "dlq_").items():
        entries = await store.dead_letters(shard, shard_ids)
        found += [(i, e) for i, e in zip(shard_ids, entries, strict=True) if e is not None]
    return [entry for entry in found if filters.matches(dlq_view(*entry))]


async def _selected(store: Store, filters: Filters) -> tuple[list[Entry], Key | None]:
    """The dead letters a request selects: named by `dlqIds` (all of them unless `count` is
    given), else a page of those matching the filters (`count`, default 100)."""
    cursor = _cursor(filters.cursor)
    ids = filters.get("dlqIds")
    if ids is not None:
        named = await _named(store, filters, ids)
        return named[: filters.count] if filters.count else named, None
    return await _page(store, filters, cursor, filters.count or 100)


def _cursor_text(last: Key | None) -> str | None:
    return None if last is None else f"{last[0]}:{last[1]}"


async def list_dlq(request: Request) -> Response:
    store = authorized(request)["store"]
    rows, last = await _selected(store, parse(DLQ, request.query_params.multi_items()))
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


async def _bulk_filters(request: Request) -> Filters:
    """Filters in the query string, or a JSON body such as the Python SDK's `{"dlqIds"}`."""
    return parse(DLQ, request.query_params.multi_items(), await json_object(request))


async def delete_many(request: Request) -> Response:
    store = authorized(request)["store"]
    entries, last = await _selected(store, await _bulk_filters(request))
    ids = [dlq_id for dlq_id, _ in entries]
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
    overrides = parse_overrides(request.headers.items(), settings, now_ms)
    message = redelivery(original, overrides, new_message_id(shard, settings.shards), now_ms)
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
    entries, last = await _selected(store, await _bulk_filters(request))
    responses = []
    for dlq_id, _ in entries:
        message_id = await _retry(request, store, dlq_id)
        if message_id is not None:
            responses.append({"messageId": message_id})
    return json_response({"cursor": _cursor_text(last) or "", "responses": responses}, 201)
