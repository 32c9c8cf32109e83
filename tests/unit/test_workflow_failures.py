"""Pure pieces of failed workflow runs: the settings a run's steps take from its trigger,
a revived run's messages renamed, the failure callback's workflow fields, the steps the
logs show, and the failure-callback options the Python SDK sends without a URL."""

from __future__ import annotations

import base64
import dataclasses

import orjson
import pytest

from herald_core.errors import InvalidField
from herald_core.models import Callback, Message
from herald_core.records import Attempt, DeadLetter
from herald_core.routing import Delivery
from herald_core.settings import Settings
from herald_core.workflow_config import RunConfig
from herald_core.workflow_failures import (
    RunFacts,
    failure_callback_again,
    for_run,
    workflow_fields,
)
from herald_core.workflow_logs import NextStep, RunLog
from herald_core.workflows import element
from herald_gateway.api.workflow_views import run_log_view
from herald_gateway.publish.publishing import PublishRequest, parse_publish

FAILURE = Callback("http://wf/x", headers={"Upstash-Workflow-Runid": "wfr_old",
                                            "Upstash-Workflow-Is-Failure": "true"})  # fmt: skip
TRIGGER = Message("msg_1", "http://wf/x", "POST", {"Upstash-Workflow-Runid": "wfr_old"}, 1, 5.0,
                  0, 0, retry_delay="10", failure_callback=FAILURE)  # fmt: skip


def test_a_step_takes_the_run_settings_it_did_not_set() -> None:
    config = RunConfig.from_json(RunConfig.of(TRIGGER).to_json())
    step = dataclasses.replace(TRIGGER, max_retries=3, retry_delay=None, timeout=30.0,
                               failure_callback=None)  # fmt: skip
    inherited = config.apply(step, Delivery())
    assert (inherited.max_retries, inherited.retry_delay, inherited.timeout) == (1, "10", 5.0)
    assert inherited.failure_callback == FAILURE
    own = config.apply(step, Delivery(retries=3, retry_delay="0", timeout=30.0))
    assert (own.max_retries, own.retry_delay, own.timeout) == (3, None, 30.0)


def test_a_revived_run_renames_its_message_and_failure_callback() -> None:
    renamed = for_run(TRIGGER, "wfr_new")
    assert renamed.headers["Upstash-Workflow-Runid"] == "wfr_new"
    assert renamed.failure_callback is not None
    assert renamed.failure_callback.headers == {"Upstash-Workflow-Runid": "wfr_new",
                                                "Upstash-Workflow-Is-Failure": "true"}  # fmt: skip


def test_failure_callback_fields() -> None:
    fields = workflow_fields(RunFacts("wfr_1", "http://wf/x", 1234, b'{"n": 1}'))
    assert fields == {"workflowRunId": "wfr_1", "workflowCreatedAt": 1234,
                      "workflowUrl": "http://wf/x",
                      "sourceBody": base64.b64encode(b'{"n": 1}').decode()}  # fmt: skip


def _step(step_id: int, name: str, concurrent: int = 1, target: int = 0) -> bytes:
    body = {"stepId": step_id, "stepName": name, "stepType": "Run", "out": f'"{name}"',
            "concurrent": concurrent, "targetStep": target}  # fmt: skip
    return element(f"msg_{name}", orjson.dumps(body))


def test_the_logs_group_a_parallel_plan_and_show_the_step_in_progress() -> None:
    elements = (element("msg_0", b'{"n": 1}'), _step(1, "a"), _step(2, "b", 2, 2),
                _step(3, "c", 2, 3), _step(4, "d"))  # fmt: skip
    run = RunLog("wfr_1", "http://wf/x", 5, "", None, None, None, elements)
    view = run_log_view(run)
    assert view["workflowState"] == "RUN_STARTED"
    shape = [(g["type"], [s.get("stepName") for s in g["steps"]]) for g in view["steps"]]
    assert shape == [("sequential", ["init"]), ("sequential", ["a"]), ("parallel", ["b", "c"]),
                     ("sequential", ["d"]), ("next", [None])]  # fmt: skip
    assert view["steps"][0]["steps"][0]["out"] == '{"n": 1}'
    assert view["steps"][-1]["steps"][0] == {"messageId": "msg_d", "state": "STEP_PROGRESS",
                                             "retries": 0}  # fmt: skip
    failed = run_log_view(dataclasses.replace(run, state="FAILED", dlq_id="dlq_1", ended_at=9))
    assert (failed["workflowState"], failed["dlqId"], failed["workflowRunCompletedAt"]) == (
        "RUN_FAILED",
        "dlq_1",
        9,
    )
    assert failed["steps"][-1]["steps"][0]["state"] == "STEP_FAILED"
    done = run_log_view(dataclasses.replace(run, state="DONE"))
    assert done["workflowState"] == "RUN_SUCCESS" and done["steps"][-1]["type"] != "next"


