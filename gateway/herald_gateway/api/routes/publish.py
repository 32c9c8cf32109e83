"""`POST /v2/publish/{destination}` and `POST /v2/enqueue/{queue}/{destination}`: validate,
store durably, answer with the message id (one per subscription for a topic).

A publish reads top-down: who may publish where (`resolve`: a URL needs an admin token, a
topic a token of its namespace, and its table), the publish model
(herald_gateway.publish.publishing), its targets (herald_gateway.publish.fanout), the
messages (herald_gateway.publish.staging), the store (`Store.enqueue_all`, which places
each message in its shard and gives it its id).
`/v2/batch` runs each item through `resolve` and `publish_to` too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from herald_core.errors import NotFound, Unauthorized
from herald_core.queues import parse_name
from herald_core.routing import RoutingTable, split_destination, topic_id
from herald_core.store import Enqueued
from herald_gateway.api.routes._common import (
    authorized,
    json_response,
    raw_path,
    read_body,
    state,
)
from herald_gateway.api.tenancy import Caller, authenticate, require_namespace
from herald_gateway.publish.destinations import TopicRef, read_destination
from herald_gateway.publish.fanout import targets
from herald_gateway.publish.publishing import PublishRequest, parse_publish
from herald_gateway.publish.staging import stage
from herald_gateway.publish.workflows import accept_call, accept_workflow, call_of, workflow_of
from herald_gateway.state import State

_PREFIX = b"/v2/publish/"
_ENQUEUE_PREFIX = b"/v2/enqueue/"


async def publish(request: Request) -> Response:
    destination = raw_path(request)[len(_PREFIX) :].decode("latin-1")
    return await _publish(request, read_destination(destination), None)


async def enqueue(request: Request) -> Response:
    """Like a publish, into a queue (created on first use with parallelism 1); to a topic,
    every subscription's message waits in the queue."""
    rest = raw_path(request)[len(_ENQUEUE_PREFIX) :].decode("latin-1")
    name, _, destination = rest.partition("/")
    queue = parse_name(unquote(name), "queue name")
    return await _publish(request, read_destination(destination), queue)


async def _publish(request: Request, destination: str | TopicRef, queue: str | None) -> Response:
    st = state(request)
    if isinstance(destination, TopicRef):
        caller = await authenticate(request, st)
    else:
        authorized(request)
        caller = Caller(st["settings"].default_namespace, admin=True)
    table = await resolve(st, caller, destination)
    body = await read_body(request, st["settings"].max_body_bytes)
    query = request.scope["query_string"].decode("latin-1")
    caller_ip = request.client.host if request.client else None
    answer = await publish_to(st, destination, table, query, request.headers.items(), body,
                              queue, caller_ip)  # fmt: skip
    deduplicated = isinstance(answer, dict) and answer.get("deduplicated") is True
    return json_response(answer, 202 if deduplicated else 200)


async def resolve(st: State, caller: Caller, destination: str | TopicRef) -> RoutingTable | None:
    """May `caller` publish to `destination`? None for a URL (admins only), the table of a
    topic (in a namespace the caller may use)."""
    if not isinstance(destination, TopicRef):
        if not caller.admin:
            raise Unauthorized("invalid token")
        return None
    namespace, name = split_destination(destination.name, caller.namespace)
    require_namespace(caller, namespace)
    table = await st["routing"].lookup(topic_id(namespace, name))
    if table is None:
        raise NotFound(f'topic "{namespace}/{name}" not found')
    return table


async def _workflow_publish(
    st: State, request: PublishRequest, now: int, caller_ip: str | None
) -> Enqueued | None:
    """Store a step or a `context.call` of a workflow run; None for any other publish."""
    call = call_of(request)
    if call is not None:
        return await accept_call(st["store"], request, call, now, caller_ip)
    run = workflow_of(request)
    if run is None:
        return None
    return await accept_workflow(st["store"], request, run, now, caller_ip,
                                 st["settings"].workflow_lazy_fetch_bytes)  # fmt: skip


async def publish_to(
    st: State,
    destination: str | TopicRef,
    table: RoutingTable | None,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    queue: str | None,
    caller_ip: str | None,
) -> Any:
    """Store a publish to a resolved destination; the answer: `{"messageId",
    "deduplicated"?}` for a URL, `[{"messageId", "url", "deduplicated"?}]` for a topic."""
    if table is not None and not table.subscriptions:
        return []  # nothing to deliver, nothing to check
    settings, metrics = st["settings"], st["metrics"]
    now = st["clock"].now_ms()
    request = parse_publish(destination, raw_query, headers, body, settings, now, queue=queue,
                            defaults=table.topic.headers if table else None)  # fmt: skip
    metrics.record_unknown_headers(request.ignored)
    one = await _workflow_publish(st, request, now, caller_ip)
    if one is not None:  # a step or a context.call of a workflow run, stored with the run
        if one.deduplicated:
            return {"messageId": one.message_id, "deduplicated": True}
        metrics.publishes.inc()
        return {"messageId": one.message_id}
    where = targets(request, table, settings)
    accepted = await st["store"].enqueue_all(stage(where, now, caller_ip))
    if table is None:
        [one] = accepted
        if one.deduplicated:
            return {"messageId": one.message_id, "deduplicated": True}
        metrics.publishes.inc()
        return {"messageId": one.message_id}
    metrics.publishes.inc(len(accepted))
    answers: list[dict[str, object]] = []
    for (_request, endpoint), outcome in zip(where, accepted, strict=True):
        answer: dict[str, object] = {"messageId": outcome.message_id, "url": endpoint.url}
        if outcome.deduplicated:
            answer["deduplicated"] = True
        answers.append(answer)
    return answers
