"""Workflow waiters on a real Redis, without an SDK: a notify and a timeout racing for one
waiter end it exactly once, and a kept event (lookback) is taken by exactly one wait
(herald_gateway.publish.workflow_events over herald_core.workflow_events)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import orjson
import pytest

from herald_core.keys import Keys
from herald_core.redis_client import connect
from herald_core.settings import Settings
from herald_core.store import Store, StoreLimits
from herald_core.workflow_events import Waiter, WorkflowEvents
from herald_core.workflows import Workflows
from herald_gateway.publish.publishing import parse_publish
from herald_gateway.publish.workflow_events import (
    end_waiter,
    read_wait,
    send_to_run,
    start_waiting,
)
from herald_gateway.publish.workflows import accept_workflow, workflow_of

pytestmark = pytest.mark.integration
NOW = 1_700_000_000_000
URL = "http://127.0.0.1:9/wf"
SETTINGS = Settings()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    store = Store(connect(Settings(redis_url=redis_url)), Keys("herald", 4), StoreLimits())
    yield store
    await store.aclose()


async def _run(store: Store, run_id: str) -> None:
    headers = [("Upstash-Workflow-RunId", run_id), ("Upstash-Workflow-Init", "true")]
    request = parse_publish(URL, "", headers, b'"start"', SETTINGS, NOW)
    run = workflow_of(request)
    assert run is not None
    await accept_workflow(store, request, run, NOW, None)


def _wait(run_id: str, event_id: str, step_id: int = 1) -> Waiter:
    headers = {"Upstash-Workflow-RunId": [run_id], "Upstash-Workflow-Init": ["false"]}
    step = {"stepId": step_id, "stepName": "wait", "stepType": "Wait", "concurrent": 1}
    return read_wait(event_id, headers, {"url": URL, "step": step, "timeout": "1s"}, SETTINGS,
                     NOW)  # fmt: skip


def _last_step(elements: list[bytes]) -> dict[str, object]:
    step: dict[str, object] = orjson.loads(base64.b64decode(orjson.loads(elements[-1])["body"]))
    return step


async def test_a_notify_and_a_timeout_racing_end_a_waiter_once(store: Store) -> None:
    for round_ in range(20):
        run_id = f"wfr_race{round_}"
        await _run(store, run_id)
        waiter = _wait(run_id, "evt")
        await start_waiting(store, SETTINGS, waiter, NOW)
        stored = waiter.to_json()
        ends = await asyncio.gather(*(
            end_waiter(store, SETTINGS, waiter, stored, b'"data"' if i % 2 else None, NOW + 2000)
            for i in range(8)))  # fmt: skip
        assert len([m for m in ends if m is not None]) == 1, ends
        elements = await Workflows(store).steps(run_id)
        assert len(elements) == 2  # the initial payload and one result
        step = _last_step(elements)
        assert (step["waitTimeout"] is True) is ("out" not in step)
    assert await WorkflowEvents(store).waiters("evt") == []
    assert await WorkflowEvents(store).due(NOW + 10_000, 100) == ([], None)


async def test_a_kept_event_is_taken_by_one_wait(store: Store) -> None:
    await _run(store, "wfr_kept")
    assert await send_to_run(store, SETTINGS, "wfr_kept", "hook", b"early", NOW) is None
    await start_waiting(store, SETTINGS, _wait("wfr_kept", "hook"), NOW)
    elements = await Workflows(store).steps("wfr_kept")
    assert _last_step(elements)["out"] == base64.b64encode(b"early").decode()
    # the next wait for the same event finds nothing kept: it waits
    await start_waiting(store, SETTINGS, _wait("wfr_kept", "hook", step_id=2), NOW)
    assert len(await Workflows(store).steps("wfr_kept")) == 2
    [(waiter, _)] = await WorkflowEvents(store).waiters("hook")
    assert waiter.step_id == 2
    # a wait sent again for the step that has its result registers nothing
    await start_waiting(store, SETTINGS, _wait("wfr_kept", "other", step_id=1), NOW)
    assert await WorkflowEvents(store).waiters("other") == []
