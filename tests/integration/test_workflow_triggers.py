"""REST triggers of workflow runs (`POST /v2/trigger/{workflowUrl}`, `/v2/batch/trigger`):
a plain HTTP request starts a run of a workflow served by the official JavaScript SDK
(`@upstash/workflow`'s `serve`, tests/js/workflows/basic.mjs), which runs to the end.
"""

from __future__ import annotations

import time

import httpx
import pytest

from herald_core.settings import Settings
from tests.support.gateway import TOKEN, Gateway, wait_until
from tests.support.js import WorkflowServer

pytestmark = [pytest.mark.integration]

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _done(workflows: WorkflowServer, name: str) -> list[tuple[str, object]]:
    rows = workflows.records("steps")
    first = [r["data"] for r in rows if r["what"] == "first"]
    if {"name": name} not in first:
        return []
    return [(r["what"], r["data"]) for r in rows if r["what"] == "done"
            and r["data"] == f"{name}-1-2"]  # fmt: skip


def test_a_rest_trigger_runs_the_workflow(workflows: WorkflowServer, gateway: Gateway) -> None:
    answer = httpx.post(f"{gateway.url}/v2/trigger/{workflows.url('steps')}",
                        json={"name": "rest"},
                        headers={**AUTH, "Upstash-Workflow-RunId": "wfr_rest-1"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    started = answer.json()
    assert started["workflowRunId"] == "wfr_rest-1"
    assert abs(started["workflowCreatedAt"] - time.time() * 1000) < 60_000
    wait_until(lambda: _done(workflows, "rest"), timeout=30, what="the triggered run's end")
    # the run is the one the trigger named: the SDK ended it (a step into it is refused)
    run = {**AUTH, "Upstash-Workflow-RunId": "wfr_rest-1"}
    url = f"{gateway.url}/v2/publish/{workflows.url('steps')}"
    step = httpx.post(url, content=b'{"stepId": 9}', headers=run)
    assert step.status_code == 400 and "ended" in step.json()["error"]


def test_a_batch_trigger_starts_each_run(workflows: WorkflowServer, gateway: Gateway) -> None:
    items = [
        {"destination": workflows.url("steps"), "body": '{"name": "b1"}',
         "headers": {"Content-Type": "application/json"}},
        {"destination": workflows.url("steps"), "body": '{"name": "b2"}'},
        {"destination": "not-a-url"},
        # over one publish's body limit: refused as /v2/batch refuses it
        {"destination": workflows.url("steps"), "body": "x" * (Settings().max_body_bytes + 1)},
    ]  # fmt: skip
    answer = httpx.post(f"{gateway.url}/v2/batch/trigger", json=items, headers=AUTH)
    assert answer.status_code == 201, answer.text
    first, second, refused, too_large = answer.json()
    assert too_large == {"error": f"body larger than {Settings().max_body_bytes} bytes"}
    assert first["workflowRunId"].startswith("wfr_") and second["workflowRunId"].startswith("wfr_")
    assert first["workflowRunId"] != second["workflowRunId"]
    assert "error" in refused
    wait_until(lambda: _done(workflows, "b1") and _done(workflows, "b2"), timeout=30,
               what="both runs' ends")  # fmt: skip


def test_a_bad_trigger_is_refused(gateway: Gateway) -> None:
    bad = httpx.post(f"{gateway.url}/v2/trigger/http://127.0.0.1:9/wf", content=b"",
                     headers={**AUTH, "Upstash-Workflow-RunId": "has space"})  # fmt: skip
    assert bad.status_code == 400 and "Upstash-Workflow-RunId" in bad.json()["error"]
    bad = httpx.post(f"{gateway.url}/v2/trigger/http://127.0.0.1:9/wf", content=b"",
                     headers={**AUTH, "Upstash-Retries": "many"})  # fmt: skip
    assert bad.status_code == 400 and "Upstash-Retries" in bad.json()["error"]
    assert httpx.post(f"{gateway.url}/v2/trigger/http://127.0.0.1:9/wf").status_code == 401
