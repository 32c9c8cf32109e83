"""Workflow gaps of issue 17, with the official JavaScript SDK (`@upstash/workflow`):
an invoked run that fails answers its invoker `isFailed`; a `context.call` whose answer
cannot be delivered into its run fails the run and reaches its failure function, while a
call that keeps failing is answered with its status and the run goes on; the workflow DLQ
resumes such a run with the answer, or restarts it; a failure callback to a `failureUrl` of
its own. Workflows: tests/js/workflows/gaps.mjs."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from herald_core.keys import Keys
from herald_core.workflows import run_shard
from tests.support.gateway import Gateway, wait_until
from tests.support.js import Js, WorkflowServer
from tests.support.receiver import Answer, Receiver
from tests.support.workflow_app import run_state

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


@pytest.fixture
def many(node: Path, gateway: Gateway) -> Iterator[WorkflowServer]:
    """The workflows served by `serveMany` (context.invoke); `node`, `js` and `workflows`
    (`serve`) are tests/conftest.py's."""
    server = WorkflowServer(node, gateway, "workflow_many_server.mjs").start()
    yield server
    server.stop()


def _trigger(js: Js, server: WorkflowServer, name: str, body: Any, **options: Any) -> str:
    started = js("workflow_client.mjs", {"action": "trigger", "url": server.url(name),
                                         "body": body, **options})  # fmt: skip
    run_id: str = started["workflowRunId"]
    return run_id


def _steps(redis_url: str, run_id: str) -> list[dict[str, Any]]:
    """The run's steps as the SDK gets them (the steps array past the initial payload)."""
    keys = Keys("herald", 16)
    client = redis.Redis.from_url(redis_url)
    try:
        raw = client.lrange(keys.shard(run_shard(run_id, 16)).run_steps(run_id), 1, -1)
    finally:
        client.close()
    return [json.loads(base64.b64decode(json.loads(e)["body"])) for e in raw]


def _called_back(js: Js, run_id: str) -> dict[str, Any]:
    """The failed run in the workflow DLQ, once its failure callback was delivered."""

    def listed() -> dict[str, Any] | None:
        found = js("workflow_client.mjs", {"action": "dlqList",
                                           "filter": {"workflowRunId": run_id}})  # fmt: skip
        assert len(found["messages"]) <= 1, found  # one entry per failed run
        [one] = found["messages"] or [{}]
        state = one.get("failureCallbackInfo", {}).get("state")
        return one if state == "CALLBACK_SUCCESS" else None

    found: dict[str, Any] = wait_until(listed, timeout=10, what="the run in the workflow DLQ")
    return found


def test_an_invoked_run_that_fails_answers_its_invoker_once(
    js: Js, many: WorkflowServer, redis_url: str
) -> None:
    invoker = _trigger(js, many, "failedInvoker", {})
    got = many.wait_for("failedInvoker", "got")["data"]
    # as QStash answers a failed invoked run (the SDK's own CI test): no body
    assert got == {"isCanceled": False, "isFailed": True}
    [ran] = [r["data"] for r in many.records("failingInvoked")]
    assert ran["payload"] == {"n": 1}
    assert run_state(redis_url, ran["runId"])["e"] == "FAILED"
    wait_until(lambda: run_state(redis_url, invoker).get("e") == "DONE", timeout=30,
               what="the invoker finished")  # fmt: skip
    answers = [s for s in _steps(redis_url, invoker) if s["stepType"] == "Invoke"]
    assert len(answers) == 1, answers
    assert json.loads(answers[0]["out"]) == {"isCanceled": False, "isFailed": True}
    assert [r["what"] for r in many.records("failedInvoker")] == ["got"]


def test_a_call_answer_that_cannot_be_delivered_fails_the_run(
    js: Js, workflows: WorkflowServer, receiver: Receiver, redis_url: str, gateway: Gateway
) -> None:
    """The call's own retries are used up (500 each time), and its answer into the run is
    refused by the workflow endpoint: the answer is dead-lettered, the run FAILED, and the
    failure function runs once, as for a step that fails."""
    third_party = receiver.new_path(*[Answer(500, body=b"down")] * 5)
    run_id = _trigger(js, workflows, "callLost", {"url": receiver.url(third_party),
                                                  "retries": 1}, retries=0)  # fmt: skip
    failure = workflows.wait_for("callLost", "failure")["data"]
    assert failure["runId"] == run_id
    assert failure["payload"] == {"url": receiver.url(third_party), "retries": 1}
    wait_until(lambda: run_state(redis_url, run_id).get("e") == "FAILED", timeout=10,
               what="the run to fail")  # fmt: skip
    assert len(receiver.received(third_party)) == 2  # the call and its one retry
    what = [r["what"] for r in workflows.records("callLost")]
    assert what[0] == "before" and what[-1] == "failure" and "after" not in what
    assert what.count("failure") == 1
    # the call answers twice (its try and its retry); the second, if stored before the run
    # failed, is dead-lettered too, but the workflow DLQ lists the run once, with the
    # answer that failed it (test_workflow_scripts.py, deterministically)
    failed = _called_back(js, run_id)
    assert failed["workflowUrl"] == workflows.url("callLost")
    assert failed["dlqId"] == run_state(redis_url, run_id)["d"]
    rows = gateway.client.get("/v2/dlq").json()["messages"]
    assert failed["dlqId"] in {r["dlqId"] for r in rows if r["url"] == workflows.url("callLost")}


