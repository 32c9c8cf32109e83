"""The heartbeat of a worker's leases: every task it holds (in flight, or waiting in a host's
line) keeps its claim while the worker lives, however long the attempt's timeout.

A claim is leased for `lease_duration` seconds (herald_core/lua/claim.lua). Every third of
that, `Leases.run` renews all the worker's leases at once, in one round trip
(herald_core.store `renew_leases`), not a timer per message. A lease is renewed only while it
still ends where this worker last set it, so a renewal never takes back a task whose lease
ran out (a stalled process, Redis unreachable too long) and that another worker may already
deliver; such a task is dropped from the heartbeat and counted. A crashed worker renews
nothing, so its tasks come back within `lease_duration` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from herald_core.clock import Clock
from herald_core.errors import StoreError
from herald_core.models import Task
from herald_core.store import Store

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Lease:
    task: Task
    #: Unix ms the lease ends at, as this worker last set it.
    until: int


class Leases:
    def __init__(
        self,
        store: Store,
        lease_duration: float,
        clock: Clock,
        on_lost: Callable[[int], None] | None = None,
    ) -> None:
        self._store, self._clock, self._on_lost = store, clock, on_lost
        self._lease_ms = int(lease_duration * 1000)
        self.interval = lease_duration / 3
        self._held: dict[str, _Lease] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, task: Task) -> None:
        """Renew `task`'s lease from now on (it was just claimed)."""
        self._held[task.message.id] = _Lease(task, task.lease_until)

    def release(self, task: Task) -> None:
        """Stop renewing: the attempt ended, or the task went back to Redis."""
        lease = self._held.get(task.message.id)
        if lease is not None and lease.task is task:  # not a later claim of the same message
            del self._held[task.message.id]

    async def renew(self) -> int:
        """Renew every lease held now; returns how many were lost."""
        if not self._held:
            return 0
        snapshot = list(self._held.values())
        until = self._clock.now_ms() + self._lease_ms
        renewed = await self._store.renew_leases([(x.task, x.until) for x in snapshot], until)
        lost = 0
        for lease, ok in zip(snapshot, renewed, strict=True):
            if ok is None:  # its node unreachable this time: try again on the next beat
                continue
            if ok:
                lease.until = until
            elif self._held.get(lease.task.message.id) is lease:
                lost += 1
                del self._held[lease.task.message.id]
                logger.warning("lease of message %s ran out mid-attempt; another worker may "
                               "deliver it too", lease.task.message.id)  # fmt: skip
        if lost and self._on_lost is not None:
            self._on_lost(lost)
        return lost

    async def run(self) -> None:
        """Renew every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.renew()
            except StoreError as exc:
                logger.warning("renewing %d leases failed: %s", len(self._held), exc)
