"""Where a worker claims from, pure: the shard-aware half of the claim loop.

Which shards to claim from is guided by hints (`WorkHint`): every store of new work
announces its shards and due times (directly from publishes in this process through
`Store.on_new_work`, as wake-up notes over pub/sub from any other, herald_core.wake), each
claim reports the next due time left in a shard (a waiting task or a lease running out),
and every `poll_interval` all shards are looked at, the safety net for notes lost while the
subscription was down. The worker asks the planner what to claim given its free slots
(`plan`, handed to `Store.claim` as is), reports the claim's result (`claimed`), and sleeps
for `idle_timeout` when there is nothing to claim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from herald_core.settings import Settings

if TYPE_CHECKING:
    from herald_core.store import ClaimResult

#: Per shard: how many due tasks to claim from it (`Store.claim`).
ClaimPlan = dict[int, int]


@dataclass(frozen=True, slots=True)
class WorkHint:
    """New work was stored: a task in `shard`, due at `due_ms`. Opaque above the store."""

    shard: int
    due_ms: int


class ClaimPlanner:
    def __init__(self, shards: int, claim_batch: int, poll_interval: float) -> None:
        self._shards, self._claim_batch, self._poll_interval = shards, claim_batch, poll_interval
        self._hints = [0.0] * shards  # earliest known due time per shard (ms)
        self._last_poll = -math.inf
        self._rotation = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> ClaimPlanner:
        return cls(settings.shards, settings.claim_batch, settings.poll_interval)

    def heard(self, hint: WorkHint) -> bool:
        """Note new work; True when it is due sooner than anything known (wake up)."""
        if hint.due_ms < self._hints[hint.shard]:
            self._hints[hint.shard] = hint.due_ms
            return True
        return False

    def poll_now(self) -> None:
        """Look at every shard at the next plan (wake-up notes may have been missed)."""
        self._last_poll = -math.inf

    def plan(self, free: int, now: float) -> ClaimPlan:
        """What to claim now with `free` slots (`now` in ms); empty: nothing (sleep for
        `idle_timeout`). The shards planned count as looked at."""
        limits = self._limits(free, now) if free > 0 else {}
        if len(limits) == self._shards:
            self._last_poll = now
        for shard in limits:
            self._hints[shard] = math.inf
        return limits

    def claimed(self, result: ClaimResult) -> None:
        """A claim's report of the earliest due time left in each shard it looked at."""
        for shard, due in result.next_due.items():
            self._hints[shard] = min(self._hints[shard], math.inf if due is None else due)

    def _limits(self, free: int, now: float) -> ClaimPlan:
        if now - self._last_poll >= self._poll_interval * 1000:
            shards = list(range(self._shards))
        else:
            shards = [s for s, due in enumerate(self._hints) if due <= now]
        if not shards:
            return {}
        if free < len(shards):  # never claim more than `free`: a few shards, in turn
            start = self._rotation % len(shards)
            self._rotation += 1
            shards = (shards[start:] + shards[:start])[:free]
        share = max(1, min(self._claim_batch, math.ceil(free / len(shards))))
        return dict.fromkeys(shards, share)

    def idle_timeout(self, now: float, free: int) -> float:
        """Seconds to sleep (unless woken) when `plan` had nothing to claim."""
        if free <= 0:
            return self._poll_interval
        next_poll = self._last_poll + self._poll_interval * 1000
        return max(0.0, (min(min(self._hints), next_poll) - now) / 1000)
