"""`GET /v2/events` and `GET /v2/logs`: every state change, newest first (reference §2.9).
An admin (or read-only) token sees every row; a namespace token only the rows of its
namespace's topic subscriptions."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from herald_core.event_log import EventLog
from herald_core.records import LogEntry
from herald_gateway.api.filters import LOGS, parse
from herald_gateway.api.routes._common import json_response, state
from herald_gateway.api.tenancy import authenticate, message_namespace, visible
from herald_gateway.api.views import log_view


async def _page(request: Request) -> dict[str, Any]:
    st = state(request)
    caller = await authenticate(request, st)
    filters = parse(LOGS, request.query_params.multi_items())
    log = EventLog(st["store"])
    cursor = log.cursor(filters.cursor)

    def keep(entry: LogEntry) -> bool:
        return visible(caller, message_namespace(entry.message)) and filters.matches(
            log_view(entry)
        )

    # rows must match every id filter given: only where one of them lives is read
    ids = filters.get("messageIds") or filters.get("messageId")
    page = await log.page(cursor, filters.count or 100, keep, message_ids=ids)
    body: dict[str, Any] = {"events": [log_view(entry) for entry in page.rows]}
    if page.cursor is not None:
        body["cursor"] = page.cursor
    return body


async def events(request: Request) -> Response:
    """The SDKs' path: rows under `events`."""
    return json_response(await _page(request))


async def logs(request: Request) -> Response:
    """The documented path: rows under both `logs` and `events`."""
    body = await _page(request)
    body["logs"] = body["events"]
    return json_response(body)
