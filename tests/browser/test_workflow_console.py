"""The console's Workflow runs page: runs of a workflow written with the official Python
SDK (one finished, one failed) listed with their state, one run's steps, and a failed run
resumed from the page once its endpoint is fixed; a failure function run again, and one
still running cancelled, from the page."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from qstash import QStash

from tests.browser.conftest import MISSING, Console
from tests.support.gateway import Gateway, wait_until
from tests.support.workflow_app import WorkflowApp

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)
pytest.importorskip("upstash_workflow", reason="upstash-workflow (a test dependency) is missing")

from selenium.webdriver.common.by import By

pytestmark = pytest.mark.integration


def test_workflow_runs_and_their_steps(
    console: Console, gateway: Gateway, workflow_app: WorkflowApp, sdk: QStash
) -> None:
    runs: dict[str, str] = {}
    fixed: list[bool] = []

    async def workflow(context: Any) -> None:
        order = context.request_payload["order"]

        async def reserve() -> str:
            runs.setdefault(order, context.workflow_run_id)
            return f"reserved {order}"

        await context.run("reserve", reserve)

        async def charge() -> dict[str, Any]:
            if order == "B-2" and not fixed:
                raise RuntimeError("card declined")
            return {"charged": order, "amount": 42}

        await context.run("charge", charge)

    called: list[bool] = []

    async def failure_function(context: Any, status: int, response: str,
                               headers: dict[str, str]) -> None:  # fmt: skip
        called.append(bool(fixed))
        if not fixed:
            raise RuntimeError("the pager is down too")

    url = workflow_app.serve("/orders", workflow, retries=0, failure_function=failure_function)
    sdk.message.publish_json(url=url, body={"order": "A-1"})
    sdk.message.publish_json(url=url, body={"order": "B-2"})
    wait_until(lambda: len(runs) == 2, timeout=30, what="both runs' first step")

    def state(run_id: str) -> str:
        logs = gateway.client.get("/v2/workflows/logs", params={"workflowRunId": run_id}).json()
        return str(logs["runs"][0]["workflowState"]) if logs["runs"] else ""

    wait_until(lambda: state(runs["A-1"]) == "RUN_SUCCESS", what="A-1 to finish")
    wait_until(lambda: state(runs["B-2"]) == "RUN_FAILED", what="B-2 to fail")

    console.sign_in()
    console.wait_text(By.ID, "who", "admin")
    console.go("#/workflows")
    console.wait_for(
        By.CSS_SELECTOR, f".run-row[data-run='{runs['A-1']}'][data-state='RUN_SUCCESS']"
    )
    console.wait_for(
        By.CSS_SELECTOR, f".run-row[data-run='{runs['B-2']}'][data-state='RUN_FAILED']"
    )
    console.screenshot("workflow-runs")

    console.driver.find_element(By.CSS_SELECTOR, f".run-row[data-run='{runs['A-1']}'] a").click()
    console.wait_for(By.CSS_SELECTOR, ".step-row[data-step='charge'][data-state='STEP_SUCCESS']")
    text = console.driver.find_element(By.TAG_NAME, "main").text
    assert "reserved A-1" in text and '"amount": 42' in text.replace('":42', '": 42')
    console.screenshot("workflow-run")

    console.go(f"#/workflows/{runs['B-2']}")
    failed = console.wait_for(By.CSS_SELECTOR, ".step-row[data-state='STEP_FAILED']")
    assert "HTTP 500" in failed.text and "card declined" in failed.text  # why it failed
    console.wait_text(By.ID, "failure-state", "CALLBACK_FAIL")  # the failure function failed
    console.screenshot("workflow-run-failed")
    fixed.append(True)  # the endpoint is fixed: run the failure function again, then resume
    console.driver.find_element(By.ID, "failure-again").click()
    wait_until(lambda: called == [False, True], what="the failure function run again")
    console.go("#/workflows")  # the run page again, drawn anew
    console.go(f"#/workflows/{runs['B-2']}")
    console.wait_text(By.ID, "failure-state", "CALLBACK_SUCCESS")
    assert not console.driver.find_elements(By.ID, "failure-again")
    console.driver.find_element(By.ID, "resume-run").click()
    console.accept_confirmation()
    console.wait_for(By.CSS_SELECTOR, ".step-row[data-step='charge'][data-state='STEP_SUCCESS']")
    assert "charged" in console.driver.find_element(By.TAG_NAME, "main").text
    assert runs["B-2"] in console.driver.find_element(By.TAG_NAME, "main").text  # resumed from


def test_a_failure_function_in_progress_is_cancelled_from_the_page(
    console: Console, gateway: Gateway, workflow_app: WorkflowApp, sdk: QStash
) -> None:
    runs: list[str] = []
    released = threading.Event()

    async def workflow(context: Any) -> None:
        runs.append(context.workflow_run_id)

        async def charge() -> str:
            raise RuntimeError("card stolen")

        await context.run("charge", charge)

    async def failure_function(context: Any, status: int, response: str,
                               headers: dict[str, str]) -> None:  # fmt: skip
        await asyncio.to_thread(released.wait, 30)  # still running until the test lets go

    url = workflow_app.serve("/held", workflow, retries=0, failure_function=failure_function)
    sdk.message.publish_json(url=url, body={"order": "C-3"})
    try:
        wait_until(lambda: runs, timeout=30, what="the run's first step")
        console.sign_in()
        console.go(f"#/workflows/{runs[0]}")
        console.wait_text(By.ID, "failure-state", "CALLBACK_INPROGRESS")
        console.driver.find_element(By.ID, "failure-cancel").click()
        console.wait_text(By.ID, "failure-state", "CALLBACK_CANCELED")
        assert not console.driver.find_elements(By.CSS_SELECTOR, "#failure-cancel, #failure-again")
    finally:
        released.set()
