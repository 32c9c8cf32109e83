"""`/v2/dlq`: dead letters — list, get, delete, and retry as new messages (reference §2.8)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from herald_core.dead_letters import DeadLetters
from herald_core.errors import NotFound
from herald_core.models import Message
from herald_core.records import DeadLetter
from herald_core.store import Store
from herald_gateway.api.filters import DLQ, Filters, parse
from herald_gateway.api.routes._common import authorized, json_object, json_response
from herald_gateway.api.routes.workflow_dlq import list_failed
from herald_gateway.api.views import dlq_view
from herald_gateway.publish.publishing import parse_overrides
from herald_gateway.publish.staging import redelivery


async def _selected(store: Store, filters: Filters) -> tuple[list[DeadLetter], str | None]:
    """The dead letters a request selects: named by `dlqIds` (all of them unless `count` is
    given), else a page of those matching the filters (`count`, default 100); and the
    cursor of the next page."""
    dead = DeadLetters(store)
    cursor = dead.cursor(filters.cursor)

    def keep(entry: DeadLetter) -> bool:
        return filters.matches(dlq_view(entry))

    ids = filters.get("dlqIds")
    if ids is not None:
        named = await dead.named(ids, keep)
        return named[: filters.count] if filters.count else named, None
    page = await dead.page(cursor, filters.count or 100, keep)
    return page.rows, page.cursor


async def list_dlq(request: Request) -> Response:
    if request.query_params.get("source") == "workflow":  # @upstash/workflow's dlq.list
        return await list_failed(request)
    store = authorized(request)["store"]
    rows, cursor = await _selected(store, parse(DLQ, request.query_params.multi_items()))
    body: dict[str, Any] = {"messages": [dlq_view(row) for row in rows]}
    if cursor is not None:
        body["cursor"] = cursor
    return json_response(body)


async def get_dlq(request: Request) -> Response:
    dlq_id = request.path_params["dlq_id"]
    entry = await DeadLetters(authorized(request)["store"]).get(dlq_id)
    if entry is None:
        raise NotFound(f"dead letter {dlq_id} not found")
    return json_response(dlq_view(entry))


async def delete_dlq(request: Request) -> Response:
    dlq_id = request.path_params["dlq_id"]
    if not await DeadLetters(authorized(request)["store"]).delete([dlq_id]):
        raise NotFound(f"dead letter {dlq_id} not found")
    return Response(status_code=200)


async def _bulk_filters(request: Request) -> Filters:
    """Filters in the query string, or a JSON body such as the Python SDK's `{"dlqIds"}`."""
    return parse(DLQ, request.query_params.multi_items(), await json_object(request))


async def delete_many(request: Request) -> Response:
    store = authorized(request)["store"]
    entries, cursor = await _selected(store, await _bulk_filters(request))
    deleted = await DeadLetters(store).delete([entry.dlq_id for entry in entries])
    body: dict[str, Any] = {"deleted": deleted}
    if cursor is not None:
        body["cursor"] = cursor
    return json_response(body)


async def _retry(request: Request, store: Store, dlq_id: str) -> str | None:
    """Store the dead letter again as a new message (with override headers); its new id."""
    st = authorized(request)
    settings = st["settings"]

    def build(original: Message, message_id: str) -> Message:
        now_ms = st["clock"].now_ms()
        overrides = parse_overrides(request.headers.items(), settings, now_ms)
        return redelivery(original, overrides, message_id, now_ms)

    return await DeadLetters(store).retry(dlq_id, build)


async def retry_one(request: Request) -> Response:
    store = authorized(request)["store"]
    dlq_id = request.path_params["dlq_id"]
    message_id = await _retry(request, store, dlq_id)
    if message_id is None:
        raise NotFound(f"dead letter {dlq_id} not found")
    return json_response({"messageId": message_id}, 201)


async def retry_many(request: Request) -> Response:
    store = authorized(request)["store"]
    entries, cursor = await _selected(store, await _bulk_filters(request))
    responses = []
    for entry in entries:
        message_id = await _retry(request, store, entry.dlq_id)
        if message_id is not None:
            responses.append({"messageId": message_id})
    return json_response({"cursor": cursor or "", "responses": responses}, 201)
