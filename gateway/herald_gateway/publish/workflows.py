"""Workflow publishes: the steps of an Upstash Workflow run, stored in the run's order.

A publish to a URL carrying `Upstash-Workflow-RunId` (and no `Upstash-Workflow-CallType`:
a `context.call` goes to its third party as an ordinary message) is a step of a run, as
the official Workflow SDKs send them (herald_core.workflows says what is stored):
`Upstash-Workflow-Init: true` starts the run, its body the initial payload; any other is
one step, its body the SDK's step JSON. Either way the message stored for it carries the
run's steps array as its body, so the workflow endpoint replays every step done so far;
the signature covers that body, as it covers every body Herald sends.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import orjson

from herald_core.errors import Conflict, InvalidField, InvalidRequest, NotFound
from herald_core.store import Enqueued, NewMessage, Store
from herald_core.workflow_events import WorkflowEvents
from herald_core.workflows import StepOutcome, StepResult, Workflows, element, steps_body
from herald_gateway.publish.destinations import Endpoint
from herald_gateway.publish.publishing import PublishRequest
from herald_gateway.publish.staging import build_message
from herald_gateway.publish.workflow_invoke import invocation_of

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


def workflow_of(request: PublishRequest) -> WorkflowPublish | None:
    """The run `request` is a step of, or None for an ordinary publish (pure)."""
    headers = request.headers
    run_id = headers.get("Upstash-Workflow-Runid")
    if (run_id is None or "Upstash-Workflow-Calltype" in headers
            or not isinstance(request.destination, Endpoint)):  # fmt: skip
        return None
    if not _RUN_ID.match(run_id):
        raise InvalidField("Upstash-Workflow-RunId", "must be 1 to 256 printable characters")
    if request.queue is not None or request.flow is not None:
        raise InvalidRequest("queues and flow control are not supported for workflow runs yet")
    init = headers.get("Upstash-Workflow-Init", "").strip().lower() == "true"
    return WorkflowPublish(run_id, request.destination, init)


def step_id_of(body: bytes) -> int:
    """The `stepId` of a step's JSON body (pure)."""
    try:
        step = orjson.loads(body)
    except orjson.JSONDecodeError:
        step = None
    step_id = step.get("stepId") if isinstance(step, dict) else None
    if not isinstance(step_id, int) or isinstance(step_id, bool) or step_id < 0:
        raise InvalidField("body", "a workflow step must be JSON with an integer stepId")
    return step_id


async def accept_workflow(
    store: Store,
    request: PublishRequest,
    run: WorkflowPublish,
    now_ms: int,
    caller_ip: str | None,
) -> Enqueued:
    """Store the run's new message with its step, or find the earlier one that has it."""
    workflows = Workflows(store)
    message_id = workflows.message_id(run.run_id)

    def message(body: bytes) -> NewMessage:
        built = build_message(replace(request, body=body), run.endpoint, message_id, now_ms,
                              caller_ip)  # fmt: skip
        return NewMessage(built, body, request.not_before)

    mine = element(message_id, request.body)
    if run.init:
        invocation = invocation_of(request)  # context.invoke: the payload is inside
        if invocation is not None:
            mine = element(message_id, invocation.payload)
            await WorkflowEvents(store).remember_invoker(run.run_id, invocation.invoker)
        new = message(steps_body([mine]))
        earlier = await workflows.start(run.run_id, run.endpoint.url, mine, new)
        outcome = StepOutcome(StepResult.STORED if earlier is None else StepResult.DUPLICATE,
                              earlier or "")  # fmt: skip
    else:
        outcome = await _add_step(workflows, run.run_id, step_id_of(request.body), mine, message)
    if outcome.result is StepResult.DUPLICATE:
        return Enqueued(outcome.detail, True)
    return Enqueued(message_id, False)  # the store told the workers (Workflows)


async def _add_step(
    workflows: Workflows,
    run_id: str,
    step_id: int,
    mine: bytes,
    message: Callable[[bytes], NewMessage],
) -> StepOutcome:
    """Append the step with its message, its body built from the steps array as read."""
    for _ in range(_TRIES):
        elements = await workflows.steps(run_id)
        new = message(steps_body([*elements, mine]))
        outcome = await workflows.add_step(run_id, step_id, mine, len(elements), new)
        if outcome.result is StepResult.NO_RUN:
            raise NotFound(f"workflow run {run_id} not found")
        if outcome.result is StepResult.ENDED:
            raise InvalidRequest(f"workflow run {run_id} has ended ({outcome.detail.lower()})")
        if outcome.result is not StepResult.STALE:
            return outcome
    raise Conflict(f"workflow run {run_id}: its steps kept changing, publish again")
