"""`/v2/flowControl` and `/v2/globalParallelism` (reference §2.11)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from herald_core.digits import is_digits
from herald_core.durations import parse_duration
from herald_core.errors import InvalidField, NotFound
from herald_core.flow_control import FlowControls, global_in_use
from herald_gateway.api.routes._common import authorized, json_response, now_ms

_ACTIONS = ("pause", "resume", "pin", "unpin", "resetRate", "reset")


async def list_keys(request: Request) -> Response:
    controls = FlowControls(authorized(request)["store"])
    keys = await controls.keys(request.query_params.get("search", ""))
    return json_response([i.view() for i in await controls.info(keys, now_ms(request)) if i])


async def get_key(request: Request) -> Response:
    controls = FlowControls(authorized(request)["store"])
    key = request.path_params["key"]
    [info] = await controls.info([key], now_ms(request))
    if info is None:
        raise NotFound(f"flow-control key {key} not found")
    return json_response(info.view())


async def act(request: Request) -> Response:
    """`POST /v2/flowControl/{key}/{pause|resume|pin|unpin|resetRate}` (keys may hold '/')."""
    controls = FlowControls(authorized(request)["store"])
    key, _, action = request.path_params["rest"].rpartition("/")
    if action not in _ACTIONS or not key:
        raise NotFound(f"unknown flow-control action {action!r}")
    [info] = await controls.info([key], now_ms(request))
    if info is None:
        raise NotFound(f"flow-control key {key} not found")
    query = request.query_params
    if action in ("pause", "resume"):
        await controls.set_paused(key, action == "pause", now_ms(request))
    elif action == "pin":
        parallelism = _positive(query.get("parallelism"), "parallelism")
        rate = _positive(query.get("rate"), "rate")
        period = query.get("period")
        period_ms = None
        if period is not None:
            seconds = float(period) if is_digits(period) else parse_duration(period, field="period")
            if not 0 < seconds <= 7 * 86400:
                raise InvalidField("period", "must be more than 0s and at most 7d")
            period_ms = int(seconds * 1000)
        if parallelism is None and rate is None and period_ms is None:
            raise InvalidField("parallelism", "pin needs parallelism, rate or period")
        await controls.pin(key, parallelism, rate, period_ms)
    elif action == "unpin":
        await controls.unpin(key, _flag(query.get("parallelism"), "parallelism"),
                             _flag(query.get("rate"), "rate"))  # fmt: skip
    else:
        await controls.reset_rate(key)
    return Response(status_code=200)


def _positive(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if not is_digits(value) or int(value) < 1:
        raise InvalidField(name, "must be a positive integer")
    return int(value)


def _flag(value: str | None, name: str) -> bool:
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise InvalidField(name, "must be true or false")
    return value.lower() == "true"


async def global_parallelism(request: Request) -> Response:
    st = authorized(request)
    in_use = await global_in_use(st["store"], now_ms(request))
    return json_response(
        {"parallelismMax": st["settings"].global_parallelism, "parallelismCount": in_use}
    )


FLOW_CONTROL_ROUTES = [
    Route("/v2/flowControl", list_keys, methods=["GET"]),
    Route("/v2/flowControl/", list_keys, methods=["GET"]),
    Route("/v2/flowControl/{key:path}", get_key, methods=["GET"]),
    Route("/v2/flowControl/{rest:path}", act, methods=["POST"]),
    Route("/v2/globalParallelism", global_parallelism, methods=["GET"]),
]
