"""The operations of Herald's OpenAPI document (`paths`), route by route (herald_gateway.app).

Paths and parameter names are QStash's (`{urlGroupName}`, `{queueName}`, `{dlqId}`...);
tests/unit/test_openapi.py checks that every route of the app is here and every operation
here reaches a route.
"""

from __future__ import annotations

from typing import Any

from herald_core.queues import MAX_PARALLELISM
from herald_gateway.api import filters
from herald_gateway.api.openapi.parameters import (
    GROUP_NAME,
    NAME,
    NOT_FOR_ENQUEUE,
    SCHEDULE_HEADERS,
    filter_body,
    filter_parameters,
    path,
    publish_headers,
    retry_headers,
)
from herald_gateway.api.openapi.schemas import (
    HEADERS,
    Schema,
    closed,
    integer,
    ref,
    string,
    unix_ms,
)

Operation = dict[str, Any]

_ERRORS = {
    400: "A malformed value; the error names the field (nothing was stored or changed).",
    401: "No token, or a token Herald does not know.",
    403: "A namespace token used outside its namespace, or where an admin token is needed.",
    404: "Not found.",
    409: "A Kubernetes Topic: change it with kubectl.",
    413: "A body over `HERALD_MAX_BODY_BYTES`.",
    503: "Redis is unreachable.",
}
_NAMESPACE_TOKENS = (
    " Takes an admin token or a namespace token (a Secret labelled `herald.dev/token`), which "
    "acts in its own namespace only."
)


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _empty(description: str) -> Schema:
    return {"description": description}


def _op(
    summary: str,
    tag: str,
    responses: dict[int, Schema],
    *errors: int,
    description: str = "",
    parameters: list[Schema] | None = None,
    body: Schema | None = None,
    public: bool = False,
) -> Operation:
    """One operation; `errors` are the error statuses it answers beside 401 and 503 (and,
    with a path parameter, 404: a segment the router cannot take matches no route)."""
    in_path = any(p.get("in") == "path" for p in parameters or [])
    codes = sorted({*errors, *([404] if in_path else [])} | (set() if public else {401, 503}))
    operation: Operation = {"summary": summary, "tags": [tag]}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
    operation["responses"] = {
        **{str(code): answer for code, answer in responses.items()},
        **{str(code): _json(ref("Error"), _ERRORS[code]) for code in codes},
    }
    if public:
        operation["security"] = []
    return operation


def _raw_body(description: str) -> Schema:
    return {
        "description": description,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": {}},
        },
    }


def _json_body(schema: Schema, *, required: bool = True) -> Schema:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


_DESTINATION = path(
    "destination",
    "A URL (`http://` or `https://`; percent-encoded or not; the request's own query string "
    "belongs to it, minus `qstash_token` and `upstash-*` keys), or a URL group or Topic: "
    "`name` in the caller's namespace or `namespace/name`.",
)
_PUBLISHED = {
    "oneOf": [
        ref("PublishResponse"),
        {"type": "array", "items": ref("PublishToUrlGroupResponse"),
         "description": "A URL group or Topic: one message per endpoint."},
    ]
}  # fmt: skip


def _publish_ops() -> dict[str, dict[str, Operation]]:
    responses = {
        200: _json(_PUBLISHED, "Stored: the message id, or one per endpoint of a URL group."),
        202: _json(ref("PublishResponse"), "A duplicate: the earlier message's id."),
    }
    queue = path("queueName", "The queue (created on first use with parallelism 1).",
                 pattern=NAME)  # fmt: skip
    body = _raw_body("Delivered byte for byte.")
    every = " Every header also works as a lower-case query parameter (`?upstash-retries=1`)."
    batch_item = {
        "type": "object",
        "required": ["destination"],
        "properties": {
            "destination": {"type": "string", "description": "A URL, URL group or Topic."},
            "headers": {"type": ["object", "null"],
                        "additionalProperties": {"type": "string"},
                        "description": "Any publish header."},
            "body": {"type": ["string", "null"]},
            "queue": {"type": ["string", "null"], "description": "Enqueue into this queue."},
        },
    }  # fmt: skip
    batch_answer = {"oneOf": [ref("PublishResponse"),
                              {"type": "array", "items": ref("PublishToUrlGroupResponse")},
                              ref("Error")]}  # fmt: skip
    return {
        "/v2/publish/{destination}": {"post": _op(
            "Publish a message", "Messages", responses, 400, 403, 404, 413,
            description="Store the message durably, then deliver it." + every + _NAMESPACE_TOKENS,
            parameters=[_DESTINATION, *publish_headers()], body=body)},
        "/v2/enqueue/{queueName}/{destination}": {"post": _op(
            "Enqueue a message", "Queues", responses, 400, 403, 404, 413,
            description="Like a publish, into a FIFO queue." + every + _NAMESPACE_TOKENS,
            parameters=[queue, _DESTINATION, *publish_headers(leave_out=NOT_FOR_ENQUEUE)],
            body=body)},
        "/v2/batch": {"post": _op(
            "Batch messages", "Messages",
            {200: _json({"type": "array", "items": batch_answer},
                        "One answer per item, in order; a refused item answers `{error}`.")},
            400, 413, description="Up to 1000 publishes in one request." + _NAMESPACE_TOKENS,
            body=_json_body({"type": "array", "items": batch_item, "minItems": 1,
                             "maxItems": 1000}))},
    }  # fmt: skip


