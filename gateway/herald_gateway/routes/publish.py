"""`POST /v2/publish/{destination}`: validate, store durably, answer with the message id."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from herald_core.ids import new_message_id
from herald_core.store import NewMessage
from herald_gateway.fanout import publish_topic
from herald_gateway.publishing import (
    build_message,
    choose_shard,
    dedup_key,
    is_url_destination,
    parse_publish,
)
from herald_gateway.routes._common import authorized, json_response, read_body, state

_PREFIX = b"/v2/publish/"


async def publish(request: Request) -> Response:
    raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    destination = raw_path[len(_PREFIX) :].decode("latin-1")
    if not is_url_destination(destination):  # a topic: herald_gateway.fanout (own auth)
        return await publish_topic(request, state(request), destination)
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
    )
    key = dedup_key(spec, body)
    shard = choose_shard(spec, key, settings.shards, store.pick_shard())
    caller_ip = request.client.host if request.client else None
    message = build_message(spec, new_message_id(shard, settings.shards), body, now_ms, caller_ip)
    existing = await store.enqueue(shard, NewMessage(message, body, spec.not_before), key)
    if existing is not None:
        return json_response({"messageId": existing, "deduplicated": True}, 202)
    st["metrics"].publishes.inc()
    if st["worker"] is not None:
        st["worker"].notify(shard, spec.not_before)
    return json_response({"messageId": message.id})