def test_the_logs_show_a_step_retrying_and_why_a_step_failed() -> None:
    run = RunLog("wfr_1", "http://wf/x", 5, "", None, None, None, (element("msg_0", b"{}"),))
    retrying = run_log_view(run, at=NextStep(2))["steps"][-1]["steps"][0]
    assert (retrying["state"], retrying["retries"], "errors" in retrying) == ("STEP_RETRY", 2,
                                                                              False)  # fmt: skip
    dead = DeadLetter("dlq_1", TRIGGER, b"", Attempt(status=503, headers={"A": ["b"]},
                                                     body=b"busy"), "wfr_1", 1)  # fmt: skip
    failed_run = dataclasses.replace(run, state="FAILED", dlq_id="dlq_1", ended_at=9)
    failed = run_log_view(failed_run, at=NextStep(1, dead))["steps"][-1]["steps"][0]
    assert (failed["state"], failed["retries"]) == ("STEP_FAILED", 1)
    assert failed["errors"] == [{"error": "HTTP 503", "status": 503, "body": "busy",
                                 "headers": {"A": ["b"]}, "time": 9}]  # fmt: skip
    refused = dataclasses.replace(dead, attempt=Attempt(error="connection refused"))
    [error] = run_log_view(failed_run, at=NextStep(1, refused))["steps"][-1]["steps"][0]["errors"]
    assert (error["error"], error["status"]) == ("connection refused", 0)
    [error] = run_log_view(failed_run, at=NextStep(1, dataclasses.replace(
        dead, attempt=Attempt())))["steps"][-1]["steps"][0]["errors"]  # fmt: skip
    assert error["error"] == "failed"


def test_a_failure_callback_sent_again_reports_as_the_first_did() -> None:
    source = dataclasses.replace(TRIGGER, topic_name="orders", caller_ip="10.0.0.7")
    dead = DeadLetter("dlq_1", source, b"step", Attempt(status=503, headers={"A": ["b"]},
                                                        body=b"busy"), "wfr_old", 0)  # fmt: skip
    run = RunFacts("wfr_old", "http://wf/x", 1234, b'{"n": 1}')
    again = failure_callback_again(dead, run, 99)
    assert again is not None and again.message.url == FAILURE.url
    body = orjson.loads(again.body)
    # the retries done (not the most allowed), and the fields every callback carries
    assert (body["retried"], body["maxRetries"]) == (0, 1)
    assert (body["status"], body["header"], base64.b64decode(body["body"])) == (
        503, {"A": ["b"]}, b"busy")  # fmt: skip
    assert (body["topicName"], body["callerIP"], body["dlqId"]) == ("orders", "10.0.0.7",
                                                                    "dlq_1")  # fmt: skip
    assert body["workflowRunId"] == "wfr_old" and body["sourceBody"] == base64.b64encode(
        b'{"n": 1}').decode()  # fmt: skip


def _publish(headers: dict[str, str]) -> PublishRequest:
    return parse_publish("https://a.b/c", "", headers.items(), b"", Settings(), 0)


def test_sdk_failure_callback_options_without_a_url_are_ignored() -> None:
    # what the Python SDK sends with a context.call: its callback's failure callback
    # configured, without a URL
    options = {"Upstash-Callback-Failure-Callback-Workflow-Runid": "wfr_1",
               "Upstash-Callback-Failure-Callback-Forward-Upstash-Workflow-Is-Failure": "true",
               "Upstash-Failure-Callback-Workflow-Runid": "wfr_1",
               "Upstash-Failure-Callback-Retries": "0"}  # fmt: skip
    request = _publish({"Upstash-Workflow-Runid": "wfr_1", "Upstash-Workflow-Calltype":
                        "toCallback", "Upstash-Callback": "https://wf/x", **options})  # fmt: skip
    assert request.failure_callback is None
    assert request.callback is not None and request.callback.failure_callback is None
    # a person's mistake, outside a workflow: refused
    with pytest.raises(InvalidField, match="Upstash-Failure-Callback"):
        _publish({"Upstash-Failure-Callback-Retries": "0"})
    with pytest.raises(InvalidField, match="Upstash-Failure-Callback"):
        _publish({"Upstash-Failure-Callback-Workflow-Runid": "wfr_1",
                  "Upstash-Failure-Callback-Retries": "0"})  # fmt: skip
