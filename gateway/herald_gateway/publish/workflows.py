"""Workflow publishes: the steps of an Upstash Workflow run, stored in the run's order.

A publish to a URL carrying `Upstash-Workflow-RunId` (and no `Upstash-Workflow-CallType`:
a `context.call` goes to its third party as an ordinary message) is a step of a run, as
the official Workflow SDKs send them (herald_core.workflows says what is stored):
`Upstash-Workflow-Init: true` starts the run, its body the initial payload; any other is
one step, its body the SDK's step JSON. Either way the message stored for it carries the
run's steps array as its body, so the workflow endpoint replays every step done so far;
the signature covers that body, as it covers every body Herald sends. A `context.call`
(`Upstash-Workflow-CallType: toCallback`) goes to its third party as an ordinary message
stored with the run (`call_of`), so cancelling the run cancels it. Each step message
carries `Upstash-Workflow-CreatedAt`, the run's start (unix ms), as QStash sends it: the SDKs
give it to the workflow as `context.workflowRunCreatedAt` (and pass it on to invoked runs).
A step takes the run's retries, retry delay, timeout and failure callback where it set none
itself (herald_core.workflow_config).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import orjson

from herald_core.errors import Conflict, InvalidField, InvalidRequest, NotFound
from herald_core.store import Enqueued, NewMessage, Store
from herald_core.workflow_config import RunConfig
from herald_core.workflow_events import WorkflowEvents
from herald_core.workflows import (
    RunHead,
    StepOutcome,
    StepResult,
    Workflows,
    element,
    steps_body,
)
from herald_gateway.publish.destinations import Endpoint
from herald_gateway.publish.publishing import PublishRequest
from herald_gateway.publish.staging import build_message
from herald_gateway.publish.workflow_invoke import invocation_of

#: `Upstash-Workflow-CallType` of a `context.call`'s request to its third party.
TO_CALLBACK = "toCallback"
#: The feature (`Upstash-Feature-Set`) of an SDK that fetches the steps of an empty delivery.
LAZY_FETCH = "LazyFetch"
#: The header of every delivery of a run's steps: when the run started (unix ms).
CREATED_AT = "Upstash-Workflow-Createdat"
_RUN_ID = re.compile(r"^[!-~]{1,256}$")
#: Reads of the steps array before giving up on a run whose steps keep changing.
_TRIES = 5


@dataclass(frozen=True, slots=True)
class WorkflowPublish:
    """A publish that is a step of a workflow run (`workflow_of`)."""

    run_id: str
    endpoint: Endpoint
    #: `Upstash-Workflow-Init: true`: the publish starts the run.
    init: bool
    #: The SDK fetches the steps itself when a delivery's body is empty
    #: (`Upstash-Feature-Set: LazyFetch`).
    lazy: bool = False


def check_run_id(run_id: str) -> str:
    """A run id as the SDKs make them, or any of 1 to 256 printable characters."""
    if not _RUN_ID.match(run_id):
        raise InvalidField("Upstash-Workflow-RunId", "must be 1 to 256 printable characters")
    return run_id


def workflow_of(request: PublishRequest) -> WorkflowPublish | None:
    """The run `request` is a step of, or None for an ordinary publish (pure)."""
    headers = request.headers
    run_id = headers.get("Upstash-Workflow-Runid")
    if (run_id is None or "Upstash-Workflow-Calltype" in headers
            or not isinstance(request.destination, Endpoint)):  # fmt: skip
        return None
    check_run_id(run_id)
    if request.queue is not None or request.flow is not None:
        raise InvalidRequest("queues and flow control are not supported for workflow runs yet")
    init = headers.get("Upstash-Workflow-Init", "").strip().lower() == "true"
    return WorkflowPublish(run_id, request.destination, init, LAZY_FETCH in request.features)


@dataclass(frozen=True, slots=True)
class WorkflowCall:
    """A run's `context.call`: the request to its third party (`call_of`)."""

    run_id: str
    endpoint: Endpoint
    #: The step it answers (its callback's `Upstash-Workflow-StepId`); '' if not given.
    step_id: str


def call_of(request: PublishRequest) -> WorkflowCall | None:
    """The run whose `context.call` `request` is (`Upstash-Workflow-CallType: toCallback`
    with a callback into the run), or None (pure)."""
    headers = request.headers
    run_id = headers.get("Upstash-Workflow-Runid")
    if (run_id is None or headers.get("Upstash-Workflow-Calltype") != TO_CALLBACK
            or request.callback is None or not isinstance(request.destination, Endpoint)
            or request.queue is not None):  # fmt: skip
        return None
    check_run_id(run_id)
    step_id = request.callback.headers.get("Upstash-Workflow-Stepid", "").strip()
    return WorkflowCall(run_id, request.destination, step_id)


