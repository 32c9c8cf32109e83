"""`DELETE /v2/workflows/runs/{workflowRunId}`: end a workflow run (herald_core.workflows);
`GET` of the same path: the steps of a running run, for the SDKs' lazy fetch.

The Workflow SDKs call it with `?cancel=false` when a run's last step is done, and with
`?cancel=true` to cancel a run: its pending messages are cancelled too, and it takes no
more steps. Either way the run is kept for the log retention, then expires.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from herald_core.errors import InvalidField, NotFound
from herald_core.store import Store
from herald_core.workflow_events import WorkflowEvents
from herald_core.workflows import RunningRun, Workflows, steps_body
from herald_gateway.api.filters import IGNORED, MAX_TIME, integer_param
from herald_gateway.api.routes._common import authorized, json_response, now_ms, read_body
from herald_gateway.publish.header_values import parse_boolean
from herald_gateway.publish.workflow_events import answer_invoker

#: Runs a bulk cancel takes when `count` is not given (QStash's default), and at most.
_DEFAULT_COUNT, _MAX_COUNT = 100, 1000
#: The filters that may be repeated (the others are one value each).
_MULTI = frozenset({"workflowRunIds", "workflowUrl"})
#: The query keys of a bulk cancel; `cursor` (the SDK sends one) is accepted: every
#: matching run up to `count` is cancelled in one call, so there is no next page.
_FILTERS = frozenset({"workflowRunIds", "workflowUrl", "workflowUrlExactMatch", "fromDate",
                      "toDate", "count", "cursor"})  # fmt: skip


async def end_run(request: Request) -> Response:
    st = authorized(request)
    run_id = request.path_params["workflowRunId"]
    cancel = parse_boolean("cancel", request.query_params.get("cancel"))
    result = await read_body(request, st["settings"].max_body_bytes)
    # an invoked run answers its invoker first: a crash between leaves the run to end again
    await answer_invoker(st["store"], st["settings"], run_id, result, canceled=cancel,
                         now_ms=now_ms(request))  # fmt: skip
    if not await _end(st["store"], run_id, cancel=cancel, now_ms=now_ms(request)):
        raise NotFound(f"workflow run {run_id} not found")
    return Response(status_code=200)


async def _end(store: Store, run_id: str, *, cancel: bool, now_ms: int) -> bool:
    """End the run, then drop its waiters (a crash between leaves them to their deadline,
    where they find the run ended); False when there is no such run."""
    if not await Workflows(store).end(run_id, cancel=cancel, now_ms=now_ms):
        return False
    await WorkflowEvents(store).forget_run(run_id)
    return True


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which running runs a bulk cancel takes (`parse_filter`)."""

    #: `workflowRunIds`: these runs only (the other filters are ignored, as in QStash).
    ids: tuple[str, ...] = ()
    #: `workflowUrl`: URLs starting with one of these, or equal with `exact`.
    urls: tuple[str, ...] = ()
    exact: bool = False
    #: `fromDate`, `toDate`: created within (unix ms).
    from_ms: int | None = None
    to_ms: int | None = None
    #: `count`: at most this many runs.
    count: int = _DEFAULT_COUNT

    def takes(self, run: RunningRun) -> bool:
        if self.urls and not any(run.url == u if self.exact else run.url.startswith(u)
                                 for u in self.urls):  # fmt: skip
            return False
        if self.from_ms is not None and run.created_ms < self.from_ms:
            return False
        return self.to_ms is None or run.created_ms <= self.to_ms


def parse_filter(query: QueryParams) -> RunFilter:
    """The query of `DELETE /v2/workflows/runs` (pure); a filter Herald cannot apply is
    refused rather than ignored (it would cancel more than asked)."""
    for name in query:
        if name in IGNORED:
            continue
        if name not in _FILTERS:
            raise InvalidField(name, "not a supported filter for cancelling workflow runs")
        if name not in _MULTI and len(query.getlist(name)) > 1:
            raise InvalidField(name, "given more than once")
    return RunFilter(
        ids=_values(query, "workflowRunIds"),
        urls=_values(query, "workflowUrl"),
        exact=parse_boolean("workflowUrlExactMatch", query.get("workflowUrlExactMatch")),
        from_ms=integer_param(query, "fromDate", 0, MAX_TIME),
        to_ms=integer_param(query, "toDate", 0, MAX_TIME),
        count=integer_param(query, "count", 1, _MAX_COUNT) or _DEFAULT_COUNT,
    )


def _values(query: QueryParams, name: str) -> tuple[str, ...]:
    """A multi-value filter: repeated, or comma-separated. Given but empty is refused: it
    would otherwise drop the filter, and cancel every running run."""
    found = tuple(v.strip() for raw in query.getlist(name) for v in raw.split(",") if v.strip())
    if name in query and not found:
        raise InvalidField(name, "must not be empty")
    return found


async def cancel_runs(request: Request) -> Response:
    st = authorized(request)
    wanted = parse_filter(request.query_params)
    workflows = Workflows(st["store"])
    if wanted.ids:
        chosen = list(wanted.ids[: wanted.count])
    else:
        chosen = [run.run_id for run in await workflows.running() if wanted.takes(run)]
        chosen = chosen[: wanted.count]
    cancelled = 0
    for run_id in chosen:  # an invoked run answers its invoker first, as `end_run` does
        await answer_invoker(st["store"], st["settings"], run_id, b"", canceled=True,
                             now_ms=now_ms(request))  # fmt: skip
        if await _end(st["store"], run_id, cancel=True, now_ms=now_ms(request)):
            cancelled += 1
    return json_response({"cancelled": cancelled})


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
    Route("/v2/workflows/runs", cancel_runs, methods=["DELETE"]),
    Route("/v2/workflows/runs/{workflowRunId}", end_run, methods=["DELETE"]),
    Route("/v2/workflows/runs/{workflowRunId}", run_steps, methods=["GET"]),
]
