"""Failed workflow runs on Herald, with the official SDKs: a step that keeps failing uses up
its retries, the workflow's failure function runs once with the step's status and error,
and the run ends FAILED (JS: `serve(route, {failureFunction})`, configured by the
trigger for every step; Python: `failure_function`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_workflow import WorkflowApp, run_state
from tests.support.gateway import Gateway, wait_until
from tests.support.js import Js, WorkflowServer, install_sdk

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


@pytest.fixture(scope="module")
def node() -> Path:
    return install_sdk()


@pytest.fixture
def js(node: Path, gateway: Gateway) -> Js:
    return Js(node, gateway)


@pytest.fixture
def workflows(node: Path, gateway: Gateway) -> Iterator[WorkflowServer]:
    server = WorkflowServer(node, gateway).start()
    yield server
    server.stop()


def trigger_flaky(js: Js, workflows: WorkflowServer, flag: Path, name: str) -> str:
    """Start a run of `flaky` whose second step fails until `flag` exists; its id."""
    started = js("workflow_client.mjs", {
        "action": "trigger", "url": workflows.url("flaky"), "retries": 1,
        "retryDelay": "10", "body": {"name": name, "flag": str(flag)},
    })  # fmt: skip
    run_id: str = started["workflowRunId"]
    return run_id


def test_a_failing_step_reaches_the_failure_function_once(
    js: Js, workflows: WorkflowServer, gateway: Gateway, redis_url: str, tmp_path: Path
) -> None:
    run_id = trigger_flaky(js, workflows, tmp_path / "fixed", "order")

    failure = workflows.wait_for("flaky", "failure")["data"]
    assert failure["runId"] == run_id
    assert failure["status"] == 500
    assert "not fixed yet: order" in failure["response"]
    assert failure["payload"] == {"name": "order", "flag": str(tmp_path / "fixed")}
    wait_until(lambda: run_state(redis_url, run_id).get("e") == "FAILED", timeout=10,
               what="the run to fail")  # fmt: skip

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


def test_python_failure_function(gateway: Gateway, sdk: Any, redis_url: str) -> None:
    app = WorkflowApp(gateway.url)
    app.start()
    try:
        failures: list[dict[str, Any]] = []
        attempts: list[str] = []
        run_ids: set[str] = set()

        async def workflow(context: Any) -> None:
            async def one() -> str:
                run_ids.add(context.workflow_run_id)
                return "one"

            await context.run("one", one)

            async def boom() -> str:
                attempts.append("boom")
                raise RuntimeError("the printer is on fire")

            await context.run("boom", boom)

        async def failure_function(context: Any, status: int, response: str,
                                   headers: dict[str, str]) -> None:  # fmt: skip
            failures.append({"status": status, "response": response,
                             "payload": context.request_payload,
                             "run": context.workflow_run_id})  # fmt: skip

        url = app.serve("/fails", workflow, retries=0, failure_function=failure_function)
        sdk.message.publish_json(url=url, body={"order": 7})
        wait_until(lambda: failures, timeout=30, what="the failure function")
        [run_id] = run_ids
        wait_until(lambda: run_state(redis_url, run_id).get("e") == "FAILED", timeout=10,
                   what="the run to fail")  # fmt: skip
        assert attempts == ["boom"]
        assert failures == [{"status": 500, "response": "the printer is on fire",
                             "payload": {"order": 7}, "run": run_id}]  # fmt: skip
    finally:
        app.stop()