def _message_ops() -> dict[str, dict[str, Operation]]:
    message_id = path("messageId", "The message's id (`msg_...`).")
    cancelled = {"type": "object", "properties": {"cancelled": {"type": "integer", "minimum": 0}},
                 "required": ["cancelled"], "additionalProperties": False}  # fmt: skip
    return {
        "/v2/messages/{messageId}": {
            "get": _op("Get a message", "Messages",
                       {200: _json(ref("Message"), "The message.")}, 404,
                       parameters=[message_id]),
            "delete": _op("Cancel a message", "Messages",
                          {200: _json(cancelled, "Cancelled.")}, 404,
                          description="404 once delivered, failed or cancelled.",
                          parameters=[message_id]),
        },
        "/v2/messages": {"delete": _op(
            "Cancel messages", "Messages", {200: _json(cancelled, "How many were cancelled.")},
            400, 413,
            description="Cancel the pending messages the filters select (no filter: every one), "
            "at most `count`. Filters come in the query or as keys of a JSON body.",
            parameters=filter_parameters(filters.MESSAGES),
            body=_json_body(filter_body(filters.MESSAGES), required=False))},
    }  # fmt: skip


def _log_ops() -> dict[str, dict[str, Operation]]:
    rows = {"type": "array", "items": ref("LogEntry")}
    cursor = {"type": "string", "description": "Absent on the last page."}
    events = {"type": "object", "properties": {"cursor": cursor, "events": rows},
              "required": ["events"], "additionalProperties": False}  # fmt: skip
    both = {"type": "object", "properties": {"cursor": cursor, "logs": rows, "events": rows},
            "required": ["logs", "events"], "additionalProperties": False}  # fmt: skip
    params = filter_parameters(filters.LOGS)
    return {
        "/v2/logs": {"get": _op("List logs", "Logs", {200: _json(both, "Newest first.")}, 400,
                                description="Rows under both `logs` and `events`.",
                                parameters=params)},
        "/v2/events": {"get": _op("List events", "Logs", {200: _json(events, "Newest first.")},
                                  400, description="The SDKs' path: rows under `events`.",
                                  parameters=params)},
    }  # fmt: skip


