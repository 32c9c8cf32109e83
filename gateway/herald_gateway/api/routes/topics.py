"""`/v2/topics`: QStash URL groups (reference §2.5) over herald_core.url_groups.

Callers authenticate as for a topic publish (herald_gateway.api.tenancy): an admin token acts
in every namespace, a namespace token in its own. Lists and lookups show CRD-managed Topics
too (their Subscriptions as endpoints); writes to them answer 409. A write refreshes this
gateway's routing cache at once, so its next publish sees the new endpoints; other
gateways hear of the change over pub/sub.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from herald_core.credentials import redact_url
from herald_core.errors import InvalidField, NotFound
from herald_core.routing import RoutingTable, endpoint_name, topic_id
from herald_core.url_groups import (
    Change,
    change_group,
    deleted,
    display_name,
    parse_default_headers,
    parse_endpoints,
    parse_group_name,
    with_endpoints,
    with_headers,
    without_endpoints,
)
from herald_gateway.api.routes._common import json_response, now_ms, read_body, state
from herald_gateway.api.tenancy import Caller, authenticate, require_namespace
from herald_gateway.publish.destinations import TopicRef
from herald_gateway.publish.publishing import parse_publish

_MAX_BODY = 1024 * 1024


def group_view(table: RoutingTable, home: str) -> dict[str, Any]:
    """The QStash `URLGroup` object, plus where it lives and who manages it."""
    topic = table.topic
    endpoints = []
    for sub in table.subscriptions:
        # A Kubernetes Subscription's URL is shown without credentials (a namespace token
        # may list it); an API group's endpoints are shown as its API clients gave them.
        endpoint = {"url": redact_url(sub.url) if topic.managed == "crd" else sub.url}
        name = endpoint_name(sub)
        if name is not None:
            endpoint["name"] = name
        endpoints.append(endpoint)
    view: dict[str, Any] = {
        "name": display_name(topic.namespace, topic.name, home),
        "namespace": topic.namespace,
        "createdAt": topic.created_at,
        "updatedAt": topic.updated_at,
        "endpoints": endpoints,
        "managedBy": "api" if topic.managed == "api" else "kubernetes",
    }
    if topic.headers:
        view["headers"] = topic.headers
    return view


async def _caller_and_group(request: Request) -> tuple[Caller, str, str]:
    caller = await authenticate(request, state(request))
    namespace, name = parse_group_name(request.path_params["name"], caller.namespace)
    require_namespace(caller, namespace)
    return caller, namespace, name


async def _json(request: Request) -> Any:
    raw = await read_body(request, _MAX_BODY)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidField("body", "not valid JSON") from None


async def _apply(request: Request, namespace: str, name: str, change: Change) -> Response:
    routing = state(request)["routing"]
    table = await change_group(routing.store, namespace, name, change, now_ms(request))
    routing.remember(topic_id(namespace, name), table)
    return Response(status_code=200)


async def list_groups(request: Request) -> Response:
    st = state(request)
    caller = await authenticate(request, st)
    tables = await st["routing"].store.tables()
    visible = [t for t in tables.values() if caller.admin or t.topic.namespace == caller.namespace]
    visible.sort(key=lambda t: t.topic.id)
    return json_response([group_view(t, caller.namespace) for t in visible])


async def get_group(request: Request) -> Response:
    caller, namespace, name = await _caller_and_group(request)
    table = await state(request)["routing"].store.table(topic_id(namespace, name))
    if table is None:
        raise NotFound(f'url group "{display_name(namespace, name, caller.namespace)}" not found')
    return json_response(group_view(table, caller.namespace))


async def delete_group(request: Request) -> Response:
    """200 whether or not the group existed (the SDKs delete before they create)."""
    _caller, namespace, name = await _caller_and_group(request)
    return await _apply(request, namespace, name, deleted)


async def upsert_endpoints(request: Request) -> Response:
    _caller, namespace, name = await _caller_and_group(request)
    refs = parse_endpoints(await _json(request), upsert=True)
    return await _apply(request, namespace, name, with_endpoints(namespace, name, refs))


async def remove_endpoints(request: Request) -> Response:
    caller, namespace, name = await _caller_and_group(request)
    refs = parse_endpoints(await _json(request), upsert=False)
    label = display_name(namespace, name, caller.namespace)
    return await _apply(request, namespace, name, without_endpoints(label, refs))


async def set_headers(request: Request) -> Response:
    """`PATCH {"headers": {...}}`: the group's default `Upstash-*` headers, replaced whole."""
    caller, namespace, name = await _caller_and_group(request)
    headers = parse_default_headers(await _json(request))
    settings = state(request)["settings"]
    label = display_name(namespace, name, caller.namespace)
    # Refuse what a publish to the group would refuse: the value errors name the header.
    parse_publish(TopicRef(label), "", (), b"", settings, now_ms(request),
                  defaults=headers)  # fmt: skip
    return await _apply(request, namespace, name, with_headers(label, headers))


# A name may hold one "/" (namespace/name), so the endpoints routes come first.
TOPIC_ROUTES = [
    Route("/v2/topics", list_groups, methods=["GET"]),
    Route("/v2/topics/", list_groups, methods=["GET"]),
    Route("/v2/topics/{name:path}/endpoints", upsert_endpoints, methods=["POST"]),
    Route("/v2/topics/{name:path}/endpoints", remove_endpoints, methods=["DELETE"]),
    Route("/v2/topics/{name:path}", get_group, methods=["GET"]),
    Route("/v2/topics/{name:path}", delete_group, methods=["DELETE"]),
    Route("/v2/topics/{name:path}", set_headers, methods=["PATCH"]),
]
