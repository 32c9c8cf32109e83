"""Parameters of Herald's OpenAPI document: the `Upstash-*` headers a publish takes, and the
filters of the list and bulk routes — generated from `herald_gateway.api.filters`' table, so the
document lists exactly the keys each route accepts.
"""

from __future__ import annotations

from typing import Any

from herald_gateway.api import filters
from herald_gateway.api.openapi.schemas import METHOD, Schema
from herald_gateway.api.views import STATES

_DURATION = {
    "type": "string",
    "pattern": r"^([0-9]{1,6}(\.[0-9]{1,3})?(ns|us|ms|s|m|h|d))+$",
    "examples": ["10s", "1d10h30m"],
}
_BOOLEAN = {"type": "string", "enum": ["true", "false"]}
#: Queue names and schedule ids (herald_core.queues.parse_name).
NAME = "^[A-Za-z0-9._-]{1,128}$"
#: URL group names: `name` or `namespace/name` (herald_core.url_groups).
GROUP_NAME = "^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/)?[A-Za-z0-9._-]{1,200}$"


def _header(name: str, schema: Schema, description: str, **extra: Any) -> Schema:
    return {"name": name, "in": "header", "schema": schema, "description": description, **extra}


def _url_header(name: str, what: str) -> Schema:
    return _header(name, {"type": "string", "format": "uri", "pattern": "^https?://"},
                   f"The {what} URL (http:// or https://), a publish of its own (reference "
                   "§3.2); configure it with the publish headers below prefixed with "
                   f"`{name}-`.")  # fmt: skip


#: `Upstash-*` headers of a publish, enqueue and schedule (README "API"). Each also works as
#: a lower-case query parameter (`?upstash-retries=1`).
PUBLISH_HEADERS: list[Schema] = [
    _header("Content-Type", {"type": "string"}, "Stored and sent with the message."),
    _header("Upstash-Forward-*", {"type": "string"},
            "`Upstash-Forward-<Name>: value` is delivered as `<Name>: value`."),
    _header("Upstash-Header-Forward", _BOOLEAN,
            "`true`: forward every request header (never `Authorization` or hop-by-hop ones)."),
    _header("Upstash-Method", {**METHOD, "default": "POST"}, "The delivery's HTTP method."),
    _header("Upstash-Delay", _DURATION, "Delay the first delivery (Go duration, plus `d`)."),
    _header("Upstash-Not-Before", {"type": "integer", "minimum": 0},
            "The earliest first delivery, Unix seconds; wins over `Upstash-Delay`."),
    _header("Upstash-Retries", {"type": "integer", "minimum": 0, "default": 3},
            "Retries after the first attempt (at most `HERALD_MAX_RETRIES`, 20 by default)."),
    _header("Upstash-Retry-Delay", {"type": "string", "examples": ["pow(2, retried) * 1000"]},
            "Milliseconds before the next retry: numbers, `retried`, `+ - * /`, parentheses, "
            "`pow sqrt abs exp floor ceil round min max`."),
    _header("Upstash-Timeout", _DURATION,
            "Per-attempt timeout (default and maximum: `HERALD_MAX_TIMEOUT`)."),
    _url_header("Upstash-Callback", "callback"),
    _header("Upstash-Callback-*", {"type": "string"},
            "`Upstash-Callback-<Publish-Header>` configures the callback message: `-Forward-*`, "
            "`-Method`, `-Timeout`, `-Retries`, `-Retry-Delay`, `-Delay`, `-Label`, "
            "`-Redact-Fields`, `-Flow-Control-Key`/`-Value`, and callbacks of its own."),
    _url_header("Upstash-Failure-Callback", "failure callback"),
    _header("Upstash-Failure-Callback-*", {"type": "string"},
            "`Upstash-Failure-Callback-<Publish-Header>` configures the failure callback, as "
            "`Upstash-Callback-*` does the callback."),
    _header("Upstash-Deduplication-Id", {"type": "string", "pattern": "^[^:]{1,512}$"},
            "A duplicate of this id for the same destination within `HERALD_DEDUP_WINDOW` is "
            "not stored (202 with the earlier `messageId`)."),
    _header("Upstash-Content-Based-Deduplication", _BOOLEAN,
            "Deduplicate on destination, body, content type and forwarded headers."),
    _header("Upstash-Flow-Control-Key", {"type": "string", "minLength": 1, "maxLength": 256},
            "The flow-control key; needs `Upstash-Flow-Control-Value`."),
    _header("Upstash-Flow-Control-Value",
            {"type": "string", "examples": ["parallelism=2, rate=10, period=1m"]},
            "`parallelism=N, rate=N, period=DURATION` (parallelism or rate at least)."),
    _header("Upstash-Label", {"type": "string"}, "Labels, comma-separated."),
    _header("Upstash-Redact-Fields", {"type": "string", "examples": ["body, header[X]"]},
            "`body`, `header` (all) and `header[Name]`, comma-separated: API answers show "
            "`REDACTED:<sha256 hex>`; deliveries use the originals."),
]  # fmt: skip

#: The publish headers a queued message refuses (a queue decides when it starts).
NOT_FOR_ENQUEUE = frozenset({"Upstash-Delay", "Upstash-Not-Before", "Upstash-Flow-Control-Key",
                             "Upstash-Flow-Control-Value"})  # fmt: skip

