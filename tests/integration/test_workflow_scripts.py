"""The workflow scripts on a real Redis (herald_core.workflows): a run's `context.call` is
stored with the run, its callbacks into the run are named in the run's record when the
call's attempt settles (so cancelling the run cancels them), and none is stored once the
run has ended; the running-runs index that bulk cancel reads; like publishes, the writes wait for
`redis_wait_replicas` replicas. SETTLE and a run's `context.call` answers: an answer into a
running run is a message of the run (field w); the first one dead-lettered fails the run and
stores its failure callback, a second one dead-lettered after is a plain dead letter whose
failure callback is not stored (the failure function runs once, the workflow DLQ lists the
run once)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis

from herald_core.errors import StoreError
from herald_core.keys import Keys
from herald_core.models import Message
from herald_core.redis_client import connect
from herald_core.settings import Settings
from herald_core.store import NewMessage, Settlement, Store, StoreLimits
from herald_core.workflows import StepResult, Workflows, element, steps_body
from herald_gateway.dev.embedded import RedisServer
from tests.support.gateway import wait_until

pytestmark = pytest.mark.integration
NOW = 1_700_000_000_000
KEYS = Keys("herald", 1)  # one shard: every message is in shard 0
RUN = "wfr_scripts"
WORKFLOW = "http://127.0.0.1:9/wf"


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    store = Store(connect(Settings(redis_url=redis_url)), KEYS, StoreLimits(lease_ms=1000))
    yield store
    await store.aclose()


def _new(message_id: str, url: str, body: bytes = b"", **headers: str) -> NewMessage:
    message = Message(id=message_id, url=url, method="POST", headers=headers, max_retries=0,
                      timeout=30, created_at=NOW, not_before=NOW)  # fmt: skip
    return NewMessage(message, body, NOW)


async def _started(workflows: Workflows) -> None:
    first = workflows.message_id(RUN)
    initial = element(first, b"{}")
    assert (
        await workflows.start(RUN, WORKFLOW, initial, _new(first, WORKFLOW, steps_body([initial])))
        is None
    )


async def _call_answered(store: Store, workflows: Workflows) -> NewMessage:
    """A context.call stored with the run, claimed and answered: its callback settled."""
    call = _new(workflows.message_id(RUN), "http://127.0.0.1:9/third-party")
    outcome = await workflows.add_call(RUN, "2", call)
    if outcome.result is not StepResult.STORED:
        return call
    [task] = (await store.claim({0: 10}, NOW)).tasks
    callback = _new(workflows.message_id(RUN), WORKFLOW, b"{}", **{"Upstash-Workflow-Runid": RUN})
    await store.settle({0: [Settlement.delivered(task.message.id, b"{}", (callback,))]}, NOW, {})
    return callback


async def test_a_call_and_its_callback_belong_to_the_run(store: Store) -> None:
    workflows = Workflows(store)
    await _started(workflows)
    [initial] = (await store.claim({0: 10}, NOW)).tasks
    await store.settle({0: [Settlement.delivered(initial.message.id, b"{}", ())]}, NOW, {})
    assert [r.run_id for r in await workflows.running()] == [RUN]
    callback = await _call_answered(store, workflows)
    sk, redis = KEYS.shard(0), store.redis
    record = await redis.hgetall(sk.run(RUN))
    assert record[f"s:cb:{callback.message.id}".encode()] == callback.message.id.encode()
    assert await redis.exists(sk.message(callback.message.id))
    again = await workflows.add_call(RUN, "2", _new(workflows.message_id(RUN), "http://x/"))
    assert again.result is StepResult.DUPLICATE  # one call per step
    assert await workflows.end(RUN, cancel=True, now_ms=NOW)
    assert not await redis.exists(sk.message(callback.message.id))  # cancelled with the run
    assert await workflows.running() == []
    late = await workflows.add_call(RUN, "3", _new(workflows.message_id(RUN), "http://x/"))
    assert (late.result, late.detail) == (StepResult.ENDED, "CANCELED")


async def test_no_callback_into_an_ended_run_is_stored(store: Store) -> None:
    workflows = Workflows(store)
    await _started(workflows)
    call = _new(workflows.message_id(RUN), "http://127.0.0.1:9/third-party")
    assert (await workflows.add_call(RUN, "2", call)).result is StepResult.STORED
    tasks = (await store.claim({0: 10}, NOW)).tasks
    [task] = [t for t in tasks if t.message.id == call.message.id]
    # the run ends while the call is in flight (not cancelled: finished, its messages stay)
    assert await workflows.end(RUN, cancel=False, now_ms=NOW)
    callback = _new(workflows.message_id(RUN), WORKFLOW, b"{}", **{"Upstash-Workflow-Runid": RUN})
    other = _new(workflows.message_id(RUN), WORKFLOW, b"{}")  # not into a run: stored
    settled = Settlement.delivered(task.message.id, b"{}", (callback, other))
    await store.settle({0: [settled]}, NOW, {})
    redis, sk = store.redis, KEYS.shard(0)
    assert not await redis.exists(sk.message(callback.message.id))
    assert await redis.exists(sk.message(other.message.id))
    assert dataclasses.asdict(callback.message)["headers"]  # the header was there


async def test_workflow_writes_wait_for_replicas(tmp_path: Path) -> None:
    master, replica = (RedisServer(tmp_path / name, appendfsync=None) for name in ("m", "r"))
    master.start()
    replica.start()
    try:
        follower = redis.Redis(port=replica.port)
        follower.replicaof("127.0.0.1", master.port)
        wait_until(lambda: follower.info("replication")["master_link_status"] == "up",
                   what="the replica in sync")  # fmt: skip
        for wanted, acknowledged in ((1, True), (2, False)):
            store = Store(connect(Settings(redis_url=master.url)), KEYS,
                          StoreLimits(wait_replicas=wanted, wait_timeout_ms=200))  # fmt: skip
            try:
                workflows = Workflows(store)
                run_id = f"wfr_replicated_{wanted}"
                first = workflows.message_id(run_id)
                start = workflows.start(run_id, WORKFLOW, element(first, b"{}"),
                                        _new(first, WORKFLOW, b"[]"))  # fmt: skip
                if acknowledged:
                    assert await start is None
                    # acknowledged: the replica holds the run already (WAIT returned)
                    assert follower.hget(KEYS.shard(0).run(run_id), "u") == WORKFLOW.encode()
                else:
                    with pytest.raises(StoreError, match="1 of 2 replicas"):
                        await start
            finally:
                await store.aclose()
        follower.close()
    finally:
        replica.stop()
        master.stop()


#: The run of the `context.call` answer test.
CALL_RUN = "wfr_gaps"


def _of_run(message_id: str, url: str, call_type: str | None) -> NewMessage:
    """A message of CALL_RUN (a step's, or with `call_type` a call's or an answer's)."""
    headers = {"Upstash-Workflow-Runid": CALL_RUN}
    if call_type is not None:
        headers["Upstash-Workflow-Calltype"] = call_type
    return _new(message_id, url, b"{}", **headers)


async def test_the_first_call_answer_dead_lettered_fails_the_run_once(store: Store) -> None:
    workflows, redis, sk = Workflows(store), store.redis, KEYS.shard(0)
    first = workflows.message_id(CALL_RUN)
    initial = element(first, b"{}")
    await workflows.start(CALL_RUN, WORKFLOW, initial, _of_run(first, WORKFLOW, None))
    call = _of_run(workflows.message_id(CALL_RUN), "http://127.0.0.1:9/third-party", "toCallback")
    assert (await workflows.add_call(CALL_RUN, "2", call)).result is StepResult.STORED
    await store.claim({0: 10}, NOW)
    await store.settle({0: [Settlement.delivered(first, b"{}", ())]}, NOW, {})
    # the call's try and its retry each answer into the run
    answers = [_of_run(workflows.message_id(CALL_RUN), WORKFLOW, "fromCallback") for _ in range(2)]
    retry = Settlement.retry(call.message.id, 1, NOW, b"{}", (answers[0],))
    await store.settle({0: [retry]}, NOW, {})
    last = Settlement.failed(call.message.id, "dlq-call", b"{}", (answers[1],))
    await store.settle({0: [last]}, NOW, {})
    for answer in answers:  # messages of the run
        assert await redis.hget(sk.message(answer.message.id), "w") == CALL_RUN.encode()
    assert await redis.hget(sk.dlq_prefix + "dlq-call", "w") is None  # the call is not

    # both answers refused by the workflow: each dead-lettered with a failure callback
    failures = [_of_run(workflows.message_id(CALL_RUN), WORKFLOW, "failureCall") for _ in range(2)]
    for n, (answer, failure) in enumerate(zip(answers, failures, strict=True)):
        await store.claim({0: 10}, NOW)
        dead = Settlement.failed(answer.message.id, f"dlq-{n}", b"{}", (failure,))
        await store.settle({0: [dead]}, NOW, {})
    record = await redis.hgetall(sk.run(CALL_RUN))
    assert record[b"e"] == b"FAILED"
    assert record[b"d"] == b"dlq-0"
    assert record[b"fc"] == failures[0].message.id.encode()
    assert await redis.exists(sk.message(failures[0].message.id))
    assert not await redis.exists(sk.message(failures[1].message.id))  # runs once
    assert await redis.hget(sk.dlq_prefix + "dlq-0", "w") == CALL_RUN.encode()
    assert await redis.exists(sk.dlq_prefix + "dlq-1")
    assert await redis.hget(sk.dlq_prefix + "dlq-1", "w") is None  # listed once
