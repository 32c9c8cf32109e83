"""Workflow waits and their ends: `POST /v2/wait/{eventId}` read into a waiter, and a
waiter ended — by a notify, a webhook call or its timeout — as a new step of its run
(herald_core.workflow_events stores them).

The Workflow SDKs register a wait with the step's own headers (`Upstash-Workflow-RunId`,
`-Url`, the forwarded SDK version, retries...) and a body `{url, timeout, timeoutUrl,
timeoutHeaders, timeoutBody, step}`. Both header sets are read as a publish to their URL
would be (herald_gateway.publish.publishing), when the wait comes, so a bad one is refused
then and not at the end; they are read again at the end to build the message. The waiting
step's result joins the run's steps array as the SDK reads it: the step as described, with
`out` the event's data, base64 (a notify's body; a webhook's request as JSON), or with
`waitTimeout: true` and no `out` when the deadline passed.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import replace
from typing import Any

import orjson

from herald_core.errors import Conflict, InvalidField, InvalidRequest, NotFound
from herald_core.settings import Settings
from herald_core.store import NewMessage, Store
from herald_core.workflow_events import (
    Headers,
    MailResult,
    Resumed,
    Waiter,
    WaitResult,
    WorkflowEvents,
    kept_data,
)
from herald_core.workflows import Workflows, element, steps_body
from herald_gateway.publish.destinations import Endpoint
from herald_gateway.publish.header_values import parse_delay
from herald_gateway.publish.publishing import PublishRequest, parse_publish
from herald_gateway.publish.staging import build_message
from herald_gateway.publish.workflow_invoke import read_invoker
from herald_gateway.publish.workflows import accept_workflow, workflow_of

logger = logging.getLogger(__name__)
#: Reads of the steps array before giving up on a run whose steps keep changing.
_TRIES = 5
#: A wait's own header that must not reach the delivery: it marks the wait request itself
#: (and would make the message an ordinary publish: herald_gateway.publish.workflows).
_CALL_TYPE = "upstash-workflow-calltype"
_RUN_ID = "Upstash-Workflow-Runid"


def wait_headers(headers: list[tuple[str, str]]) -> Headers:
    """The headers of a wait request its notification is sent with: its `Upstash-*` ones
    and its content type (not its credentials)."""
    out: Headers = {}
    for name, value in headers:
        lname = name.lower()
        if lname.startswith("upstash-") or lname == "content-type":
            out.setdefault(name, []).append(value)
    return out


def read_wait(
    event_id: str, headers: Headers, body: dict[str, Any] | None, settings: Settings, now_ms: int
) -> Waiter:
    """A waiter from a wait request (pure): its run (`Upstash-Workflow-RunId`), URL, step
    and timeout; both header sets checked as publishes."""
    if not event_id:
        raise InvalidField("eventId", "must not be empty")
    if body is None:
        raise InvalidField("body", "a wait needs a JSON body with url, step and timeout")
    url = _text_field(body, "url")
    step = body.get("step")
    if not isinstance(step, dict) or not isinstance(step.get("stepId"), int):
        raise InvalidField("step", "must be an object with an integer stepId")
    timeout = body.get("timeout") or "7d"
    if not isinstance(timeout, str):
        raise InvalidField("timeout", 'must be a duration such as "30s" or "7d"')
    deadline = now_ms + int(parse_delay(timeout, settings, "timeout") * 1000)
    timeout_url = body.get("timeoutUrl") or url
    timeout_headers = body.get("timeoutHeaders") or headers
    if not isinstance(timeout_url, str):
        raise InvalidField("timeoutUrl", "must be a URL")
    timeout_body = body.get("timeoutBody")
    if timeout_body is not None and not isinstance(timeout_body, str):
        raise InvalidField("timeoutBody", "must be a string")
    _check_headers("timeoutHeaders", timeout_headers)
    run_id = _run_id(headers)
    waiter = Waiter(run_id, event_id, url, headers, deadline, timeout_url, timeout_headers,
                    timeout_body, step, timeout)  # fmt: skip
    for timed_out in (False, True):  # refused now, not when it ends
        _as_publish(waiter, b"", timed_out, settings, now_ms)
    return waiter


def _text_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidField(name, "must be a non-empty string")
    return value


def _check_headers(name: str, headers: Any) -> None:
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
        for k, v in headers.items()
    ):
        raise InvalidField(name, "must be an object of header name -> list of values")


def _run_id(headers: Headers) -> str:
    for name, values in headers.items():
        if name.lower() == _RUN_ID.lower() and values:
            return values[0]
    raise InvalidField("Upstash-Workflow-RunId", "a wait must name its workflow run")


def _as_publish(
    waiter: Waiter, body: bytes, timed_out: bool, settings: Settings, now_ms: int
) -> tuple[PublishRequest, Endpoint]:
    """The publish a waiter's end is: to its URL (or timeout URL) with its headers."""
    url, headers = ((waiter.timeout_url, waiter.timeout_headers) if timed_out
                    else (waiter.url, waiter.headers))  # fmt: skip
    pairs = [(n, v[0]) for n, v in headers.items() if v and n.lower() != _CALL_TYPE]
    field = "timeoutUrl" if timed_out else "url"
    request = parse_publish(url, "", pairs, body, settings, now_ms)
    run = workflow_of(request)
    if run is None or run.run_id != waiter.run_id:
        raise InvalidField(field, "the wait's headers must name its workflow run")
    return request, run.endpoint


