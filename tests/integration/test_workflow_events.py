"""Workflow events on Herald through the official JavaScript SDK (`@upstash/workflow`):
`context.waitForEvent` resumed by `Client.notify` and by `context.notify`, waits that time
out (exactly once, with two gateways on one Redis), `Client.getWaiters`, a notify nobody
waits for; workflows of tests/js/workflows/events.mjs served by the SDK's `serve`.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis

from herald_core.keys import Keys
from herald_core.workflow_events import event_shard
from herald_core.workflows import run_shard
from tests.support.gateway import TOKEN, Gateway, wait_until
from tests.support.js import Js, WorkflowServer
from tests.support.redis_topologies import LocalCluster

pytestmark = [pytest.mark.integration]

AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: A token shaped like QStash's (base64 of JSON with a `UserID`): `context.createWebhook`
#: reads the user id of its webhook URL from the token; Herald takes any token it is given.
SDK_TOKEN = base64.b64encode(b'{"UserID":"herald-tests","Password":"0123456789"}').decode()
#: The timeout keepers' safety-net poll (HERALD_WORKFLOW_WAIT_POLL), far beyond any test:
#: a timeout must fire because its deadline was announced.
POLL = 600


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway]) -> Gateway:
    return make_gateway(workflow_wait_poll=POLL, token=f"{TOKEN},{SDK_TOKEN}")


@pytest.fixture
def js(node: Path, gateway: Gateway) -> Js:
    client = Js(node, gateway)
    client.env["QSTASH_TOKEN"] = SDK_TOKEN
    return client


@pytest.fixture
def workflows(node: Path, gateway: Gateway) -> Iterator[WorkflowServer]:
    server = WorkflowServer(node, gateway)
    server.env["QSTASH_TOKEN"] = SDK_TOKEN
    server.start()
    yield server
    server.stop()


def _event() -> str:
    return f"evt-{uuid.uuid4().hex[:12]}"


def _trigger(js: Js, workflows: WorkflowServer, name: str, body: dict[str, Any]) -> str:
    started = js("workflow_client.mjs", {"action": "trigger", "url": workflows.url(name),
                                         "body": body})  # fmt: skip
    run_id: str = started["workflowRunId"]
    return run_id


def _waiters(js: Js, event_id: str, count: int) -> list[dict[str, Any]]:
    """The event's waiters (Client.getWaiters), once there are `count`."""

    def found() -> list[dict[str, Any]] | None:
        waiters: list[dict[str, Any]] = js(
            "workflow_client.mjs", {"action": "getWaiters", "eventId": event_id}
        )
        return waiters if len(waiters) == count else None

    result: list[dict[str, Any]] = wait_until(found, timeout=30, what=f"{count} waiters")
    return result


def _resumed(workflows: WorkflowServer, tag: str) -> list[dict[str, Any]]:
    return [r["data"] for r in workflows.records("waiter")
            if r["what"] == "resumed" and r["data"]["tag"] == tag]  # fmt: skip


def _run_state(redis_url: str, run_id: str) -> str | None:
    """A run's end state as stored ('' while it runs)."""
    keys = Keys("herald", 16)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        state = client.hget(keys.shard(run_shard(run_id, 16)).run(run_id), "e")
    finally:
        client.close()
    return None if state is None else str(state)


def test_a_waiting_run_resumes_with_the_notified_data(
    js: Js, workflows: WorkflowServer, gateway: Gateway
) -> None:
    event = _event()
    run_id = _trigger(js, workflows, "waiter", {"eventId": event, "tag": "a", "timeout": "60s"})
    [waiter] = _waiters(js, event, 1)
    assert waiter["url"] == workflows.url("waiter")
    assert waiter["timeoutUrl"] == workflows.url("waiter")
    headers = {k.lower(): v for k, v in waiter["headers"].items()}
    assert headers["upstash-workflow-runid"] == [run_id]
    assert not any("authorization" in k for k in headers)  # its credentials stay here
    assert 0 < waiter["deadline"] - time.time() <= 61

    notified = js("workflow_client.mjs", {"action": "notify", "eventId": event,
                                          "eventData": {"paid": 42}})  # fmt: skip
    assert [(n["workflowRunId"], n["error"]) for n in notified] == [(run_id, "")]
    assert notified[0]["messageId"].startswith("msg_")
    workflows.wait_for("waiter", "resumed")
    assert _resumed(workflows, "a") == [{"tag": "a", "eventData": {"paid": 42},
                                         "timedOut": False}]  # fmt: skip
    assert js("workflow_client.mjs", {"action": "getWaiters", "eventId": event}) == []
    wait_until(lambda: _run_state(gateway.redis_url, run_id) == "DONE", timeout=30,
               what="the run finished")  # fmt: skip