def _dlq_ops() -> dict[str, dict[str, Operation]]:
    dlq_id = path("dlqId", "The dead letter's id (`dlq_...`).")
    cursor = {"type": "string", "description": "Absent when done."}
    listing = {
        "type": "object",
        "additionalProperties": False,
        "required": ["messages"],
        "properties": {"cursor": cursor, "messages": {"type": "array", "items": ref("DLQMessage")}},
    }
    deleted = {
        "type": "object",
        "additionalProperties": False,
        "required": ["deleted"],
        "properties": {"cursor": cursor, "deleted": {"type": "integer", "minimum": 0}},
    }
    retried = {
        "type": "object",
        "additionalProperties": False,
        "required": ["cursor", "responses"],
        "properties": {
            "cursor": {"type": "string", "description": "Empty when done."},
            "responses": {"type": "array", "items": ref("PublishResponse")},
        },
    }
    params = filter_parameters(filters.DLQ)
    body = _json_body(filter_body(filters.DLQ), required=False)
    selects = (
        "Selects with the filters, in the query or a JSON body: the dead letters "
        "`dlqIds` names (all of them unless `count`), else a page (`count`, default 100)."
    )
    return {
        "/v2/dlq": {
            "get": _op("List dead letters", "DLQ", {200: _json(listing, "Newest first.")}, 400,
                       parameters=params),
            "delete": _op("Delete dead letters", "DLQ", {200: _json(deleted, "Deleted.")},
                          400, 413, description=selects, parameters=params, body=body),
        },
        "/v2/dlq/{dlqId}": {
            "get": _op("Get a dead letter", "DLQ", {200: _json(ref("DLQMessage"), "Found.")},
                       404, parameters=[dlq_id]),
            "delete": _op("Delete a dead letter", "DLQ", {200: _empty("Deleted.")}, 404,
                          parameters=[dlq_id]),
        },
        "/v2/dlq/retry/{dlqId}": {"post": _op(
            "Retry a dead letter", "DLQ",
            {201: _json(ref("PublishResponse"), "Stored again as a new message.")}, 400, 404,
            description="`Upstash-*` headers override the dead letter's configuration.",
            parameters=[dlq_id, *retry_headers()])},
        "/v2/dlq/retry": {"post": _op(
            "Retry dead letters", "DLQ", {201: _json(retried, "Stored again.")}, 400, 413,
            description=selects + " `Upstash-*` headers override their configuration.",
            parameters=[*params, *retry_headers()], body=body)},
    }  # fmt: skip


def _queue_ops() -> dict[str, dict[str, Operation]]:
    name = path("queueName", "The queue's name.", pattern=NAME)
    upsert = {"type": "object", "required": ["queueName"], "properties": {
        "queueName": {"type": "string", "pattern": NAME},
        "parallelism": {"type": "integer", "minimum": 1, "maximum": MAX_PARALLELISM},
        "paused": {"type": "boolean"}}}  # fmt: skip
    return {
        "/v2/queues": {
            "post": _op("Upsert a queue", "Queues", {200: _empty("Created or changed.")}, 400,
                        413, description="Creates the queue, or changes what is given.",
                        body=_json_body(upsert)),
            "get": _op("List queues", "Queues",
                       {200: _json({"type": "array", "items": ref("Queue")}, "Every queue.")}),
        },
        "/v2/queues/{queueName}": {
            "get": _op("Get a queue", "Queues", {200: _json(ref("Queue"), "Found.")}, 400, 404,
                       parameters=[name]),
            "delete": _op("Delete a queue", "Queues", {200: _empty("Deleted (or absent).")},
                          400, description="Messages still waiting in it are cancelled.",
                          parameters=[name]),
        },
        "/v2/queues/{queueName}/pause": {"post": _op(
            "Pause a queue", "Queues", {200: _empty("Paused.")}, 400, 404, parameters=[name])},
        "/v2/queues/{queueName}/resume": {"post": _op(
            "Resume a queue", "Queues", {200: _empty("Resumed.")}, 400, 404,
            parameters=[name])},
    }  # fmt: skip


def _schedule_ops() -> dict[str, dict[str, Operation]]:
    schedule_id = path("scheduleId", "The schedule's id.")
    created = {"type": "object", "required": ["scheduleId"], "additionalProperties": False,
               "properties": {"scheduleId": {"type": "string"}}}  # fmt: skip
    ops: dict[str, dict[str, Operation]] = {
        "/v2/schedules/{destination}": {"post": _op(
            "Create a schedule", "Schedules", {200: _json(created, "Created or overwritten.")},
            400, 404, 413,
            description="Each tick publishes the body with the publish headers given here.",
            parameters=[_DESTINATION, *SCHEDULE_HEADERS, *publish_headers()],
            body=_raw_body("The body of each message."))},
        "/v2/schedules": {"get": _op(
            "List schedules", "Schedules",
            {200: _json({"type": "array", "items": ref("Schedule")}, "Every schedule.")})},
        "/v2/schedules/{scheduleId}": {
            "get": _op("Get a schedule", "Schedules", {200: _json(ref("Schedule"), "Found.")},
                       404, parameters=[schedule_id]),
            "delete": _op("Delete a schedule", "Schedules", {200: _empty("Deleted (or absent).")},
                          parameters=[schedule_id]),
        },
    }  # fmt: skip
    for action, done in (("pause", "Paused: ticks pass unfired."), ("resume", "Resumed.")):
        # the SDKs send PATCH, QStash's document says POST: both work
        ops[f"/v2/schedules/{{scheduleId}}/{action}"] = {
            method: _op(f"{action.capitalize()} a schedule", "Schedules", {200: _empty(done)},
                        404, parameters=[schedule_id])
            for method in ("post", "patch")
        }  # fmt: skip
    return ops


