"""`cancel_and_wait` stops a background loop even when a library swallowed the cancel."""

from __future__ import annotations

import asyncio

from herald_core.tasks import cancel_and_wait


async def test_a_loop_whose_first_cancel_is_swallowed_still_stops() -> None:
    swallowed = 0

    async def loop() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.01)  # a library call that loses the first cancel
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task), timeout=5)
    assert task.cancelled() and swallowed == 1


async def test_a_task_that_ended_with_an_error_is_waited_for_quietly() -> None:
    async def fails() -> None:
        raise ValueError("already logged")

    task = asyncio.create_task(fails())
    await asyncio.wait([task])
    await cancel_and_wait(task)  # no error raised, none left unretrieved
    assert isinstance(task.exception(), ValueError)
