"""The keeper loop (herald_gateway.scheduling.keeper), pure: a note of something due that
comes while a look is under way is not lost, though the look may have read too early to
see it; a note due after the planned look is left to that look."""

from __future__ import annotations

import asyncio

from herald_core.clock import Clock
from herald_gateway.scheduling.keeper import Keeper


class Recorder(Keeper):
    """Looks, and asks to sleep an hour; the first look hears of something due meanwhile."""

    def __init__(self, note_during_first_look: int) -> None:
        super().__init__(Clock(), poll=3600, backoff_max=1)
        self.looks = 0
        self.note = note_during_first_look
        self.looked_again = asyncio.Event()

    async def run_once(self) -> float:
        self.looks += 1
        if self.looks == 1:
            self.wake_at(self.clock_ms() + self.note)  # registered after this look's read
        else:
            self.looked_again.set()
        return 3600.0

    def clock_ms(self) -> int:
        return self._clock.now_ms()


async def _looked_again(keeper: Recorder, within: float) -> bool:
    task = asyncio.create_task(keeper.run())
    try:
        await asyncio.wait_for(keeper.looked_again.wait(), within)
        return True
    except TimeoutError:
        return False
    finally:
        task.cancel()


def test_a_note_during_a_look_makes_another_look() -> None:
    # without it, the keeper would sleep the hour its look asked for
    assert asyncio.run(_looked_again(Recorder(note_during_first_look=1000), within=5))


def test_a_note_due_after_the_planned_look_waits_for_it() -> None:
    keeper = Recorder(note_during_first_look=1000)
    keeper.looks = 1  # past the first look: now planned an hour ahead
    keeper._next_look_ms = keeper.clock_ms() + 3_600_000
    keeper.wake_at(keeper.clock_ms() + 7_200_000)
    assert not keeper._woken.is_set()
    keeper.wake_at(keeper.clock_ms() + 1000)
    assert keeper._woken.is_set()
