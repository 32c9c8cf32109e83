"""Upstash Workflow on Herald: a workflow written with the official Python SDK
(`upstash-workflow`), served by a local Starlette app, runs through a real `herald gateway`
unchanged — its steps, a sleep, a `context.call` to a local service, the end of the run —
and a run is cancelled mid-sleep.

The workflow endpoint checks every request's signature with the SDK's own receiver, so the
steps array Herald writes into each body is what Herald signs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from qstash import QStash

from tests.support.gateway import TOKEN, Gateway, wait_until
from tests.support.receiver import Answer, Receiver
from tests.support.workflow_app import WorkflowApp, run_state

pytest.importorskip(
    "upstash_workflow",
    reason="upstash-workflow (the official Workflow SDK, a test dependency) is not installed",
)

pytestmark = [pytest.mark.integration, pytest.mark.in_process]

Route = Callable[[Any], Any]


def test_a_workflow_runs_every_step_once_in_order(
    gateway: Gateway, workflow_app: WorkflowApp, receiver: Receiver, sdk: QStash, redis_url: str
) -> None:
    third_party = receiver.new_path(
        Answer(200, {"Content-Type": "application/json"}, b'{"price": 7}')
    )
    ran: list[str] = []
    finished: list[dict[str, Any]] = []
    run_ids: set[str] = set()

    async def workflow(context: Any) -> None:
        async def one() -> dict[str, int]:
            ran.append("one")
            run_ids.add(context.workflow_run_id)
            return {"n": context.request_payload["n"]}

        first = await context.run("one", one)
        await context.sleep("nap", 1)

        async def two() -> int:
            ran.append("two")
            return int(first["n"]) + 1

        second = await context.run("two", two)
        quote = await context.call("quote", url=receiver.url(third_party), method="POST",
                                   body={"n": second}, headers={"X-Quote": "yes"})  # fmt: skip

        async def three() -> str:
            ran.append("three")
            finished.append({"first": first, "second": second, "status": quote.status,
                             "body": quote.body})  # fmt: skip
            return "done"

        await context.run("three", three)

    url = workflow_app.serve("/orders", workflow)
    sdk.message.publish_json(url=url, body={"n": 41})

    wait_until(lambda: finished, timeout=30, what="the workflow's last step")
    [run_id] = run_ids
    wait_until(lambda: run_state(redis_url, run_id).get("e") == "DONE", timeout=10,
               what="the run to end")  # fmt: skip

    assert ran == ["one", "two", "three"]
    assert finished == [{"first": {"n": 41}, "second": 42, "status": 200, "body": {"price": 7}}]
    [call] = receiver.received(third_party)
    assert json.loads(call.body) == {"n": 42}
    assert call.header("X-Quote") == "yes"
    assert call.method == "POST"

    # the run has ended: a step published into it now is refused
    refused = gateway.client.post(
        f"/v2/publish/{url}",
        headers={"Upstash-Workflow-RunId": run_id, "Upstash-Workflow-Init": "false",
                 "Content-Type": "application/json"},
        content=json.dumps({"stepId": 9, "stepName": "late", "stepType": "Run", "out": "1",
                            "concurrent": 1}),
    )  # fmt: skip
    assert refused.status_code == 400, refused.text
    assert "has ended" in refused.json()["error"]


def test_a_cancelled_run_takes_no_more_steps(
    gateway: Gateway, workflow_app: WorkflowApp, sdk: QStash, redis_url: str
) -> None:
    ran: list[str] = []
    run_ids: set[str] = set()

    async def workflow(context: Any) -> None:
        async def one() -> str:
            ran.append("one")
            run_ids.add(context.workflow_run_id)
            return "one"

        await context.run("one", one)
        await context.sleep("long-nap", 3600)

        async def never() -> str:
            ran.append("never")
            return "never"

        await context.run("never", never)

    url = workflow_app.serve("/cancel-me", workflow)
    sdk.message.publish_json(url=url, body={})

    wait_until(lambda: run_ids, timeout=30, what="the first step")
    [run_id] = run_ids
    # the sleep step's message is stored once the endpoint has answered the first step
    sleeping = wait_until(lambda: len(_step_messages(redis_url, run_id)) == 2 and
                          _step_messages(redis_url, run_id), timeout=10,
                          what="the sleep step's message")  # fmt: skip
    nap = sleeping[-1]
    assert gateway.client.get(f"/v2/messages/{nap}").status_code == 200

    cancelled = httpx.delete(f"{gateway.url}/v2/workflows/runs/{run_id}?cancel=true",
                             headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    assert cancelled.status_code == 200, cancelled.text
    assert run_state(redis_url, run_id)["e"] == "CANCELED"
    assert gateway.client.get(f"/v2/messages/{nap}").status_code == 404
    assert ran == ["one"]

    unknown = gateway.client.delete("/v2/workflows/runs/wfr_nobody?cancel=true")
    assert unknown.status_code == 404


def _step_messages(redis_url: str, run_id: str) -> list[str]:
    """Ids of the run's step messages, in step order."""
    record = run_state(redis_url, run_id)
    steps = sorted((int(name[2:]), value) for name, value in record.items()
                   if name.startswith("s:"))  # fmt: skip
    return [value for _, value in steps]