async def accept_call(
    store: Store, request: PublishRequest, call: WorkflowCall, now_ms: int, caller_ip: str | None
) -> Enqueued:
    """Store a run's `context.call` with the run (herald_core.workflows `add_call`): once
    per step, never into an ended run; its callback carries `Upstash-Workflow-CreatedAt`
    like every delivery into the run, and the run's retries and failure callback where the
    call set none for it (herald_core.workflow_config `apply_callback`)."""
    workflows = Workflows(store)
    head = await workflows.head(call.run_id)
    if head is None:
        raise NotFound(f"workflow run {call.run_id} not found")
    callback = request.callback
    if callback is not None:
        created = str(head.created_ms)
        callback = replace(callback, headers={**callback.headers, CREATED_AT: created})
        if head.config is not None:
            callback = RunConfig.from_json(head.config).apply_callback(callback)
    message_id = workflows.message_id(call.run_id)
    built = build_message(replace(request, callback=callback), call.endpoint, message_id, now_ms,
                          caller_ip)  # fmt: skip
    new = NewMessage(built, request.body, request.not_before)
    outcome = await workflows.add_call(call.run_id, call.step_id or message_id, new)
    if outcome.result is StepResult.NO_RUN:
        raise NotFound(f"workflow run {call.run_id} not found")
    if outcome.result is StepResult.ENDED:
        raise InvalidRequest(f"workflow run {call.run_id} has ended ({outcome.detail.lower()})")
    if outcome.result is StepResult.DUPLICATE:
        return Enqueued(outcome.detail, True)
    return Enqueued(message_id, False)


def step_key_of(body: bytes) -> str:
    """What makes a step one step of its run (pure): its `stepId`, or for a parallel plan
    step (`stepId` 0, `targetStep` n: the SDK publishes one for each branch of a
    `Promise.all`) `0>n`, so the plans of one parallel group are each stored once."""
    step_id, target = _step_ids(body)
    return f"0>{target}" if step_id == 0 and target else str(step_id)


def _step_ids(body: bytes) -> tuple[int, int]:
    """(`stepId`, `targetStep` or 0) of a step's JSON body."""
    try:
        step = orjson.loads(body)
    except orjson.JSONDecodeError:
        step = None
    if not isinstance(step, dict) or not _count(step.get("stepId")):
        raise InvalidField("body", "a workflow step must be JSON with an integer stepId")
    target = step.get("targetStep") or 0
    if not _count(target):
        raise InvalidField("body", "a workflow step's targetStep must be an integer")
    return int(step["stepId"]), int(target)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


async def accept_workflow(
    store: Store,
    request: PublishRequest,
    run: WorkflowPublish,
    now_ms: int,
    caller_ip: str | None,
    lazy_above: int | None = None,
) -> Enqueued:
    """Store the run's new message with its step, or find the earlier one that has it.
    Its body is the steps array, or empty when the SDK fetches the steps itself
    (`run.lazy`) and the array is larger than `lazy_above` bytes."""
    workflows = Workflows(store)
    message_id = workflows.message_id(run.run_id)

    def message(body: bytes, head: RunHead) -> NewMessage:
        if run.lazy and lazy_above is not None and len(body) > lazy_above:
            body = b""
        headers = {**request.headers, CREATED_AT: str(head.created_ms)}
        built = build_message(replace(request, body=body, headers=headers), run.endpoint,
                              message_id, now_ms, caller_ip)  # fmt: skip
        if head.config is not None:  # the run's settings, where the step set none
            built = RunConfig.from_json(head.config).apply(built, request.explicit)
        return NewMessage(built, body, request.not_before)

    mine = element(message_id, request.body, now_ms)
    if run.init:
        invocation = invocation_of(request)  # context.invoke: the payload is inside
        if invocation is not None:
            mine = element(message_id, invocation.payload, now_ms)
            await WorkflowEvents(store).remember_invoker(run.run_id, invocation.invoker)
        new = message(steps_body([mine]), RunHead(now_ms, None))
        settings = RunConfig.of(new.message).to_json()
        earlier = await workflows.start(run.run_id, run.endpoint.url, mine, new, settings)
        outcome = StepOutcome(StepResult.STORED if earlier is None else StepResult.DUPLICATE,
                              earlier or "")  # fmt: skip
    else:
        outcome = await _add_step(workflows, run.run_id, step_key_of(request.body), mine, message)
    if outcome.result is StepResult.DUPLICATE:
        return Enqueued(outcome.detail, True)
    return Enqueued(message_id, False)  # the store told the workers (Workflows)


async def _add_step(
    workflows: Workflows,
    run_id: str,
    step_key: str,
    mine: bytes,
    message: Callable[[bytes, RunHead], NewMessage],
) -> StepOutcome:
    """Append the step with its message, its body built from the steps array as read."""
    for _ in range(_TRIES):
        elements, head = await workflows.snapshot(run_id)
        if head is None:
            raise NotFound(f"workflow run {run_id} not found")
        new = message(steps_body([*elements, mine]), head)
        outcome = await workflows.add_step(run_id, step_key, mine, len(elements), new)
        if outcome.result is StepResult.NO_RUN:
            raise NotFound(f"workflow run {run_id} not found")
        if outcome.result is StepResult.ENDED:
            raise InvalidRequest(f"workflow run {run_id} has ended ({outcome.detail.lower()})")
        if outcome.result is not StepResult.STALE:
            return outcome
    raise Conflict(f"workflow run {run_id}: its steps kept changing, publish again")
