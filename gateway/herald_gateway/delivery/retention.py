"""Retention, a loop each worker process runs: trim logs and dead letters past their age
(HERALD_LOG_RETENTION, HERALD_DLQ_RETENTION) and the index of workflow runs, once a minute
or more often for short ones."""

from __future__ import annotations

import asyncio
import logging

from herald_core.clock import Clock
from herald_core.errors import StoreError
from herald_core.store import Store
from herald_core.workflow_logs import WorkflowLogs

logger = logging.getLogger(__name__)
_INTERVAL = 60.0


async def enforce_retention(store: Store, clock: Clock) -> None:
    """Run until cancelled."""
    while True:
        try:
            await store.enforce_retention(clock.now_ms())
            await WorkflowLogs(store).trim(clock.now_ms())
        except StoreError as exc:
            logger.warning("retention pass failed: %s", exc)
        limits = store.limits
        await asyncio.sleep(min(_INTERVAL, limits.log_retention / 4, limits.dlq_retention / 4))