def _topic_ops() -> dict[str, dict[str, Operation]]:
    name = path(
        "urlGroupName",
        "`name` (in the caller's namespace) or `namespace/name`.",
        pattern=GROUP_NAME,
    )
    endpoint = {"type": "object", "properties": {
        "url": {"type": "string", "format": "uri", "pattern": "^https?://"},
        "name": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,200}$"}}}  # fmt: skip
    upsert = {"type": "object", "required": ["endpoints"], "properties": {"endpoints": {
        "type": "array", "minItems": 1, "items": {**endpoint, "required": ["url"]}}}}  # fmt: skip
    remove = {"type": "object", "required": ["endpoints"], "properties": {"endpoints": {
        "type": "array", "minItems": 1, "description": "Each item gives a url, a name or both.",
        "items": {**endpoint, "minProperties": 1}}}}  # fmt: skip
    headers = {"type": "object", "required": ["headers"], "properties": {"headers": {
        "type": "object", "additionalProperties": {"anyOf": [
            {"type": "string"}, {"type": "array", "items": {"type": "string"}}]}}}}  # fmt: skip
    tag, ns = "URL Groups", _NAMESPACE_TOKENS
    return {
        "/v2/topics": {"get": _op(
            "List URL groups", tag,
            {200: _json({"type": "array", "items": ref("URLGroup")},
                        "The caller's groups, Kubernetes Topics included.")},
            description="API-managed groups and Kubernetes Topics." + ns)},
        "/v2/topics/{urlGroupName}": {
            "get": _op("Get a URL group", tag, {200: _json(ref("URLGroup"), "Found.")},
                       400, 403, 404, description=ns.strip(), parameters=[name]),
            "delete": _op("Delete a URL group", tag, {200: _empty("Deleted (or absent).")},
                          400, 403, 409, description=ns.strip(), parameters=[name]),
            "patch": _op("Set a URL group's default headers", tag, {200: _empty("Replaced.")},
                         400, 403, 404, 409, 413,
                         description="Herald: the group's default `Upstash-*` headers, "
                         "replaced whole (a publisher's own headers win)." + ns,
                         parameters=[name], body=_json_body(headers)),
        },
        "/v2/topics/{urlGroupName}/endpoints": {
            "post": _op("Upsert endpoints", tag, {200: _empty("Added or replaced.")},
                        400, 403, 409, 413,
                        description="Creates the group if needed; a named endpoint replaces "
                        "the one of that name." + ns,
                        parameters=[name], body=_json_body(upsert)),
            "delete": _op("Remove endpoints", tag, {200: _empty("Removed.")},
                          400, 403, 404, 409, 413,
                          description="Each item matches by every field it gives; removing "
                          "the last endpoint deletes the group." + ns,
                          parameters=[name], body=_json_body(remove)),
        },
    }  # fmt: skip


def _flow_control_ops() -> dict[str, dict[str, Operation]]:
    key = path("flowControlKey", "The flow-control key.")
    tag = "Flow Control"
    positive = {"type": "integer", "minimum": 1}
    flag = {"type": "boolean", "default": False}
    pin = [
        {"name": "parallelism", "in": "query", "schema": positive},
        {"name": "rate", "in": "query", "schema": positive},
        {"name": "period", "in": "query", "schema": {**positive, "maximum": 604800},
         "description": "Seconds (a duration such as `1m` works too)."},
    ]  # fmt: skip
    unpin = [{"name": "parallelism", "in": "query", "schema": flag},
             {"name": "rate", "in": "query", "schema": flag}]  # fmt: skip
    global_ = {
        "type": "object",
        "additionalProperties": False,
        "required": ["parallelismMax", "parallelismCount"],
        "properties": {
            "parallelismMax": {"type": "integer", "minimum": 0},
            "parallelismCount": {"type": "integer", "minimum": 0},
        },
    }
    ops: dict[str, dict[str, Operation]] = {
        "/v2/flowControl": {"get": _op(
            "List flow-control keys", tag,
            {200: _json({"type": "array", "items": ref("FlowControlKey")}, "Every key.")},
            parameters=[{"name": "search", "in": "query", "schema": {"type": "string"},
                         "description": "Only keys containing this text."}])},
        "/v2/flowControl/{flowControlKey}": {"get": _op(
            "Get a flow-control key", tag, {200: _json(ref("FlowControlKey"), "Found.")}, 404,
            parameters=[key])},
        "/v2/globalParallelism": {"get": _op(
            "Get global parallelism", tag,
            {200: _json(global_, "`HERALD_GLOBAL_PARALLELISM` and deliveries in flight.")})},
    }  # fmt: skip
    actions = {
        "pause": ("Pause a flow-control key", [], "Paused: new starts wait."),
        "resume": ("Resume a flow-control key", [], "Resumed."),
        "pin": ("Pin a flow-control key's limits", pin, "Pinned; a fresh rate period."),
        "unpin": ("Unpin a flow-control key's limits", unpin, "Unpinned."),
        "resetRate": ("Reset a flow-control key's rate", [], "The rate window is empty."),
        "reset": ("Reset a flow-control key's rate (alias)", [], "As `resetRate`."),
    }
    for action, (summary, params, done) in actions.items():
        ops[f"/v2/flowControl/{{flowControlKey}}/{action}"] = {"post": _op(
            summary, tag, {200: _empty(done)}, 400, 404, parameters=[key, *params])}  # fmt: skip
    return ops


def _system_ops() -> dict[str, dict[str, Operation]]:
    keys = {200: _json(ref("SigningKeys"), "The signing keys.")}
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "/v2/keys": {"get": _op("Get signing keys", "Signing Keys", keys)},
        "/v2/keys/rotate": {"post": _op(
            "Rotate signing keys", "Signing Keys", keys,
            description="`current := next`, a fresh `next`; every replica follows.")},
        "/v2/openapi.json": {"get": _op(
            "This document", "System",
            {200: _json({"type": "object"}, "Herald's OpenAPI 3.1 document.")}, public=True,
            description="Served without authentication.")},
        "/healthz": {"get": _op("Liveness", "System", {200: {"description": "Alive.",
                                "content": text}}, public=True,
                                description="Never touches Redis.")},
        "/readyz": {"get": _op("Readiness", "System", {200: {"description": "Redis answers.",
                               "content": text}}, 503, public=True)},
    }  # fmt: skip


