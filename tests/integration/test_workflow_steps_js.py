"""Upstash Workflow on Herald through the official JavaScript SDK, continued: parallel steps,
`context.call` with retries, lazily fetched steps, cancelling runs, and a gateway killed
mid-run. Workflows of tests/js/workflows/steps_more.mjs, served by the SDK's `serve`
(tests/support/js.py `WorkflowServer`), started with the SDK's `Client.trigger`.
"""

from __future__ import annotations

import base64
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.support.gateway import Gateway, wait_until
from tests.support.js import Js, WorkflowServer
from tests.support.receiver import Answer, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def run_end(gateway: Gateway, run_id: str) -> str | None:
    """The run's end state as stored (herald_core.workflows: '' while it runs), None for no
    run."""
    client = redis.Redis.from_url(gateway.redis_url)
    try:
        for key in client.scan_iter(match=f"*:wr:{run_id}"):
            state: bytes | None = client.hget(key, "e")  # type: ignore[assignment]
            return None if state is None else state.decode()
        return None
    finally:
        client.close()


def wait_for_end(gateway: Gateway, run_id: str, state: str = "DONE") -> None:
    wait_until(lambda: run_end(gateway, run_id) == state, timeout=30, what=f"{run_id} {state}")


def _done(workflows: WorkflowServer, name: str) -> list[tuple[str, object]]:
    return [(r["what"], r["data"]) for r in workflows.records(name)]


def test_parallel_steps_each_run_once_and_the_next_step_sees_all(
    js: Js, workflows: WorkflowServer, gateway: Gateway
) -> None:
    started = js("workflow_client.mjs", {"action": "trigger", "url": workflows.url("parallel"),
                                         "body": {"name": "p"}})  # fmt: skip
    wait_for_end(gateway, started["workflowRunId"])
    final = workflows.wait_for("parallel", "final")
    assert final["data"] == ["p-a", "p-b", "p-c"]
    done = _done(workflows, "parallel")
    branches = sorted(what for what, _ in done if what.startswith("branch-"))
    assert branches == ["branch-a", "branch-b", "branch-c"]
    assert [what for what, _ in done].count("final") == 1


def test_runs_triggered_in_one_batch_each_run(
    js: Js, workflows: WorkflowServer, gateway: Gateway
) -> None:
    runs = [{"url": workflows.url("parallel"), "body": {"name": n}} for n in ("m1", "m2")]
    started = js("workflow_client.mjs", {"action": "triggerMany", "runs": runs})
    run_ids = [one["workflowRunId"] for one in started]
    assert len(set(run_ids)) == 2
    for run_id in run_ids:
        wait_for_end(gateway, run_id)
    finals = sorted(r["data"] for r in workflows.records("parallel") if r["what"] == "final")
    assert finals == [["m1-a", "m1-b", "m1-c"], ["m2-a", "m2-b", "m2-c"]]


def test_context_call_is_retried_and_the_run_gets_the_final_answer(
    js: Js, workflows: WorkflowServer, gateway: Gateway, receiver: Receiver
) -> None:
    path = receiver.new_path(Answer(503, body=b"busy"), Answer(200, body=b'{"fine": true}'))
    before = int(time.time() * 1000)
    started = js("workflow_client.mjs", {"action": "trigger", "url": workflows.url("call"),
                                         "body": {"url": receiver.url(path)}})  # fmt: skip
    after_trigger = int(time.time() * 1000)
    run_id = started["workflowRunId"]
    wait_for_end(gateway, run_id)
    after = workflows.wait_for("call", "after")["data"]
    assert after["response"]["status"] == 200
    assert after["response"]["body"] == '{"fine": true}'
    # Upstash-Workflow-CreatedAt: the run's start, the same on every delivery
    assert before <= after["created"] <= after_trigger
    assert after["now"] == after["created"]
    calls = receiver.received(path)
    assert len(calls) == 2
    assert [c.header("x-test") for c in calls] == ["call", "call"]
    assert calls[0].body == b'{"hello":"there"}'
    assert [what for what, _ in _done(workflows, "call")] == ["after"]


