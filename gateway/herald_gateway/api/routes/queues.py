"""`/v2/queues` (reference §2.6) and `POST /v2/enqueue/{queue}/{destination}`."""

from __future__ import annotations

import functools

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from herald_core.errors import InvalidField, NotFound
from herald_core.queues import Queues, parse_name, parse_parallelism
from herald_gateway.api.routes import publish
from herald_gateway.api.routes._common import authorized, json_response, now_ms, read_body

_MAX_BODY = 64 * 1024


def _queues(request: Request) -> Queues:
    return Queues(authorized(request)["store"])


async def upsert(request: Request) -> Response:
    """`{"queueName", "parallelism"?, "paused"?}`: create, or change what is given."""
    queues = _queues(request)
    try:
        spec = orjson.loads(await read_body(request, _MAX_BODY))
    except orjson.JSONDecodeError:
        raise InvalidField("body", "expected a JSON object") from None
    if not isinstance(spec, dict):
        raise InvalidField("body", "expected a JSON object")
    name = parse_name(spec.get("queueName"))
    raw = spec.get("parallelism")
    parallelism = None if raw is None else parse_parallelism(raw)
    paused = spec.get("paused")
    if paused is not None and not isinstance(paused, bool):
        raise InvalidField("paused", "must be true or false")
    await queues.upsert(name, now_ms(request), parallelism, paused)
    return Response(status_code=200)


async def list_queues(request: Request) -> Response:
    return json_response([q.view() for q in await _queues(request).all()])


async def get_queue(request: Request) -> Response:
    name = parse_name(request.path_params["name"], "queue name")
    queue = await _queues(request).get(name)
    if queue is None:
        raise NotFound(f"queue {name} not found")
    return json_response(queue.view())


async def delete_queue(request: Request) -> Response:
    """Delete a queue; messages still waiting in it are cancelled (logged CANCELED)."""
    name = parse_name(request.path_params["name"], "queue name")
    await _queues(request).delete(name)
    return Response(status_code=200)


async def set_paused(request: Request, paused: bool) -> Response:
    """`.../pause` and `.../resume` (routed with `paused` bound)."""
    name = parse_name(request.path_params["name"], "queue name")
    if not await _queues(request).set_paused(name, paused, now_ms(request)):
        raise NotFound(f"queue {name} not found")
    return Response(status_code=200)


_PAUSE = functools.partial(set_paused, paused=True)
_RESUME = functools.partial(set_paused, paused=False)

QUEUE_ROUTES = [
    Route("/v2/enqueue/{rest:path}", publish.enqueue, methods=["POST"]),
    Route("/v2/queues", upsert, methods=["POST"]),
    Route("/v2/queues/", upsert, methods=["POST"]),
    Route("/v2/queues", list_queues, methods=["GET"]),
    Route("/v2/queues/", list_queues, methods=["GET"]),
    Route("/v2/queues/{name}", get_queue, methods=["GET"]),
    Route("/v2/queues/{name}", delete_queue, methods=["DELETE"]),
    Route("/v2/queues/{name}/pause", functools.partial(set_paused, paused=True), methods=["POST"]),
    Route(
        "/v2/queues/{name}/resume", functools.partial(set_paused, paused=False), methods=["POST"]
    ),
]