def _workflow_ops() -> dict[str, dict[str, Operation]]:
    run_id = path("workflowRunId", "The run's id (`Upstash-Workflow-RunId`).")
    cancel = {
        "name": "cancel",
        "in": "query",
        "schema": {"type": "boolean", "default": False},
        "description": "Cancel the run and its pending messages (false: it finished).",
    }

    def query(name: str, schema: Schema, description: str) -> Schema:
        return {"name": name, "in": "query", "schema": schema, "description": description}

    strings = {"type": "array", "items": {"type": "string"}}
    bulk = [
        query(
            "workflowRunIds",
            strings,
            "These runs (repeated or comma-separated); the other filters are then ignored.",
        ),
        query("workflowUrl", strings, "Runs whose URL starts with one of these."),
        query(
            "workflowUrlExactMatch",
            {"type": "boolean", "default": False},
            "`workflowUrl` must equal the run's URL.",
        ),
        query("fromDate", {"type": "integer"}, "Runs created at or after (unix ms)."),
        query("toDate", {"type": "integer"}, "Runs created at or before (unix ms)."),
        query("count", {"type": "integer", "default": 100}, "At most this many runs."),
        query(
            "cursor",
            {"type": "string"},
            "Accepted; every match up to `count` is cancelled at once.",
        ),
    ]
    return {
        "/v2/workflows/runs": {"delete": _op(
            "Cancel workflow runs in bulk", "Workflows", {200: _json(
                {"type": "object", "properties": {"cancelled": {"type": "integer"}}},
                "How many running runs were cancelled.")}, 400,
            description="The Workflow SDKs' `Client.cancel`: by ids, by URL, or (no "
            "filter) every running run; each with its pending messages.", parameters=bulk)},
        "/v2/workflows/runs/{workflowRunId}": {"delete": _op(
            "End a workflow run", "Workflows", {200: _empty("Ended.")}, 400,
            description="The Workflow SDKs call it when a run's last step is done "
            "(`cancel=false`) and to cancel a run (`cancel=true`). An ended run takes no "
            "more steps.", parameters=[run_id, cancel]),
            "get": _op("The steps of a running workflow run", "Workflows", {200: _json(
                {"type": "array", "items": {"type": "object", "properties": {
                    "messageId": {"type": "string"},
                    "body": {"type": "string", "format": "byte"},
                    "callType": {"type": "string"}}}},
                "The steps array, the initial payload first.")},
                description="The Workflow SDKs' lazy fetch: a delivery with an empty body "
                "stands for this array (up to the element of the message delivered). 404 "
                "once the run has ended.", parameters=[run_id])},
    }  # fmt: skip


