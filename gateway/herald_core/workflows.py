"""Workflow runs (Upstash Workflow): the record and steps array of each run.

The official Workflow SDKs drive a run through ordinary publishes that carry
`Upstash-Workflow-RunId` (herald_gateway.publish.workflows): `Upstash-Workflow-Init: true`
starts the run with the initial payload, each later publish appends one step. Every
message delivered to the workflow's URL carries the run's steps array as its body,
`[initial payload, step 1, ..., step n]`, each element `{"messageId", "body" (base64),
"callType": "step"}` — what the SDK parses to replay the steps it has run. The elements are
stored ready to send, in one list per run, so a message's body is the list as it stood when
its step was appended (a redelivered message replays the same steps).

A run's record, steps and messages live in one shard (`shard`), so starting a run,
appending a step with its message, and ending a run are each one script
(herald_core/lua/workflow_*.lua). A step already logged (a publish repeated by the SDK or
its HTTP client) is not stored again. Like publishes, these writes wait for
`redis_wait_replicas` replicas (`Store.run_replicated`) before the SDK is answered. An
ended run (finished, or cancelled with its pending messages) refuses new steps and expires
after the log retention. Every message of a run's steps names its run (message hash field
`w`), so the script that dead-letters one marks the run FAILED (herald_core/lua/settle.lua;
it expires with the DLQ retention, kept in the record as `x`, unless the DLQ resumes or
restarts it: herald_core.workflow_failures).
"""

from __future__ import annotations

import base64
import enum
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from herald_core.ids import new_message_id, shard_for_key
from herald_core.keys import ShardKeys
from herald_core.scripts import ScriptCall, workflows as scripts
from herald_core.store import NewMessage, Store

#: The end states of a run (a running run has none).
DONE = "DONE"
CANCELED = "CANCELED"
#: A step's message failed for good (it is in the DLQ: herald_core.workflow_failures).
FAILED = "FAILED"


class StepResult(enum.Enum):
    STORED = "ok"
    #: The step was logged already; `StepOutcome.detail` is its message's id.
    DUPLICATE = "dup"
    NO_RUN = "none"
    #: `detail` is the end state.
    ENDED = "ended"
    #: The steps array grew since the body was built: build it again.
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class StepOutcome:
    result: StepResult
    detail: str = ""


def element(message_id: str, body: bytes, created_ms: int | None = None) -> bytes:
    """One element of a steps array: a message's id and its body, base64; and when it was
    stored (unix ms: the workflow logs' step `createdAt`; the SDKs read only the others)."""
    encoded = base64.b64encode(body).decode()
    fields: dict[str, object] = {"messageId": message_id, "body": encoded, "callType": "step"}
    if created_ms is not None:
        fields["createdAt"] = created_ms
    return orjson.dumps(fields)


def steps_body(elements: Sequence[bytes]) -> bytes:
    """The body delivered to the workflow: the JSON array of `elements`."""
    return b"[" + b",".join(elements) + b"]"


@dataclass(frozen=True, slots=True)
class RunningRun:
    """A run that has not ended (`Workflows.running`)."""

    run_id: str
    url: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class RunHead:
    """What every step of a run needs of its record (`Workflows.head`, `snapshot`)."""

    created_ms: int
    #: The settings the run's trigger gave its steps (herald_core.workflow_config).
    config: bytes | None


def _head(fields: Sequence[Any]) -> RunHead | None:
    created, config = fields
    return None if created is None else RunHead(int(created), bytes(config) if config else None)


