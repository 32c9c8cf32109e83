"""`GET /v2/workflows/logs` and `GET /v2/workflows/events?groupBy=workflowRunId`: workflow
runs with their state and steps, newest run first (herald_core.workflow_logs), as
`@upstash/workflow`'s `Client.logs` reads them: `{"cursor", "runs"}`.

Filters: `workflowRunId`, `workflowUrl` (exact), `workflowCreatedAt`, `state` (RUN_STARTED,
RUN_SUCCESS, RUN_FAILED, RUN_CANCELED), `fromDate`/`toDate` (the run's creation, Unix ms,
inclusive), `count` (default 10, at most 100) and `cursor`; `trimBody` is accepted and
ignored. Any other key is a 400 naming it. Only runs are listed (`groupBy=workflowRunId`),
on either path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from herald_core.errors import InvalidField
from herald_core.workflow_failures import callback_states
from herald_core.workflow_logs import RunLog, WorkflowLogs
from herald_gateway.api.filters import MAX_TIME, integer_param
from herald_gateway.api.routes._common import authorized, json_response
from herald_gateway.api.workflow_views import RUN_STATES, run_log_view

_KEYS = frozenset({"workflowRunId", "workflowUrl", "workflowCreatedAt", "state", "fromDate",
                   "toDate", "count", "cursor", "groupBy", "trimBody", "qstash_token"})  # fmt: skip
_MAX_COUNT = 100


def _query(request: Request) -> dict[str, str]:
    query: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key not in _KEYS:
            known = ", ".join(sorted(_KEYS - {"qstash_token"}))
            raise InvalidField(key, f"not a filter of the workflow logs (it takes {known})")
        if key in query:
            raise InvalidField(key, "given more than once")
        query[key] = value
    if query.get("groupBy", "workflowRunId") != "workflowRunId":
        raise InvalidField("groupBy", "only workflowRunId is supported")
    return query


def _keep(query: dict[str, str]) -> Callable[[RunLog], bool]:
    states = {v: k for k, v in RUN_STATES.items()}
    state = query.get("state")
    if state is not None and state not in states:
        raise InvalidField("state", f"one of {', '.join(RUN_STATES.values())}")
    url = query.get("workflowUrl")
    created = integer_param(query, "workflowCreatedAt", 0, MAX_TIME)
    low = integer_param(query, "fromDate", 0, MAX_TIME)
    high = integer_param(query, "toDate", 0, MAX_TIME)

    def keep(run: RunLog) -> bool:
        return ((state is None or run.state == states[state])
                and (url is None or run.url == url)
                and (created is None or run.created_at == created)
                and (low is None or run.created_at >= low)
                and (high is None or run.created_at <= high))  # fmt: skip

    return keep


async def list_runs(request: Request) -> Response:
    logs = WorkflowLogs(authorized(request)["store"])
    query = _query(request)
    keep = _keep(query)
    count = integer_param(query, "count", 1, _MAX_COUNT) or 10
    cursor: str | None = None
    run_id = query.get("workflowRunId")
    if run_id is not None:
        runs = [run for run in await logs.get([run_id]) if keep(run)]
    else:
        page = await logs.page(logs.cursor(query.get("cursor")), count, keep)
        runs, cursor = page.rows, page.cursor
    states = await callback_states(logs.store, [r.failure_callback for r in runs
                                                if r.failure_callback])  # fmt: skip
    at = await logs.next_steps(runs)
    views = [run_log_view(r, states.get(r.failure_callback or ""), at.get(r.run_id))
             for r in runs]  # fmt: skip
    body: dict[str, Any] = {"cursor": cursor or "", "runs": views}
    return json_response(body)


WORKFLOW_LOG_ROUTES = [
    Route("/v2/workflows/logs", list_runs, methods=["GET"]),
    Route("/v2/workflows/events", list_runs, methods=["GET"]),
]
