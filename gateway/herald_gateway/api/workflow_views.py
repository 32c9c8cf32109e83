"""Workflow runs as the Workflow API shows them (QStash's workflow OpenAPI document, the
`@upstash/workflow` client's types): failed runs in the workflow DLQ (`WorkflowDLQMessage`),
and runs with their steps in the workflow logs (`WorkflowRunLog`).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from herald_core.records import Attempt, DeadLetter
from herald_core.workflow_failures import RunFacts
from herald_core.workflow_logs import NextStep, RunLog
from herald_gateway.api.views import dlq_view


def workflow_dlq_view(
    dead: DeadLetter, facts: RunFacts | None, callback_state: str | None = None
) -> dict[str, Any]:
    """A dead letter of a run's step: the DLQ's view of it, its run, and the state of its
    failure callback (herald_core.workflow_failures `callback_states`)."""
    view = dlq_view(dead)
    view["workflowRunId"] = dead.run_id
    view["workflowUrl"] = facts.url if facts else dead.message.url
    if facts is not None:
        view["workflowCreatedAt"] = facts.created_at
    if callback_state is not None:
        view["failureFunctionState"] = callback_state
        view["failureCallbackInfo"] = {"state": callback_state}
    view.pop("failureCallbackHeader", None)
    return view


#: A run's end state (herald_core.workflows) as the logs name it.
RUN_STATES = {"": "RUN_STARTED", "DONE": "RUN_SUCCESS", "FAILED": "RUN_FAILED",
              "CANCELED": "RUN_CANCELED"}  # fmt: skip


def _element(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """A steps array element and its decoded body ({}, b"" when unreadable)."""
    try:
        element = orjson.loads(raw)
        return element, base64.b64decode(element.get("body", ""))
    except (orjson.JSONDecodeError, ValueError, AttributeError):
        return {}, b""


def _text(body: bytes) -> str:
    return body.decode(errors="replace")


def run_steps(run: RunLog, at: NextStep | None = None) -> list[dict[str, Any]]:
    """The run's steps as `StepLogGroup`s: the initial payload, each step done (parallel
    steps of one plan grouped), then the step in progress (retrying, once its delivery
    failed) or failed, if any, with its retries and, failed, its last response (`at`:
    herald_core.workflow_logs `next_steps`)."""
    groups: list[dict[str, Any]] = []
    for index, raw in enumerate(run.elements):
        element, body = _element(raw)
        base = {"messageId": element.get("messageId", ""),
                "callType": element.get("callType", "step"), "state": "STEP_SUCCESS"}  # fmt: skip
        if "createdAt" in element:  # stored with the step (runs started before: not kept)
            base["createdAt"] = element["createdAt"]
        if index == 0:
            groups.append({"type": "sequential", "steps": [{
                **base, "createdAt": run.created_at, "stepId": 0, "stepName": "init",
                "stepType": "Initial", "out": _text(body), "concurrent": 1}]})  # fmt: skip
            continue
        try:
            step = orjson.loads(body)
        except orjson.JSONDecodeError:
            step = {}
        log = {**(step if isinstance(step, dict) else {}), **base}
        concurrent = log.get("concurrent", 1)
        last = groups[-1]
        if (isinstance(concurrent, int) and concurrent > 1 and last["type"] == "parallel"
                and len(last["steps"]) < concurrent):  # fmt: skip
            last["steps"].append(log)
        else:
            kind = "parallel" if isinstance(concurrent, int) and concurrent > 1 else "sequential"
            groups.append({"type": kind, "steps": [log]})
    if run.state in ("", "FAILED") and run.elements:
        element, _ = _element(run.elements[-1])
        retried = at.retried if at is not None else 0
        state = ("STEP_FAILED" if run.state == "FAILED"
                 else "STEP_RETRY" if retried else "STEP_PROGRESS")  # fmt: skip
        current: dict[str, Any] = {"messageId": element.get("messageId", ""),
                                   "state": state, "retries": retried}  # fmt: skip
        if at is not None and at.dead is not None:
            current["errors"] = [step_error(at.dead.attempt, run.ended_at or 0)]
        groups.append({"type": "next", "steps": [current]})
    return groups


def step_error(attempt: Attempt, time_ms: int) -> dict[str, Any]:
    """An attempt as the logs' `StepError`: its error (or the status it got), the
    response's body and headers."""
    error = attempt.error or (f"HTTP {attempt.status}" if attempt.status else "failed")
    return {"error": error, "status": attempt.status or 0, "body": _text(attempt.body),
            "headers": dict(attempt.headers), "time": time_ms}  # fmt: skip


def run_log_view(
    run: RunLog, callback_state: str | None = None, at: NextStep | None = None
) -> dict[str, Any]:
    """A run as `WorkflowRunLog` (`@upstash/workflow`'s `Client.logs`); `callback_state`:
    where its failure callback is, if it has one; `at`: where its current step stands."""
    view: dict[str, Any] = {
        "workflowRunId": run.run_id,
        "workflowUrl": run.url,
        "workflowState": RUN_STATES.get(run.state, run.state),
        "workflowRunCreatedAt": run.created_at,
        "steps": run_steps(run, at),
    }
    if run.ended_at is not None:
        view["workflowRunCompletedAt"] = run.ended_at
    if run.state == "FAILED" and run.dlq_id:
        view["dlqId"] = run.dlq_id
    if run.failure_callback and callback_state:
        view["failureFunction"] = {"messageId": run.failure_callback, "state": callback_state,
                                   "url": run.url, "dlqId": run.dlq_id or ""}  # fmt: skip
    if run.revived_from:
        view["revivedFrom"] = run.revived_from  # Herald's own: the failed run it resumes
    return view