def _workflow_dlq_ops() -> dict[str, dict[str, Operation]]:
    dlq_id = path("dlqId", "The dead letter of the run's failed step (`dlq_...`).")
    failed = {"type": "object", "required": ["dlqId", "workflowRunId", "workflowUrl"],
              "description": "A DLQ message with its run: workflowRunId, workflowUrl, "
              "workflowCreatedAt."}  # fmt: skip
    listing = {"type": "object", "required": ["messages"], "properties": {
        "cursor": {"type": "string"}, "messages": {"type": "array", "items": failed}}}  # fmt: skip
    run = {"type": "object", "required": ["workflowRunId", "workflowCreatedAt"], "properties": {
        "workflowRunId": {"type": "string"}, "workflowCreatedAt": {"type": "integer"}}}  # fmt: skip
    runs = {"type": "object", "required": ["workflowRuns"], "properties": {
        "cursor": {"type": "string"}, "workflowRuns": {"type": "array", "items": run}}}  # fmt: skip
    deleted = {"type": "object", "required": ["deleted"], "properties": {
        "cursor": {"type": "string"}, "deleted": {"type": "integer", "minimum": 0}}}  # fmt: skip
    params = filter_parameters(filters.WORKFLOW_DLQ)
    revive = ("A new run (a new id) in the failed run's place: {} `Upstash-*` headers "
              "override the run's configuration.")  # fmt: skip
    resume = revive.format("from the failed step, the steps done kept.")
    restart = revive.format("from the initial payload, every step run again.")
    return {
        "/v2/workflows/dlq": {
            "get": _op("List failed workflow runs", "Workflows",
                       {200: _json(listing, "Newest failure first.")}, 400, 404,
                       parameters=params),
            "delete": _op("Delete failed workflow runs", "Workflows",
                          {200: _json(deleted, "Deleted.")}, 400, 404, parameters=params),
        },
        "/v2/workflows/dlq/{dlqId}": {
            "get": _op("Get a failed workflow run", "Workflows",
                       {200: _json(failed, "Found.")}, 404, parameters=[dlq_id]),
            "delete": _op("Delete a failed workflow run", "Workflows",
                          {200: _empty("Deleted.")}, 404, parameters=[dlq_id]),
        },
        "/v2/workflows/dlq/resume": {"post": _op(
            "Resume failed workflow runs", "Workflows", {200: _json(runs, "Resumed.")}, 400,
            404, description=resume, parameters=[*params, *retry_headers()])},
        "/v2/workflows/dlq/restart": {"post": _op(
            "Restart failed workflow runs", "Workflows", {200: _json(runs, "Restarted.")},
            400, 404, description=restart, parameters=[*params, *retry_headers()])},
        "/v2/workflows/dlq/callback/{dlqId}": {
            "post": _op("Run a failed run's failure callback again", "Workflows",
                        {200: _json(run, "Sent again.")}, 400, 404, parameters=[dlq_id],
                        description="Only a callback that failed (CALLBACK_FAIL), once."),
            "delete": _op("Cancel a failed run's failure callback in progress", "Workflows",
                          {200: _empty("Cancelled: its state is CALLBACK_CANCELED.")}, 400,
                          404, parameters=[dlq_id],
                          description="Only a callback waiting or retrying "
                          "(CALLBACK_INPROGRESS)."),
        },
        "/v2/workflows/dlq/resume/{dlqId}": {"post": _op(
            "Resume a failed workflow run", "Workflows", {200: _json(run, "Resumed.")}, 400,
            404, description=resume, parameters=[dlq_id, *retry_headers()])},
        "/v2/workflows/dlq/restart/{dlqId}": {"post": _op(
            "Restart a failed workflow run", "Workflows", {200: _json(run, "Restarted.")},
            400, 404, description=restart, parameters=[dlq_id, *retry_headers()])},
    }  # fmt: skip


