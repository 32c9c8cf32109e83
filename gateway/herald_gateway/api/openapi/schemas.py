"""The JSON schemas of Herald's OpenAPI document (`components.schemas`).

Names and fields follow QStash's own document (upstash/docs `qstash/openapi.yaml`): `Error`,
`Message`, `DLQMessage`, `LogEntry`, `Schedule`, `Queue`, `URLGroup`, `Endpoint`,
`FlowControlKey`, `SigningKeys`, `PublishResponse`, `PublishToUrlGroupResponse`. Herald's
additions (README "Deliberate differences") are listed with the rest and say so. Every
object Herald answers with is closed (`additionalProperties: false`), so a field a view
gains without being documented fails tests/integration/test_openapi.py.
"""

from __future__ import annotations

from typing import Any

from herald_gateway.api.views import STATES

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def string(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, **extra}


def integer(description: str, **extra: Any) -> Schema:
    return {"type": "integer", "description": description, **extra}


def unix_ms(description: str) -> Schema:
    return integer(description + " (Unix milliseconds).", format="int64", minimum=0)


def closed(properties: dict[str, Schema], required: list[str], description: str) -> Schema:
    """An object Herald answers with: these fields and no other."""
    return {"type": "object", "description": description, "properties": properties,
            "required": required, "additionalProperties": False}  # fmt: skip


HEADERS: Schema = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
METHOD: Schema = {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]}
_REDACTED = " Redacted values read `REDACTED:<sha256 hex>` (`Upstash-Redact-Fields`)."


def _headers(description: str) -> Schema:
    return {**HEADERS, "description": description}


#: What a message, a dead letter and a schedule share (`message_view`).
_MESSAGE: dict[str, Schema] = {
    "messageId": string("Unique identifier of the message (`msg_...`)."),
    "url": string("The URL the message is delivered to."),
    "topicName": string("The URL group or Topic, when published to one."),
    "endpointName": string("The endpoint's (Subscription's) name within the URL group."),
    "method": {**METHOD, "description": "The HTTP method of the delivery."},
    "header": _headers("The headers sent to the destination." + _REDACTED),
    "body": string("The body, when it is UTF-8." + _REDACTED),
    "bodyBase64": string("The body, base64-encoded, when it is not UTF-8."),
    "maxRetries": integer("Retries after the first attempt.", minimum=0),
    "notBefore": unix_ms("The earliest time of the first delivery"),
    "createdAt": unix_ms("When the message was published"),
    "timeout": integer("Herald: the per-attempt timeout in seconds.", minimum=0),
    "retryDelayExpression": string("The `Upstash-Retry-Delay` expression (milliseconds)."),
    "callback": string("The callback URL."),
    "callbackHeader": _headers("Herald: the headers the callback is sent with."),
    "failureCallback": string("The failure callback URL."),
    "failureCallbackHeader": _headers("Herald: the headers the failure callback is sent with."),
    "queueName": string("The queue the message waits in, when enqueued."),
    "scheduleId": string("The schedule that produced the message."),
    "callerIP": string("The publisher's IP address."),
    "deduplicationId": string("Herald: the `Upstash-Deduplication-Id` it was published with."),
    "label": string("The first label (deprecated in favour of `labels`).", deprecated=True),
    "labels": {
        "type": "array",
        "items": {"type": "string"},
        "description": "The labels of the message (`Upstash-Label`).",
    },
    "flowControlKey": string("The flow-control key; a Topic's subscription has its own."),
    "parallelism": integer("Flow control: deliveries in flight at most.", minimum=1),
    "rate": integer("Flow control: starts per period at most.", minimum=1),
    "period": integer("Flow control: the rate period in seconds (rounded up).", minimum=1),
}
_MESSAGE_REQUIRED = ["messageId", "url", "method", "header", "maxRetries", "notBefore",
                     "createdAt", "timeout"]  # fmt: skip