def result_step(waiter: Waiter, out: bytes | None) -> bytes:
    """The waiting step's result (pure): the event's data (`out`), or the timeout."""
    step = {**waiter.step, "waitEventId": waiter.event_id, "timeout": waiter.timeout}
    if out is None:
        step["waitTimeout"] = True
    else:
        step["out"] = base64.b64encode(out).decode()
        step["waitTimeout"] = False
    return orjson.dumps(step)


async def end_waiter(
    store: Store,
    settings: Settings,
    waiter: Waiter,
    stored: bytes,
    out: bytes | None,
    now_ms: int,
    *,
    kept: bytes | None = None,
) -> str | None:
    """End a waiter with the event's data `out` (None: timed out; or a `kept` event,
    `WorkflowEvents.wait`'s); the id of the message that resumes its run, or None when the
    waiter was not there any more (ended already)."""
    events, workflows = WorkflowEvents(store), Workflows(store)
    if kept is not None:
        out = kept_data(kept)
    timed_out = out is None
    request, endpoint = _as_publish(waiter, b"", timed_out, settings, now_ms)
    message_id = workflows.message_id(waiter.run_id)
    mine = element(message_id, result_step(waiter, out), now_ms)
    for _ in range(_TRIES):
        elements = await workflows.steps(waiter.run_id)
        body = steps_body([*elements, mine])
        built = build_message(replace(request, body=body), endpoint, message_id, now_ms, None)
        new = NewMessage(built, body, request.not_before)
        outcome, detail = await events.resume(waiter, stored, mine, len(elements), new, kept)
        if outcome is Resumed.APPENDED:
            return message_id
        if outcome is Resumed.GONE:
            return None
        if outcome is Resumed.NO_RUN:
            raise NotFound(f"workflow run {waiter.run_id} not found")
        if outcome is Resumed.ENDED:
            raise InvalidRequest(f"workflow run {waiter.run_id} has ended ({detail.lower()})")
        if outcome is Resumed.DUPLICATE:
            return detail
    raise Conflict(f"workflow run {waiter.run_id}: its steps kept changing, try again")