def test_a_notify_with_no_waiter_resumes_nothing(js: Js, gateway: Gateway) -> None:
    event = _event()
    assert js("workflow_client.mjs", {"action": "notify", "eventId": event,
                                      "eventData": "x"}) == []  # fmt: skip
    error = js.error(
        "workflow_client.mjs",
        {"action": "notify", "eventId": event, "eventData": "x", "workflowRunId": "wfr_nobody"},
    )
    assert "not found" in error["message"]
    assert js("workflow_client.mjs", {"action": "getWaiters", "eventId": event}) == []


def test_a_notify_naming_the_run_before_it_waits_is_kept_for_the_wait(
    js: Js, workflows: WorkflowServer
) -> None:
    event = _event()
    run_id = _trigger(js, workflows, "waiter", {"eventId": event, "tag": "k", "nap": 3})
    workflows.wait_for("waiter", "waiting")
    kept = js("workflow_client.mjs", {"action": "notify", "eventId": event,
                                      "eventData": "early", "workflowRunId": run_id})  # fmt: skip
    assert kept == []  # nothing waited yet: kept (lookback)
    workflows.wait_for("waiter", "resumed")
    assert _resumed(workflows, "k") == [{"tag": "k", "eventData": "early", "timedOut": False}]


def test_a_webhook_call_resumes_the_run_with_the_request(js: Js, workflows: WorkflowServer) -> None:
    _trigger(js, workflows, "hook", {"tag": "h"})
    created = workflows.wait_for("hook", "created")["data"]
    url = created["webhookUrl"]
    assert url.startswith(f"{js.env['QSTASH_URL']}/v2/workflows/hooks/herald-tests/wfr_")
    _waiters(js, created["eventId"], 1)
    answer = httpx.post(url + "?step=2", content=b"paid", headers={"X-Test": "yes"})  # no token
    assert answer.status_code == 200 and answer.json()["messageId"].startswith("msg_")
    called = workflows.wait_for("hook", "called")["data"]
    assert called == {"tag": "h", "timeout": False, "method": "POST", "url": url + "?step=2",
                      "header": "yes", "body": "paid"}  # fmt: skip


def test_a_webhook_called_before_the_wait_is_kept_for_it(js: Js, workflows: WorkflowServer) -> None:
    _trigger(js, workflows, "hook", {"tag": "early", "nap": 3})
    url = workflows.wait_for("hook", "created")["data"]["webhookUrl"]
    answer = httpx.put(url, content=b"soon")
    assert answer.status_code == 200 and answer.json() == {}  # kept
    called = workflows.wait_for("hook", "called")["data"]
    assert (called["method"], called["body"], called["timeout"]) == ("PUT", "soon", False)
    bad = httpx.post(url.rsplit("/", 2)[0] + "/wfr_nobody/evt_x", content=b"")
    assert bad.status_code == 404


def test_a_cancelled_run_waits_no_more(js: Js, workflows: WorkflowServer, gateway: Gateway) -> None:
    event = _event()
    run_id = _trigger(js, workflows, "waiter", {"eventId": event, "tag": "c"})
    _waiters(js, event, 1)
    # what the SDK's context.cancel sends (Client.cancel's bulk form is another branch's)
    cancel = httpx.delete(f"{gateway.url}/v2/workflows/runs/{run_id}?cancel=true", headers=AUTH)
    assert cancel.status_code == 200
    assert js("workflow_client.mjs", {"action": "getWaiters", "eventId": event}) == []
    assert js("workflow_client.mjs", {"action": "notify", "eventId": event,
                                      "eventData": "x"}) == []  # fmt: skip
    assert _resumed(workflows, "c") == []
    # and nothing of its waiter stays stored until its deadline
    keys = Keys("herald", 16)
    run_keys = keys.shard(run_shard(run_id, 16))
    index = keys.shard(event_shard(event, 16)).event_waiters(event)
    with redis.Redis.from_url(gateway.redis_url) as client:
        assert not client.exists(run_keys.run_waiters(run_id), index)
        members = [orjson.loads(m)[0] for m in client.zrange(run_keys.waiters_due, 0, -1)]
        assert run_id not in members


