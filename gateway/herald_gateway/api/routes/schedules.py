"""`/v2/schedules` (reference §2.7): create (or overwrite), get, list, delete, pause, resume."""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from herald_core.cron import parse_cron
from herald_core.errors import InvalidField, NotFound
from herald_core.messages import Messages
from herald_core.queues import parse_name
from herald_core.routing import split_destination, topic_id
from herald_core.schedules import Schedule, Schedules, new_schedule_id
from herald_core.settings import Settings
from herald_gateway.api.routes._common import authorized, json_response, now_ms, read_body
from herald_gateway.api.views import message_view
from herald_gateway.publish.destinations import Endpoint, TopicRef, read_destination, without_token
from herald_gateway.publish.publishing import NOT_FORWARDED, parse_publish
from herald_gateway.publish.staging import build_message

_PREFIX = b"/v2/schedules/"
#: Headers about the schedule itself, not its messages.
_SCHEDULE_HEADERS = frozenset({"upstash-cron", "upstash-schedule-id", "upstash-queue-name"})


async def create(request: Request) -> Response:
    st = authorized(request)
    settings = st["settings"]
    raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    target = read_destination(raw_path[len(_PREFIX) :].decode("latin-1"))
    # a topic is kept by name: `namespace%2Fname` names `namespace/name`
    destination = target.name if isinstance(target, TopicRef) else target
    cron = parse_cron(request.headers.get("upstash-cron", ""))
    schedule_id = request.headers.get("upstash-schedule-id")
    if schedule_id is None:
        schedule_id = new_schedule_id()
    else:
        schedule_id = parse_name(schedule_id.strip(), "Upstash-Schedule-Id")
    queue = request.headers.get("upstash-queue-name")
    if queue is not None:
        queue = parse_name(queue.strip(), "Upstash-Queue-Name")
    headers = [(n, v) for n, v in request.headers.items()
               if n not in _SCHEDULE_HEADERS and n not in NOT_FORWARDED]  # fmt: skip
    query = without_token(request.scope["query_string"].decode("latin-1"))
    now = now_ms(request)
    if isinstance(target, TopicRef):  # a URL group: it must exist now; each tick fans out
        if queue is not None:
            raise InvalidField("Upstash-Queue-Name", "a schedule to a topic cannot use a queue")
        namespace, name = split_destination(destination, settings.default_namespace)
        if await st["routing"].lookup(topic_id(namespace, name)) is None:
            raise NotFound(f'topic "{namespace}/{name}" not found')
    # 400 now, not at a tick (and before the body is read)
    spec = parse_publish(target, query, headers, b"", settings, now, queue=queue)
    st["metrics"].record_unknown_headers(spec.ignored)
    body = await read_body(request, settings.max_body_bytes)
    schedule = Schedule(
        id=schedule_id, cron=cron.source, destination=destination, query=query,
        headers=headers, body=body, created_at=now, queue=queue,
        caller_ip=request.client.host if request.client else None,
    )  # fmt: skip
    await Schedules(st["store"]).put(schedule, cron.next_after(now, settings.cron_minute))
    return json_response({"scheduleId": schedule_id})


async def list_schedules(request: Request) -> Response:
    st = authorized(request)
    schedules = Schedules(st["store"])
    found = await schedules.all()
    states = await Messages(st["store"]).outcomes([m for s in found for m in s.last_messages])
    return json_response([schedule_view(s, st["settings"], states, now_ms(request)) for s in found])


async def get_schedule(request: Request) -> Response:
    st = authorized(request)
    schedules = Schedules(st["store"])
    schedule = await schedules.get(request.path_params["schedule_id"])
    if schedule is None:
        raise NotFound(f"schedule {request.path_params['schedule_id']} not found")
    states = await Messages(st["store"]).outcomes(schedule.last_messages)
    return json_response(schedule_view(schedule, st["settings"], states, now_ms(request)))


async def delete_schedule(request: Request) -> Response:
    st = authorized(request)
    await Schedules(st["store"]).delete(request.path_params["schedule_id"])
    return Response(status_code=200)


async def set_paused(request: Request, paused: bool) -> Response:
    """`.../pause` and `.../resume` (routed with `paused` bound)."""
    st = authorized(request)
    schedule_id = request.path_params["schedule_id"]
    if not await Schedules(st["store"]).set_paused(schedule_id, paused):
        raise NotFound(f"schedule {schedule_id} not found")
    return Response(status_code=200)


def schedule_view(
    schedule: Schedule, settings: Settings, states: dict[str, str], now: int
) -> dict[str, Any]:
    """The QStash `Schedule` object (keys the SDK parsers index are always present)."""
    spec = parse_publish(read_destination(schedule.destination), schedule.query,
                         schedule.headers, schedule.body, settings, now,
                         queue=schedule.queue)  # fmt: skip
    to_url = isinstance(spec.destination, Endpoint)
    endpoint = spec.destination if isinstance(spec.destination, Endpoint) else Endpoint("")
    message = build_message(spec, endpoint, "", schedule.created_at, schedule.caller_ip)
    view = message_view(message, schedule.body)
    for name in ("messageId", "url", "maxRetries", "notBefore"):
        view.pop(name, None)
    view.update(
        scheduleId=schedule.id, cron=schedule.cron,
        destination=endpoint.url if to_url else schedule.destination,
        createdAt=schedule.created_at, retries=spec.max_retries, isPaused=schedule.paused,
    )  # fmt: skip
    if schedule.caller_ip is not None:  # never `null`: the OpenAPI schema says a string
        view["callerIp"] = schedule.caller_ip
    if spec.not_before > now:
        view["delay"] = (spec.not_before - now) // 1000
    optional = {"lastScheduleTime": schedule.last_tick, "nextScheduleTime": schedule.next_tick,
                "error": schedule.error}  # fmt: skip
    view.update({k: v for k, v in optional.items() if v is not None})
    if schedule.last_messages:
        view["lastScheduleStates"] = {m: states.get(m, "SUCCESS") for m in schedule.last_messages}
    return view


_PAUSE = functools.partial(set_paused, paused=True)
_RESUME = functools.partial(set_paused, paused=False)

SCHEDULE_ROUTES = [
    Route("/v2/schedules", list_schedules, methods=["GET"]),
    Route("/v2/schedules/", list_schedules, methods=["GET"]),
    Route(
        "/v2/schedules/{schedule_id}/pause",
        functools.partial(set_paused, paused=True),
        methods=["PATCH", "POST"],
    ),
    Route(
        "/v2/schedules/{schedule_id}/resume",
        functools.partial(set_paused, paused=False),
        methods=["PATCH", "POST"],
    ),
    Route("/v2/schedules/{schedule_id}", get_schedule, methods=["GET"]),
    Route("/v2/schedules/{schedule_id}", delete_schedule, methods=["DELETE"]),
    Route("/v2/schedules/{destination:path}", create, methods=["POST"]),
]
