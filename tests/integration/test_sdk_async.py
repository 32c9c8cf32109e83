"""The official SDK's asyncio client, method by method (reference §8.2), each call checked by
its effect: what the receiver got, what the API shows afterwards. (The sync client's
methods are covered by the feature tests; queues and flow control have async tests there.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from qstash import AsyncQStash, Receiver
from qstash.message import PublishResponse

from tests.support.gateway import CURRENT_KEY, NEXT_KEY, TOKEN, Gateway, wait_until
from tests.support.receiver import Answer, Receiver as Endpoint

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[AsyncQStash]:
    qstash = AsyncQStash(TOKEN, base_url=gateway.url, retry=False)
    yield qstash
    await qstash.http._client.aclose()


async def test_publish_get_and_verify(
    client: AsyncQStash, gateway: Gateway, receiver: Endpoint
) -> None:
    path = receiver.new_path(Answer(200, delay=0.0))
    response = await client.message.publish_json(
        url=receiver.url(path), body={"hello": "world"}, headers={"X-Kind": "greeting"},
        retries=2, label="async",
    )  # fmt: skip
    assert isinstance(response, PublishResponse)
    [received] = await asyncio.to_thread(receiver.wait_for, path, 1)
    assert received.body == b'{"hello": "world"}'
    assert received.header("X-Kind") == "greeting"
    signature = received.header("Upstash-Signature") or ""
    Receiver(CURRENT_KEY, NEXT_KEY).verify(
        signature=signature, body=received.body.decode(), url=receiver.url(path)
    )
    query = {"messageId": response.message_id, "state": "DELIVERED"}
    await asyncio.to_thread(
        wait_until, lambda: gateway.client.get("/v2/events", params=query).json()["events"]
    )
    logs = await client.log.list(filter={"message_id": response.message_id})
    assert {log.state.value for log in logs.logs} >= {"CREATED", "DELIVERED"}


async def test_get_and_cancel(client: AsyncQStash, receiver: Endpoint) -> None:
    url = receiver.url(receiver.new_path())
    ids = []
    for _ in range(4):
        response = await client.message.publish(url=url, body="later", delay=3600)
        assert isinstance(response, PublishResponse)
        ids.append(response.message_id)
    message = await client.message.get(ids[0])
    assert (message.message_id, message.url, message.body) == (ids[0], url, "later")
    await client.message.cancel(ids[0])
    assert await client.message.cancel_many(ids[1:3]) == 2
    assert await client.message.cancel_all() == 1
    with pytest.raises(Exception, match="not found"):
        await client.message.get(ids[3])


async def test_batch_and_url_groups(client: AsyncQStash, receiver: Endpoint) -> None:
    a, b = receiver.new_path(), receiver.new_path()
    await client.url_group.upsert_endpoints(
        url_group="async-group", endpoints=[{"url": receiver.url(a)}, {"url": receiver.url(b)}]
    )
    group = await client.url_group.get("async-group")
    assert sorted(e.url for e in group.endpoints) == sorted([receiver.url(a), receiver.url(b)])
    assert "async-group" in [g.name for g in await client.url_group.list()]
    answers = await client.message.batch_json(
        [{"url_group": "async-group", "body": {"n": 1}}, {"url": receiver.url(a), "body": 2}]
    )
    assert isinstance(answers[0], list) and len(answers[0]) == 2
    assert sorted(x.url for x in answers[0]) == sorted([receiver.url(a), receiver.url(b)])
    assert sorted(r.body for r in await asyncio.to_thread(receiver.wait_for, a, 2)) == [
        b"2", b'{"n": 1}']  # fmt: skip
    await client.url_group.remove_endpoints(url_group="async-group",
                                            endpoints=[{"url": receiver.url(b)}])  # fmt: skip
    assert [e.url for e in (await client.url_group.get("async-group")).endpoints] == [
        receiver.url(a)]  # fmt: skip
    await client.url_group.delete("async-group")
    assert "async-group" not in [g.name for g in await client.url_group.list()]


async def test_schedules(client: AsyncQStash) -> None:
    schedule_id = await client.schedule.create_json(
        destination="https://example.test/nightly", cron="0 3 * * *", body={"job": "report"},
        retries=1, schedule_id="async-nightly",
    )  # fmt: skip
    assert schedule_id == "async-nightly"
    schedule = await client.schedule.get(schedule_id)
    assert (schedule.cron, schedule.body, schedule.retries) == ("0 3 * * *",
                                                               '{"job": "report"}', 1)  # fmt: skip
    await client.schedule.pause(schedule_id)
    assert (await client.schedule.get(schedule_id)).paused is True
    await client.schedule.resume(schedule_id)
    assert [s.schedule_id for s in await client.schedule.list()] == [schedule_id]
    await client.schedule.delete(schedule_id)
    assert await client.schedule.list() == []


async def test_signing_keys_and_dlq(
    client: AsyncQStash, gateway: Gateway, receiver: Endpoint
) -> None:
    keys = await client.signing_key.get()
    rotated = await client.signing_key.rotate()
    assert rotated.current == keys.next and rotated.next != keys.next
    path = receiver.new_path(Answer(500))
    response = await client.message.publish(url=receiver.url(path), body="doomed", retries=0)
    assert isinstance(response, PublishResponse)

    async def dead_letters() -> list[str]:
        listed = await client.dlq.list(filter={"message_id": response.message_id})
        return [m.dlq_id for m in listed.messages]

    query = {"messageId": response.message_id}
    await asyncio.to_thread(
        wait_until, lambda: gateway.client.get("/v2/dlq", params=query).json()["messages"]
    )
    [dlq_id] = await dead_letters()
    letter = await client.dlq.get(dlq_id)
    assert (letter.message_id, letter.response_status, letter.body) == (
        response.message_id, 500, "doomed")  # fmt: skip
    await client.dlq.delete(dlq_id)
    assert await dead_letters() == []
    assert await client.dlq.delete_many([dlq_id]) == 0
