"""The index of workflow runs the logs list (herald_core.workflow_logs) against real Redis:
a run whose record expired is dropped when a listing meets it, and the retention pass
drops runs older than the longest retention."""

from __future__ import annotations

import pytest

from herald_core.keys import Keys
from herald_core.redis_client import connect
from herald_core.settings import Settings
from herald_core.store import Store, StoreLimits
from herald_core.workflow_logs import WorkflowLogs
from herald_core.workflows import Workflows

pytestmark = pytest.mark.integration


async def test_the_run_index_forgets_expired_and_old_runs(redis_url: str) -> None:
    keys = Keys("herald", 4)
    limits = StoreLimits(log_retention=10.0, dlq_retention=20.0)
    store = Store(connect(Settings(redis_url=redis_url)), keys, limits)
    try:
        workflows = Workflows(store)
        redis = store.redis
        now = 1_700_000_000_000
        for i, created in enumerate((now - 30_000, now - 10_000, now)):
            run_id = f"wfr_{i}"
            _, sk = workflows.keys_of(run_id)
            await redis.hset(sk.run(run_id), mapping={"u": "http://wf", "c": created, "e": ""})
            await redis.zadd(sk.runs, {run_id: created})
        logs = WorkflowLogs(store)
        page = await logs.page(None, 10, lambda run: True)
        assert [run.run_id for run in page.rows] == ["wfr_2", "wfr_1", "wfr_0"]

        _, sk = workflows.keys_of("wfr_1")
        await redis.delete(sk.run("wfr_1"))  # expired
        page = await logs.page(None, 10, lambda run: True)
        assert [run.run_id for run in page.rows] == ["wfr_2", "wfr_0"]
        assert await redis.zscore(sk.runs, "wfr_1") is None  # dropped from the index

        assert await logs.trim(now) == 1  # wfr_0: older than the DLQ retention (20 s)
        page = await logs.page(None, 10, lambda run: True)
        assert [run.run_id for run in page.rows] == ["wfr_2"]
        assert [run.run_id for run in await logs.get(["wfr_0"])] == ["wfr_0"]  # still by id
    finally:
        await store.aclose()
