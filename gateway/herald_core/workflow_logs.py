"""Workflow runs as logs (`/v2/workflows/logs`): each run's record and steps array, newest
run first.

Each shard indexes its runs by creation time (herald_core.keys `runs`, written by the
scripts that create runs); a page merges the shards (herald_core.listing), its cursor
`<created ms>:<run id>`, the key of the last run examined. A run whose record has expired
is dropped from the index when a listing meets it, and the retention pass drops every run
created longer ago than the longest retention (`trim`; a run still going after that is
still found by its id), so the index stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from herald_core.dead_letters import DeadLetters
from herald_core.digits import is_digits
from herald_core.listing import (
    Cursor,
    Key,
    cursor_text,
    keys_below,
    newest_first,
    read_cursor,
    score_tops,
)
from herald_core.records import DeadLetter, Page
from herald_core.store import Store
from herald_core.workflows import Workflows


@dataclass(frozen=True, slots=True)
class RunLog:
    """One run: its record, and its steps array as stored (herald_core.workflows)."""

    run_id: str
    url: str
    created_at: int
    #: '' while it runs; DONE, CANCELED or FAILED.
    state: str
    #: When it ended (ms), if it records it.
    ended_at: int | None
    #: The dead letter of a FAILED run's failed step.
    dlq_id: str | None
    #: The failed run a DLQ resume or restart made this one from.
    revived_from: str | None
    #: The steps array elements: the initial payload first, then each step, in order.
    elements: tuple[bytes, ...]
    #: The message of a FAILED run's failure callback.
    failure_callback: str | None = None


@dataclass(frozen=True, slots=True)
class NextStep:
    """Where the step a run is at stands (`WorkflowLogs.next_steps`): the retries its
    delivery has had, and for a FAILED run the dead letter of its last attempt."""

    retried: int
    dead: DeadLetter | None = None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _last_message(run: RunLog) -> str | None:
    """The message delivering a run's steps array as it stands: its last element's."""
    try:
        found = orjson.loads(run.elements[-1]).get("messageId") if run.elements else None
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return found if isinstance(found, str) and found else None


def _run(run_id: str, record: Mapping[bytes, bytes], elements: Sequence[bytes]) -> RunLog:
    def text(name: bytes) -> str | None:
        value = record.get(name)
        return _text(value) if value else None

    ended = text(b"t")
    return RunLog(
        run_id=run_id,
        url=text(b"u") or "",
        created_at=int(text(b"c") or 0),
        state=text(b"e") or "",
        ended_at=int(ended) if ended and is_digits(ended) and ended != "0" else None,
        dlq_id=text(b"d"),
        revived_from=text(b"o"),
        elements=tuple(bytes(e) for e in elements),
        failure_callback=text(b"fc"),
    )


class WorkflowLogs:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._workflows = Workflows(store)

    async def get(self, run_ids: Sequence[str]) -> list[RunLog]:
        """The runs of `run_ids` that still exist, in that order (each once)."""
        ids = list(dict.fromkeys(run_ids))

        def fill(pipe: Any) -> None:
            for run_id in ids:
                _, sk = self._workflows.keys_of(run_id)
                pipe.hgetall(sk.run(run_id))
                pipe.lrange(sk.run_steps(run_id), 0, -1)

        replies = await self.store.pipelined(fill) if ids else []
        return [_run(run_id, replies[2 * i], replies[2 * i + 1])
                for i, run_id in enumerate(ids) if replies[2 * i]]  # fmt: skip

    async def next_steps(self, runs: Sequence[RunLog]) -> dict[str, NextStep]:
        """For each run that is running or FAILED, by run id, where its current step
        stands: a running run's delivery in progress (its message's retries so far), a
        failed run's dead letter (retries, last response); two round trips for a page."""
        running = [(run, m) for run in runs if not run.state and (m := _last_message(run))]

        def fill(pipe: Any) -> None:
            for run, message_id in running:
                _, sk = self._workflows.keys_of(run.run_id)
                pipe.hget(sk.message(message_id), "r")

        retried = await self.store.pipelined(fill) if running else []
        out = {run.run_id: NextStep(int(r or 0)) for (run, _), r in zip(running, retried,
                                                                         strict=True)}  # fmt: skip
        failed = {run.dlq_id: run.run_id for run in runs if run.state == "FAILED" and run.dlq_id}
        if failed:
            for dead in await DeadLetters(self.store).named(list(failed), lambda _: True):
                out[failed[dead.dlq_id]] = NextStep(dead.retried, dead)
        return out

    def cursor(self, raw: str | None) -> Cursor | None:
        """The cursor a client passed back (None for none); InvalidField if not ours."""
        return read_cursor(raw, bool)

    async def page(
        self, cursor: Cursor | None, count: int, keep: Callable[[RunLog], bool]
    ) -> Page[RunLog]:
        """Up to `count` kept runs, newest first, below `cursor`."""
        start: Key | None = None if cursor is None else cursor.key
        bounds: dict[int, Key | None] = dict.fromkeys(range(self.store.keys.shards), start)
        merged = await newest_first(self._fetch, lambda run: run, bounds, count, keep)
        return Page(merged.rows, cursor_text(merged.last))

    async def _fetch(self, wanted: dict[int, Key | None], n: int) -> dict[int, list[Any]]:
        """Per shard, up to `n` runs below its bound: (key, run)."""
        shard_keys = self.store.keys.shard
        tops = score_tops(wanted)

        def fill(pipe: Any) -> None:
            for shard, top in tops.items():
                pipe.zrevrangebyscore(shard_keys(shard).runs, top, "-inf", 0, n + 1000, True)

        replies = await self.store.pipelined(fill)
        keys = {s: keys_below(m, wanted[s], n) for s, m in zip(tops, replies, strict=True)}
        runs = await self.get([k[1] for ks in keys.values() for k in ks])  # one read for all
        found = {run.run_id: run for run in runs}
        out = {s: [(k, found[k[1]]) for k in ks if k[1] in found] for s, ks in keys.items()}
        await self._forget({s: [k[1] for k in ks if k[1] not in found] for s, ks in keys.items()})
        return out

    async def _forget(self, gone: dict[int, list[str]]) -> None:
        """Drop expired runs from the index."""
        gone = {shard: ids for shard, ids in gone.items() if ids}
        shard_keys = self.store.keys.shard

        def fill(pipe: Any) -> None:
            for shard, ids in gone.items():
                pipe.zrem(shard_keys(shard).runs, *ids)

        if gone:
            await self.store.pipelined(fill)

    async def trim(self, now_ms: int) -> int:
        """Drop runs created before the longest retention (logs, DLQ) from the index;
        returns how many."""
        limits = self.store.limits
        floor = now_ms - int(max(limits.log_retention, limits.dlq_retention) * 1000)

        def fill(pipe: Any) -> None:
            for sk in self.store.keys.all_shards():
                pipe.zremrangebyscore(sk.runs, "-inf", f"({floor}")

        return sum(int(n) for n in await self.store.pipelined(fill))