class Workflows:
    """The runs of one store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _shard(self, run_id: str) -> int:
        """The shard of a run: its record, its steps and every message of its steps."""
        return run_shard(run_id, self._store.keys.shards)

    def keys_of(self, run_id: str) -> tuple[int, ShardKeys]:
        """The shard of a run and its keys (for the modules beside this one)."""
        shard = self._shard(run_id)
        return shard, self._store.keys.shard(shard)

    def new_run_id(self, beside: str) -> str:
        """A fresh run id whose run lives in the shard of run `beside` (a run the DLQ
        resumes or restarts is a new run, made by one script with the failed one)."""
        shard = self._shard(beside)
        while True:
            run_id = "wfr_" + secrets.token_urlsafe(18)
            if self._shard(run_id) == shard:
                return run_id

    def message_id(self, run_id: str) -> str:
        """A fresh id for a message of the run (`start`, `add_step`: its steps array names
        it, so the id comes before the message)."""
        return new_message_id(self._shard(run_id), self._store.keys.shards)

    async def steps(self, run_id: str) -> list[bytes]:
        """The run's steps array elements, the initial payload's first ([] for no run)."""
        key = self._store.keys.shard(self._shard(run_id)).run_steps(run_id)
        redis = self._store.redis
        reply: list[Any] = await self._store.guard(lambda: redis.lrange(key, 0, -1))
        return [bytes(e) for e in reply]

    async def snapshot(self, run_id: str) -> tuple[list[bytes], RunHead | None]:
        """The run's steps array elements and its record's head (None for no run), read
        together."""
        sk = self._store.keys.shard(self._shard(run_id))

        def fill(pipe: Any) -> None:
            pipe.lrange(sk.run_steps(run_id), 0, -1)
            pipe.hmget(sk.run(run_id), ["c", "g"])

        elements, head = await self._store.pipelined(fill)
        return [bytes(e) for e in elements], _head(head)

    async def head(self, run_id: str) -> RunHead | None:
        """When the run started and the settings its steps take; None for no such run."""
        key = self._store.keys.shard(self._shard(run_id)).run(run_id)
        redis = self._store.redis
        return _head(await self._store.guard(lambda: redis.hmget(key, ["c", "g"])))

    async def live_steps(self, run_id: str) -> list[bytes] | None:
        """The steps array elements of a running run; None when there is no such run or it
        has ended (what `GET /v2/workflows/runs/{id}` answers 404 for)."""
        sk = self._store.keys.shard(self._shard(run_id))

        def fill(pipe: Any) -> None:
            pipe.hget(sk.run(run_id), "e")
            pipe.lrange(sk.run_steps(run_id), 0, -1)

        state, elements = await self._store.pipelined(fill)
        if state is None or state != b"":
            return None
        return [bytes(e) for e in elements]

    async def start(
        self, run_id: str, url: str, initial: bytes, new: NewMessage, config: bytes = b""
    ) -> str | None:
        """Start a run with its first message (whose body `initial` alone makes) and the
        settings its steps take (herald_core.workflow_config); None, or the id of the
        run's first message when it had started already."""
        sk = self._store.keys.shard(self._shard(run_id))
        failed_ms = int(self._store.limits.dlq_retention * 1000)
        call = scripts.workflow_start(sk, self._store.limits.log_max_rows, run_id, url,
                                      new.message.created_at, initial,
                                      self._store.message_args(new), failed_ms,
                                      config)  # fmt: skip
        reply = await self._store.run_replicated(call)
        earlier = _text(reply) or None
        if earlier is None:
            await self._store.announce(self._shard(run_id), new.due_ms)
        return earlier

    async def add_step(
        self, run_id: str, step_key: str | int, step: bytes, expected: int, new: NewMessage
    ) -> StepOutcome:
        """Append `step` (its element) and store `new`, whose body was built from
        `expected` elements. `step_key` names the step in its run, once: its stepId, or
        `0>n` for the plan step of parallel branch n (they all have stepId 0)."""
        sk = self._store.keys.shard(self._shard(run_id))
        call = scripts.workflow_step(sk, self._store.limits.log_max_rows, run_id, step_key, step,
                                     expected, self._store.message_args(new))  # fmt: skip
        return await self._store_with_run(run_id, call, new)

    async def add_call(self, run_id: str, step_id: str, new: NewMessage) -> StepOutcome:
        """Store `new`, the run's `context.call` of step `step_id`, with the run (whose
        shard `message_id` placed it in): once, and not into an ended run."""
        sk = self._store.keys.shard(self._shard(run_id))
        call = scripts.workflow_call(sk, self._store.limits.log_max_rows, run_id,
                                     f"call:{step_id}", self._store.message_args(new))  # fmt: skip
        return await self._store_with_run(run_id, call, new)

    async def _store_with_run(self, run_id: str, call: ScriptCall, new: NewMessage) -> StepOutcome:
        """Run `call`, a script storing `new` with its run; tell the workers when it did."""
        reply = await self._store.run_replicated(call)
        detail = _text(reply[1]) if len(reply) > 1 else ""
        outcome = StepOutcome(StepResult(_text(reply[0])), detail)
        if outcome.result is StepResult.STORED:
            await self._store.announce(self._shard(run_id), new.due_ms)
        return outcome

    async def running(self) -> list[RunningRun]:
        """Every running run, oldest first (from each shard's index of running runs)."""
        keys = [self._store.keys.shard(shard) for shard in range(self._store.keys.shards)]

        def ranges(pipe: Any) -> None:
            for sk in keys:
                pipe.zrange(sk.runs_running, 0, -1, withscores=True)

        found = [(sk, _text(run_id), int(created))
                 for sk, rows in zip(keys, await self._store.pipelined(ranges), strict=True)
                 for run_id, created in rows]  # fmt: skip

        def urls(pipe: Any) -> None:
            for sk, run_id, _ in found:
                pipe.hget(sk.run(run_id), "u")

        runs = [RunningRun(run_id, _text(url), created)
                for (_, run_id, created), url in zip(found, await self._store.pipelined(urls),
                                                     strict=True)
                if url is not None]  # fmt: skip
        return sorted(runs, key=lambda run: run.created_ms)

    async def end(self, run_id: str, *, cancel: bool, now_ms: int) -> bool:
        """End a run: finished, or cancelled with every message still pending. False when
        there is no such run (or it has expired)."""
        shard = self._shard(run_id)
        sk = self._store.keys.shard(shard)
        retention_ms = int(self._store.limits.log_retention * 1000)
        state = CANCELED if cancel else DONE
        reply = await self._store.run_replicated(
            scripts.workflow_end(sk, run_id, state, retention_ms, now_ms)
        )
        if not reply:
            return False
        if cancel and len(reply) > 1:
            await self._store.cancel({shard: [_text(i) for i in reply[1:]]}, now_ms)
        return True


#: `Upstash-Workflow-CallType` of a `context.call`'s answer delivered into its run.
FROM_CALLBACK = "fromCallback"


def run_failed_by(headers: Mapping[str, str]) -> str | None:
    """The run a stored message fails when it is dead-lettered (the settle script marks it
    FAILED: lua/include/runs.lua): a step's message (no `Upstash-Workflow-CallType`) or a
    `context.call`'s answer into the run (`fromCallback`); None for any other message (the
    call to its third party, a failure callback, an ordinary publish)."""
    run_id, call_type = None, None
    for name, value in headers.items():
        lname = name.lower()
        if lname == "upstash-workflow-runid":
            run_id = value
        elif lname == "upstash-workflow-calltype":
            call_type = value
    return run_id if call_type in (None, FROM_CALLBACK) else None


def run_shard(run_id: str, shards: int) -> int:
    """The shard of a run: its record, its steps, its waiters and every message of its
    steps."""
    return shard_for_key("workflow:" + run_id, shards)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