def test_large_runs_are_fetched_lazily(node: Path, make_gateway: Callable[..., Gateway]) -> None:
    gateway = make_gateway(workflow_lazy_fetch_bytes=2000)
    js, workflows = Js(node, gateway), WorkflowServer(node, gateway).start()
    try:
        started = js("workflow_client.mjs", {"action": "trigger", "url": workflows.url("large"),
                                             "body": {"size": 5000}})  # fmt: skip
        wait_for_end(gateway, started["workflowRunId"])
        assert workflows.wait_for("large", "after")["data"] == [5000, 5000, "xxx"]
        assert [what for what, _ in _done(workflows, "large")] == ["big", "after"]
    finally:
        workflows.stop()
    created = [e for e in gateway.client.get("/v2/logs", params={"state": "CREATED"}).json()[
        "events"] if e["url"] == workflows.url("large")]  # fmt: skip
    created.sort(key=lambda e: e["time"])
    sizes = [len(base64.b64decode(e.get("body", ""))) for e in created]
    # the first delivery carries its steps; once the array passed 2000 bytes (the step
    # "big"), every delivery is empty: 2 plan and 2 result steps of the parallel pair, "after"
    assert 0 < sizes[0] < 2000 and sizes[1:] == [0] * 6, sizes


def _events(gateway: Gateway, **filters: str) -> list[dict[str, Any]]:
    """Log rows (`GET /v2/logs`), oldest first."""
    answer = gateway.client.get("/v2/logs", params={"count": "1000", **filters})
    rows: list[dict[str, Any]] = answer.json()["events"]
    return sorted(rows, key=lambda e: e["time"])


def _sleeping(workflows: WorkflowServer, gateway: Gateway, js: Js, name: str) -> str:
    """A run of `name` started and asleep: its sleep step is stored."""
    run_id: str = js("workflow_client.mjs", {"action": "trigger", "url": workflows.url(name),
                                             "body": {}})["workflowRunId"]  # fmt: skip

    def asleep() -> bool:
        steps = gateway.client.get(f"/v2/workflows/runs/{run_id}")
        return steps.status_code == 200 and len(steps.json()) == 3  # init, start, the sleep

    wait_until(asleep, timeout=30, what=f"{run_id} asleep")
    return run_id


def test_client_cancel_by_ids_by_url_and_all(
    js: Js, workflows: WorkflowServer, gateway: Gateway
) -> None:
    first, second = (_sleeping(workflows, gateway, js, "sleepy-a") for _ in range(2))
    third, fourth = (_sleeping(workflows, gateway, js, "sleepy-b") for _ in range(2))
    steps = gateway.client.get(f"/v2/workflows/runs/{first}").json()
    assert [s["callType"] for s in steps] == ["step"] * 3
    assert httpx.get(f"{gateway.url}/v2/workflows/runs/{first}").status_code == 401
    assert gateway.client.get("/v2/workflows/runs/wfr_nope").status_code == 404

    assert js("workflow_client.mjs", {"action": "cancel", "ids": first}) == {"cancelled": 1}
    assert run_end(gateway, first) == "CANCELED"
    assert gateway.client.get(f"/v2/workflows/runs/{first}").status_code == 404
    by_url = js("workflow_client.mjs", {"action": "cancel",
                                        "urlStartingWith": workflows.url("sleepy-b")})  # fmt: skip
    assert by_url == {"cancelled": 2}
    assert [run_end(gateway, r) for r in (second, third, fourth)] == ["", "CANCELED", "CANCELED"]
    assert js("workflow_client.mjs", {"action": "cancel", "all": True}) == {"cancelled": 1}
    assert run_end(gateway, second) == "CANCELED"
    assert js("workflow_client.mjs", {"action": "cancel", "all": True}) == {"cancelled": 0}
    # each run's sleeping step message was cancelled with it: "woke" can never run
    cancelled = {e["messageId"] for e in _events(gateway, state="CANCELED")}
    assert steps[-1]["messageId"] in cancelled
    assert len(cancelled) == 4
    assert not [r for r in workflows.records("sleepy") if r["what"] == "woke"]
    refused = gateway.client.delete("/v2/workflows/runs", params={"label": "x"})
    assert refused.status_code == 400 and "label" in refused.json()["error"]


