"""Upstash Workflow on Herald through the official JavaScript SDK (`@upstash/workflow`,
pinned in tests/js/package-lock.json): workflows of tests/js/workflows served by the SDK's
own `serve` under node (tests/support/js.py, `WorkflowServer`), started with the SDK's
`Client.trigger`, run through a real `herald gateway`.
"""

from __future__ import annotations

import pytest

from tests.support.js import Js, WorkflowServer

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def test_a_run_of_steps_and_a_sleep(js: Js, workflows: WorkflowServer) -> None:
    started = js("workflow_client.mjs", {"action": "trigger", "url": workflows.url("steps"),
                                         "body": {"name": "order"}})  # fmt: skip
    assert started["workflowRunId"].startswith("wfr_")
    workflows.wait_for("steps", "done")
    done = [(r["what"], r["data"]) for r in workflows.records("steps")]
    assert done == [("first", {"name": "order"}), ("second", "order-1"), ("done", "order-1-2")]