def test_context_notify_resumes_another_run(js: Js, workflows: WorkflowServer) -> None:
    event = _event()
    waiting = _trigger(js, workflows, "waiter", {"eventId": event, "tag": "b"})
    _waiters(js, event, 1)
    _trigger(js, workflows, "notifier", {"eventId": event, "data": "hello"})
    row = workflows.wait_for("notifier", "notified")
    assert row["data"] == [waiting]
    workflows.wait_for("waiter", "resumed")
    assert _resumed(workflows, "b") == [{"tag": "b", "eventData": "hello", "timedOut": False}]


def test_waits_time_out_exactly_once_with_two_gateways(
    js: Js, workflows: WorkflowServer, gateway: Gateway, make_gateway: Callable[..., Gateway]
) -> None:
    make_gateway(workflow_wait_poll=POLL)  # a second gateway looking for the same timeouts
    event = _event()
    tags = [f"t{i}" for i in range(4)]
    runs = [_trigger(js, workflows, "waiter", {"eventId": event, "tag": tag, "timeout": "1s"})
            for tag in tags]  # fmt: skip
    for run_id in runs:
        wait_until(lambda r=run_id: _run_state(gateway.redis_url, r) == "DONE", timeout=30,
                   what=f"run {run_id} finished")  # fmt: skip
    for tag in tags:
        assert _resumed(workflows, tag) == [{"tag": tag, "eventData": None, "timedOut": True}]
    assert js("workflow_client.mjs", {"action": "getWaiters", "eventId": event}) == []


def test_a_notify_racing_the_timeout_resumes_once(
    js: Js, workflows: WorkflowServer, gateway: Gateway
) -> None:
    """Notifies sent around the deadline: each run resumes once, notified or timed out."""
    event = _event()
    tags = [f"r{i}" for i in range(3)]
    runs = [_trigger(js, workflows, "waiter", {"eventId": event, "tag": tag, "timeout": "1s"})
            for tag in tags]  # fmt: skip
    notified: list[str] = []

    def notify_until_all_resumed() -> bool:  # some notified, some timed out, none twice
        answer = js("workflow_client.mjs", {"action": "notify", "eventId": event,
                                            "eventData": "late"})  # fmt: skip
        notified.extend(n["workflowRunId"] for n in answer)
        return all(_resumed(workflows, t) for t in tags)

    wait_until(notify_until_all_resumed, timeout=30, what="every run resumed")
    for run_id in runs:
        wait_until(lambda r=run_id: _run_state(gateway.redis_url, r) == "DONE", timeout=30,
                   what=f"run {run_id} finished")  # fmt: skip
    for tag in tags:
        [once] = _resumed(workflows, tag)
        assert once["timedOut"] is (once["eventData"] is None)
    assert len(notified) == len(set(notified))


def test_a_wait_is_checked_before_anything_is_stored(gateway: Gateway) -> None:
    url = f"{gateway.url}/v2/wait/evt-1"
    step = {"stepId": 1, "stepName": "w", "stepType": "Wait", "concurrent": 1}
    run = {"Upstash-Workflow-RunId": "wfr_none", **AUTH}
    body = {"url": "http://127.0.0.1:9/wf", "timeout": "10s", "step": step}
    assert httpx.post(url, json=body, headers=run).status_code == 404  # no such run
    bad = httpx.post(url, json={**body, "timeout": "soon"}, headers=run)
    assert bad.status_code == 400 and "timeout" in bad.json()["error"]
    bad = httpx.post(url, json={**body, "step": {}}, headers=run)
    assert bad.status_code == 400 and "step" in bad.json()["error"]
    bad = httpx.post(url, json=body, headers=AUTH)
    assert bad.status_code == 400 and "Upstash-Workflow-RunId" in bad.json()["error"]
    assert httpx.get(f"{gateway.url}/v2/waiters/evt-1", headers=AUTH).json() == []