SCHEDULE_HEADERS: list[Schema] = [
    _header("Upstash-Cron", {"type": "string", "examples": ["*/5 * * * *"]},
            "5 cron fields, UTC, or `CRON_TZ=<IANA zone> ` first.", required=True),
    _header("Upstash-Schedule-Id", {"type": "string", "pattern": NAME},
            "Create, or overwrite, the schedule of this id."),
    _header("Upstash-Queue-Name", {"type": "string", "pattern": NAME},
            "Each tick enqueues its message into this queue (URL destinations only)."),
]  # fmt: skip

#: What `POST /v2/dlq/retry...` overrides of the dead letter's configuration.
RETRY_OVERRIDES = frozenset({"Upstash-Forward-*", "Upstash-Method", "Upstash-Delay",
                             "Upstash-Not-Before", "Upstash-Retries", "Upstash-Retry-Delay",
                             "Upstash-Timeout"})  # fmt: skip


def publish_headers(*, leave_out: frozenset[str] = frozenset()) -> list[Schema]:
    return [p for p in PUBLISH_HEADERS if p["name"] not in leave_out]


def retry_headers() -> list[Schema]:
    return [p for p in PUBLISH_HEADERS if p["name"] in RETRY_OVERRIDES]


def path(name: str, description: str, **schema: Any) -> Schema:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "string", "minLength": 1, **schema},
            "description": description}  # fmt: skip


# -- filters ----------------------------------------------------------------------------------

_ITEMS: dict[str, Schema] = {
    "responseStatus": {"type": "integer", "minimum": 100, "maximum": 599},
    "state": {"type": "string", "enum": [*STATES, "IN_PROGRESS", "CANCELLED"]},
}
_DOCS = {
    "url": "Destination URL.",
    "topicName": "URL group or Topic name.",
    "queueName": "Queue name.",
    "scheduleId": "Schedule id.",
    "label": "Label.",
    "flowControlKey": "Flow-control key.",
    "callerIp": "The publisher's IP address.",
    "endpointName": "Herald: the endpoint's (Subscription's) name in its URL group.",
    "host": "Host (and port) of the destination URL.",
    "path": "Path of the destination URL.",
    "messageId": "Message id.",
    "messageIds": "Message ids (combined with the other filters: AND).",
    "dlqIds": "Dead-letter ids (combined with the other filters: AND).",
    "responseStatus": "HTTP status of the last attempt.",
    "state": "State; `IN_PROGRESS` is ACTIVE, RETRY or ERROR.",
    "fromDate": "Earliest time, Unix ms, inclusive.",
    "toDate": "Latest time, Unix ms, inclusive.",
    "count": "Most rows to read or change.",
    "cursor": "Where the previous page ended (its `cursor`).",
    "workflowRunId": "Workflow run id.",
    "workflowUrl": "Workflow URL.",
    "workflowCreatedAt": "When the workflow run was created (Unix ms).",
    "failureFunctionState": "The failure callback's state: CALLBACK_INPROGRESS, "
    "CALLBACK_SUCCESS, CALLBACK_FAIL or CALLBACK_CANCELED.",
}
_MULTI = " Any of the values matches: repeat the key or separate values with commas."


def _single_schema(key: str, route: filters.Route) -> Schema:
    if key == "count":
        return {"type": "integer", "minimum": 1, "maximum": route.max_count}
    if key == "cursor":
        return {"type": "string", "minLength": 1}
    return {"type": "integer", "format": "int64", "minimum": 0}


def _item_schema(key: str) -> Schema:
    return _ITEMS.get(key, {"type": "string", "minLength": 1})


def _keys(route: filters.Route) -> list[tuple[str, str]]:
    """(name as sent, the key it stands for) of every filter the route takes, sorted."""
    names = [(key, key) for key in route.keys]
    names += [(alias, key) for alias, key in filters.ALIASES.items() if key in route.keys]
    return sorted(names, key=lambda pair: pair[0].lower())


def filter_parameters(route: filters.Route) -> list[Schema]:
    """The route's filters as query parameters (herald_gateway.api.filters)."""
    out = []
    for name, key in _keys(route):
        param: Schema
        if key in filters.SINGLE_VALUED:
            param = {"name": name, "in": "query", "schema": _single_schema(key, route),
                     "description": _DOCS[key]}  # fmt: skip
        else:
            param = {"name": name, "in": "query", "style": "form", "explode": True,
                     "schema": {"type": "array", "items": _item_schema(key), "minItems": 1},
                     "description": _DOCS[key] + _MULTI}  # fmt: skip
        if name != key:
            param.update(deprecated=True, description=f"Deprecated spelling of `{key}`.")
        out.append(param)
    return out


def filter_body(route: filters.Route) -> Schema:
    """The same filters as a JSON body (the Python SDK's `{"messageIds": [...]}`); a key may
    not be in both the query and the body."""
    properties: dict[str, Schema] = {}
    for name, key in _keys(route):
        if key in filters.SINGLE_VALUED:
            properties[name] = _single_schema(key, route)
        else:
            item = _item_schema(key)
            empty = key in ("messageIds", "dlqIds")  # [] selects nothing
            properties[name] = {"anyOf": [item, {"type": "array", "items": item,
                                                 "minItems": 0 if empty else 1}]}  # fmt: skip
    return {"type": "object", "properties": properties, "additionalProperties": False}
