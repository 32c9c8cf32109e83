"""Schedules through the official SDK: every field round-trips, ticks fire on time and
exactly once across gateways, pause/resume by PATCH and POST, queue schedules, restarts.

A cron minute lasts HERALD_CRON_MINUTE seconds here (a fraction of a second), so a
per-minute schedule ticks many times within a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Iterator

import pytest
from qstash import QStash
from redis.asyncio import Redis

from herald_core.keys import Keys
from herald_core.schedules import Schedules
from herald_core.store import Store, StoreLimits
from tests.support.gateway import TOKEN, Gateway, wait_until
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]

#: Seconds per cron minute in these tests, and how often schedulers look.
MINUTE = 0.2
FAST = {"cron_minute": MINUTE, "schedule_poll": 0.05, "schedule_lease": 1.0}


@contextlib.contextmanager
def sdk_for(gateway: Gateway) -> Iterator[QStash]:
    client = QStash(TOKEN, base_url=gateway.url, retry=False)
    try:
        yield client
    finally:
        client.http._client.close()


def ticks_counted(metrics: str, outcome: str) -> float:
    prefix = f'herald_schedule_ticks_total{{outcome="{outcome}"}} '
    return sum(float(line[len(prefix) :]) for line in metrics.splitlines()
               if line.startswith(prefix))  # fmt: skip


def created_at(gateway: Gateway, message_id: str) -> int:
    rows = gateway.client.get("/v2/events", params={"messageId": message_id}).json()["events"]
    return int(rows[-1]["createdAt"])


def test_schedule_fields_round_trip(sdk: QStash) -> None:
    schedule_id = sdk.schedule.create(
        destination="https://example.test/hook?x=1", cron="CRON_TZ=Europe/Paris 0 4 * * *",
        body="hello", method="PUT", headers={"X-Team": "a"}, retries=2,
        retry_delay="5000 * retried", timeout=30, callback="https://example.test/cb",
        label="nightly", flow_control={"key": "fc", "parallelism": 2}, schedule_id="nightly",
    )  # fmt: skip
    assert schedule_id == "nightly"
    schedule = sdk.schedule.get("nightly")
    assert schedule.cron == "CRON_TZ=Europe/Paris 0 4 * * *"
    assert schedule.destination == "https://example.test/hook?x=1"
    assert (schedule.method, schedule.body, schedule.retries) == ("PUT", "hello", 2)
    assert schedule.headers is not None and schedule.headers["X-Team"] == ["a"]
    assert schedule.retry_delay_expression == "5000 * retried"
    assert (schedule.timeout, schedule.callback, schedule.label) == (30, "https://example.test/cb",
                                                                     "nightly")  # fmt: skip
    assert schedule.flow_control is not None
    assert (schedule.flow_control.key, schedule.flow_control.parallelism) == ("fc", 2)
    assert (schedule.flow_control.period, schedule.flow_control.rate) == (1, None)
    assert schedule.next_schedule_time is not None and schedule.paused is False
    sdk.schedule.pause("nightly")
    assert sdk.schedule.get("nightly").paused is True
    sdk.schedule.resume("nightly")
    assert sdk.schedule.get("nightly").paused is False
    # overwrite with the same id: one schedule, the new definition
    sdk.schedule.create(destination="https://example.test/other", cron="*/5 * * * *",
                        schedule_id="nightly", queue="q1")  # fmt: skip
    [only] = sdk.schedule.list()
    assert (only.schedule_id, only.cron, only.queue) == ("nightly", "*/5 * * * *", "q1")
    sdk.schedule.delete("nightly")
    assert sdk.schedule.list() == []


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({}, "Upstash-Cron"),
        ({"Upstash-Cron": "* * *"}, "Upstash-Cron"),
        ({"Upstash-Cron": "CRON_TZ=Mars/Base * * * * *"}, "Upstash-Cron"),
        ({"Upstash-Cron": "* * * * *", "Upstash-Schedule-Id": "a/b c"}, "Upstash-Schedule-Id"),
        ({"Upstash-Cron": "* * * * *", "Upstash-Retries": "many"}, "Upstash-Retries"),
    ],
)
def test_bad_schedules_are_refused(gateway: Gateway, headers: dict[str, str], field: str) -> None:
    response = gateway.client.post("/v2/schedules/https://example.test/", headers=headers)
    assert response.status_code == 400
    assert field in response.json()["error"]
    assert gateway.client.get("/v2/schedules").json() == []


@pytest.mark.in_process(False)  # gateway processes racing for ticks
def test_ticks_fire_exactly_once_across_gateways(
    make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateways = [make_gateway(**FAST), make_gateway(**FAST)]
    with sdk_for(gateways[0]) as sdk:
        check_exactly_once(sdk, gateways[1], receiver)


def check_exactly_once(sdk: QStash, other: Gateway, receiver: Receiver) -> None:
    path = receiver.new_path()
    schedule_id = sdk.schedule.create(destination=receiver.url(path), cron="* * * * *",
                                      body="tick", headers={"X-From": "cron"})  # fmt: skip
    received = receiver.wait_for(path, 12, timeout=20)
    sdk.schedule.pause(schedule_id)
    assert {r.header("Upstash-Schedule-Id") for r in received} == {schedule_id}
    assert {r.header("X-From") for r in received} == {"cron"}
    ids = [r.header("Upstash-Message-Id") or "" for r in received]
    assert len(set(ids)) == len(ids)
    ticks = sorted(created_at(other, message_id) for message_id in ids)
    # one message per tick: consecutive ticks, none twice, none skipped
    gaps = {
        round((later - earlier) / 1000 / MINUTE) for earlier, later in itertools.pairwise(ticks)
    }
    assert gaps == {1}, ticks
    schedule = sdk.schedule.get(schedule_id)
    assert schedule.last_schedule_time is not None and schedule.last_schedule_time >= ticks[-1]
    assert schedule.last_schedule_states is not None
    assert {s.value for s in schedule.last_schedule_states.values()} <= {"SUCCESS", "IN_PROGRESS"}


def test_paused_schedules_skip_ticks_and_post_pauses_too(
    make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateway = make_gateway(**FAST)
    path = receiver.new_path()
    response = gateway.client.post(
        f"/v2/schedules/{receiver.url(path)}", content=b"x",
        headers={"Upstash-Cron": "* * * * *", "Upstash-Schedule-Id": "paused"},
    )  # fmt: skip
    assert response.json() == {"scheduleId": "paused"}
    receiver.wait_for(path, 1)
    assert gateway.client.post("/v2/schedules/paused/pause").status_code == 200

    def schedule() -> dict[str, int]:
        view: dict[str, int] = gateway.client.get("/v2/schedules/paused").json()
        return view

    # a tick claimed before the pause may still be recorded; after one skipped tick, none is
    paused_next = schedule()["nextScheduleTime"]
    wait_until(lambda: schedule()["nextScheduleTime"] > paused_next)
    last = schedule()["lastScheduleTime"]
    skipped_from = schedule()["nextScheduleTime"]
    wait_until(lambda: schedule()["nextScheduleTime"] >= skipped_from + 2 * MINUTE * 1000)
    assert schedule()["lastScheduleTime"] == last  # two more ticks went by unfired
    count = len(receiver.received(path))
    metrics = gateway.metrics()
    assert ticks_counted(metrics, "fired") >= 1 and ticks_counted(metrics, "skipped") >= 2
    assert gateway.client.patch("/v2/schedules/paused/resume").status_code == 200
    wait_until(lambda: schedule()["lastScheduleTime"] > last)  # firing again
    receiver.wait_for(path, count + 2)
    assert gateway.client.post("/v2/schedules/missing/pause").status_code == 404


def test_a_schedule_feeding_a_queue(
    make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateway = make_gateway(**FAST)
    path = receiver.new_path()
    with sdk_for(gateway) as sdk:
        schedule_id = sdk.schedule.create(destination=receiver.url(path), cron="* * * * *",
                                          queue="from-cron", body="q")  # fmt: skip
        received = receiver.wait_for(path, 2)
        sdk.schedule.delete(schedule_id)
        assert sdk.queue.get("from-cron").parallelism == 1
    message_id = received[0].header("Upstash-Message-Id") or ""
    rows = gateway.client.get("/v2/events", params={"messageId": message_id}).json()["events"]
    assert {row.get("queueName") for row in rows} == {"from-cron"}
    assert {row.get("scheduleId") for row in rows} == {schedule_id}


@pytest.mark.in_process(False)  # a gateway process restarted
def test_a_gateway_back_from_downtime_fires_once_not_a_storm(
    make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateway = make_gateway(**FAST)
    path = receiver.new_path()
    response = gateway.client.post(f"/v2/schedules/{receiver.url(path)}",
                                   headers={"Upstash-Cron": "* * * * *"})  # fmt: skip
    schedule_id = response.json()["scheduleId"]
    receiver.wait_for(path, 1)
    gateway.close()
    # down for ten ticks (an API-only gateway, without a scheduler, shows the schedule)
    api = make_gateway(roles="api", **FAST)
    missed = api.client.get(f"/v2/schedules/{schedule_id}").json()["nextScheduleTime"]
    wait_until(lambda: time.time() * 1000 > missed + 10 * MINUTE * 1000)
    make_gateway(**FAST)

    def ticks() -> list[int]:
        ids = [r.header("Upstash-Message-Id") or "" for r in receiver.received(path)]
        return sorted(t for t in (created_at(api, i) for i in ids) if t >= missed)

    wait_until(lambda: len(ticks()) >= 3)
    first, second, third = ticks()[:3]
    # one catch-up firing for the first missed tick, then the first tick after the return
    assert first == missed
    assert second - first >= 10 * MINUTE * 1000
    assert round((third - second) / 1000 / MINUTE) == 1


def test_a_tick_claimed_by_a_gateway_that_died_fires_as_that_tick_once(
    make_gateway: Callable[..., Gateway], receiver: Receiver, redis_url: str
) -> None:
    # made with no scheduler running: the tick is left for the "dead" gateway below
    api = make_gateway(roles="api", **FAST)
    path = receiver.new_path()
    response = api.client.post(f"/v2/schedules/{receiver.url(path)}",
                               headers={"Upstash-Cron": "* * * * *"})  # fmt: skip
    schedule_id = response.json()["scheduleId"]
    tick = api.client.get(f"/v2/schedules/{schedule_id}").json()["nextScheduleTime"]
    wait_until(lambda: time.time() * 1000 > tick)

    async def claim_and_die() -> list[int]:
        store = Store(Redis.from_url(redis_url), Keys("herald", 16), StoreLimits())
        try:  # a gateway takes the tick (a 1 s lease), then dies before recording it
            claimed, _ = await Schedules(store).claim(int(time.time() * 1000), 1000, 10)
            return [t for s, t in claimed if s.id == schedule_id]
        finally:
            await store.aclose()

    assert asyncio.run(claim_and_die()) == [tick]
    make_gateway(**FAST)  # another gateway takes it when the lease ends

    def ticks() -> list[int]:
        ids = [r.header("Upstash-Message-Id") or "" for r in receiver.received(path)]
        return sorted(created_at(api, i) for i in ids)

    wait_until(lambda: len(ticks()) >= 2)
    first, second = ticks()[:2]
    # the claimed tick itself, once; not the time its lease ended (no tick of the cron at
    # all); then the first tick after the other gateway took over
    assert first == tick
    assert second >= first + 1000


def test_a_schedule_to_a_url_group_fans_out_each_tick(
    make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateway = make_gateway(**FAST)
    paths = [receiver.new_path(), receiver.new_path()]
    with sdk_for(gateway) as sdk:
        sdk.url_group.upsert_endpoints(
            url_group="nightly-jobs", endpoints=[{"url": receiver.url(p)} for p in paths]
        )
        schedule_id = sdk.schedule.create(destination="nightly-jobs", cron="* * * * *",
                                          body="run", retries=1)  # fmt: skip
        for path in paths:
            received = receiver.wait_for(path, 2)
            assert {r.header("Upstash-Schedule-Id") for r in received} == {schedule_id}
            assert {r.header("Upstash-Topic-Name") for r in received} == {"nightly-jobs"}
        wait_until(lambda: len(sdk.schedule.get(schedule_id).last_schedule_states or {}) == 2)
        schedule = sdk.schedule.get(schedule_id)
        assert (schedule.destination, schedule.retries) == ("nightly-jobs", 1)
        # the group goes away: ticks fail, visibly (schedule error, metric)
        sdk.url_group.delete("nightly-jobs")
        wait_until(lambda: sdk.schedule.get(schedule_id).error is not None)
        assert "not found" in (sdk.schedule.get(schedule_id).error or "")
        assert ticks_counted(gateway.metrics(), "failed") >= 1
        sdk.schedule.delete(schedule_id)
    refused = gateway.client.post(
        "/v2/schedules/no-such-group", headers={"Upstash-Cron": "* * * * *"}
    )
    assert refused.status_code == 404
    with_queue = gateway.client.post(
        "/v2/schedules/nightly-jobs",
        headers={"Upstash-Cron": "* * * * *", "Upstash-Queue-Name": "q"},
    )
    assert with_queue.status_code == 400 and "Upstash-Queue-Name" in with_queue.json()["error"]
