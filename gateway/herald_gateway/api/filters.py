"""The filters of the list and bulk routes: which each route takes, how they are read and
what they match (QStash's OpenAPI document; what the official SDKs send).

Every route takes `url`, `topicName`, `queueName`, `scheduleId`, `label`, `flowControlKey`,
`callerIp` (or the deprecated `callerIP`), `endpointName` (Herald's own), `fromDate`, `toDate`
(Unix ms, inclusive) and `count`; then:
- `MESSAGES` (`DELETE /v2/messages`): `messageIds`, `host`, `path`;
- `LOGS` (`GET /v2/logs`, `/v2/events`): `messageId`, `messageIds`, `state`, `host`, `path`,
  `cursor`;
- `DLQ` (`GET` and `DELETE /v2/dlq`, `POST /v2/dlq/retry`): `dlqIds`, `messageId`,
  `responseStatus`, `cursor` (QStash's DLQ refuses `host` and `path`);
- `WORKFLOW_DLQ` (`/v2/workflows/dlq...`): those of `DLQ`, and `workflowRunId`,
  `workflowUrl`, `workflowCreatedAt`, `failureFunctionState`.

A filter arrives as a query parameter (repeated, or comma-separated) or, on the bulk routes
the Python SDK calls with a JSON body, as a key of that body (a string, a number or a list of
them). The values of one filter match any of them (OR); filters, ids included, combine with
AND, so adding a filter can only narrow what a request selects.

Data safety: a key the route does not document, a malformed or empty value, a single-valued
key given twice, or a key given both in the query and in the body, is an `InvalidField`
naming it (a 400) raised before anything is read, so a filter Herald does not know can never
widen a bulk action. Pure: the routes pass the query's pairs and the decoded JSON body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from herald_core.digits import is_digits
from herald_core.errors import InvalidField
from herald_gateway.api.views import STATES

View = Mapping[str, Any]

IN_PROGRESS = frozenset({"ACTIVE", "RETRY", "ERROR"})
MAX_TIME = 2**62


def _one(key: str) -> Callable[[View], list[Any]]:
    return lambda view: [view.get(key)]


#: Filter → the values of a view (message, log row or dead letter) it compares with.
_READ: dict[str, Callable[[View], list[Any]]] = {
    "url": _one("url"),
    "topicName": _one("topicName"),
    "queueName": _one("queueName"),
    "scheduleId": _one("scheduleId"),
    "endpointName": _one("endpointName"),
    "flowControlKey": _one("flowControlKey"),
    "callerIp": _one("callerIP"),
    "label": lambda view: list(view.get("labels", ())),
    "host": lambda view: [urlsplit(view["url"]).netloc],
    "path": lambda view: [urlsplit(view["url"]).path],
    "messageId": _one("messageId"),
    "messageIds": _one("messageId"),
    "dlqIds": _one("dlqId"),
    "responseStatus": lambda view: [str(view.get("responseStatus"))],
    "state": _one("state"),
    "workflowRunId": _one("workflowRunId"),
    "workflowUrl": _one("workflowUrl"),
    "workflowCreatedAt": lambda view: [str(view.get("workflowCreatedAt"))],
    "failureFunctionState": _one("failureFunctionState"),
}
#: Single-valued keys that are not matched against a view field.
_SINGLE = frozenset({"fromDate", "toDate", "count", "cursor"})
#: Deprecated spellings.
_ALIASES = {"callerIP": "callerIp"}
#: Keys every route ignores: the token in the query string is authentication, not a filter.
#: Query keys that are no filter anywhere (the token, read by api/auth.py).
IGNORED = frozenset({"qstash_token"})

#: For the OpenAPI document (herald_gateway.api.openapi), which lists each route's filters from
#: this table: the single-valued keys, and the deprecated spellings accepted for a key.
SINGLE_VALUED = _SINGLE
ALIASES = _ALIASES

_COMMON = frozenset({"url", "topicName", "queueName", "scheduleId", "label", "flowControlKey",
                     "callerIp", "endpointName", "fromDate", "toDate", "count"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Route:
    """The filters one route documents, and the largest `count` it takes."""

    name: str
    keys: frozenset[str]
    max_count: int
    #: The view field `fromDate`/`toDate` compare with.
    time_key: str


MESSAGES = Route("DELETE /v2/messages", _COMMON | {"messageIds", "host", "path"}, 500,
                 "createdAt")  # fmt: skip
LOGS = Route("GET /v2/logs", _COMMON | {"messageId", "messageIds", "state", "host", "path",
                                         "cursor"}, 1000, "time")  # fmt: skip
DLQ = Route("/v2/dlq", _COMMON | {"dlqIds", "messageId", "responseStatus", "cursor"}, 100,
            "createdAt")  # fmt: skip
#: The workflow DLQ (`/v2/workflows/dlq`, and `GET /v2/dlq?source=workflow`, as
#: `@upstash/workflow`'s `Client.dlq.list` asks for it).
WORKFLOW_DLQ = Route("/v2/workflows/dlq", DLQ.keys | {"workflowRunId", "workflowUrl",
                                                      "workflowCreatedAt",
                                                      "failureFunctionState"}, 100,
                     "createdAt")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Filters:
    """What one request asked for. `matches` is the predicate over views."""

    #: Filter name → the values it accepts (an empty tuple accepts nothing).
    wanted: Mapping[str, tuple[str, ...]]
    time_key: str
    low: int | None = None
    high: int | None = None
    #: `count` when given (each route has its own default), and the raw `cursor`.
    count: int | None = None
    cursor: str | None = None
    _sets: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sets = {name: frozenset(accepted) for name, accepted in self.wanted.items()}
        object.__setattr__(self, "_sets", sets)

    def get(self, name: str) -> tuple[str, ...] | None:
        """The values given for `name` (ids keep their order), None when not given."""
        return self.wanted.get(name)

    def only(self, *names: str) -> bool:
        """True when no filter but `names` narrows the selection (count and cursor aside)."""
        return self.low is None and self.high is None and set(self.wanted) <= set(names)

    def matches(self, view: View) -> bool:
        for name, accepted in self._sets.items():
            if not any(value in accepted for value in _READ[name](view) if value is not None):
                return False
        if self.low is None and self.high is None:
            return True
        at = view.get(self.time_key)
        low = 0 if self.low is None else self.low
        high = MAX_TIME if self.high is None else self.high
        return isinstance(at, int) and low <= at <= high


def parse(
    route: Route, query: Iterable[tuple[str, str]], body: Mapping[str, Any] | None = None
) -> Filters:
    """The filters of a request: its query pairs, and its JSON object body if it has one."""
    given: dict[str, list[str]] = {}
    for name, value in query:
        if name in IGNORED:
            continue
        given.setdefault(_known(route, name), []).append(value)
    explicit_empty: set[str] = set()
    for name, value in (body or {}).items():
        key = _known(route, name)
        if key in given:
            raise InvalidField(name, "given both in the query string and in the body")
        given[key] = _body_values(name, value)
        if value == [] and key in ("messageIds", "dlqIds"):
            explicit_empty.add(key)  # the Python SDK's cancel_many([]): nothing, not all

    wanted: dict[str, tuple[str, ...]] = {}
    singles: dict[str, str] = {}
    for key, raw in given.items():
        if key in _SINGLE:
            if len(raw) != 1:
                raise InvalidField(key, "given more than once")
            singles[key] = raw[0]
        elif key in explicit_empty:
            wanted[key] = ()
        else:
            wanted[key] = _values(key, raw)
    return Filters(
        wanted, route.time_key,
        low=integer_param(singles, "fromDate", 0, MAX_TIME),
        high=integer_param(singles, "toDate", 0, MAX_TIME),
        count=integer_param(singles, "count", 1, route.max_count),
        cursor=singles.get("cursor") or None,
    )  # fmt: skip


def _known(route: Route, name: str) -> str:
    key = _ALIASES.get(name, name)
    if key not in route.keys:
        raise InvalidField(name, f"not a filter of {route.name} (it takes {_names(route)})")
    return key


def _names(route: Route) -> str:
    return ", ".join(sorted(route.keys))


def _body_values(name: str, value: Any) -> list[str]:
    """A JSON body value as query-style strings: a string, an integer, or a list of them."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            out.append(str(item))
        else:
            raise InvalidField(name, "must be a string, an integer or a list of them")
    return out


