"""Queues through the official SDK (sync and async): FIFO with the queue's parallelism,
slots held across retries, pause/resume, lag, deletion, batch items with a queue."""

from __future__ import annotations

import pytest
from qstash import AsyncQStash, QStash
from qstash.message import EnqueueResponse

from tests.integration.test_flow_control import max_in_flight
from tests.support.gateway import TOKEN, Gateway, wait_until
from tests.support.receiver import Answer, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def enqueue(sdk: QStash, queue: str, url: str, body: str) -> str:
    response = sdk.message.enqueue(queue=queue, url=url, body=body)
    assert isinstance(response, EnqueueResponse)
    return response.message_id


def test_queue_api_round_trip(sdk: QStash) -> None:
    sdk.queue.upsert("orders", parallelism=3)
    queue = sdk.queue.get("orders")
    assert (queue.name, queue.parallelism, queue.paused, queue.lag) == ("orders", 3, False, 0)
    assert queue.created_at <= queue.updated_at
    sdk.queue.pause("orders")
    assert sdk.queue.get("orders").paused is True
    sdk.queue.resume("orders")
    sdk.queue.upsert("orders", parallelism=1, paused=True)
    queue = sdk.queue.get("orders")
    assert (queue.parallelism, queue.paused) == (1, True)
    sdk.queue.upsert("billing")
    assert [q.name for q in sdk.queue.list()] == ["billing", "orders"]
    sdk.queue.delete("orders")
    assert [q.name for q in sdk.queue.list()] == ["billing"]
    sdk.queue.delete("orders")  # deleting what is gone is fine


def test_parallelism_one_is_strict_fifo_across_retries(
    sdk: QStash, receiver: Receiver, gateway: Gateway
) -> None:
    stall = 0.05
    # the first message fails twice: the others must wait for it, not overtake it
    answers = [Answer(500), Answer(500)] + [Answer(200, delay=stall)] * 6
    path = receiver.new_path(*answers)
    for i in range(6):
        sdk.message.enqueue(queue="fifo", url=receiver.url(path), body=str(i),
                            retries=3, retry_delay="50")  # fmt: skip
    requests = receiver.wait_for(path, 8)
    assert [r.body for r in requests] == [b"0", b"0", b"0", b"1", b"2", b"3", b"4", b"5"]
    assert max_in_flight(requests[2:], stall - 0.01) == 1
    wait_until(lambda: sdk.queue.get("fifo").lag == 0)


def test_parallelism_two_overlaps(sdk: QStash, receiver: Receiver) -> None:
    stall = 0.2
    path = receiver.new_path(*[Answer(200, delay=stall)] * 6)
    sdk.queue.upsert("pair", parallelism=2)
    for i in range(6):
        sdk.message.enqueue(queue="pair", url=receiver.url(path), body=str(i))
    requests = receiver.wait_for(path, 6)
    assert max_in_flight(requests, stall - 0.01) == 2


def test_paused_queue_accepts_and_reports_lag(
    sdk: QStash, receiver: Receiver, gateway: Gateway
) -> None:
    path = receiver.new_path()
    sdk.queue.upsert("held", paused=True)
    ids = [enqueue(sdk, "held", receiver.url(path), str(i)) for i in range(3)]
    assert sdk.queue.get("held").lag == 3
    assert sdk.message.get(ids[0]).queue == "held"
    probe = receiver.new_path()
    gateway.publish(receiver.url(probe), b"probe", **{"Upstash-Delay": "1s"})
    receiver.wait_for(probe, 1)
    assert receiver.received(path) == []  # nothing started while paused
    sdk.queue.resume("held")
    assert [r.body for r in receiver.wait_for(path, 3)] == [b"0", b"1", b"2"]
    wait_until(lambda: sdk.queue.get("held").lag == 0)


def test_deleting_a_queue_cancels_what_waits(sdk: QStash, receiver: Receiver) -> None:
    path = receiver.new_path()
    sdk.queue.upsert("doomed", paused=True)
    message_id = enqueue(sdk, "doomed", receiver.url(path), "x")
    sdk.queue.delete("doomed")
    states = [log.state.value for log in sdk.log.list(filter={"message_id": message_id}).logs]
    assert states[0] == "CANCELED"
    with pytest.raises(Exception, match="not found"):
        sdk.message.get(message_id)


