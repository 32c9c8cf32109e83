"""SETTLE and a run's `context.call` answers on a real Redis: an answer into a running run
is a message of the run (field w); the first one dead-lettered fails the run and stores its
failure callback, a second one dead-lettered after is a plain dead letter whose failure
callback is not stored (the failure function runs once, the workflow DLQ lists the run
once)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from herald_core.keys import Keys
from herald_core.models import Message
from herald_core.redis_client import connect
from herald_core.settings import Settings
from herald_core.store import NewMessage, Settlement, Store, StoreLimits
from herald_core.workflows import StepResult, Workflows, element

pytestmark = pytest.mark.integration
NOW = 1_700_000_000_000
KEYS = Keys("herald", 1)  # one shard: every message is in shard 0
RUN = "wfr_gaps"
WORKFLOW = "http://127.0.0.1:9/wf"


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    store = Store(connect(Settings(redis_url=redis_url)), KEYS, StoreLimits(lease_ms=1000))
    yield store
    await store.aclose()


def _new(message_id: str, url: str, call_type: str | None = None) -> NewMessage:
    headers = {"Upstash-Workflow-Runid": RUN}
    if call_type is not None:
        headers["Upstash-Workflow-Calltype"] = call_type
    message = Message(id=message_id, url=url, method="POST", headers=headers, max_retries=0,
                      timeout=30, created_at=NOW, not_before=NOW)  # fmt: skip
    return NewMessage(message, b"{}", NOW)


async def test_the_first_call_answer_dead_lettered_fails_the_run_once(store: Store) -> None:
    workflows, redis, sk = Workflows(store), store.redis, KEYS.shard(0)
    first = workflows.message_id(RUN)
    initial = element(first, b"{}")
    await workflows.start(RUN, WORKFLOW, initial, _new(first, WORKFLOW))
    call = _new(workflows.message_id(RUN), "http://127.0.0.1:9/third-party", "toCallback")
    assert (await workflows.add_call(RUN, "2", call)).result is StepResult.STORED
    await store.claim({0: 10}, NOW)
    await store.settle({0: [Settlement.delivered(first, b"{}", ())]}, NOW, {})
    # the call's try and its retry each answer into the run
    answers = [_new(workflows.message_id(RUN), WORKFLOW, "fromCallback") for _ in range(2)]
    retry = Settlement.retry(call.message.id, 1, NOW, b"{}", (answers[0],))
    await store.settle({0: [retry]}, NOW, {})
    last = Settlement.failed(call.message.id, "dlq-call", b"{}", (answers[1],))
    await store.settle({0: [last]}, NOW, {})
    for answer in answers:  # messages of the run
        assert await redis.hget(sk.message(answer.message.id), "w") == RUN.encode()
    assert await redis.hget(sk.dlq_prefix + "dlq-call", "w") is None  # the call is not

    # both answers refused by the workflow: each dead-lettered with a failure callback
    failures = [_new(workflows.message_id(RUN), WORKFLOW, "failureCall") for _ in range(2)]
    for n, (answer, failure) in enumerate(zip(answers, failures, strict=True)):
        await store.claim({0: 10}, NOW)
        dead = Settlement.failed(answer.message.id, f"dlq-{n}", b"{}", (failure,))
        await store.settle({0: [dead]}, NOW, {})
    record = await redis.hgetall(sk.run(RUN))
    assert record[b"e"] == b"FAILED"
    assert record[b"d"] == b"dlq-0"
    assert record[b"fc"] == failures[0].message.id.encode()
    assert await redis.exists(sk.message(failures[0].message.id))
    assert not await redis.exists(sk.message(failures[1].message.id))  # runs once
    assert await redis.hget(sk.dlq_prefix + "dlq-0", "w") == RUN.encode()
    assert await redis.exists(sk.dlq_prefix + "dlq-1")
    assert await redis.hget(sk.dlq_prefix + "dlq-1", "w") is None  # listed once
