"""`DELETE /v2/workflows/runs/{workflowRunId}`: end a workflow run (herald_core.workflows).

The Workflow SDKs call it with `?cancel=false` when a run's last step is done, and with
`?cancel=true` to cancel a run: its pending messages are cancelled too, and it takes no
more steps. Either way the run is kept for the log retention, then expires.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from herald_core.errors import NotFound
from herald_core.workflows import Workflows
from herald_gateway.api.routes._common import authorized, now_ms, read_body
from herald_gateway.publish.header_values import parse_boolean
from herald_gateway.publish.workflow_events import answer_invoker


async def end_run(request: Request) -> Response:
    st = authorized(request)
    run_id = request.path_params["workflowRunId"]
    cancel = parse_boolean("cancel", request.query_params.get("cancel"))
    result = await read_body(request, st["settings"].max_body_bytes)
    # an invoked run answers its invoker first: a crash between leaves the run to end again
    await answer_invoker(st["store"], st["settings"], run_id, result, canceled=cancel,
                         now_ms=now_ms(request))  # fmt: skip
    if not await Workflows(st["store"]).end(run_id, cancel=cancel, now_ms=now_ms(request)):
        raise NotFound(f"workflow run {run_id} not found")
    return Response(status_code=200)


WORKFLOW_ROUTES = [
    Route("/v2/workflows/runs/{workflowRunId}", end_run, methods=["DELETE"]),
]
