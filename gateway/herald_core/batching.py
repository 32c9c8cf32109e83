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
R = TypeVar("R")

#: Writes a batch; returns, per item, its result or the exception it failed with.
Flush = Callable[[Sequence[T]], Awaitable[Sequence[R | Exception]]]


class GroupCommit(Generic[T, R]):
    def __init__(self, flush: Flush[T, R], *, max_batch: int = 256) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flushing = False

    async def submit(self, item: T) -> R:
        """Return `item`'s result once it is written; raise what its write raised."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if not self._flushing:
            self._flushing = True
            asyncio.create_task(self._drain())  # noqa: RUF006 - it resolves every future
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._write(batch)
        finally:
            self._flushing = False

    async def _write(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results: Sequence[R | Exception] = await self._flush([i for i, _ in batch])
        except Exception as exc:  # the whole round trip failed: every writer hears it
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
