"""Global parallelism, a loop beside each worker: report the slots it has in use and, under
a global cap (HERALD_GLOBAL_PARALLELISM), renew its grant (herald_core.flow_control).

Without a cap this only reports, when the number in use changed or, to stay among the live
workers, every `_REPORT_EVERY` seconds; under a cap, grants follow demand closely.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from herald_core.clock import Clock
from herald_core.errors import StoreError
from herald_core.flow_control import request_slots
from herald_core.settings import Settings
from herald_core.store import Store

logger = logging.getLogger(__name__)
#: Without a global cap, how often an idle worker still reports its slots in use (s).
_REPORT_EVERY = 10.0


class Grants:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Clock,
        name: str,
        usage: Callable[[], tuple[int, int]],
        on_grant: Callable[[int], None],
    ) -> None:
        """`usage()`: the worker's slots in use and the size of its last claim; `on_grant`
        is told each grant under a cap."""
        self._store, self._settings, self._clock, self._name = store, settings, clock, name
        self._usage, self._on_grant = usage, on_grant

    async def run(self) -> None:
        cap = self._settings.global_parallelism
        interval = min(self._settings.poll_interval, 1.0) if cap else 1.0
        reported, last = -1, -math.inf
        while True:
            in_use, last_claimed = self._usage()
            now = self._clock()
            if cap or in_use != reported or now - last >= _REPORT_EVERY:
                # an idle worker asks for little, a busy one for twice what it last claimed
                wanted = min(self._settings.concurrency, in_use + max(1, 2 * last_claimed))
                ttl = max(3 * interval, 2.0) if cap else 3 * _REPORT_EVERY
                try:
                    grant = await request_slots(self._store, self._name, wanted, in_use, cap,
                                                int(now * 1000), int(ttl * 1000))  # fmt: skip
                    reported, last = in_use, now
                    if cap:
                        self._on_grant(grant.granted)
                except StoreError as exc:
                    logger.warning("parallelism grant failed: %s", exc)
            await asyncio.sleep(interval)
