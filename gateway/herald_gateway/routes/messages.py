"""`/v2/messages`: look a message up, cancel one, or cancel many (reference §2.4)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from herald_core.errors import NotFound
from herald_core.store import Store
from herald_gateway.filters import MESSAGES, Filters, parse
from herald_gateway.routes._common import (
    authorized,
    by_shard,
    json_object,
    json_response,
    now_ms,
    shard_or_404,
)
from herald_gateway.views import message_view

#: Messages whose metadata one round trip reads while matching filters.
_CHUNK = 1000


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


async def _targets(store: Store, filters: Filters) -> dict[int, list[str]]:
    """The messages a bulk cancel selects, by shard: those named by `messageIds` (else every
    pending one) that match every other filter, at most `count` of them."""
    named = filters.get("messageIds")
    candidates = await store.pending() if named is None else by_shard(store, list(named), "msg_")
    remaining = filters.count
    chosen: dict[int, list[str]] = {}
    for shard, ids in candidates.items():
        ids = list(dict.fromkeys(ids))
        if not filters.only("messageIds"):  # read only what the filters need to look at
            kept = []
            for at in range(0, len(ids), _CHUNK):
                metas = await store.metadata(shard, ids[at : at + _CHUNK])
                kept += [m.id for m in metas if m is not None and filters.matches(message_view(m))]
                if remaining is not None and len(kept) >= remaining:
                    break
            ids = kept
        if remaining is not None:
            ids, remaining = ids[:remaining], remaining - len(ids[:remaining])
        if ids:
            chosen[shard] = ids
        if remaining == 0:
            break
    return chosen


async def cancel_many(request: Request) -> Response:
    """Filters (herald_gateway.filters) in the query or a JSON body such as the Python SDK's
    `{"messageIds": [...]}`; no filter at all cancels every pending message (`count` caps it)."""
    store = authorized(request)["store"]
    filters = parse(MESSAGES, request.query_params.multi_items(), await json_object(request))
    cancelled = await store.cancel(await _targets(store, filters), now_ms())
    return json_response({"cancelled": cancelled})
