"""The one reconnect delay of Herald's background loops: 50 ms, doubling up to a cap,
back to the start after a success (claims, settlements, schedules, pub/sub listeners)."""

from __future__ import annotations

_FIRST = 0.05


class Backoff:
    def __init__(self, maximum: float, first: float = _FIRST) -> None:
        self._first, self._maximum = first, maximum
        self._next = first

    def failed(self) -> float:
        """The delay before the next try (seconds); the one after is twice as long."""
        delay = self._next
        self._next = min(delay * 2, self._maximum)
        return delay

    def succeeded(self) -> None:
        self._next = self._first
