"""Workers hear of new work at once, in any process: an API-only gateway stores, a
worker-only gateway whose safety-net poll is ten minutes away delivers (herald_core.wake)."""

from __future__ import annotations

import pytest

from herald_gateway.dev.embedded import RedisServer
from tests.support.gateway import wait_until
from tests.support.receiver import Answer, Receiver

pytestmark = pytest.mark.integration

#: Far beyond every deadline below: a delivery within them was woken, not polled.
NEVER = {"poll_interval": 600, "schedule_poll": 600}


def test_a_worker_in_another_process_is_woken_by_publish_delay_and_batch(
    make_gateway, receiver: Receiver
) -> None:
    api = make_gateway(roles="api")
    make_gateway(roles="worker", **NEVER)
    path = receiver.new_path()
    api.publish(receiver.url(path), b"now")
    receiver.wait_for(path, 1, timeout=10)
    api.publish(receiver.url(path), b"later", **{"Upstash-Delay": "1s"})
    batch = [{"destination": receiver.url(path), "body": str(i)} for i in range(5)]
    assert api.client.post("/v2/batch", json=batch).status_code == 200
    received = receiver.wait_for(path, 7, timeout=10)
    expected = [b"now", b"later", *(b"%d" % i for i in range(5))]
    assert sorted(r.body for r in received) == sorted(expected)


def test_a_new_schedule_wakes_the_scheduler_of_another_process(
    make_gateway, receiver: Receiver
) -> None:
    api = make_gateway(roles="api", cron_minute=0.2)
    make_gateway(roles="worker", cron_minute=0.2, **NEVER)
    path = receiver.new_path()
    created = api.client.post(f"/v2/schedules/{receiver.url(path)}", content=b"tick",
                              headers={"Upstash-Cron": "* * * * *"})  # fmt: skip
    assert created.status_code == 200, created.text
    receiver.wait_for(path, 2, timeout=10)  # its first ticks, 0.2 s apart


def test_after_redis_restarts_the_subscription_comes_back_and_wakes_again(
    make_gateway, receiver: Receiver, tmp_path
) -> None:
    server = RedisServer(tmp_path / "redis", appendfsync="everysec")
    server.start()
    try:
        api = make_gateway(redis_url=server.url, roles="api", redis_backoff_max=0.2)
        worker = make_gateway(redis_url=server.url, roles="worker", redis_backoff_max=0.2,
                              **NEVER)  # fmt: skip
        path = receiver.new_path()
        api.publish(receiver.url(path), b"before")
        receiver.wait_for(path, 1, timeout=10)
        server.stop()
        server.start()
        for gateway in (api, worker):
            wait_until(lambda g=gateway: g.client.get("/readyz").status_code == 200,
                       what="ready again")  # fmt: skip
        assert api.publish(receiver.url(path), b"after").status_code == 200
        receiver.wait_for(path, 2, timeout=10)
    finally:
        server.stop()


def test_retries_callbacks_and_deferrals_are_claimed_when_due_not_at_the_next_poll(
    make_gateway, receiver: Receiver
) -> None:
    gateway = make_gateway(host_concurrency=1, host_defer=0.2, **NEVER)
    flaky = receiver.new_path(Answer(500), Answer(500), Answer(200))
    callback = receiver.new_path()
    gateway.publish(
        receiver.url(flaky),
        b"x",
        **{"Upstash-Retry-Delay": "100", "Upstash-Callback": receiver.url(callback)},
    )
    receiver.wait_for(flaky, 3, timeout=10)  # two retries, 100 ms apart
    receiver.wait_for(callback, 1, timeout=10)  # stored by the settlement of the third
    # one slot for the host: the second and third are deferred, then claimed when due
    slow = receiver.new_path(*[Answer(200, delay=0.3)] * 3)
    for i in range(3):
        gateway.publish(receiver.url(slow), b"%d" % i)
    receiver.wait_for(slow, 3, timeout=10)
