"""Herald's OpenAPI document is true of the running gateway: schemathesis generates requests
from the document the gateway serves at `GET /v2/openapi.json` and checks every answer —
no 5xx, a documented status code, the documented content type, a body that matches the
documented JSON schema (closed objects: an undocumented field fails), documented headers.

One gateway (API and worker) on a database of its own, seeded first with one of everything
the API shows — a pending message with callbacks, labels, flow control and redaction, a
deduplicated publish, a dead letter, delivered and failed log rows, a schedule, a paused
queue with a message, an API URL group with default headers, a Kubernetes Topic, a
flow-control key — so the answers checked carry real objects, not only 404s. Each case's path
parameters either name the seeded objects or are generated; an operation runs in positive
mode (requests valid per the document) and, when it has query, header or body parameters,
in negative mode too (invalid per it: a 4xx is fine, a 5xx, an undocumented status or a
non-conforming body fails). GETs run first and DELETEs last, so the seeded objects are read
(and paused, pinned, retried) before the fuzzed deletes and cancels remove them.

Confined, not excluded: every URL a request can make Herald call — the publish, enqueue and
schedule `destination`, a workflow trigger's `workflowUrl`, `Upstash-Callback` /
`Upstash-Failure-Callback` (also in batch items and URL-group default headers), batch and
batch-trigger item destinations and URL-group endpoint URLs — is
replaced by a local receiver (or the seeded URL group / Topic, whose endpoints are that
receiver), so fuzzing never sends a delivery off the machine. Nothing else is left out:
every operation of the document is fuzzed, `/readyz` and the document itself included
(`/metrics` is not on the API port: herald_gateway.api.metrics_listener). Not provoked here:
the 408/413/431 limits (tests/integration/test_hostile_input.py) and 503 while Redis is
down (tests/integration/test_crash_safety.py, test_lifecycle.py).

Hypothesis runs derandomized with no shrinking and no example database, so a run is
reproducible and bounded; `HERALD_OPENAPI_EXAMPLES` raises the examples per operation for a
longer hunt.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from redis.asyncio import Redis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from herald_core.keys import Keys
from herald_core.routing_store import RoutingStore
from herald_gateway.api.openapi import document
from herald_gateway.dev.manifests import apply_manifests
from tests.conftest import fresh_database
from tests.support.gateway import TOKEN, Gateway, wait_until
from tests.support.receiver import Answer, Receiver

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("HERALD_OPENAPI_EXAMPLES", "40"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]  # fmt: skip
AUTH = {"Authorization": f"Bearer {TOKEN}"}
METHODS = ("get", "post", "put", "patch", "delete")
#: The URL group and the Kubernetes Topic seeded (their endpoints are the local receiver).
GROUP, TOPIC = "seed", "ops/kube"


@dataclass(frozen=True)
class Seeded:
    """What the seeding stored, by the path parameter each is named by."""

    sink: str
    params: dict[str, str]


def _cases() -> list[tuple[str, str]]:
    """(operation, generation mode) to fuzz: every operation of the document, GETs first and
    DELETEs last (see the module docstring); in negative mode too when it has more than path
    parameters to make invalid."""
    order = {"get": 0, "delete": 2}
    ops = sorted(((path, method, op) for path, item in document()["paths"].items()
                  for method, op in item.items() if method in METHODS),
                 key=lambda entry: order.get(entry[1], 1))  # fmt: skip
    out = []
    for path, method, op in ops:
        label = f"{method.upper()} {path}"
        out.append((label, "positive"))
        if "requestBody" in op or any(p["in"] != "path" for p in op.get("parameters", ())):
            out.append((label, "negative"))
    return out


@pytest.fixture(scope="module")
def herald(redis_base_url: str, tmp_path_factory, receiver: Receiver) -> Iterator[Gateway]:
    redis_url = fresh_database(redis_base_url)
    sink = receiver.url(receiver.new_path())
    asyncio.run(_kubernetes_topic(redis_url, sink))
    folder: Path = tmp_path_factory.mktemp("openapi")
    gateway = Gateway(redis_url, folder / "gateway.log")
    yield gateway.start()
    gateway.close()


async def _kubernetes_topic(redis_url: str, sink: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        routes = RoutingStore(redis, Keys("herald", 16))
        namespace, name = TOPIC.split("/")
        sub = {"topic": name, "endpoint": {"url": sink}, "headers": {"X-Team": "ops"}}
        await apply_manifests(routes, {(namespace, name): {"delivery": {"retries": 1}}},
                              {(namespace, "worker"): sub}, ({}, {}))  # fmt: skip
    finally:
        await redis.aclose()


@pytest.fixture(scope="module")
def seeded(herald: Gateway, receiver: Receiver) -> Seeded:
    client, sink = herald.client, receiver.url(receiver.new_path())

    def ok(response: Any, *codes: int) -> Any:
        assert response.status_code in (codes or (200,)), response.text
        return response.json() if response.content else None

    pending = ok(
        herald.publish(
            sink,
            b"\xff\x00 binary",
            **{
                "Upstash-Delay": "1h",
                "Upstash-Label": "a,b",
                "Upstash-Callback": sink,
                "Upstash-Failure-Callback": sink,
                "Upstash-Callback-Forward-X": "1",
                "Upstash-Flow-Control-Key": "seed-key",
                "Upstash-Flow-Control-Value": "parallelism=2",
                "Upstash-Redact-Fields": "header[X-Secret]",
                "Upstash-Forward-X-Secret": "s",
                "Upstash-Retry-Delay": "1000 * retried",
                "Upstash-Deduplication-Id": "seed",
            },
        )
    )
    duplicate = {"Upstash-Deduplication-Id": "d", "Upstash-Delay": "1h"}
    for code in (200, 202):
        ok(herald.publish(sink, b"", **duplicate), code)
    ok(herald.publish(sink, b"delivered"))
    failing = receiver.url(receiver.new_path(Answer(500, {"X-Why": "no"}, b"nope")))
    ok(herald.publish(failing, b"dead", **{"Upstash-Retries": "0", "Upstash-Label": "d"}))
    ok(
        client.post(
            f"/v2/topics/{GROUP}/endpoints",
            json={"endpoints": [{"url": sink, "name": "one"}, {"url": sink + "?2"}]},
        )
    )
    ok(client.patch(f"/v2/topics/{GROUP}", json={"headers": {"Upstash-Retries": "1"}}))
    ok(herald.publish(GROUP, b"to the group", **{"Upstash-Delay": "1h"}))
    ok(herald.publish(TOPIC, b"to the topic", **{"Upstash-Delay": "1h"}))
    encoded = ok(herald.publish(TOPIC.replace("/", "%2F"), b"as a client encodes the name"))
    assert len(encoded) == 1 and encoded[0]["messageId"].startswith("msg_")
    ok(client.post("/v2/queues", json={"queueName": "seed", "parallelism": 2, "paused": True}))
    ok(client.post(f"/v2/enqueue/seed/{sink}", content=b"queued"))
    schedule = ok(
        client.post(
            f"/v2/schedules/{sink}",
            content=b"tick",
            headers={
                "Upstash-Cron": "CRON_TZ=Europe/Paris 0 4 * * *",
                "Upstash-Schedule-Id": "seed",
                "Upstash-Label": "nightly",
                "Upstash-Delay": "10s",
                "Upstash-Callback": sink,
            },
        )
    )
    dead = wait_until(lambda: client.get("/v2/dlq").json()["messages"], what="a dead letter")
    return Seeded(sink, {
        "messageId": pending["messageId"], "dlqId": dead[0]["dlqId"], "queueName": "seed",
        "scheduleId": schedule["scheduleId"], "urlGroupName": GROUP,
        "flowControlKey": "seed-key"})  # fmt: skip


@pytest.fixture(scope="module")
def served(herald: Gateway) -> schemathesis.BaseSchema:
    """The document as the gateway serves it, without a token."""
    raw = requests.get(f"{herald.url}/v2/openapi.json", timeout=10)
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/json"
    assert raw.json() == document()
    return schemathesis.openapi.from_url(f"{herald.url}/v2/openapi.json")


def _strategy(operation: Any, seeded: Seeded, mode: schemathesis.GenerationMode) -> Any:
    names = {p.name for p in operation.path_parameters}
    variants = []
    fixed = {name: seeded.params[name] for name in names if name in seeded.params}
    destinations = [seeded.sink, GROUP, TOPIC] if "destination" in names else [None]
    for destination in destinations:
        params = dict(fixed)
        if destination is not None:
            params["destination"] = destination
        variants.append(operation.as_strategy(mode, path_parameters=params or None))
    if "workflowUrl" in names:  # a workflow trigger: the receiver, never a generated URL
        variants = [operation.as_strategy(mode, path_parameters={"workflowUrl": seeded.sink})]
    elif names - {"destination"}:  # generated ids and names (destination stays confined)
        confined = {"destination": seeded.sink} if "destination" in names else None
        variants.append(operation.as_strategy(mode, path_parameters=confined))
    if operation.path == "/v2/schedules/{destination}":  # a valid cron now and then
        cron = {"Upstash-Cron": "*/5 * * * *"}
        variants.append(operation.as_strategy(mode, path_parameters={
            "destination": seeded.sink}, headers=cron))  # fmt: skip
    return st.one_of(variants)


def _confine_headers(headers: Any, sink: str) -> None:
    """Callback URLs point at the local receiver."""
    if not isinstance(headers, dict):
        return
    for name in list(headers):
        lowered = str(name).lower()
        if lowered.startswith("upstash-") and lowered.endswith("callback"):
            headers[name] = sink


def _confine(case: Any, seeded: Seeded) -> None:
    """Every URL the request could make Herald call becomes the local receiver."""
    _confine_headers(case.headers, seeded.sink)
    body = case.body
    if case.operation.path in ("/v2/batch", "/v2/batch/trigger") and isinstance(body, list):
        for item in body:
            if isinstance(item, dict):
                if isinstance(item.get("destination"), str):
                    item["destination"] = seeded.sink
                _confine_headers(item.get("headers"), seeded.sink)
    if isinstance(body, dict) and isinstance(body.get("endpoints"), list):
        for item in body["endpoints"]:
            if isinstance(item, dict) and "url" in item:
                item["url"] = seeded.sink
    if isinstance(body, dict):
        _confine_headers(body.get("headers"), seeded.sink)


@pytest.mark.parametrize(("label", "mode"), _cases())
def test_answers_conform(served, seeded: Seeded, herald: Gateway, label: str, mode: str) -> None:
    method, path = label.split(" ", 1)
    operation = served[path][method]
    generation = schemathesis.GenerationMode(mode)
    session = requests.Session()

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=_strategy(operation, seeded, generation))
    def fuzz(case: Any) -> None:
        _confine(case, seeded)
        case.call_and_validate(base_url=herald.url, session=session, headers=AUTH, checks=CHECKS)

    try:
        fuzz()
    finally:
        session.close()


def test_fuzzing_left_the_gateway_healthy(herald: Gateway) -> None:
    """Runs after the fuzzing (pytest keeps file order): the gateway still answers and
    logged no unhandled exception."""
    assert herald.client.get("/readyz").status_code == 200
    assert "Traceback" not in herald.log_path.read_text()
