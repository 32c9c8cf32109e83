"""Failed workflow runs on Herald, with the official SDKs: a step that keeps failing uses up
its retries, the workflow's failure function runs once with the step's status and error,
and the run ends FAILED (JS: `serve(route, {failureFunction})`, configured by the
trigger for every step; Python: `failure_function`)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.gateway import TOKEN, Gateway, wait_until
from tests.support.js import Js, WorkflowServer
from tests.support.receiver import Answer, Receiver
from tests.support.workflow_app import WorkflowApp, run_state

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def trigger_flaky(
    js: Js, workflows: WorkflowServer, flag: Path, name: str, retries: int = 1,
    retry_delay: str = "10",
) -> str:  # fmt: skip
    """Start a run of `flaky` whose second step fails until `flag` exists; its id."""
    started = js("workflow_client.mjs", {
        "action": "trigger", "url": workflows.url("flaky"), "retries": retries,
        "retryDelay": retry_delay, "body": {"name": name, "flag": str(flag)},
    })  # fmt: skip
    run_id: str = started["workflowRunId"]
    return run_id


def trigger_failing(js: Js, workflows: WorkflowServer, workflow: str, flag: Path) -> str:
    """Start a run of `workflow` (one whose step always fails, without retries; its failure
    function waits for `flag`, `grumpy` failing and `stuck` holding until then); its id."""
    started = js("workflow_client.mjs", {
        "action": "trigger", "url": workflows.url(workflow), "retries": 0,
        "body": {"flag": str(flag)},
    })  # fmt: skip
    run_id: str = started["workflowRunId"]
    return run_id


def test_a_failing_step_reaches_the_failure_function_once(
    js: Js, workflows: WorkflowServer, gateway: Gateway, redis_url: str, tmp_path: Path
) -> None:
    started = time.time() * 1000
    run_id = trigger_flaky(js, workflows, tmp_path / "fixed", "order")

    reached = workflows.wait_for("flaky", "failure")
    print(f"trigger to failure function: {reached['at'] - started:.0f} ms (retries 1, 10 ms)")
    failure = reached["data"]
    assert failure["runId"] == run_id
    assert failure["status"] == 500
    assert "not fixed yet: order" in failure["response"]
    assert failure["payload"] == {"name": "order", "flag": str(tmp_path / "fixed")}
    wait_until(lambda: run_state(redis_url, run_id).get("e") == "FAILED", timeout=10,
               what="the run to fail")  # fmt: skip

    # a failed run is not running: a bulk cancel of every running run leaves it alone
    assert js("workflow_client.mjs", {"action": "cancel", "all": True}) == {"cancelled": 0}
    assert run_state(redis_url, run_id)["e"] == "FAILED"
    # the step ran once and was retried once (retries: 1), the failure function ran once
    what = [r["what"] for r in workflows.records("flaky")]
    assert what == ["first", "second", "second", "failure"]
    refused = gateway.client.post(
        f"/v2/publish/{workflows.url('flaky')}",
        headers={"Upstash-Workflow-RunId": run_id, "Content-Type": "application/json"},
        content=b'{"stepId": 9, "stepName": "late", "stepType": "Run", "out": "1"}',
    )  # fmt: skip
    assert refused.status_code == 400, refused.text
    assert "has ended (failed)" in refused.json()["error"]


def test_python_failure_function(
    workflow_app: WorkflowApp, sdk: Any, redis_url: str, receiver: Receiver
) -> None:
    """With a failure function, the Python SDK sends `Upstash-Failure-Callback-*` options
    without the URL on a `context.call` (it configures the failure callback of the call's
    callback instead): they are ignored, not refused."""
    quote = receiver.new_path(Answer(200, {"Content-Type": "application/json"}, b"7"))
    failures: list[dict[str, Any]] = []
    attempts: list[str] = []
    run_ids: set[str] = set()

    async def workflow(context: Any) -> None:
        async def one() -> str:
            run_ids.add(context.workflow_run_id)
            return "one"

        await context.run("one", one)
        price = await context.call("quote", url=receiver.url(quote), method="POST", body={})
        attempts.append(f"price {price.body}")

        async def boom() -> str:
            attempts.append("boom")
            raise RuntimeError("the printer is on fire")

        await context.run("boom", boom)

    async def failure_function(context: Any, status: int, response: str,
                               headers: dict[str, str]) -> None:  # fmt: skip
        failures.append({"status": status, "response": response,
                         "payload": context.request_payload,
                         "run": context.workflow_run_id})  # fmt: skip

    url = workflow_app.serve("/fails", workflow, retries=0, failure_function=failure_function)
    sdk.message.publish_json(url=url, body={"order": 7})
    wait_until(lambda: failures, timeout=30, what="the failure function")
    [run_id] = run_ids
    wait_until(lambda: run_state(redis_url, run_id).get("e") == "FAILED", timeout=10,
               what="the run to fail")  # fmt: skip
    assert attempts[-2:] == ["price 7", "boom"]
    assert failures == [{"status": 500, "response": "the printer is on fire",
                         "payload": {"order": 7}, "run": run_id}]  # fmt: skip


def test_the_workflow_dlq_lists_resumes_and_restarts_failed_runs(
    js: Js, workflows: WorkflowServer, gateway: Gateway, redis_url: str, tmp_path: Path
) -> None:
    flag = tmp_path / "fixed"
    first = trigger_flaky(js, workflows, flag, "resume-me")
    workflows.wait_for("flaky", "failure")
    second = trigger_flaky(js, workflows, flag, "restart-me")
    wait_until(lambda: len([r for r in workflows.records("flaky") if r["what"] == "failure"]) == 2,
               what="the second failure")  # fmt: skip

    def listed_when_called_back() -> dict[str, Any] | None:
        listed = js("workflow_client.mjs", {"action": "dlqList"})
        states = {m.get("failureCallbackInfo", {}).get("state") for m in listed["messages"]}
        return listed if states == {"CALLBACK_SUCCESS"} else None

    listed = wait_until(listed_when_called_back, what="both failure callbacks delivered")
    failed = {m["workflowRunId"]: m for m in listed["messages"]}
    assert set(failed) == {first, second}
    entry = failed[first]
    assert entry["workflowUrl"] == workflows.url("flaky")
    assert entry["responseStatus"] == 500
    assert "not fixed yet: resume-me" in entry["responseBody"]
    assert entry["dlqId"].startswith("dlq_")
    assert isinstance(entry["workflowCreatedAt"], int)
    only = js("workflow_client.mjs", {"action": "dlqList", "filter": {"workflowRunId": second}})
    assert [m["workflowRunId"] for m in only["messages"]] == [second]
    done = js(
        "workflow_client.mjs",
        {"action": "dlqList", "filter": {"failureFunctionState": "CALLBACK_SUCCESS"}},
    )
    assert len(done["messages"]) == 2
    failing = js(
        "workflow_client.mjs",
        {"action": "dlqList", "filter": {"failureFunctionState": "CALLBACK_FAIL"}},
    )
    assert failing["messages"] == []

    # a failure function that ran is not run again on request (as QStash: only a failed
    # one is; test_a_failed_failure_callback_is_shown_and_run_again)
    refused = gateway.client.post(f"/v2/workflows/dlq/callback/{entry['dlqId']}")
    assert refused.status_code == 400 and "CALLBACK_SUCCESS" in refused.json()["error"]

    flag.touch()  # the endpoint is fixed
    before = len(workflows.records("flaky"))
    asked = time.time() * 1000
    resumed = js("workflow_client.mjs", {"action": "dlqResume", "request": entry["dlqId"]})
    [run] = resumed["workflowRuns"]
    assert run["workflowRunId"] not in (first, second)  # a new run, as QStash makes it
    finished = workflows.wait_for("flaky", "done")
    print(f"resume to the run's last step: {finished['at'] - asked:.0f} ms (2 steps)")
    after = [(r["what"], r["data"]) for r in workflows.records("flaky")[before:]]
    # the step that had succeeded is not run again; the failed one runs, then the rest
    assert after == [("second", "resume-me-1"), ("done", "resume-me-1-2")]
    wait_until(lambda: run_state(redis_url, run["workflowRunId"]).get("e") == "DONE",
               what="the resumed run to finish")  # fmt: skip

    before = len(workflows.records("flaky"))
    restarted = js("workflow_client.mjs", {"action": "dlqRestart",
                                           "request": [failed[second]["dlqId"]]})  # fmt: skip
    [again] = restarted["workflowRuns"]
    wait_until(lambda: any(r["what"] == "done" for r in workflows.records("flaky")[before:]),
               what="the restarted run's last step")  # fmt: skip
    after = [(r["what"], r["data"]) for r in workflows.records("flaky")[before:]]
    # from the start: the first step runs again
    assert after == [("first", "restart-me"), ("second", "restart-me-1"),
                     ("done", "restart-me-1-2")]  # fmt: skip
    wait_until(lambda: run_state(redis_url, again["workflowRunId"]).get("e") == "DONE",
               what="the restarted run to finish")  # fmt: skip

    assert js("workflow_client.mjs", {"action": "dlqList"})["messages"] == []
    assert run_state(redis_url, first)["e"] == "FAILED"  # the failed runs stay as they ended


def test_workflow_dlq_refuses_what_it_does_not_know(gateway: Gateway) -> None:
    assert gateway.client.post("/v2/workflows/dlq/resume?dlqIds=dlq_nobody").status_code == 404
    assert gateway.client.post("/v2/workflows/dlq/restart/dlq_nobody").status_code == 404
    assert gateway.client.get("/v2/workflows/dlq/dlq_nobody").status_code == 404
    bad = gateway.client.get("/v2/workflows/dlq?colour=red")
    assert bad.status_code == 400
    assert "colour" in bad.json()["error"]
    empty = gateway.client.get("/v2/dlq?source=workflow")
    assert empty.status_code == 200 and empty.json() == {"messages": []}


def test_workflow_logs_show_runs_with_their_state_and_steps(
    js: Js, workflows: WorkflowServer, gateway: Gateway, tmp_path: Path
) -> None:
    fixed = tmp_path / "fixed"
    fixed.touch()
    ok = trigger_flaky(js, workflows, fixed, "fine")
    workflows.wait_for("flaky", "done")
    failed = trigger_flaky(js, workflows, tmp_path / "never", "broken")
    workflows.wait_for("flaky", "failure")

    def run_of(run_id: str) -> dict[str, Any] | None:
        runs = js("workflow_client.mjs", {"action": "logs", "workflowRunId": run_id})["runs"]
        return runs[0] if runs and runs[0]["workflowState"] != "RUN_STARTED" else None

    done = wait_until(lambda: run_of(ok), what="the run to finish in the logs")
    assert done["workflowUrl"] == workflows.url("flaky")
    assert done["workflowState"] == "RUN_SUCCESS"
    assert done["workflowRunCompletedAt"] >= done["workflowRunCreatedAt"]
    steps = [step for group in done["steps"] for step in group["steps"]]
    assert [(s["stepName"], s["stepType"], s["state"]) for s in steps] == [
        ("init", "Initial", "STEP_SUCCESS"), ("first", "Run", "STEP_SUCCESS"),
        ("second", "Run", "STEP_SUCCESS"), ("done", "Run", "STEP_SUCCESS")]  # fmt: skip
    assert json.loads(steps[0]["out"]) == {"name": "fine", "flag": str(fixed)}
    assert json.loads(steps[2]["out"]) == "fine-1-2"
    assert all(s["messageId"] for s in steps)
    # each step when it was stored: in order, from the run's start to its end
    times = [s["createdAt"] for s in steps]
    assert times[0] == done["workflowRunCreatedAt"]
    assert times == sorted(times) and times[-1] <= done["workflowRunCompletedAt"]

    broken = wait_until(lambda: run_of(failed), what="the failed run in the logs")
    assert broken["workflowState"] == "RUN_FAILED"
    assert broken["dlqId"].startswith("dlq_")
    assert broken["steps"][-1]["type"] == "next"
    failing = broken["steps"][-1]["steps"][0]
    assert (failing["state"], failing["retries"]) == ("STEP_FAILED", 1)
    [error] = failing["errors"]  # the last response, as the dead letter keeps it
    assert error["status"] == 500 and "not fixed yet: broken" in error["body"]
    assert error["time"] == broken["workflowRunCompletedAt"]
    assert broken["failureFunction"]["state"] in ("CALLBACK_INPROGRESS", "CALLBACK_SUCCESS")
    assert broken["failureFunction"]["messageId"].startswith("msg_")
    names = [s["stepName"] for g in broken["steps"][:-1] for s in g["steps"]]
    assert names == ["init", "first"]

    # filters and pages, as the SDK sends them
    by_state = js("workflow_client.mjs", {"action": "logs", "filter": {"state": "RUN_FAILED"}})
    assert [r["workflowRunId"] for r in by_state["runs"]] == [failed]
    of_url = {"workflowUrl": workflows.url("flaky")}
    page = js("workflow_client.mjs", {"action": "logs", "count": 1, "filter": of_url})
    assert [r["workflowRunId"] for r in page["runs"]] == [failed]  # newest first
    rest = js("workflow_client.mjs", {"action": "logs", "count": 1, "cursor": page["cursor"],
                                      "filter": of_url})  # fmt: skip
    assert [r["workflowRunId"] for r in rest["runs"]] == [ok]
    assert gateway.client.get("/v2/workflows/logs?state=LOST").status_code == 400
    assert "colour" in gateway.client.get("/v2/workflows/logs?colour=red").json()["error"]


#: Requests at once to run a failure callback again.
BURST = 16


def test_a_failed_failure_callback_is_shown_and_run_again(
    js: Js, workflows: WorkflowServer, gateway: Gateway, tmp_path: Path
) -> None:
    flag = tmp_path / "callback-fixed"
    run_id = trigger_failing(js, workflows, "grumpy", flag)

    def failed_callback() -> dict[str, Any] | None:
        listed = js(
            "workflow_client.mjs",
            {"action": "dlqList", "filter": {"failureFunctionState": "CALLBACK_FAIL"}},
        )
        return next((m for m in listed["messages"] if m["workflowRunId"] == run_id), None)

    entry = wait_until(failed_callback, what="the failure callback to fail for good")
    assert [r["data"] for r in workflows.records("grumpy")] == [False]  # retries: 0

    flag.touch()
    # requests at once send it once
    path = f"/v2/workflows/dlq/callback/{entry['dlqId']}"

    async def burst() -> list[int]:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=gateway.url, headers=auth) as client:
            answers = await asyncio.gather(*(client.post(path) for _ in range(BURST)))
        return sorted(a.status_code for a in answers)

    assert asyncio.run(burst()) == [200] + [400] * (BURST - 1)
    workflows.wait_for("grumpy", "failure")
    wait_until(lambda: [r["data"] for r in workflows.records("grumpy")] == [False, True],
               what="the failure function run again")  # fmt: skip

    def state() -> str:
        listed = js(
            "workflow_client.mjs", {"action": "dlqList", "filter": {"workflowRunId": run_id}}
        )
        return str(listed["messages"][0]["failureCallbackInfo"]["state"])

    wait_until(lambda: state() == "CALLBACK_SUCCESS", what="the callback to succeed")
    assert [r["data"] for r in workflows.records("grumpy")] == [False, True]  # not twice


def test_workflow_logs_show_a_step_retrying(
    js: Js, workflows: WorkflowServer, tmp_path: Path
) -> None:
    # the second step fails, and its next try is an hour away: the run waits, retrying
    run_id = trigger_flaky(js, workflows, tmp_path / "never", "later", retries=3,
                           retry_delay="3600000")  # fmt: skip

    def current() -> dict[str, Any] | None:
        runs = js("workflow_client.mjs", {"action": "logs", "workflowRunId": run_id})["runs"]
        step: dict[str, Any] = runs[0]["steps"][-1]["steps"][0] if runs else {}
        return step if step.get("state") == "STEP_RETRY" else None

    step = wait_until(current, interval=0.2, what="the step to be retrying")
    assert step["retries"] == 1 and "errors" not in step
    assert [r["data"] for r in workflows.records("flaky") if r["what"] == "second"] == [
        "later-1"
    ]  # tried once, failed, not tried again yet


def test_a_failure_callback_in_progress_is_cancelled_and_not_sent_twice(
    js: Js, workflows: WorkflowServer, gateway: Gateway, tmp_path: Path
) -> None:
    flag = tmp_path / "released"
    run_id = trigger_failing(js, workflows, "stuck", flag)
    try:
        workflows.wait_for("stuck", "failure")  # the failure function is running, held

        def entry() -> dict[str, Any]:
            listed = js("workflow_client.mjs", {"action": "dlqList",
                                                "filter": {"workflowRunId": run_id}})  # fmt: skip
            return dict(listed["messages"][0]) if listed["messages"] else {}

        dlq_id = wait_until(lambda: entry().get("dlqId"), what="the run in the workflow DLQ")
        assert entry()["failureCallbackInfo"]["state"] == "CALLBACK_INPROGRESS"
        path = f"/v2/workflows/dlq/callback/{dlq_id}"
        # sending it again while it is in progress would call the failure function twice
        again = gateway.client.post(path)
        assert again.status_code == 400 and "CALLBACK_INPROGRESS" in again.json()["error"]

        assert gateway.client.delete(path).status_code == 200
        assert entry()["failureCallbackInfo"]["state"] == "CALLBACK_CANCELED"
        canceled = {"failureFunctionState": "CALLBACK_CANCELED"}
        listed = js("workflow_client.mjs", {"action": "dlqList", "filter": canceled})
        assert [m["workflowRunId"] for m in listed["messages"]] == [run_id]
        # nothing in progress any more: no second cancel, and no re-run of a cancelled one
        assert gateway.client.delete(path).status_code == 400
        assert gateway.client.post(path).status_code == 400
        assert gateway.client.delete("/v2/workflows/dlq/callback/dlq_nobody").status_code == 404
    finally:
        flag.touch()
    assert [r["what"] for r in workflows.records("stuck")] == ["failure"]  # called once