def test_batch_items_with_a_queue(sdk: QStash, receiver: Receiver) -> None:
    path = receiver.new_path()
    answers = sdk.message.batch(
        [
            {"queue": "batched", "url": receiver.url(path), "body": "a"},
            {"queue": "batched", "url": receiver.url(path), "body": "b"},
            {"url": receiver.url(path), "body": "plain"},
        ]
    )
    assert len(answers) == 3
    assert sorted(r.body for r in receiver.wait_for(path, 3)) == [b"a", b"b", b"plain"]
    assert sdk.queue.get("batched").parallelism == 1


@pytest.mark.parametrize(
    ("path", "headers", "field"),
    [
        ("/v2/enqueue/bad name/http://x.test/", {}, "queue name"),
        ("/v2/enqueue/q/http://x.test/", {"Upstash-Delay": "10s"}, "Upstash-Delay"),
        ("/v2/enqueue/q/http://x.test/", {"Upstash-Flow-Control-Key": "k"}, "Upstash-Flow"),
    ],
)
def test_bad_enqueues_are_refused(
    gateway: Gateway, path: str, headers: dict[str, str], field: str
) -> None:
    response = gateway.client.post(path, content=b"x", headers=headers)
    assert response.status_code == 400
    assert field in response.json()["error"]
    assert gateway.client.get("/v2/queues").json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"queueName": "q", "parallelism": 0},
        {"queueName": "a b"},
        {"queueName": "q", "paused": "yes"},
    ],
)
def test_bad_queue_settings_are_refused(gateway: Gateway, body: dict[str, object]) -> None:
    response = gateway.client.post("/v2/queues", json=body)
    assert response.status_code == 400, response.text
    assert gateway.client.get("/v2/queues").json() == []


async def test_async_client(gateway: Gateway, receiver: Receiver) -> None:
    client = AsyncQStash(TOKEN, base_url=gateway.url, retry=False)
    path = receiver.new_path()
    await client.queue.upsert("async-q", parallelism=1)
    await client.message.enqueue_json(queue="async-q", url=receiver.url(path), body={"n": 1})
    assert (await client.queue.get("async-q")).name == "async-q"
    assert receiver.wait_for(path, 1)[0].body == b'{"n": 1}'
    await client.queue.delete("async-q")
    assert await client.queue.list() == []
    await client.http._client.aclose()


def test_enqueue_to_a_url_group(sdk: QStash, gateway: Gateway, receiver: Receiver) -> None:
    stall = 0.1
    paths = [receiver.new_path(*[Answer(200, delay=stall)] * 3) for _ in range(2)]
    sdk.url_group.upsert_endpoints(
        url_group="team", endpoints=[{"url": receiver.url(p)} for p in paths]
    )
    for i in range(3):
        answer = sdk.message.enqueue(queue="team-q", url_group="team", body=str(i))
        assert isinstance(answer, list) and len(answer) == 2
    requests = sorted((r for p in paths for r in receiver.wait_for(p, 3)), key=lambda r: r.at)
    # one queue (parallelism 1) for every endpoint's message: one at a time, in order
    assert max_in_flight(requests, stall - 0.01) == 1
    assert [r.body for r in requests] == [b"0", b"0", b"1", b"1", b"2", b"2"]
    missing = gateway.client.post("/v2/enqueue/q/no-such-group", content=b"x")
    assert missing.status_code == 404


def test_the_next_message_waits_for_the_callbacks(sdk: QStash, receiver: Receiver) -> None:
    stall = 0.3
    path = receiver.new_path()
    callbacks = receiver.new_path(*[Answer(200, delay=stall)] * 2)
    for i in range(2):
        sdk.message.enqueue(queue="with-callbacks", url=receiver.url(path), body=str(i),
                            callback=receiver.url(callbacks))  # fmt: skip
    first, second = receiver.wait_for(path, 2)
    [first_callback, _] = receiver.wait_for(callbacks, 2)
    # QStash: the next message starts once the previous one and its callbacks are done
    assert first_callback.at < second.at
    assert second.at >= first_callback.at + stall - 0.01
    assert first.body == b"0" and second.body == b"1"
    wait_until(lambda: sdk.queue.get("with-callbacks").lag == 0)
