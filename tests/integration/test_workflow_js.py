"""Upstash Workflow on Herald through the official JavaScript SDK (`@upstash/workflow`,
pinned in tests/js/package-lock.json): workflows of tests/js/workflows served by the SDK's
own `serve` under node (tests/support/js.py, `WorkflowServer`), started with the SDK's
`Client.trigger`, run through a real `herald gateway`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gateway import Gateway
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


def test_a_run_of_steps_and_a_sleep(js: Js, workflows: WorkflowServer) -> None:
    started = js("workflow_client.mjs", {"action": "trigger", "url": workflows.url("steps"),
                                         "body": {"name": "order"}})  # fmt: skip
    assert started["workflowRunId"].startswith("wfr_")
    workflows.wait_for("steps", "done")
    done = [(r["what"], r["data"]) for r in workflows.records("steps")]
    assert done == [("first", {"name": "order"}), ("second", "order-1"), ("done", "order-1-2")]