_DLQ: dict[str, Schema] = {
    "dlqId": string("The dead letter's id (`dlq_...`): delete or retry it by this id."),
    "responseStatus": integer("The last attempt's HTTP status (0: no answer).", minimum=0),
    "responseHeader": _headers("The last attempt's response headers."),
    "responseBody": string("The last response's body, when it is UTF-8."),
    "responseBodyBase64": string("The last response's body, base64-encoded, when not UTF-8."),
    "error": string("Herald: why the last attempt failed (e.g. `egress refused: ...`)."),
}

_LOG_ONLY: dict[str, Schema] = {
    "time": unix_ms("When the state changed"),
    "state": {
        "type": "string",
        "enum": list(STATES),
        "description": "The message's state from then on (`CANCELED`, one L, as the "
        "SDKs spell it; the filter also takes `CANCELLED`).",
    },
    "timeout": integer("The per-attempt timeout in milliseconds, as QStash's logs.", minimum=0),
    "retried": integer("Herald: attempts before this row.", minimum=0),
    "body": string("The CREATED row of a body up to `HERALD_LOG_BODY_MAX`: base64." + _REDACTED),
    "nextDeliveryTime": unix_ms("The next attempt's time"),
    "retryDelayExpr": string("Herald: `retryDelayExpression` as the Python SDK reads it."),
    "error": string("Why the attempt failed."),
    "responseStatus": integer("The attempt's HTTP status.", minimum=0),
    "responseHeaders": _headers("The attempt's response headers."),
    "responseHeader": _headers("Herald: `responseHeaders` as the Python SDK reads it."),
    "responseBody": string("The attempt's response body, base64-encoded."),
    "callbackHeaders": _headers("The headers the callback is sent with."),
    "failureCallbackHeaders": _headers("The headers the failure callback is sent with."),
}
_LOG_FIELDS = {
    name: schema
    for name, schema in {**_MESSAGE, **_LOG_ONLY}.items()
    if name
    not in ("bodyBase64", "notBefore", "callbackHeader", "failureCallbackHeader", "deduplicationId")
}

_SCHEDULE_FIELDS = {
    name: schema
    for name, schema in _MESSAGE.items()
    if name not in ("messageId", "url", "maxRetries", "notBefore")
}
_SCHEDULE_FIELDS.update(
    {
        "scheduleId": string("Unique identifier of the schedule (`scd_...` or your own)."),
        "cron": string("The cron expression (5 fields, UTC, or `CRON_TZ=<zone> ` first)."),
        "destination": string("The destination URL, or the URL group or Topic name."),
        "createdAt": unix_ms("When the schedule was created"),
        "retries": integer("Retries of each message it produces.", minimum=0),
        "delay": integer("The delay of each message it produces, in seconds.", minimum=0),
        "isPaused": {"type": "boolean", "description": "Ticks pass unfired while paused."},
        "callerIp": string("The IP address that created the schedule (also as `callerIP`)."),
        "lastScheduleTime": unix_ms("The last tick that fired"),
        "nextScheduleTime": unix_ms("The next tick"),
        "lastScheduleStates": {
            "type": "object",
            "description": "The last tick's messages and how they ended.",
            "additionalProperties": {"type": "string", "enum": ["IN_PROGRESS", "SUCCESS", "FAIL"]},
        },
        "error": string("Why the last tick could not publish."),
    }
)

_ENDPOINT: dict[str, Schema] = {
    "name": string("The endpoint's name (a Subscription's name for a Kubernetes Topic)."),
    "url": string("The endpoint's URL."),
}

_FLOW_KEY: dict[str, Schema] = {
    "flowControlKey": string("The flow-control key."),
    "waitListSize": integer("Messages waiting for a slot.", minimum=0),
    "parallelismMax": integer("The parallelism in force (0: none).", minimum=0),
    "parallelismCount": integer("Deliveries in flight.", minimum=0),
    "rateMax": integer("The rate in force (0: none).", minimum=0),
    "rateCount": integer("Starts in the current rate period.", minimum=0),
    "ratePeriod": integer("The rate period in seconds.", minimum=0),
    "ratePeriodStart": integer("When the current rate period began (Unix seconds).", minimum=0),
    "isPaused": {"type": "boolean", "description": "New starts wait while paused."},
    "isPinnedParallelism": {"type": "boolean", "description": "Parallelism is pinned."},
    "isPinnedRate": {"type": "boolean", "description": "Rate and period are pinned."},
}

