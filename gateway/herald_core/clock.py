"""The one wall clock: every loop and route that needs the time takes a `Clock` (the system
clock by default), so that tests can pass a fake one instead of patching `time.time`."""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    """Wall time: `clock()` in seconds, `clock.now_ms()` in whole ms (as every stored time is).

    `Clock(source)` reads `source()` (seconds since the epoch) instead of `time.time()`.
    """

    __slots__ = ("_source",)

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source

    def __call__(self) -> float:
        return self._source()

    def now_ms(self) -> int:
        return int(self._source() * 1000)


SYSTEM_CLOCK = Clock()
