"""Group commit: concurrent writers share Redis round trips.

The first `submit` flushes at once (no added latency when idle); whatever arrives while that
round trip is in flight goes together in the next one. Under load, one pipeline carries
many publishes, which is how the peers in docs/benchmarks.md reach their throughput.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

#: Writes a batch; returns, per item, None for success or the exception it failed with.
Flush = Callable[[Sequence[T]], Awaitable[Sequence[BaseException | None]]]


class GroupCommit(Generic[T]):
    def __init__(self, flush: Flush[T], *, max_batch: int = 256) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._flushing = False

    async def submit(self, item: T) -> None:
        """Return once `item` is written; raise what its write raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if not self._flushing:
            self._flushing = True
            asyncio.create_task(self._drain())  # noqa: RUF006 - it resolves every future
        await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._write(batch)
        finally:
            self._flushing = False

    async def _write(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        try:
            results: Sequence[BaseException | None] = await self._flush([i for i, _ in batch])
        except Exception as exc:  # the whole round trip failed: every writer hears it
            results = [exc] * len(batch)
        for (_, future), error in zip(batch, results, strict=True):
            if future.done():
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
