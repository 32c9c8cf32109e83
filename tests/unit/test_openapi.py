"""Herald's OpenAPI document (herald_gateway.api.openapi) stays in step with the app: every route
of `create_app` is documented and every documented operation reaches a route, the filter
parameters are the filter table's, the publish headers are the parser's, and the document
is valid OpenAPI 3.1 with QStash's schema names. Whether the server's answers conform to it
is tests/integration/test_openapi.py's job."""

from __future__ import annotations

import copy
import re

import orjson
import pytest
import schemathesis
from pydantic import SecretStr
from starlette.routing import Match, Route

from herald_core.settings import Settings
from herald_gateway.api import filters
from herald_gateway.api.openapi import document, document_bytes
from herald_gateway.app import create_app
from herald_gateway.publish import callback_headers
from herald_gateway.publish.header_values import canonical_header

SETTINGS = Settings(
    token=SecretStr("t" * 20),
    current_signing_key=SecretStr("c" * 32),
    next_signing_key=SecretStr("n" * 32),
)
#: A value for each path parameter that the app's routes accept.
SAMPLES = {"destination": "http://127.0.0.1:9/hook", "flowControlKey": "key"}
METHODS = ("get", "post", "put", "patch", "delete")


def operations() -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, item in document()["paths"].items()
            for method in item if method in METHODS]  # fmt: skip


def sample(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLES.get(m.group(1), "x1"), path)


def routes() -> list[Route]:
    # /console is the web console and its own reads (herald_gateway.api.console), not the API
    found = [r for r in create_app(SETTINGS).routes
             if isinstance(r, Route) and not r.path.startswith("/console")]  # fmt: skip
    assert found
    return found


def first_route(all_routes: list[Route], method: str, path: str) -> Route | None:
    """The route the app serves `method path` with, as Starlette's router picks it."""
    scope = {"type": "http", "method": method, "path": path}
    for route in all_routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None


def test_every_documented_operation_reaches_a_route() -> None:
    all_routes = routes()
    unreached = [f"{m} {p}" for m, p in operations() if first_route(all_routes, m, sample(p))
                 is None]  # fmt: skip
    assert unreached == []


def test_every_route_is_documented() -> None:
    """A new route without an operation in the document fails here. A trailing-slash alias
    of a documented collection (`/v2/dlq/`) counts as documented with it."""
    all_routes = routes()
    reached: set[tuple[str, str]] = set()
    for method, path in operations():
        candidates = [sample(path)] + ([path + "/"] if "{" not in path else [])
        for concrete in candidates:
            route = first_route(all_routes, method, concrete)
            if route is not None:
                reached.add((method, route.path))
    undocumented = [f"{method} {route.path}" for route in all_routes
                    for method in sorted(set(route.methods or ()) - {"HEAD"})
                    if (method, route.path) not in reached]  # fmt: skip
    assert undocumented == []


def test_the_served_bytes_are_the_document() -> None:
    assert orjson.loads(document_bytes()) == document()


def test_it_is_valid_openapi_3_1() -> None:
    schema = schemathesis.openapi.from_dict(copy.deepcopy(document()))
    schema.validate()
    assert document()["openapi"] == "3.1.0"
    assert len(list(schema.get_all_operations())) == len(operations())


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("delete", "/v2/messages", filters.MESSAGES),
        ("get", "/v2/logs", filters.LOGS),
        ("get", "/v2/events", filters.LOGS),
        ("get", "/v2/dlq", filters.DLQ),
        ("delete", "/v2/dlq", filters.DLQ),
        ("post", "/v2/dlq/retry", filters.DLQ),
    ],
)
def test_filters_are_the_filter_table(method: str, path: str, route: filters.Route) -> None:
    operation = document()["paths"][path][method]
    query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    aliases = {a for a, key in filters.ALIASES.items() if key in route.keys}
    assert query == set(route.keys) | aliases
    if "requestBody" in operation:
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert set(body["properties"]) == query
    count = next(p for p in operation["parameters"] if p["name"] == "count")
    assert count["schema"]["maximum"] == route.max_count


def test_every_publish_header_is_documented() -> None:
    documented = {p["name"] for p in document()["paths"]["/v2/publish/{destination}"]["post"]
                  ["parameters"] if p["in"] == "header"}  # fmt: skip
    parsed = {canonical_header("upstash-" + suffix) for suffix in callback_headers.CONFIG}
    parsed |= {"Upstash-Callback", "Upstash-Failure-Callback", "Upstash-Forward-*",
               "Upstash-Callback-*", "Upstash-Failure-Callback-*", "Content-Type"}  # fmt: skip
    assert documented == parsed
    schedule = document()["paths"]["/v2/schedules/{destination}"]["post"]["parameters"]
    assert {"Upstash-Cron", "Upstash-Schedule-Id", "Upstash-Queue-Name"} <= {
        p["name"] for p in schedule
    }


def test_schema_names_are_qstash_s() -> None:
    assert {"Error", "Message", "DLQMessage", "LogEntry", "Schedule", "Queue", "URLGroup",
            "Endpoint", "FlowControlKey", "SigningKeys", "PublishResponse",
            "PublishToUrlGroupResponse"} <= set(document()["components"]["schemas"])  # fmt: skip
    group = document()["components"]["schemas"]["URLGroup"]["properties"]
    assert group["managedBy"]["enum"] == ["api", "kubernetes"]


def test_served_without_a_token() -> None:
    assert document()["paths"]["/v2/openapi.json"]["get"]["security"] == []
