"""Upstash Workflow on Herald through the official JavaScript SDK (`@upstash/workflow`,
pinned in tests/js/package-lock.json): workflows of tests/js/workflows served by the SDK's
own `serve` under node (tests/support/js.py, `WorkflowServer`), started with the SDK's
`Client.trigger`, run through a real `herald gateway`.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.gateway import TOKEN, Gateway
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


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v2/workflows/logs?count=abc", "count"),
        ("/v2/workflows/logs?count=1000", "count"),
        ("/v2/workflows/logs?fromDate=yesterday", "fromDate"),
        ("/v2/workflows/logs?cursor=zz", "cursor"),
        ("/v2/workflows/dlq?cursor=1:x", "cursor"),
    ],
)
def test_a_bad_workflow_listing_query_is_refused_naming_its_field(
    gateway: Gateway, path: str, field: str
) -> None:
    refused = gateway.client.get(path)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"].startswith(f"invalid {field}:")


@pytest.mark.parametrize("query", [
    "count=-1", "count=x", "count=100000", "toDate=soon", "label=x", "count=1&count=2",
    # given but empty: not "no filter", which would cancel every running run
    "workflowRunIds=", "workflowRunIds=,", "workflowUrl=", "workflowUrl=%20",
])  # fmt: skip
def test_a_bad_bulk_cancel_is_refused_and_cancels_nothing(
    js: Js, workflows: WorkflowServer, gateway: Gateway, query: str
) -> None:
    js("workflow_client.mjs", {"action": "trigger", "url": workflows.url("steps"),
                               "body": {"name": "kept"}})  # fmt: skip
    refused = gateway.client.delete(f"/v2/workflows/runs?{query}")
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"].startswith(f"invalid {query.split('=')[0]}:")
    workflows.wait_for("steps", "done")  # the run went on


def test_a_bulk_cancel_takes_the_token_from_the_query(gateway: Gateway) -> None:
    query = {"qstash_token": TOKEN, "workflowRunIds": "wfr_nobody"}
    answer = httpx.delete(f"{gateway.url}/v2/workflows/runs", params=query)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"cancelled": 0}
