"""Workflow wait timeouts: every worker process ends the waiters whose deadline passed
(herald_core.workflow_events), resuming each run with its step's timeout result.

Every process looks at every shard's deadlines when the earliest it knows of comes: a wait
registered anywhere announces its deadline on the wake-up channel (herald_core.wake), and
the look itself reads the earliest deadline left. `workflow_wait_poll` is only the safety
net for notes lost while a process was disconnected (it looks at once when the
subscription is back), so an idle gateway sends Redis nothing for waits between polls. Two
gateways may both see a waiter due: ending it is one script that takes it only if it is
still there, so exactly one resumes the run — and a notify racing the timeout is refused
the same way.
"""

from __future__ import annotations

import logging

from herald_core.clock import SYSTEM_CLOCK, Clock
from herald_core.errors import HeraldError, InvalidField, StoreError
from herald_core.settings import Settings
from herald_core.store import Store
from herald_core.workflow_events import WorkflowEvents
from herald_gateway.publish.workflow_events import end_waiter
from herald_gateway.scheduling.keeper import Keeper

logger = logging.getLogger(__name__)
#: Due waiters taken per shard and look.
_BATCH = 100


class WaitTimeouts(Keeper):
    what = "ending timed-out workflow waits"

    def __init__(self, store: Store, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(clock, settings.workflow_wait_poll, settings.redis_backoff_max)
        self._store, self._settings = store, settings
        self._events = WorkflowEvents(store)

    async def run_once(self) -> float:
        """End what is due; how long to wait before looking again (s)."""
        now = self._clock.now_ms()
        due, earliest = await self._events.due(now, _BATCH)
        for run_id, event_id in due:
            await self._time_out(run_id, event_id, now)
        poll = self._settings.workflow_wait_poll
        if len(due) >= _BATCH:
            return 0.0
        if earliest is None:
            return poll
        return max(0.0, min(poll, (earliest - now) / 1000))

    async def _time_out(self, run_id: str, event_id: str, now: int) -> None:
        found = await self._events.waiter(run_id, event_id)
        if found is None or found[0].deadline_ms > now:
            return  # ended meanwhile, or replaced by a later wait
        waiter, stored = found
        try:
            await end_waiter(self._store, self._settings, waiter, stored, None, now)
        except StoreError:
            raise
        except InvalidField as exc:  # settings changed under it: it can never end
            logger.warning("workflow run %s: wait for %s dropped: %s", run_id, event_id, exc)
            await self._events.drop(waiter)
            return
        except HeraldError as exc:  # the run ended or is gone (the waiter was dropped), or
            # its steps kept changing (tried again at the next look)
            logger.info("workflow run %s: wait for %s not resumed: %s", run_id, event_id, exc)
            return
