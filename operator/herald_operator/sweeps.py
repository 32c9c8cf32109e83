"""Cleanup that never holds up a deletion: routing data left behind by objects whose delete
handler could not reach Redis.

A delete handler tries once; when Redis is unavailable it does not hold the object's
finalizer (deleting a namespace must not hang on Redis): the removal is retried in the
background with capped backoff (`retry_in_background`), and the resync timers drop tables
of Topics that no longer exist (`sweep_tables`; entries of vanished Subscriptions are
removed by their Topic's own resync, herald_core.routing_sync.sync_topic).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from herald_core.errors import StoreError
from herald_core.routing_store import RoutingStore
from herald_operator.pacing import retry_delay, shared
from herald_operator.reconcile.tokens import namespace_scope

_LAST_RUN = "tables-swept"
logger = logging.getLogger(__name__)


async def sweep_tables(memo: kopf.Memo, topic_specs: kopf.Index[Any, Any]) -> None:
    """Drop the operator-managed tables of Topics (in the operator's namespaces) that no
    longer exist; at most once per resync interval. Reads only, unless one is found."""
    now, last_run = time.monotonic(), shared(memo).last_run
    if now - last_run.get(_LAST_RUN, -math.inf) < memo["herald"].operator_resync_interval:
        return
    last_run[_LAST_RUN] = now
    store: RoutingStore = memo["routing"]
    in_scope = namespace_scope(memo.get("namespaces") or ())
    try:
        for tid in await store.table_ids():
            namespace, _, name = tid.partition("/")
            # owner="crd": an API URL group of that name is left alone (and not written)
            if in_scope(tid) and (namespace, name) not in topic_specs:
                if await store.drop_table(tid, owner="crd") >= 0:
                    logger.info("dropped the table of deleted Topic %s", tid)
    except StoreError as exc:
        last_run[_LAST_RUN] = -math.inf
        logger.warning("routing tables not swept: %s", exc)


def retry_in_background(
    memo: kopf.Memo, what: str, call: Callable[[], Awaitable[None]], cap: float
) -> None:
    """Run `call` until it succeeds, with capped backoff, in a task of its own (cancelled
    when the operator stops; `sweep_tables` finishes the job after a restart)."""

    async def run() -> None:
        retry = 0
        while True:
            await asyncio.sleep(retry_delay(retry, cap))
            try:
                await call()
                logger.info("%s: done after %d retries", what, retry + 1)
                return
            except StoreError as exc:
                logger.debug("%s: still failing: %s", what, exc)
                retry += 1

    tasks = shared(memo).tasks
    task = asyncio.create_task(run(), name=f"herald-cleanup {what}")
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def cancel_background(memo: kopf.Memo) -> None:
    tasks = shared(memo).tasks
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
