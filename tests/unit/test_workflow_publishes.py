"""The pure parts of Upstash Workflow support: which publishes are workflow steps, the
steps array delivered to the workflow, and the headers the Workflow SDKs send with every
step (herald_gateway.publish.workflows, herald_core.workflows)."""

from __future__ import annotations

import base64

import orjson
import pytest

from herald_core.errors import InvalidField, InvalidRequest
from herald_core.settings import Settings
from herald_core.workflows import element, steps_body
from herald_gateway.publish.publishing import PublishRequest, parse_publish
from herald_gateway.publish.workflows import step_key_of, workflow_of

SETTINGS = Settings(default_retries=3, max_retries=20, default_timeout=30, max_delay=86400)
URL = "http://app.test/workflow"


def _parse(headers: dict[str, str], queue: str | None = None) -> PublishRequest:
    return parse_publish(URL, "", headers.items(), b"{}", SETTINGS, 1_000, queue=queue)


def test_a_publish_with_a_run_id_is_a_step_of_that_run() -> None:
    start = workflow_of(_parse({"Upstash-Workflow-RunId": "wfr_1",
                                "Upstash-Workflow-Init": "true"}))  # fmt: skip
    assert start is not None and (start.run_id, start.init, start.endpoint.url) == (
        "wfr_1", True, URL)  # fmt: skip
    step = workflow_of(_parse({"Upstash-Workflow-RunId": "wfr_1",
                               "Upstash-Workflow-Init": "false"}))  # fmt: skip
    assert step is not None and not step.init
    assert workflow_of(_parse({"X-Other": "1"})) is None
    # context.call: the message goes to its third party as an ordinary message
    assert workflow_of(_parse({"Upstash-Workflow-RunId": "wfr_1",
                               "Upstash-Workflow-CallType": "toCallback"})) is None  # fmt: skip


def test_a_run_id_must_be_printable_and_runs_take_no_queue() -> None:
    with pytest.raises(InvalidField, match="Upstash-Workflow-RunId"):
        workflow_of(_parse({"Upstash-Workflow-RunId": "two words"}))
    with pytest.raises(InvalidRequest, match="workflow"):
        workflow_of(_parse({"Upstash-Workflow-RunId": "wfr_1"}, queue="q"))


def test_a_step_body_names_its_step() -> None:
    assert step_key_of(b'{"stepId": 3, "stepName": "a"}') == "3"
    for bad in (b"not json", b"[]", b'{"stepId": "3"}', b'{"stepId": true}', b"{}"):
        with pytest.raises(InvalidField, match="stepId"):
            step_key_of(bad)


def test_parallel_plan_steps_are_keyed_by_their_target() -> None:
    plan = b'{"stepId": 0, "targetStep": %d, "concurrent": 3, "stepName": "a"}'
    assert [step_key_of(plan % n) for n in (2, 3, 4)] == ["0>2", "0>3", "0>4"]
    assert step_key_of(b'{"stepId": 3, "concurrent": 3, "stepName": "a"}') == "3"
    assert step_key_of(b'{"stepId": 3, "targetStep": null}') == "3"
    with pytest.raises(InvalidField, match="targetStep"):
        step_key_of(b'{"stepId": 0, "targetStep": "2"}')


def test_the_steps_array_is_what_the_sdk_parses() -> None:
    body = steps_body([element("msg_a", b'{"n": 1}'), element("msg_b", b'{"stepId": 1}')])
    first, second = orjson.loads(body)
    assert base64.b64decode(first["body"]) == b'{"n": 1}'
    assert (second["messageId"], second["callType"]) == ("msg_b", "step")
    assert base64.b64decode(second["body"]) == b'{"stepId": 1}'


def test_the_headers_every_sdk_step_carries_are_accepted() -> None:
    request = _parse({
        "Upstash-Workflow-RunId": "wfr_1",
        "Upstash-Workflow-Init": "false",
        "Upstash-Feature-Set": "LazyFetch,InitialBody,WF_DetectTrigger",
        "Upstash-Forward-Upstash-Workflow-Sdk-Version": "1",
        # the SDK forwards every header its endpoint got: these are the sender's own
        "Upstash-Forward-Content-Length": "27",
        "Upstash-Forward-Host": "app.test",
        "Upstash-Forward-X-Team": "a",
        # failure-callback options without a failure URL configure nothing
        "Upstash-Failure-Callback-Forward-X-Team": "a",
    })  # fmt: skip
    assert request.failure_callback is None
    assert request.headers == {
        "Upstash-Workflow-Runid": "wfr_1",
        "Upstash-Workflow-Init": "false",
        "Upstash-Workflow-Sdk-Version": "1",
        "X-Team": "a",
    }
    # an ordinary publish is still refused for them
    with pytest.raises(InvalidField, match="Upstash-Failure-Callback"):
        _parse({"Upstash-Failure-Callback-Forward-X-Team": "a"})
