"""Failed workflow runs: the facts a failure callback reports, and the workflow DLQ.

A run fails when one of its steps' messages is dead-lettered (herald_core/lua/settle.lua,
include/runs.lua): the run's record says FAILED and names the dead letter. The failure
callback the SDKs configure on every step (`Upstash-Failure-Callback` to the workflow's
URL, with `-Workflow-*`/`-Forward-*` headers of its own) is stored by that same script; its
body carries the workflow fields QStash adds (`workflow_fields`): the run's id, its
creation time and URL, and the initial payload as `sourceBody`.

The workflow DLQ is the DLQ (herald_core.dead_letters) seen through the runs: the dead
letters that name a run. `resume` sends the run's steps array again as it stands (the
failed step runs again, the steps done are not), `restart` sends the initial payload alone
(the run starts over, its steps forgotten); both turn the dead letter into the run's next
message and make the run running again, in one script (WORKFLOW_REVIVE).
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from herald_core.callback_messages import callback_body, callback_message
from herald_core.ids import dlq_id_of, shard_of
from herald_core.models import Message
from herald_core.records import DeadLetter
from herald_core.scripts import workflows as scripts
from herald_core.signing import body_hash
from herald_core.store import NewMessage, Store
from herald_core.workflow_config import RunConfig
from herald_core.workflows import FROM_CALLBACK, Workflows, steps_body


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What a run's record says of it (`facts`)."""

    run_id: str
    url: str
    created_at: int
    #: The initial payload (the first element of the steps array), decoded.
    initial: bytes
    #: The message of a FAILED run's failure callback (`callback_states`).
    failure_callback: str | None = None


def workflow_fields(facts: RunFacts) -> dict[str, Any]:
    """The fields a failure callback of one of the run's steps adds (QStash's workflow
    failure callback body; the SDKs' `handleFailure` reads them), `sourceBody` the initial
    payload."""
    return {
        "workflowRunId": facts.run_id,
        "workflowCreatedAt": facts.created_at,
        "workflowUrl": facts.url,
        "sourceBody": base64.b64encode(facts.initial).decode(),
    }


def _initial(element: bytes | None) -> bytes:
    if not element:
        return b""
    try:
        body = orjson.loads(element).get("body", "")
    except (orjson.JSONDecodeError, AttributeError):
        return b""
    return base64.b64decode(body) if isinstance(body, str) else b""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def facts(store: Store, run_ids: Sequence[str]) -> dict[str, RunFacts]:
    """The records of these runs that still exist, in one round trip."""
    workflows = Workflows(store)
    ids = list(dict.fromkeys(run_ids))

    def fill(pipe: Any) -> None:
        for run_id in ids:
            _, sk = workflows.keys_of(run_id)
            pipe.hmget(sk.run(run_id), ["u", "c", "fc"])
            pipe.lindex(sk.run_steps(run_id), 0)

    replies = await store.pipelined(fill) if ids else []
    out: dict[str, RunFacts] = {}
    for i, run_id in enumerate(ids):
        (url, created, callback) = replies[2 * i]
        if url is None:
            continue
        out[run_id] = RunFacts(run_id, _text(url), int(created or 0),
                               _initial(replies[2 * i + 1]),
                               _text(callback) if callback else None)  # fmt: skip
    return out


#: The states of a failure callback (QStash's `failureFunctionState`).
IN_PROGRESS, SUCCEEDED, FAILED_AGAIN, CANCELED = CALLBACK_STATES = (
    "CALLBACK_INPROGRESS", "CALLBACK_SUCCESS", "CALLBACK_FAIL", "CALLBACK_CANCELED")  # fmt: skip


async def callback_states(store: Store, message_ids: Sequence[str]) -> dict[str, str]:
    """Where failure callback messages are: still waiting or retrying (INPROGRESS), dead
    letters themselves (FAIL), cancelled by hand (CANCELED), else delivered (SUCCESS), in
    one round trip."""
    ids = [i for i in dict.fromkeys(message_ids) if shard_of(i, store.keys.shards) is not None]

    def fill(pipe: Any) -> None:
        for message_id in ids:
            sk = store.keys.shard(shard_of(message_id, store.keys.shards) or 0)
            pipe.exists(sk.message(message_id))
            pipe.zscore(sk.dlq, dlq_id_of(message_id))
            pipe.exists(sk.canceled_callback(message_id))

    replies = await store.pipelined(fill) if ids else []
    out = {}
    for n, message_id in enumerate(ids):
        waiting, dead, canceled = replies[3 * n : 3 * n + 3]
        out[message_id] = (IN_PROGRESS if waiting else FAILED_AGAIN if dead is not None
                           else CANCELED if canceled else SUCCEEDED)  # fmt: skip
    return out


async def cancel_failure_callback(store: Store, message_id: str, now_ms: int) -> bool:
    """Cancel a failure callback still waiting or retrying (`DELETE
    /v2/workflows/dlq/callback/{dlqId}`), and remember it was (CANCELED, for the log
    retention); False when it was not there any more (delivered or failed meanwhile)."""
    shard = shard_of(message_id, store.keys.shards)
    if shard is None or not await store.cancel({shard: [message_id]}, now_ms):
        return False
    key = store.keys.shard(shard).canceled_callback(message_id)
    keep_ms = int(store.limits.log_retention * 1000)
    await store.guard(lambda: store.redis.set(key, b"1", px=keep_ms))
    return True


