"""Upstash Workflow on Herald through the official JavaScript SDK (`@upstash/workflow`,
pinned in tests/js/package-lock.json): workflows of tests/js/workflows served by the SDK's
own `serve` under node (tests/support/js.py, `WorkflowServer`), started with the SDK's
`Client.trigger`, run through a real `herald gateway`.
"""

from __future__ import annotations

import pytest

from tests.support.gateway import Gateway
from tests.support.js import Js, WorkflowServer

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def test_a_run_of_steps_and_a_sleep(js: Js, workflows: WorkflowServer) -> None:
    started = js("workflow_client.mjs", {"action": "trigger", "url": workflows.url("steps"),
                                         "body": {"name": "order"}})  # fmt: skip
    assert started["workflowRunId"].startswith("wfr_")
    workflows.wait_for("steps", "done")
    done = [(r["what"], r["data"]) for r in workflows.records("steps")]
    assert done == [("first", {"name": "order"}), ("second", "order-1"), ("done", "order-1-2")]


def test_a_run_id_starts_one_run_however_often_it_is_triggered(
    js: Js, workflows: WorkflowServer, gateway: Gateway
) -> None:
    """Deduplication by run id: triggering the same run id again starts nothing (the SDK's
    "workflow-run-already-exists"), through the SDK and through a raw publish alike."""
    url = workflows.url("steps")
    first = js("workflow_client.mjs", {"action": "trigger", "url": url, "body": {"name": "one"},
                                       "workflowRunId": "dedup-me"})  # fmt: skip
    run_id = first["workflowRunId"]
    again = js("workflow_client.mjs", {"action": "trigger", "url": url, "body": {"name": "two"},
                                       "workflowRunId": "dedup-me"})  # fmt: skip
    assert again["workflowRunId"] == run_id
    raw = gateway.client.post(
        f"/v2/publish/{url}", content=b'{"name": "three"}',
        headers={"Upstash-Workflow-RunId": run_id, "Upstash-Workflow-Init": "true",
                 "Content-Type": "application/json"},
    )  # fmt: skip
    assert raw.status_code == 202 and raw.json()["deduplicated"] is True, raw.text
    workflows.wait_for("steps", "done")
    assert [r["data"] for r in workflows.records("steps") if r["what"] == "first"] == [
        {"name": "one"}
    ]
