"""`context.invoke`: a workflow run started by another, whose result goes back to it (pure).

The Workflow SDKs invoke a workflow with an ordinary start of a run (`Upstash-Workflow-Init:
true`) marked `Upstash-Workflow-Invoke: true`, whose body is not the invoked run's payload
but `{body, headers, workflowRunId, workflowRunCreatedAt, workflowUrl, step}`: the payload,
and the invoker's run, URL, headers and waiting step. The run starts with `body` as its
initial payload; the rest is kept (herald_core.workflow_events) until the run ends, when the
invoker's step gets the result `{body, isCanceled, isFailed}` as a step of its own run
(herald_gateway.publish.workflow_events.answer_invoker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from herald_core.errors import InvalidField
from herald_gateway.publish.publishing import PublishRequest

_INVOKE = "Upstash-Workflow-Invoke"


@dataclass(frozen=True, slots=True)
class Invocation:
    """An invoked run's start: its payload, and its invoker as stored."""

    payload: bytes
    invoker: bytes


def invocation_of(request: PublishRequest) -> Invocation | None:
    """The invocation a run's start is, or None for a plain start."""
    if request.headers.get(_INVOKE, "").strip().lower() != "true":
        return None
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise InvalidField("body", "an invocation's body must be a JSON object")
    url, run_id, step = body.get("workflowUrl"), body.get("workflowRunId"), body.get("step")
    if not isinstance(url, str) or not isinstance(run_id, str) or not isinstance(step, dict):
        raise InvalidField("body", "an invocation needs workflowUrl, workflowRunId and step")
    payload = body.get("body")
    raw = b"" if payload is None else payload.encode() if isinstance(payload, str) else (
        orjson.dumps(payload))  # fmt: skip
    headers = _invoker_headers(body.get("headers"))
    invoker = orjson.dumps({"u": url, "r": run_id, "s": step, "h": headers})
    return Invocation(raw, invoker)


def _invoker_headers(headers: Any) -> dict[str, list[str]]:
    """The invoker's step headers as kept: `Upstash-*` and the content type (never the
    client's credentials, which the SDK puts in too)."""
    if not isinstance(headers, dict):
        raise InvalidField("body", "an invocation's headers must be an object")
    out: dict[str, list[str]] = {}
    for name, values in headers.items():
        listed = values if isinstance(values, list) else [values]
        lname = str(name).lower()
        if (lname.startswith("upstash-") or lname == "content-type") and all(
            isinstance(v, str) for v in listed
        ):
            out[str(name)] = listed
    return out


def read_invoker(raw: bytes) -> tuple[str, str, dict[str, Any], dict[str, list[str]]]:
    """(invoker URL, run id, waiting step, headers) of a stored invoker."""
    d = orjson.loads(raw)
    return d["u"], d["r"], d["s"], d["h"]