async def start_waiting(store: Store, settings: Settings, waiter: Waiter, now_ms: int) -> None:
    """Register a waiter; an event sent to its run before (lookback) ends it at once."""
    events = WorkflowEvents(store)
    result, kept = await events.wait(waiter)
    if result is WaitResult.NO_RUN:
        raise NotFound(f"workflow run {waiter.run_id} not found")
    if result is WaitResult.ENDED:
        raise InvalidRequest(f"workflow run {waiter.run_id} has ended")
    if kept is not None:  # (a step with its result already, DONE, waits for nothing)
        await end_waiter(store, settings, waiter, waiter.to_json(), None, now_ms, kept=kept)


async def send_to_run(
    store: Store, settings: Settings, run_id: str, event_id: str, data: bytes, now_ms: int
) -> tuple[Waiter, str] | None:
    """An event for one run (a webhook call, a notify naming the run): the waiter it ended
    and the message resuming the run, or None when it was kept for the run's next wait."""
    events = WorkflowEvents(store)
    for _ in range(_TRIES):
        result = await events.mail(run_id, event_id, data)
        if result is MailResult.KEPT:
            return None
        if result is MailResult.NO_RUN:
            raise NotFound(f"workflow run {run_id} not found")
        if result is MailResult.ENDED:
            raise InvalidRequest(f"workflow run {run_id} has ended")
        found = await events.waiter(run_id, event_id)
        if found is not None:
            message_id = await end_waiter(store, settings, *found, data, now_ms)
            if message_id is not None:
                return found[0], message_id
        # the waiter timed out or was notified meanwhile: send again
    raise Conflict(f"workflow run {run_id}: its waiter for {event_id} kept changing, try again")


def webhook_request(
    method: str, headers: list[tuple[str, str]], body: bytes, proto: str, host: str, url: str
) -> bytes:
    """A webhook call as `waitForWebhook` reads it (pure): JSON `{method, header, body
    (base64), proto, host, url}`, `url` the path and query (the SDK rebuilds a Request)."""
    header: Headers = {}
    for name, value in headers:
        if name.lower() not in ("authorization", "proxy-authorization"):
            header.setdefault(name, []).append(value)
    request: dict[str, Any] = {"method": method, "header": header, "proto": proto,
                               "host": host, "url": url}  # fmt: skip
    if body:
        request["body"] = base64.b64encode(body).decode()
    return orjson.dumps(request)


async def answer_invoker(
    store: Store,
    settings: Settings,
    run_id: str,
    result: bytes,
    *,
    canceled: bool,
    now_ms: int,
    failed: bool = False,
) -> str | None:
    """A run ends (finished, cancelled, or `failed`: a step dead-lettered): if
    `context.invoke` started it, its invoker's step gets the result `{body, isCanceled,
    isFailed}`, `body` left out when `result` is empty (as QStash answers a failed run: the
    SDK reads `body` undefined); a step of the invoker's run, stored once however often the
    run ends. The id of the message resuming the invoker, None without one."""
    events = WorkflowEvents(store)
    raw = await events.invoker(run_id)
    if raw is None:
        return None
    url, invoker_run, step, headers = read_invoker(raw)
    out: dict[str, Any] = {"isCanceled": canceled, "isFailed": failed}
    if result:
        out["body"] = result.decode(errors="replace")
    body = orjson.dumps({**step, "out": orjson.dumps(out).decode()})
    pairs = [(n, v[0]) for n, v in headers.items() if v and n.lower() != _CALL_TYPE]
    enqueued = None
    try:
        request = parse_publish(url, "", pairs, body, settings, now_ms)
        run = workflow_of(request)
        if run is None or run.run_id != invoker_run or run.init:
            raise InvalidRequest("its invoker's headers name no run")
        enqueued = await accept_workflow(store, request, run, now_ms, None)
    except (NotFound, InvalidRequest) as exc:  # the invoker ended (cancelled), or its note
        # is unusable: the invoked run still ends
        logger.info("workflow run %s: invoker %s not answered: %s", run_id, invoker_run, exc)
    await events.forget_invoker(run_id)
    return None if enqueued is None else enqueued.message_id
