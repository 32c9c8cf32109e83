"""`POST /v2/publish/{destination}` and `POST /v2/enqueue/{queue}/{destination}`: validate,
store durably, answer with the message id."""

from __future__ import annotations

import time
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from herald_core.queues import parse_name
from herald_gateway.accepting import accept
from herald_gateway.fanout import publish_topic
from herald_gateway.publishing import is_url_destination, parse_publish
from herald_gateway.routes._common import authorized, json_response, read_body, state

_PREFIX = b"/v2/publish/"
_ENQUEUE_PREFIX = b"/v2/enqueue/"


def _raw_path(request: Request) -> bytes:
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    return raw


async def publish(request: Request) -> Response:
    destination = _raw_path(request)[len(_PREFIX) :].decode("latin-1")
    if not is_url_destination(destination):  # a topic: herald_gateway.fanout (own auth)
        return await publish_topic(request, state(request), unquote(destination))
    return await _store(request, destination, None)


async def enqueue(request: Request) -> Response:
    """Like a publish, into a queue (created on first use with parallelism 1)."""
    rest = _raw_path(request)[len(_ENQUEUE_PREFIX) :].decode("latin-1")
    name, _, destination = rest.partition("/")
    queue = parse_name(unquote(name), "queue name")
    if not is_url_destination(destination):  # every subscription's message in the queue
        return await publish_topic(request, state(request), unquote(destination), queue)
    return await _store(request, destination, queue)


async def _store(request: Request, destination: str, queue: str | None) -> Response:
    st = authorized(request)
    settings, store = st["settings"], st["store"]
    body = await read_body(request, settings.max_body_bytes)
    now_ms = int(time.time() * 1000)
    spec = parse_publish(
        destination,
        request.scope["query_string"].decode("latin-1"),
        request.headers.items(),
        settings,
        now_ms,
        queue,
    )
    st["metrics"].record_unknown_headers(spec.ignored)
    caller_ip = request.client.host if request.client else None
    worker = st["worker"]
    accepted = await accept(store, settings, spec, body, now_ms, caller_ip,
                            worker.notify if worker is not None else None)  # fmt: skip
    if accepted.deduplicated:
        return json_response({"messageId": accepted.message_id, "deduplicated": True}, 202)
    st["metrics"].publishes.inc()
    return json_response({"messageId": accepted.message_id})
