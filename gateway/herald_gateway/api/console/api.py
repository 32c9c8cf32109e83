"""`/console/api/*`: the reads the console needs that the QStash API lacks. Every one
authenticates like a topic publish (herald_gateway.api.tenancy): an admin token sees every
namespace, a namespace token only its own topics, subscriptions and their messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from herald_core.activity import log_heads, log_since, read_activity, recent_failures
from herald_core.cron import parse_cron
from herald_core.delivery_stats import read_stats
from herald_core.digits import is_digits
from herald_core.errors import InvalidField
from herald_core.routing import RoutingTable
from herald_gateway.api.console.views import activity_view, failing_view, topic_view
from herald_gateway.api.routes._common import json_response, now_ms, state
from herald_gateway.api.tenancy import Caller, authenticate, message_namespace, visible
from herald_gateway.api.views import log_view

#: Overview windows: name -> (milliseconds, buckets drawn).
WINDOWS = {"15m": (900_000, 90), "1h": (3_600_000, 60), "6h": (21_600_000, 72),
           "24h": (86_400_000, 96)}  # fmt: skip
#: How often the live tail looks for new log rows, and sends a keep-alive comment.
TAIL_POLL = 0.5
TAIL_KEEPALIVE = 15.0


async def session(request: Request) -> Response:
    """Who the token is: the console's sign-in check (401 for a wrong token); a read-only
    token's console offers no action."""
    caller = await authenticate(request, state(request))
    return json_response(
        {"admin": caller.admin, "namespace": caller.namespace, "readonly": caller.readonly}
    )


async def _tables(request: Request, caller: Caller) -> list[tuple[RoutingTable, list[Any]]]:
    st = state(request)
    tables = [t for t in (await st["routing"].store.tables()).values()
              if visible(caller, t.topic.namespace)]  # fmt: skip
    tables.sort(key=lambda t: t.topic.id)
    pairs = [(t.topic.id, s.name) for t in tables for s in t.subscriptions]
    stats = iter(await read_stats(st["store"].redis, st["store"].keys, pairs))
    return [(t, [next(stats) for _ in t.subscriptions]) for t in tables]


async def topics(request: Request) -> Response:
    caller = await authenticate(request, state(request))
    return json_response([topic_view(t, s) for t, s in await _tables(request, caller)])


async def overview(request: Request) -> Response:
    """Activity charts, backlog and DLQ size (admin tokens: Herald-wide), top failing
    destinations, and totals of the caller's subscriptions."""
    st = state(request)
    caller = await authenticate(request, st)
    window = request.query_params.get("window", "15m")
    if window not in WINDOWS:
        raise InvalidField("window", f"must be one of {', '.join(WINDOWS)}")
    window_ms, buckets = WINDOWS[window]
    now, store = now_ms(request), st["store"]
    failing = [f for f in await recent_failures(store, now - window_ms)
               if visible(caller, f.namespace)][:5]  # fmt: skip
    subs = [s for _, stats in await _tables(request, caller) for s in stats]
    body: dict[str, Any] = {
        "window": window,
        "failing": [failing_view(f) for f in failing],
        "subscriptions": {"count": len(subs), "delivered": sum(s.delivered for s in subs),
                          "failed": sum(s.failed for s in subs),
                          "backlog": sum(s.backlog for s in subs)},
    }  # fmt: skip
    if caller.admin:
        body["activity"] = activity_view(await read_activity(store, now, window_ms, buckets))
        parts = await store.backlog()
        due = [p.oldest_due for p in parts if p.oldest_due is not None and p.oldest_due <= now]
        body["backlog"] = {
            "waiting": sum(p.waiting for p in parts),
            "inFlight": sum(p.leased for p in parts),
            "oldestAgeMs": now - min(due) if due else 0,
            "deadLetters": sum(p.dead_letters for p in parts),
        }
    return json_response(body)


async def ticks(request: Request) -> Response:
    """`?cron=...&count=5`: the next ticks (Unix ms) of a cron expression."""
    st = state(request)
    await authenticate(request, st)
    raw_count = request.query_params.get("count", "5")
    if not is_digits(raw_count) or not 1 <= int(raw_count) <= 20:
        raise InvalidField("count", "must be 1-20")
    cron = parse_cron(request.query_params.get("cron", ""))
    out, at = [], now_ms(request)
    for _ in range(int(raw_count)):
        at = cron.next_after(at, st["settings"].cron_minute)
        out.append(at)
    return json_response({"ticks": out})


async def tail(request: Request) -> Response:
    """Server-sent events: every new log row the caller may see, as `GET /v2/logs` shows
    it; first a `ready` event once the cursors are set."""
    st = state(request)
    caller = await authenticate(request, st)
    store = st["store"]

    async def events() -> AsyncIterator[bytes]:
        cursors = await log_heads(store)
        yield b"event: ready\ndata: {}\n\n"
        idle = 0.0
        while not await request.is_disconnected():
            rows = await log_since(store, cursors)
            for entry in rows:
                if visible(caller, message_namespace(entry.message)):
                    yield b"data: " + orjson.dumps(log_view(entry)) + b"\n\n"
            idle = 0.0 if rows else idle + TAIL_POLL
            if idle >= TAIL_KEEPALIVE:
                idle = 0.0
                yield b": keep-alive\n\n"
            await asyncio.sleep(TAIL_POLL)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
