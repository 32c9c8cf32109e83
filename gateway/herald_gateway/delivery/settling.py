"""Group commit of attempt outcomes: results gather while one Redis round trip is in flight,
then all of them go in the next one. Nothing is dropped when Redis is down: a failed batch
is kept and sent again until it lands (or the process dies, and leases expire).

Once a batch lands, `on_landed` hears where and when it made work due (herald_core.store
`landed`): the earliest task: a retry,
a deferral, a callback, or (now) the next message in line behind a freed flow-control or
queue slot, so the worker claims them on time without polling. The settle script also
claims messages behind freed slots for this worker right away (one per freed slot) and
`on_handoff` starts them; the worker claims whatever the hand-off could not take (rate
limits, a busy host)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from herald_core.claims import WorkHint
from herald_core.clock import SYSTEM_CLOCK, Clock
from herald_core.errors import StoreError
from herald_core.models import Task
from herald_core.reconnect import Backoff
from herald_core.store import Pending, Settlement, Store, landed

logger = logging.getLogger(__name__)


class Settler:
    def __init__(
        self,
        store: Store,
        *,
        backoff_max: float,
        on_landed: Callable[[list[WorkHint]], None] | None = None,
        on_handoff: Callable[[list[Task]], None] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._store, self._clock = store, clock
        self._on_landed = on_landed
        self._on_handoff = on_handoff
        self._pending: list[Pending] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._backoff_max = backoff_max

    def add(self, task: Task, settlement: Settlement, *, frees_slot: bool = False) -> None:
        self._pending.append(self._store.pending(task, settlement, frees_slot=frees_slot))
        self._wake.set()

    def __len__(self) -> int:
        return len(self._pending)

    async def run(self) -> None:
        """Flush whenever outcomes are waiting; cancel to stop (`drain` first)."""
        backoff = Backoff(self._backoff_max)
        while True:
            await self._wake.wait()
            self._wake.clear()
            if await self._flush():
                backoff.succeeded()
            else:
                await asyncio.sleep(backoff.failed())
                self._wake.set()

    async def _flush(self) -> bool:
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return True
            hand_off = self._on_handoff is not None
            try:
                tasks = await self._store.settle_pending(batch, self._clock.now_ms(),
                                                         hand_off=hand_off)  # fmt: skip
            except StoreError as exc:
                logger.warning("recording %d outcomes failed, will retry: %s", len(batch), exc)
                self._pending[:0] = batch  # back in front of newer ones
                return False
            if tasks and self._on_handoff is not None:
                self._on_handoff(tasks)
            if self._on_landed is not None:
                self._on_landed(landed(batch, self._clock.now_ms()))
            return True

    async def drain(self, timeout: float) -> bool:
        """Flush until everything added so far has landed in Redis, or `timeout` passed."""
        try:
            async with asyncio.timeout(timeout):
                while self._pending or self._lock.locked():
                    if not await self._flush():
                        await asyncio.sleep(0.05)
        except TimeoutError:
            return False
        return True