_PUBLISHED: dict[str, Schema] = {
    "messageId": string("The new message's id, or the earlier one's when deduplicated."),
    "deduplicated": {
        "type": "boolean",
        "description": "Present and true when a duplicate was not stored.",
    },
}

SCHEMAS: dict[str, Schema] = {
    "Error": closed({"error": string("What was wrong, naming the field.")}, ["error"], "An error."),
    "Message": closed(_MESSAGE, _MESSAGE_REQUIRED, "A message not yet delivered or failed."),
    "DLQMessage": closed(
        {**_MESSAGE, **_DLQ},
        [*_MESSAGE_REQUIRED, "dlqId", "responseStatus", "responseHeader"],
        "A dead letter: the message and its last answer.",
    ),
    "LogEntry": closed(
        _LOG_FIELDS,
        [
            "time",
            "messageId",
            "state",
            "url",
            "method",
            "header",
            "maxRetries",
            "timeout",
            "createdAt",
            "retried",
        ],
        "One state change of a message.",
    ),
    "Schedule": closed(
        _SCHEDULE_FIELDS,
        [
            "scheduleId",
            "cron",
            "destination",
            "createdAt",
            "method",
            "header",
            "retries",
            "timeout",
            "isPaused",
        ],
        "A cron schedule.",
    ),
    "Queue": closed(
        {
            "name": string("The queue's name."),
            "parallelism": integer("Messages started at once at most.", minimum=1),
            "paused": {"type": "boolean", "description": "Nothing starts while paused."},
            "lag": integer("Messages not yet delivered, failed or cancelled.", minimum=0),
            "createdAt": unix_ms("When the queue was created"),
            "updatedAt": unix_ms("When the queue last changed"),
        },
        ["name", "parallelism", "paused", "lag", "createdAt", "updatedAt"],
        "A FIFO queue.",
    ),
    "Endpoint": closed(_ENDPOINT, ["url"], "An endpoint of a URL group."),
    "URLGroup": closed(
        {
            "name": string(
                "The name as the caller uses it: bare in its own namespace, "
                "`namespace/name` elsewhere."
            ),
            "namespace": string("Herald: the Kubernetes namespace the group lives in."),
            "createdAt": unix_ms("When the group was created"),
            "updatedAt": unix_ms("When the group last changed"),
            "endpoints": {"type": "array", "items": ref("Endpoint")},
            "managedBy": {
                "type": "string",
                "enum": ["api", "kubernetes"],
                "description": "Herald: `api` for groups of this API, `kubernetes` "
                "for Topic objects (read-only here: change them with kubectl).",
            },
            "headers": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Herald: the group's default `Upstash-*` headers.",
            },
        },
        ["name", "namespace", "createdAt", "updatedAt", "endpoints", "managedBy"],
        "A URL group (QStash's path says topics): API-managed, or a Kubernetes Topic.",
    ),
    "FlowControlKey": closed(_FLOW_KEY, list(_FLOW_KEY), "A flow-control key's state."),
    "SigningKeys": closed(
        {
            "current": string("The key deliveries are signed with."),
            "next": string("The key that becomes current at the next rotation."),
        },
        ["current", "next"],
        "The signing keys.",
    ),
    "PublishResponse": closed(_PUBLISHED, ["messageId"], "A message published to a URL."),
    "PublishToUrlGroupResponse": closed(
        {**_PUBLISHED, "url": string("The endpoint's URL.")},
        ["messageId", "url"],
        "One endpoint's message of a publish to a URL group or Topic.",
    ),
}