def _workflow_log_ops() -> dict[str, dict[str, Operation]]:
    def query(name: str, description: str, schema: Schema) -> Schema:
        return {"name": name, "in": "query", "schema": schema, "description": description}

    text, integer = {"type": "string"}, {"type": "integer", "minimum": 0}
    params = [
        query("workflowRunId", "The run's id.", text),
        query("workflowUrl", "The workflow's URL (exact).", text),
        query("workflowCreatedAt", "The run's creation (Unix ms).", integer),
        query("state", "The run's state.", {"type": "string", "enum": [
            "RUN_STARTED", "RUN_SUCCESS", "RUN_FAILED", "RUN_CANCELED"]}),
        query("fromDate", "Runs created from (Unix ms, inclusive).", integer),
        query("toDate", "Runs created until (Unix ms, inclusive).", integer),
        query("count", "Most runs (default 10).", {"type": "integer", "minimum": 1,
                                                   "maximum": 100}),
        query("cursor", "Where the previous page ended.", text),
        query("groupBy", "Only `workflowRunId` (runs).", {"type": "string",
                                                         "enum": ["workflowRunId"]}),
        query("trimBody", "Accepted, ignored.", {"type": "integer"}),
    ]  # fmt: skip
    runs = {"type": "object", "required": ["cursor", "runs"], "properties": {
        "cursor": {"type": "string", "description": "Empty when done."},
        "runs": {"type": "array", "items": {"type": "object", "required": [
            "workflowRunId", "workflowUrl", "workflowState", "workflowRunCreatedAt",
            "steps"]}}}}  # fmt: skip
    op = _op("Workflow runs with their steps", "Workflows",
             {200: _json(runs, "Newest run first.")}, 400, parameters=params)  # fmt: skip
    return {"/v2/workflows/logs": {"get": op}, "/v2/workflows/events": {"get": op}}


_WAITER = closed({
    "url": string("Where the notification goes."),
    "deadline": integer("When the wait times out (Unix seconds)."),
    "headers": {**HEADERS, "description": "The headers the notification is sent with."},
    "timeoutUrl": string("Where the timeout goes."),
    "timeoutHeaders": {**HEADERS, "description": "The headers the timeout is sent with."},
    "timeoutBody": string("The body given for the timeout."),
}, ["url", "deadline", "headers", "timeoutUrl", "timeoutHeaders"], "A workflow step waiting "
    "for an event (`context.waitForEvent`).")  # fmt: skip
_NOTIFIED = closed({
    "waiter": _WAITER,
    "messageId": string("The message that resumes the waiting run."),
    "error": string("Empty: a waiter that could not be resumed is not listed."),
    "workflowRunId": string("The resumed run."),
}, ["waiter", "messageId", "error", "workflowRunId"], "One waiter a notify ended.")  # fmt: skip


