"""Wake-up notes for this process's worker and scheduler (herald_core.wake).

One pub/sub subscription per process. A note about shards becomes the worker's hint
(`Worker.notify`): a worker in another process than the API that stored the message hears
of it in one Redis round trip instead of at its next poll. A schedule change wakes the
scheduler. Each time the subscription is (re)made the worker polls every shard, as notes
sent while it was away are lost. A workflow wait's deadline wakes the timeout keeper.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis import exceptions as redis_errors

from herald_core import wake
from herald_core.claims import WorkHint
from herald_core.errors import StoreError
from herald_core.reconnect import Backoff
from herald_core.store import Store

logger = logging.getLogger(__name__)


class WakeListener:
    def __init__(
        self,
        store: Store,
        *,
        on_work: Callable[[WorkHint], None],
        on_schedules: Callable[[], None],
        on_waits: Callable[[int], None],
        on_connect: Callable[[], None],
        backoff_max: float,
    ) -> None:
        self._store = store
        self._on_work, self._on_schedules, self._on_connect = on_work, on_schedules, on_connect
        self._on_waits = on_waits
        self._backoff = Backoff(backoff_max)
        self.connected = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                await self._listen()
            except (StoreError, redis_errors.RedisError, OSError) as exc:
                self.connected.clear()
                delay = self._backoff.failed()
                logger.warning("wake-up channel: %s; retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)

    async def _listen(self) -> None:
        pubsub = self._store.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._store.keys.wake)
            self._backoff.succeeded()
            self.connected.set()
            self._on_connect()  # notes sent while away are lost: look everywhere
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None or message.get("type") != "message":
                    continue
                deadline = wake.waits_deadline(message["data"])
                if deadline is not None:
                    self._on_waits(deadline)
                    continue
                hints = self._store.wake_hints(message["data"])
                if hints is None:
                    self._on_schedules()
                    continue
                for hint in hints:
                    self._on_work(hint)
        finally:
            await pubsub.aclose()