@pytest.fixture
def many(node: Path, gateway: Gateway) -> Iterator[WorkflowServer]:
    """The workflows of tests/js/workflows served by `serveMany` (context.invoke)."""
    server = WorkflowServer(node, gateway, "workflow_many_server.mjs")
    server.env["QSTASH_TOKEN"] = SDK_TOKEN
    server.start()
    yield server
    server.stop()


def test_an_invoked_workflow_returns_its_result_to_the_invoker(
    js: Js, many: WorkflowServer, gateway: Gateway
) -> None:
    invoker = _trigger(js, many, "invoker", {"name": "ada"})
    got = many.wait_for("invoker", "got")["data"]
    assert got == {"body": {"greeting": "hello ada"}, "isCanceled": False, "isFailed": False}
    [ran] = [r["data"] for r in many.records("invoked")]
    assert ran == {"name": "ada", "invoker": "yes"}
    wait_until(lambda: _run_state(gateway.redis_url, invoker) == "DONE", timeout=30,
               what="the invoker finished")  # fmt: skip


def test_an_invoked_run_cancelled_in_bulk_answers_its_invoker(
    js: Js, many: WorkflowServer, gateway: Gateway
) -> None:
    invoker = _trigger(js, many, "patientInvoker", {})
    sleeper = many.wait_for("sleeper", "started")["data"]
    answer = js("workflow_client.mjs", {"action": "cancel",
                                        "urlStartingWith": many.url("sleeper")})  # fmt: skip
    assert answer == {"cancelled": 1}
    got = many.wait_for("patientInvoker", "got")["data"]
    assert got["isCanceled"] is True and got["isFailed"] is False
    assert _run_state(gateway.redis_url, sleeper) == "CANCELED"
    wait_until(lambda: _run_state(gateway.redis_url, invoker) == "DONE", timeout=30,
               what="the invoker finished")  # fmt: skip
    assert not many.records("sleeper")[1:]  # it never woke


@pytest.mark.cluster
def test_events_on_a_redis_cluster(
    redis_cluster: LocalCluster, node: Path, make_gateway: Callable[..., Gateway]
) -> None:
    """A waiter lives in its run's slot and the event's index in another: notify, timeout
    and lookback across them on a 3-master cluster."""
    gateway = make_gateway(**redis_cluster.settings(), shards=16, workflow_wait_poll=POLL,
                           token=f"{TOKEN},{SDK_TOKEN}")  # fmt: skip
    js = Js(node, gateway)
    js.env["QSTASH_TOKEN"] = SDK_TOKEN
    server = WorkflowServer(node, gateway)
    server.env["QSTASH_TOKEN"] = SDK_TOKEN
    server.start()
    try:
        notified, timed, early = _event(), _event(), _event()
        _trigger(js, server, "waiter", {"eventId": notified, "tag": "n", "timeout": "60s"})
        _trigger(js, server, "waiter", {"eventId": timed, "tag": "t", "timeout": "1s"})
        run_id = _trigger(js, server, "waiter", {"eventId": early, "tag": "e", "nap": 3})
        _waiters(js, notified, 1)
        answer = js("workflow_client.mjs", {"action": "notify", "eventId": notified,
                                            "eventData": 7})  # fmt: skip
        assert len(answer) == 1
        wait_until(lambda: len(server.records("waiter")) >= 3, timeout=30, what="waiting")
        kept = js(
            "workflow_client.mjs",
            {"action": "notify", "eventId": early, "eventData": "soon", "workflowRunId": run_id},
        )
        assert kept == []
        wait_until(lambda: all(_resumed(server, t) for t in "nte"), timeout=30, what="resumed")
        assert _resumed(server, "n") == [{"tag": "n", "eventData": 7, "timedOut": False}]
        assert _resumed(server, "t") == [{"tag": "t", "eventData": None, "timedOut": True}]
        assert _resumed(server, "e") == [{"tag": "e", "eventData": "soon", "timedOut": False}]
    finally:
        server.stop()
