"""`/v2/workflows/dlq`: failed workflow runs (herald_core.workflow_failures) — list, get,
delete, resume from the failed step, restart from the initial payload, run the failure
callback again.

A failed run is the dead letter of its failed step's message; these routes show and act on
the dead letters that belong to runs. `@upstash/workflow`'s `Client.dlq.list` reads them at
`GET /v2/dlq?source=workflow` (herald_gateway.api.routes.dlq hands that over here). Resume
and restart make a new run (a new id, as QStash gives it), selected by `dlqIds`, or a page
of the failed runs the filters match (`{"cursor", "workflowRuns"}`); the request's
`Upstash-Retries`, `-Retry-Delay`, `-Delay`, ... override the run's, as a DLQ retry's do.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from herald_core.dead_letters import DeadLetters
from herald_core.errors import InvalidRequest, NotFound
from herald_core.models import Message
from herald_core.records import DeadLetter
from herald_core.store import Store
from herald_core.workflow_failures import (
    FAILED_AGAIN,
    Revival,
    RunFacts,
    callback_states,
    cancel_failure_callback,
    facts,
    failure_callback_again,
    note_failure_callback,
    revive,
)
from herald_gateway.api.filters import WORKFLOW_DLQ, Filters, parse
from herald_gateway.api.routes._common import authorized, json_response, now_ms
from herald_gateway.api.workflow_views import workflow_dlq_view
from herald_gateway.publish.publishing import parse_overrides
from herald_gateway.publish.staging import redelivery


def _filters(request: Request) -> Filters:
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "source"]
    return parse(WORKFLOW_DLQ, pairs)


#: Filters on what the run's record says, matched once it is read.
_LATER = ("workflowCreatedAt", "failureFunctionState")


def _light_view(entry: DeadLetter) -> dict[str, Any]:
    """What the filters match, without the run's record (workflowCreatedAt is checked once
    the records are read)."""
    return workflow_dlq_view(entry, None)


async def _selected(store: Store, filters: Filters) -> tuple[list[dict[str, Any]], str | None]:
    """The failed runs a request selects, as views with their dead letters: named by
    `dlqIds` (404 when one is not a failed run), else a page of those the filters match."""
    dead = DeadLetters(store)
    # matched once the runs are read; here every value passes
    later = {name: filters.get(name) for name in _LATER if filters.get(name)}

    def keep(entry: DeadLetter) -> bool:
        view = _light_view(entry) | {name: values[0] for name, values in later.items() if values}
        return entry.run_id is not None and filters.matches(view)

    ids = filters.get("dlqIds")
    cursor = None
    if ids is not None:
        rows = await dead.named(ids, lambda entry: entry.run_id is not None)
        missing = set(ids) - {row.dlq_id for row in rows}
        if missing:
            raise NotFound(f"failed workflow run {sorted(missing)[0]} not found")
        rows = [row for row in rows if keep(row)]
    else:
        page = await dead.page(dead.cursor(filters.cursor), filters.count or 100, keep)
        rows, cursor = page.rows, page.cursor
    runs = await facts(store, [row.run_id for row in rows if row.run_id])
    states = await callback_states(store, [r.failure_callback for r in runs.values()
                                           if r.failure_callback])  # fmt: skip
    views = [_view(row, runs.get(row.run_id or ""), states) for row in rows]
    for name, values in later.items():
        views = [v for v in views if str(v.get(name)) in (values or ())]
    return views, cursor


def _view(entry: DeadLetter, run: RunFacts | None, states: dict[str, str]) -> dict[str, Any]:
    state = states.get(run.failure_callback) if run and run.failure_callback else None
    return workflow_dlq_view(entry, run, state)


async def list_failed(request: Request) -> Response:
    store = authorized(request)["store"]
    views, cursor = await _selected(store, _filters(request))
    body: dict[str, Any] = {"messages": views}
    if cursor is not None:
        body["cursor"] = cursor
    return json_response(body)


async def _one(request: Request) -> DeadLetter:
    dlq_id = request.path_params["dlqId"]
    entry = await DeadLetters(authorized(request)["store"]).get(dlq_id)
    if entry is None or entry.run_id is None:
        raise NotFound(f"failed workflow run {dlq_id} not found")
    return entry


async def get_failed(request: Request) -> Response:
    store = authorized(request)["store"]
    entry = await _one(request)
    runs = await facts(store, [entry.run_id or ""])
    run = runs.get(entry.run_id or "")
    ids = [run.failure_callback] if run and run.failure_callback else []
    return json_response(_view(entry, run, await callback_states(store, ids)))


async def delete_failed(request: Request) -> Response:
    entry = await _one(request)
    await DeadLetters(authorized(request)["store"]).delete([entry.dlq_id])
    return Response(status_code=200)


async def delete_many(request: Request) -> Response:
    store = authorized(request)["store"]
    filters = _filters(request)
    views, cursor = await _selected(store, filters)
    deleted = await DeadLetters(store).delete([view["dlqId"] for view in views])
    body: dict[str, Any] = {"deleted": deleted}
    if cursor is not None:
        body["cursor"] = cursor
    return json_response(body)


async def _revive(request: Request, how: Revival, dlq_ids: list[str]) -> list[dict[str, Any]]:
    st = authorized(request)
    store, settings, clock = st["store"], st["settings"], st["clock"]
    overrides = parse_overrides(request.headers.items(), settings, clock.now_ms())

    def build(original: Message, message_id: str) -> Message:
        return redelivery(original, overrides, message_id, clock.now_ms())

    runs = []
    for entry in await DeadLetters(store).named(dlq_ids, lambda e: e.run_id is not None):
        revived = await revive(store, entry, how, build, now_ms(request))
        if revived is not None:
            runs.append({"workflowRunId": revived.run_id,
                         "workflowCreatedAt": revived.created_at})  # fmt: skip
    return runs


def _reviving(how: Revival) -> Any:
    async def many(request: Request) -> Response:
        store = authorized(request)["store"]
        filters = _filters(request)
        views, cursor = await _selected(store, filters)
        runs = await _revive(request, how, [view["dlqId"] for view in views])
        body: dict[str, Any] = {"workflowRuns": runs}
        if filters.get("dlqIds") is None:
            body["cursor"] = cursor or ""
        return json_response(body)

    async def one(request: Request) -> Response:
        entry = await _one(request)
        runs = await _revive(request, how, [entry.dlq_id])
        if not runs:
            raise NotFound(f"failed workflow run {entry.dlq_id} not found")
        return json_response(runs[0])

    return many, one


async def callback_again(request: Request) -> Response:
    """Run a failed run's failure callback (its failure function) once more: only one that
    failed, and once (as QStash: not one in progress, delivered or cancelled)."""
    store = authorized(request)["store"]
    entry = await _one(request)
    run = (await facts(store, [entry.run_id or ""])).get(entry.run_id or "")
    new = None if run is None else failure_callback_again(entry, run, now_ms(request))
    if run is None or new is None:
        raise InvalidRequest(f"failed workflow run {entry.dlq_id} has no failure callback")
    if run.failure_callback is not None:
        state = (await callback_states(store, [run.failure_callback])).get(run.failure_callback)
        if state not in (None, FAILED_AGAIN):
            raise InvalidRequest(f"the failure callback of {entry.dlq_id} did not fail: {state}")
    # once: a request racing this one finds the message stored under the same key
    once = f"failure-callback-again:{run.run_id}:{run.failure_callback or ''}"
    sent = await store.enqueue(new, once)
    if sent.deduplicated:
        raise InvalidRequest(f"the failure callback of {entry.dlq_id} is sent again already")
    await note_failure_callback(store, run.run_id, sent.message_id)
    return json_response({"workflowRunId": run.run_id, "workflowCreatedAt": run.created_at})


async def cancel_callback(request: Request) -> Response:
    """Cancel a failed run's failure callback that is still waiting or retrying."""
    store = authorized(request)["store"]
    entry = await _one(request)
    run = (await facts(store, [entry.run_id or ""])).get(entry.run_id or "")
    callback = run.failure_callback if run is not None else None
    if callback is None or not await cancel_failure_callback(store, callback, now_ms(request)):
        raise InvalidRequest(f"failed workflow run {entry.dlq_id} has no failure callback "
                             "in progress")  # fmt: skip
    return Response(status_code=200)


_resume_many, _resume_one = _reviving(Revival.RESUME)
_restart_many, _restart_one = _reviving(Revival.RESTART)

WORKFLOW_DLQ_ROUTES = [
    Route("/v2/workflows/dlq", list_failed, methods=["GET"]),
    Route("/v2/workflows/dlq", delete_many, methods=["DELETE"]),
    Route("/v2/workflows/dlq/resume", _resume_many, methods=["POST"]),
    Route("/v2/workflows/dlq/restart", _restart_many, methods=["POST"]),
    Route("/v2/workflows/dlq/resume/{dlqId}", _resume_one, methods=["POST"]),
    Route("/v2/workflows/dlq/restart/{dlqId}", _restart_one, methods=["POST"]),
    Route("/v2/workflows/dlq/callback/{dlqId}", callback_again, methods=["POST"]),
    Route("/v2/workflows/dlq/callback/{dlqId}", cancel_callback, methods=["DELETE"]),
    Route("/v2/workflows/dlq/{dlqId}", get_failed, methods=["GET"]),
    Route("/v2/workflows/dlq/{dlqId}", delete_failed, methods=["DELETE"]),
]
