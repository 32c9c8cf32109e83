"""`Keeper`: the loop of a task that does what is due, then sleeps until it is due again
(the scheduler's ticks, the workflow wait timeouts).

Each look (`run_once`) answers how long to sleep; a wake-up (`wake_now`, or `wake_at` for
something due before the planned look) cuts the sleep short. A Redis outage backs off; any
other error is logged and the look is tried again after `poll`, since what was due stays
due in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from herald_core.clock import Clock
from herald_core.errors import StoreError
from herald_core.reconnect import Backoff

logger = logging.getLogger(__name__)


class Keeper:
    #: What the keeper does, for its log lines ("firing schedules").
    what = "looking for due work"

    def __init__(self, clock: Clock, poll: float, backoff_max: float) -> None:
        self._clock, self._poll, self._backoff_max = clock, poll, backoff_max
        self._woken = asyncio.Event()
        #: When the next look is planned (ms); during a look, never: whatever becomes due
        #: meanwhile may have been missed by it, so a note then means look again at once.
        self._next_look_ms = sys.maxsize

    def wake_now(self) -> None:
        """Look at once."""
        self._woken.set()

    def wake_at(self, due_ms: int) -> None:
        """Something is due at `due_ms`: look then, if that is before the planned look."""
        if due_ms < self._next_look_ms:
            self._woken.set()

    async def run_once(self) -> float:
        """Do what is due; how long to sleep before looking again (s)."""
        raise NotImplementedError

    async def run(self) -> None:
        backoff = Backoff(self._backoff_max)
        while True:
            self._next_look_ms = sys.maxsize
            try:
                wait = await self.run_once()
                backoff.succeeded()
            except StoreError as exc:
                wait = backoff.failed()
                logger.warning("%s: %s; retrying in %.2fs", self.what, exc, wait)
            except Exception:  # a bug must not stop the loop: what was due stays due
                logger.exception("%s failed; trying again", self.what)
                wait = self._poll
            self._next_look_ms = self._clock.now_ms() + int(wait * 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), wait)
            self._woken.clear()