def _values(key: str, raw: Sequence[str]) -> tuple[str, ...]:
    """Every value of a multi-valued filter, repeated or comma-separated; never none."""
    values: list[str] = []
    for item in raw:
        values += [v.strip() for v in item.split(",") if v.strip()]
    if not values:
        raise InvalidField(key, "must not be empty")
    if key == "responseStatus":
        for value in values:
            if not is_digits(value) or not 100 <= int(value) <= 599:
                raise InvalidField(key, f"{value!r} is not an HTTP status code")
        values = [str(int(v)) for v in values]
    if key == "state":
        values = list(_states(values))
    return tuple(dict.fromkeys(values))


def _states(values: Iterable[str]) -> set[str]:
    wanted: set[str] = set()
    for value in values:
        state = value.upper().replace("CANCELLED", "CANCELED")
        if state == "IN_PROGRESS":
            wanted |= IN_PROGRESS
        elif state in STATES:
            wanted.add(state)
        else:
            raise InvalidField("state", f"unknown state {value!r}")
    return wanted


def integer_param(singles: Mapping[str, str], key: str, low: int, high: int) -> int | None:
    """Query parameter `key` as an integer from `low` to `high` (None when absent);
    InvalidField naming it otherwise."""
    raw = singles.get(key)
    if raw is None:
        return None
    if not is_digits(raw) or len(raw) > 20 or not low <= int(raw) <= high:
        raise InvalidField(key, f"must be an integer from {low} to {high}")
    return int(raw)