def _workflow_event_ops() -> dict[str, dict[str, Operation]]:
    event = path("eventId", "The event's id (`context.waitForEvent`'s).")
    run_id = path("workflowRunId", "The run's id (`Upstash-Workflow-RunId`).")
    notified = _json({"type": "array", "items": _NOTIFIED}, "The waiters resumed, each "
                     "with the event's data as its step's result ([] when none waited: the "
                     "event is lost).")  # fmt: skip
    wait_body = {
        "type": "object",
        "properties": {
            "url": {"type": "string"},
            "timeout": {"type": "string"},
            "timeoutUrl": {"type": "string"},
            "timeoutBody": {"type": "string"},
            "timeoutHeaders": HEADERS,
            "step": {"type": "object"},
        },
        "required": ["url", "step"],
    }
    return {
        "/v2/wait/{eventId}": {"post": _op(
            "Wait for an event", "Workflows", {200: _json({"type": "object"}, "Waiting.")},
            400, description="What the Workflow SDKs send for `context.waitForEvent`: the "
            "run (`Upstash-Workflow-RunId` and the step's other headers) waits until a notify "
            "or its timeout, then resumes with the step's result.",
            parameters=[event], body=_json_body(wait_body))},
        "/v2/notify/{eventId}": {"post": _op(
            "Notify an event", "Workflows", {201: notified}, parameters=[event],
            body=_raw_body("The event's data."),
            description="Every run waiting for the event resumes with its data.")},
        "/v2/notify/{workflowRunId}/{eventId}": {"post": _op(
            "Notify one run of an event", "Workflows", {201: notified}, 400,
            parameters=[run_id, event], body=_raw_body("The event's data."),
            description="The run's waiter for the event resumes with its data; when none "
            "waits yet, the event is kept for the run's next wait for it (lookback) and the "
            "answer is [].")},
        "/v2/workflows/hooks/{userId}/{workflowRunId}/{eventId}": {
            method: _op("Call a workflow webhook", "Workflows",
                        {200: _json({"type": "object"}, "Delivered or kept.")}, 400,
                        parameters=[path("userId", "Any user id (not checked)."), run_id,
                                    event], body=_raw_body("Anything: the call is what the "
                                                           "run gets.") if method != "get"
                        else None, public=True,
                        description="The URL of `context.createWebhook`, called without a "
                        "token (its random event id is the credential): the run's "
                        "`waitForWebhook` resumes with the request; a call before the wait "
                        "is kept for it.")
            for method in ("get", "post", "put", "patch", "delete")},
        "/v2/waiters/{eventId}": {"get": _op(
            "The waiters of an event", "Workflows",
            {200: _json({"type": "array", "items": _WAITER}, "The runs waiting for it.")},
            parameters=[event])},
    }  # fmt: skip


def _workflow_trigger_ops() -> dict[str, dict[str, Operation]]:
    started = {"workflowRunId": string("The run's id."),
               "workflowCreatedAt": unix_ms("When it was triggered"),
               "deduplicated": {"type": "boolean", "description": "An "
                                "`Upstash-Deduplication-Id` seen within the window: not "
                                "started again."}}  # fmt: skip
    one = closed(started, ["workflowRunId", "workflowCreatedAt"], "A run started.")
    item = {
        "type": "object",
        "required": ["destination"],
        "properties": {
            "destination": {"type": "string"},
            "body": {"type": "string"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    failed = closed({"error": string("Why this item was refused.")}, ["error"],
                    "An item refused (the others still start).")  # fmt: skip
    return {
        "/v2/trigger/{workflowUrl}": {"post": _op(
            "Start a workflow run", "Workflows", {200: _json(one, "Started.")}, 400, 413,
            parameters=[path("workflowUrl", "The workflow's URL."), {
                "name": "Upstash-Workflow-RunId", "in": "header", "schema": {"type": "string"},
                "description": "The run's id (default: a new `wfr_` id)."},
                *publish_headers()],
            body=_raw_body("The run's initial payload."),
            description="A run started by a plain HTTP request: the workflow gets a message "
            "marked `Upstash-Workflow-Unknown-Sdk: true` with the run's id "
            "(`Upstash-Workflow-RunId`, or a new `wfr_` id) and starts the run itself.")},
        "/v2/batch/trigger": {"post": _op(
            "Start workflow runs", "Workflows",
            {201: _json({"type": "array", "items": {"oneOf": [one, failed]}},
                        "One answer per item, in order.")}, 400, 413,
            body=_json_body({"type": "array", "items": item, "minItems": 1}),
            description="Each item is a trigger: `destination` the workflow's URL, `body` "
            "its payload, `headers` as a trigger's.")},
    }  # fmt: skip


def paths() -> dict[str, dict[str, Operation]]:
    out: dict[str, dict[str, Operation]] = {}
    for part in (_publish_ops, _message_ops, _log_ops, _dlq_ops, _queue_ops, _schedule_ops,
                 _topic_ops, _flow_control_ops, _workflow_ops, _workflow_event_ops,
                 _workflow_trigger_ops, _workflow_dlq_ops, _workflow_log_ops,
                 _system_ops):  # fmt: skip
        out.update(part())
    return out