@pytest.mark.parametrize("stage", ["waiting to retry", "in flight"])
def test_cancel_during_a_context_call_cancels_the_call_and_its_callback(
    js: Js, workflows: WorkflowServer, gateway: Gateway, receiver: Receiver, stage: str
) -> None:
    waiting = stage == "waiting to retry"
    path = receiver.new_path(Answer(503) if waiting else Answer(200, delay=3.0))
    body = {"url": receiver.url(path), "retries": 3 if waiting else 0}
    js("workflow_client.mjs", {"action": "trigger", "url": workflows.url("slowcall"), "body": body})
    run_id = workflows.wait_for("slowcall", "start")["data"]
    receiver.wait_for(path, 1, timeout=30)
    call = receiver.received(path)[0].header("Upstash-Message-Id")
    if waiting:  # the first attempt failed: the call waits a minute for its retry
        wait_until(lambda: [e for e in _events(gateway, state="RETRY") if e["messageId"] == call])
    assert js("workflow_client.mjs", {"action": "cancel", "ids": [run_id]}) == {"cancelled": 1}
    # the call's message is cancelled with the run: no retry, and an answer in flight
    # settles nothing (herald_core/lua/settle.lua: no callback of a message that is gone)
    assert call in {e["messageId"] for e in _events(gateway, state="CANCELED")}
    if not waiting:  # the stalled answer arrives after the cancel
        wait_until(lambda: "herald_deliveries_total{outcome=\"delivered\",status_class=\"2xx\"} 3.0"
                   in gateway.metrics(), timeout=30, what="the call's attempt")  # fmt: skip
        into_run = [e for e in _events(gateway, state="CREATED")
                    if e["url"] == workflows.url("slowcall")]  # fmt: skip
        assert len(into_run) == 2  # the run's start and its first step; no callback
    assert run_end(gateway, run_id) == "CANCELED"
    assert len(receiver.received(path)) == 1
    assert not [r for r in workflows.records("slowcall") if r["what"] == "after"]


def _successor(old: Gateway, **settings: object) -> Gateway:
    """A new gateway process on `old`'s port (the QSTASH_URL the workflow endpoint uses) and
    Redis database."""
    new = Gateway(old.redis_url, old.log_path.with_name(f"{old.log_path.stem}-next.log"),
                  **settings)  # fmt: skip
    new.client.close()
    new.port, new.url, new.client = old.port, old.url, old.client
    new.env["HERALD_PORT"] = str(old.port)
    return new.start()


@pytest.mark.in_process(False)  # gateway processes killed under a running run
def test_a_run_outlives_sigkilled_gateways_and_runs_each_step_once(
    node: Path, make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    settings = {"lease_duration": 1.0}
    first = make_gateway(**settings)
    js, workflows = Js(node, first), WorkflowServer(node, first).start()
    path = receiver.new_path(Answer(200, delay=60.0))  # the first call never answers in time
    gateways = [first]
    try:
        run_id = js("workflow_client.mjs", {"action": "trigger", "url": workflows.url("durable"),
                                            "body": {"url": receiver.url(path)}})[
            "workflowRunId"]  # fmt: skip
        # killed while the run sleeps: its sleep step is stored, nothing is in flight
        wait_until(lambda: len(first.client.get(f"/v2/workflows/runs/{run_id}").json()) == 3,
                   timeout=30, what="the run asleep")  # fmt: skip
        first.stop(signal.SIGKILL)
        gateways.append(_successor(first, **settings))
        # killed while the context.call's attempt is in flight: its lease runs out and the
        # next gateway makes the call again
        receiver.wait_for(path, 1, timeout=30)
        killed = time.time()
        gateways[-1].stop(signal.SIGKILL)
        gateways.append(_successor(first, **settings))
        again = receiver.wait_for(path, 2, timeout=30)[1].at - killed
        wait_for_end(gateways[-1], run_id)
        print(
            f"call made again {again:.2f}s after SIGKILL (lease 1 s, with a gateway start); "
            f"run done {time.time() - killed:.2f}s after it"
        )
        done = _done(workflows, "durable")
        assert done == [("one", run_id), ("two", 200), ("three", None)]
        assert len(receiver.received(path)) == 2
    finally:
        workflows.stop()
        for gateway in gateways[1:]:
            gateway.stop()