def test_a_call_that_keeps_failing_answers_the_run_with_its_status(
    js: Js, workflows: WorkflowServer, receiver: Receiver, redis_url: str
) -> None:
    """What the SDK expects of a call whose retries are used up: its last answer (status
    500) comes back into the run as the call's result; the run goes on, and does not fail."""
    third_party = receiver.new_path(*[Answer(500, body=b"down")] * 5)
    run_id = _trigger(js, workflows, "callFails", {"url": receiver.url(third_party),
                                                   "retries": 2})  # fmt: skip
    after = workflows.wait_for("callFails", "after")["data"]
    assert after == {"status": 500, "body": "down"}
    assert len(receiver.received(third_party)) == 3
    wait_until(lambda: run_state(redis_url, run_id).get("e") == "DONE", timeout=10,
               what="the run to finish")  # fmt: skip
    assert [r["what"] for r in workflows.records("callFails")] == ["before", "after"]


def test_a_failure_url_of_its_own_gets_the_failure_callback(
    js: Js, workflows: WorkflowServer, receiver: Receiver, redis_url: str
) -> None:
    """`Client.trigger({failureUrl})`: the run's failed step is reported there (not to the
    workflow), once, signed, with the workflow fields QStash adds."""
    failures = receiver.new_path()
    run_id = _trigger(js, workflows, "failsToUrl", {"order": 7}, retries=0,
                      failureUrl=receiver.url(failures))  # fmt: skip
    [report] = receiver.wait_for(failures, 1)
    body = json.loads(report.body)
    assert body["status"] == 500
    assert "failing for the failureUrl" in base64.b64decode(body["body"]).decode()
    assert body["workflowRunId"] == run_id
    assert body["workflowUrl"] == workflows.url("failsToUrl")
    assert json.loads(base64.b64decode(body["sourceBody"])) == {"order": 7}
    assert isinstance(body["workflowCreatedAt"], int) and body["workflowCreatedAt"] > 0
    assert body["dlqId"]
    assert report.header("Upstash-Workflow-Runid") == run_id
    assert report.header("Upstash-Workflow-Failure-Callback") == "true"
    assert js.verify(report, receiver.url(failures)) == {"valid": True}
    wait_until(lambda: run_state(redis_url, run_id).get("e") == "FAILED", timeout=10,
               what="the run to fail")  # fmt: skip
    assert _called_back(js, run_id)["workflowUrl"] == workflows.url("failsToUrl")
    assert [r["what"] for r in workflows.records("failsToUrl")] == ["ran"]
    assert len(receiver.received(failures)) == 1


def test_a_run_failed_by_a_lost_call_answer_resumes_with_the_answer(
    js: Js, workflows: WorkflowServer, receiver: Receiver, redis_url: str, tmp_path: Path
) -> None:
    """The workflow DLQ's resume of a run failed by a call's answer delivers that answer
    again, into the new run (the call is not made again); the run goes on."""
    flag = tmp_path / "fixed"
    third_party = receiver.new_path(Answer(200, body=b"the answer"))
    url = f"{receiver.url(third_party)}?flag={flag}"
    run_id = _trigger(js, workflows, "callLost", {"url": url, "retries": 0}, retries=0)
    failed = _called_back(js, run_id)
    flag.touch()  # the endpoint takes the call's answers now
    resumed = js("workflow_client.mjs", {"action": "dlqResume", "request": failed["dlqId"]})
    [run] = resumed["workflowRuns"]
    after = workflows.wait_for("callLost", "after")["data"]
    assert after == {"status": 200, "body": "the answer"}  # the answer delivered again
    assert len(receiver.received(third_party)) == 1  # the call is not made again
    assert [r["what"] for r in workflows.records("callLost")].count("before") == 1
    wait_until(lambda: run_state(redis_url, run["workflowRunId"]).get("e") == "DONE",
               timeout=10, what="the resumed run to finish")  # fmt: skip


def test_a_run_failed_by_a_lost_call_answer_restarts_from_the_start(
    js: Js, workflows: WorkflowServer, receiver: Receiver, redis_url: str, tmp_path: Path
) -> None:
    """Restarted, the run starts over from its payload as a step's delivery (not as the
    call's answer): its first step runs again and the call is made again."""
    flag = tmp_path / "fixed"
    third_party = receiver.new_path(Answer(200, body=b"first"), Answer(200, body=b"second"))
    url = f"{receiver.url(third_party)}?flag={flag}"
    run_id = _trigger(js, workflows, "callLost", {"url": url, "retries": 0}, retries=0)
    failed = _called_back(js, run_id)
    flag.touch()
    restarted = js("workflow_client.mjs", {"action": "dlqRestart", "request": failed["dlqId"]})
    [run] = restarted["workflowRuns"]
    after = workflows.wait_for("callLost", "after")["data"]
    assert after == {"status": 200, "body": "second"}  # the call made again
    assert [r["what"] for r in workflows.records("callLost")].count("before") == 2
    wait_until(lambda: run_state(redis_url, run["workflowRunId"]).get("e") == "DONE",
               timeout=10, what="the restarted run to finish")  # fmt: skip
