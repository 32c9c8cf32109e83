"""The signing keys a process signs with: configured at start, rotated through the API,
and re-read from Redis now and then so every replica follows a rotation."""

from __future__ import annotations

import asyncio
import logging

from herald_core.errors import StoreError
from herald_core.store import Store

logger = logging.getLogger(__name__)


class KeyRing:
    def __init__(self, store: Store, current: str, next_: str) -> None:
        self._store = store
        self._configured = (current, next_)
        self.current, self.next = current, next_
        self._installed = False

    async def refresh(self) -> None:
        """Install the configured keys once, then follow what Redis holds."""
        try:
            if not self._installed:
                self.current, self.next = await self._store.load_signing_keys(*self._configured)
                self._installed = True
            else:
                stored = await self._store.signing_keys()
                if stored is not None:
                    self.current, self.next = stored
                else:  # Redis lost its data: put the configured keys back
                    self._installed = False
        except StoreError as exc:
            logger.warning("could not refresh signing keys: %s", exc)

    async def follow(self, interval: float) -> None:
        """Refresh every `interval` seconds until cancelled (a worker signs with the keys)."""
        while True:
            await self.refresh()
            await asyncio.sleep(interval)

    async def rotate(self, fresh: str) -> tuple[str, str]:
        self.current, self.next = await self._store.rotate_signing_keys(fresh)
        return self.current, self.next
