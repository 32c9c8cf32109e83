"""Stopping background tasks for good.

A cancellation can be lost on its way through a library: with redis-py 8.2, a task
cancelled while a command is in flight sometimes gets the command's reply instead of
`CancelledError` (seen in the scheduler: the gateway then hung at shutdown, waiting for a
loop that carried on). `cancel_and_wait` cancels again until the task has ended, so a
background loop stops at its next `await` whatever swallowed the first cancel.
"""

from __future__ import annotations

import asyncio

#: How long each cancel is given before it is repeated (seconds).
_RETRY = 0.1


async def cancel_and_wait(task: asyncio.Task[object] | asyncio.Task[None]) -> None:
    """Cancel `task` and return once it has ended (its outcome is not raised)."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=_RETRY)
    if not task.cancelled():
        task.exception()  # retrieved: an error already logged by the task is not reported again
