"""`DELETE /v2/workflows/runs/{workflowRunId}`: end a workflow run (herald_core.workflows);
`GET` of the same path: the steps of a running run, for the SDKs' lazy fetch.

The Workflow SDKs call it with `?cancel=false` when a run's last step is done, and with
`?cancel=true` to cancel a run: its pending messages are cancelled too, and it takes no
more steps. Either way the run is kept for the log retention, then expires.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from herald_core.errors import NotFound
from herald_core.workflows import Workflows, steps_body
from herald_gateway.api.routes._common import authorized, now_ms
from herald_gateway.publish.header_values import parse_boolean


async def end_run(request: Request) -> Response:
    st = authorized(request)
    run_id = request.path_params["workflowRunId"]
    cancel = parse_boolean("cancel", request.query_params.get("cancel"))
    if not await Workflows(st["store"]).end(run_id, cancel=cancel, now_ms=now_ms(request)):
        raise NotFound(f"workflow run {run_id} not found")
    return Response(status_code=200)


async def run_steps(request: Request) -> Response:
    """The run's steps array, `[{"messageId", "body" (base64), "callType"}, ...]`, the
    initial payload first: what a delivery with an empty body stands for (the SDK keeps the
    elements up to the one of the message it got). 404 once the run has ended, which the
    SDK takes for "the run is over"."""
    st = authorized(request)
    run_id = request.path_params["workflowRunId"]
    elements = await Workflows(st["store"]).live_steps(run_id)
    if elements is None:
        raise NotFound(f"workflow run {run_id} not found")
    return Response(steps_body(elements), media_type="application/json")


WORKFLOW_ROUTES = [
    Route("/v2/workflows/runs/{workflowRunId}", end_run, methods=["DELETE"]),
    Route("/v2/workflows/runs/{workflowRunId}", run_steps, methods=["GET"]),
]
