"""Workflow events: `POST /v2/wait/{eventId}` (the SDKs' waitForEvent registers its step),
`POST /v2/notify/{eventId}` (every run waiting for the event resumes with its data),
`POST /v2/notify/{workflowRunId}/{eventId}` (one run's waiter, or its next wait: lookback),
`GET /v2/waiters/{eventId}`, and the webhooks of `context.createWebhook`.

A notify answers with one `{waiter, messageId, error, workflowRunId}` per waiter it ended
(herald_gateway.publish.workflow_events ends them; a waiter that timed out or was notified
meanwhile is not in the answer): `[]` when nothing waited, the event is then lost, as
QStash documents for this endpoint.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from herald_core.errors import InvalidRequest, NotFound
from herald_core.workflow_events import Waiter, WorkflowEvents
from herald_gateway.api.routes._common import (
    authorized,
    json_object,
    json_response,
    now_ms,
    read_body,
    state,
)
from herald_gateway.publish.workflow_events import (
    end_waiter,
    read_wait,
    send_to_run,
    start_waiting,
    wait_headers,
    webhook_request,
)
from herald_gateway.state import State


async def wait(request: Request) -> Response:
    st = authorized(request)
    event_id = request.path_params["eventId"]
    body = await json_object(request)
    headers = wait_headers(request.headers.items())
    waiter = read_wait(event_id, headers, body, st["settings"], now_ms(request))
    await start_waiting(st["store"], st["settings"], waiter, now_ms(request))
    return json_response({})


async def notify(request: Request) -> Response:
    st = authorized(request)
    event_id = request.path_params["eventId"]
    data = await read_body(request, st["settings"].max_body_bytes)
    found = await WorkflowEvents(st["store"]).waiters(event_id)
    answers = []
    for waiter, stored in found:
        answer = await _notify_one(st, waiter, stored, data, now_ms(request))
        if answer is not None:
            answers.append(answer)
    return json_response(answers, 201)


async def notify_run(request: Request) -> Response:
    st = authorized(request)
    run_id, event_id = request.path_params["workflowRunId"], request.path_params["eventId"]
    data = await read_body(request, st["settings"].max_body_bytes)
    sent = await send_to_run(st["store"], st["settings"], run_id, event_id, data,
                             now_ms(request))  # fmt: skip
    if sent is None:  # kept for the run's next wait for the event
        return json_response([], 201)
    return json_response([_notified(*sent)], 201)


async def webhook(request: Request) -> Response:
    """`/v2/workflows/hooks/{userId}/{workflowRunId}/{eventId}`: the URL of
    `context.createWebhook`, called by anyone (the URL is the credential: its event id is
    the SDK's random `evt_` + 15 characters). The run's `waitForWebhook` resumes with the
    request; a call before the wait is kept for it. The user id is not checked."""
    st = state(request)
    run_id, event_id = request.path_params["workflowRunId"], request.path_params["eventId"]
    body = await read_body(request, st["settings"].max_body_bytes)
    data = webhook_request(request.method, request.headers.items(), body,
                           request.url.scheme, request.headers.get("host", ""),
                           request.url.path + (f"?{request.url.query}" if request.url.query
                                               else ""))  # fmt: skip
    sent = await send_to_run(st["store"], st["settings"], run_id, event_id, data,
                             now_ms(request))  # fmt: skip
    return json_response({} if sent is None else {"messageId": sent[1]})


async def _notify_one(
    st: State, waiter: Waiter, stored: bytes, data: bytes, now: int
) -> dict[str, Any] | None:
    try:
        message_id = await end_waiter(st["store"], st["settings"], waiter, stored, data, now)
    except (NotFound, InvalidRequest):  # the run ended meanwhile: its waiter is dropped
        return None
    return None if message_id is None else _notified(waiter, message_id)


def _notified(waiter: Waiter, message_id: str) -> dict[str, Any]:
    return {"waiter": waiter.public(), "messageId": message_id, "error": "",
            "workflowRunId": waiter.run_id}  # fmt: skip


async def waiters(request: Request) -> Response:
    st = authorized(request)
    found = await WorkflowEvents(st["store"]).waiters(request.path_params["eventId"])
    return json_response([waiter.public() for waiter, _ in found])


WORKFLOW_EVENT_ROUTES = [
    Route("/v2/wait/{eventId}", wait, methods=["POST"]),
    Route("/v2/notify/{eventId}", notify, methods=["POST"]),
    Route("/v2/notify/{workflowRunId}/{eventId}", notify_run, methods=["POST"]),
    Route("/v2/waiters/{eventId}", waiters, methods=["GET"]),
    Route(
        "/v2/workflows/hooks/{userId}/{workflowRunId}/{eventId}",
        webhook,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    ),
]
