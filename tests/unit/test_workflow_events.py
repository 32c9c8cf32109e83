"""The pure parts of workflow events, webhooks, invoke and REST triggers: a wait request read
into a waiter, the step a waiter ends with, a webhook call as the SDK reads it, an
invocation's body (herald_gateway.publish.workflow_events, workflow_invoke,
workflow_triggers; herald_core.workflow_events)."""

from __future__ import annotations

import base64

import orjson
import pytest

from herald_core.errors import InvalidField
from herald_core.keys import Keys
from herald_core.settings import Settings
from herald_core.workflow_events import Waiter
from herald_gateway.publish.publishing import parse_publish
from herald_gateway.publish.workflow_events import (
    read_wait,
    result_step,
    wait_headers,
    webhook_request,
)
from herald_gateway.publish.workflow_invoke import invocation_of, read_invoker
from herald_gateway.publish.workflow_triggers import new_run_id, run_id_of

SETTINGS = Settings(default_retries=3, max_retries=20, default_timeout=30)
URL = "http://app.test/workflow"
HEADERS = {"Upstash-Workflow-RunId": ["wfr_1"], "Upstash-Workflow-CallType": ["step"],
           "Upstash-Forward-Upstash-Workflow-Sdk-Version": ["1"]}  # fmt: skip
STEP = {"stepId": 2, "stepName": "wait", "stepType": "Wait", "concurrent": 1}


def _wait(**body: object) -> Waiter:
    return read_wait("evt", HEADERS, {"url": URL, "step": STEP, **body}, SETTINGS, 1_000)


def test_a_wait_request_becomes_a_waiter() -> None:
    waiter = _wait(timeout="30s")
    assert (waiter.run_id, waiter.event_id, waiter.url, waiter.deadline_ms) == (
        "wfr_1", "evt", URL, 31_000)  # fmt: skip
    assert (waiter.timeout_url, waiter.timeout_headers) == (URL, HEADERS)  # defaults
    assert _wait().deadline_ms == 1_000 + 7 * 86_400_000  # the SDKs' default, 7d
    assert Waiter.from_json(waiter.to_json()) == waiter
    assert waiter.public() == {"url": URL, "deadline": 31, "headers": HEADERS,
                               "timeoutUrl": URL, "timeoutHeaders": HEADERS}  # fmt: skip


@pytest.mark.parametrize(("body", "field"), [
    ({"timeout": "soon"}, "timeout"),
    ({"timeout": 5}, "timeout"),
    ({"step": {}}, "step"),
    ({"url": ""}, "url"),
    ({"url": "ftp://x"}, "url"),
    ({"timeoutHeaders": {"A": "b"}}, "timeoutHeaders"),
    ({"timeoutBody": 3}, "timeoutBody"),
])  # fmt: skip
def test_a_bad_wait_names_its_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField, match=field):
        _wait(**body)


def test_a_wait_must_name_its_run() -> None:
    with pytest.raises(InvalidField, match="Upstash-Workflow-RunId"):
        read_wait("evt", {}, {"url": URL, "step": STEP}, SETTINGS, 0)


def test_a_waits_headers_keep_upstash_ones_not_credentials() -> None:
    kept = wait_headers([("Authorization", "Bearer t"), ("Upstash-Workflow-RunId", "wfr_1"),
                         ("Content-Type", "text/plain"), ("X-Other", "1")])  # fmt: skip
    assert kept == {"Upstash-Workflow-RunId": ["wfr_1"], "Content-Type": ["text/plain"]}


def test_the_waiting_steps_result_is_the_event_or_the_timeout() -> None:
    waiter = _wait(timeout="30s")
    notified = orjson.loads(result_step(waiter, b'{"a":1}'))
    assert notified == {**STEP, "waitEventId": "evt", "timeout": "30s", "waitTimeout": False,
                        "out": base64.b64encode(b'{"a":1}').decode()}  # fmt: skip
    timed_out = orjson.loads(result_step(waiter, None))
    assert timed_out["waitTimeout"] is True and "out" not in timed_out


def test_a_webhook_call_is_what_wait_for_webhook_reads() -> None:
    data = orjson.loads(webhook_request("POST", [("X-A", "1"), ("X-A", "2"),
                                                 ("Authorization", "secret")], b"hi", "http",
                                        "h:1", "/v2/workflows/hooks/u/r/e?q=1"))  # fmt: skip
    assert data == {"method": "POST", "header": {"X-A": ["1", "2"]}, "proto": "http",
                    "host": "h:1", "url": "/v2/workflows/hooks/u/r/e?q=1",
                    "body": base64.b64encode(b"hi").decode()}  # fmt: skip
    assert "body" not in orjson.loads(webhook_request("GET", [], b"", "http", "h", "/"))


def test_an_invocation_starts_with_its_payload_and_keeps_its_invoker() -> None:
    body = {
        "body": '{"name":"ada"}',
        "workflowRunId": "wfr_caller",
        "workflowUrl": URL,
        "step": {"stepId": 3},
        "headers": {"Authorization": ["Bearer t"], "Upstash-Workflow-RunId": ["wfr_caller"]},
    }
    request = parse_publish(URL, "", [("Upstash-Workflow-Invoke", "true")],
                            orjson.dumps(body), SETTINGS, 0)  # fmt: skip
    invocation = invocation_of(request)
    assert invocation is not None and invocation.payload == b'{"name":"ada"}'
    assert read_invoker(invocation.invoker) == (
        URL,
        "wfr_caller",
        {"stepId": 3},
        {"Upstash-Workflow-RunId": ["wfr_caller"]},
    )
    plain = parse_publish(URL, "", [], b"{}", SETTINGS, 0)
    assert invocation_of(plain) is None
    bad = parse_publish(URL, "", [("Upstash-Workflow-Invoke", "true")], b"[]", SETTINGS, 0)
    with pytest.raises(InvalidField, match="body"):
        invocation_of(bad)


def test_a_trigger_takes_its_run_id_or_makes_one() -> None:
    assert run_id_of([("upstash-workflow-runid", "wfr_mine")]) == "wfr_mine"
    made = run_id_of([])
    assert made.startswith("wfr_") and len(made) == 25 and made != new_run_id()
    with pytest.raises(InvalidField, match="Upstash-Workflow-RunId"):
        run_id_of([("Upstash-Workflow-RunId", "two words")])


def test_a_mailbox_key_keeps_run_and_event_apart() -> None:
    sk = Keys("herald", 4).shard(1)
    assert sk.mailbox("a:b", "c") != sk.mailbox("a", "b:c")
    assert sk.mailbox("wfr_1", "evt").startswith("herald:{1}:wm:")