class Revival(enum.Enum):
    """What the workflow DLQ does with a failed run."""

    #: Continue from the failed step: the steps done are kept.
    RESUME = "resume"
    #: Start over from the initial payload.
    RESTART = "restart"


@dataclass(frozen=True, slots=True)
class Revived:
    """The new run a resume or restart made."""

    run_id: str
    created_at: int


#: Builds the new message from the dead one and the new message's id (a DLQ retry's
#: overrides applied: herald_gateway.publish.staging `redelivery`).
Redelivery = Callable[[Message, str], Message]


def _renamed(headers: dict[str, str], run_id: str) -> dict[str, str]:
    return {name: run_id if name.lower() == "upstash-workflow-runid" else value
            for name, value in headers.items()}  # fmt: skip


def for_run(message: Message, run_id: str) -> Message:
    """A run's message (and its failure callback) as a message of run `run_id`."""
    callback = message.failure_callback
    if callback is not None:
        callback = replace(callback, headers=_renamed(callback.headers, run_id))
    return replace(message, headers=_renamed(message.headers, run_id), failure_callback=callback)


#: Headers of a `context.call`'s answer into its run that a step's delivery has not: the
#: SDKs read a delivery with `Upstash-Workflow-Callback` as the call's answer.
_ANSWER_ONLY = frozenset({"upstash-workflow-callback", "upstash-workflow-calltype",
                          "upstash-workflow-stepid", "upstash-workflow-stepname",
                          "upstash-workflow-steptype", "upstash-workflow-concurrent",
                          "upstash-workflow-contenttype"})  # fmt: skip
#: The Workflow SDKs' protocol version, which every step delivery carries (both SDKs send
#: `Upstash-Forward-Upstash-Workflow-Sdk-Version: 1` on a step, not on a call's answer);
#: a delivery without it is read as a new run.
_PROTOCOL = ("Upstash-Workflow-Sdk-Version", "1")


def is_call_answer(message: Message) -> bool:
    """A `context.call`'s answer into its run (`Upstash-Workflow-CallType: fromCallback`)."""
    return any(name.lower() == "upstash-workflow-calltype" and value == FROM_CALLBACK
               for name, value in message.headers.items())  # fmt: skip


def as_step(message: Message) -> Message:
    """A call's answer as a step's delivery of its run (pure): the run restarted from a
    failed answer starts over, it does not take the answer."""
    headers = {n: v for n, v in message.headers.items() if n.lower() not in _ANSWER_ONLY}
    if not any(n.lower() == _PROTOCOL[0].lower() for n in headers):
        headers[_PROTOCOL[0]] = _PROTOCOL[1]
    return replace(message, headers=headers)


async def revive(
    store: Store, entry: DeadLetter, how: Revival, build: Redelivery, now_ms: int
) -> Revived | None:
    """Resume or restart the run of a dead letter as a new run (QStash gives it a new id),
    in the failed run's shard: the dead letter's message (`build` applies the request's
    overrides) goes out again, to the new run, with the steps array (resume) or the
    initial payload alone (restart). None when the dead letter or its run is gone, or the
    run is not FAILED. A run failed by a `context.call`'s answer resumes with that answer
    delivered again (the call is not made again), and restarts with a step's delivery."""
    old = entry.run_id
    if old is None:
        return None
    workflows = Workflows(store)
    shard, sk = workflows.keys_of(old)
    answer = is_call_answer(entry.message)
    for _ in range(5):
        elements = await workflows.steps(old)
        if not elements:
            return None
        body = steps_body(elements if how is Revival.RESUME else elements[:1])
        if answer and how is Revival.RESUME:
            body = entry.body
        run_id = workflows.new_run_id(old)
        message = for_run(build(entry.message, workflows.message_id(run_id)), run_id)
        if answer and how is Revival.RESTART:
            message = as_step(message)
        due = max(message.not_before, now_ms)
        message = replace(message, body_hash=body_hash(body), not_before=due)
        new = NewMessage(message, body, due)
        call = scripts.workflow_revive(sk, store.limits.log_max_rows, old, run_id, entry.dlq_id,
                                       how.value, len(elements), now_ms,
                                       RunConfig.of(message).to_json(),
                                       store.message_args(new))  # fmt: skip
        reply = await store.run(call)
        result = _text(reply[0])
        if result == "ok":
            await store.announce(shard, new.due_ms)
            return Revived(run_id, now_ms)
        if result not in ("stale", "taken"):
            return None
    return None


def failure_callback_again(entry: DeadLetter, run: RunFacts, now_ms: int) -> NewMessage | None:
    """The failure callback of a failed run's step once more (`POST
    /v2/workflows/dlq/callback/{dlqId}`), its body as the first one reported the failed
    step's last attempt; None when the step had no failure callback."""
    message = entry.message
    callback = message.failure_callback
    if callback is None:
        return None
    attempt = entry.attempt
    body = callback_body(message, entry.body, entry.retried, status=attempt.status or 0,
                         headers=attempt.headers, body=attempt.body, error=attempt.error,
                         dlq_id=entry.dlq_id, workflow=workflow_fields(run))  # fmt: skip
    return callback_message(message, callback, orjson.dumps(body), now_ms)


async def note_failure_callback(store: Store, run_id: str, message_id: str) -> None:
    """The failure callback of a failed run is now message `message_id` (sent again)."""
    _, sk = Workflows(store).keys_of(run_id)
    key = sk.run(run_id)

    async def note() -> None:
        if await store.redis.hget(key, "e") == b"FAILED":
            await store.redis.hset(key, "fc", message_id)

    await store.guard(note)
