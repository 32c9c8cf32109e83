"""Bulk actions touch exactly what their filters name (issue 12, data safety): a filtered
`DELETE /v2/messages`, `GET`/`DELETE /v2/dlq` and `POST /v2/dlq/retry` select the matching
messages and nothing else, for every filter QStash documents, with non-matching messages
present; an unknown or malformed filter is a 400 naming it and changes nothing in Redis.

Every message is counted before and after each action. Expectations come from what each
test sent (its own record of URLs, labels, keys, groups, queues, callers), not from the
server's views, so a filter that reads the wrong field cannot agree with itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from tests.conftest import fresh_database
from tests.support.gateway import TOKEN, Gateway, InProcessGateway, wait_until
from tests.support.receiver import Answer, Receiver
from tests.support.snapshot import snapshot

pytestmark = [pytest.mark.integration, pytest.mark.in_process]

A, B, C = "http://127.0.0.1:9/a", "http://127.0.0.1:9/b", "http://127.0.0.2:9/a"
OTHER_CALLER = "127.0.0.2"


@dataclass
class Sent:
    """One stored message, as its test published it."""

    id: str
    url: str
    labels: tuple[str, ...] = ()
    flow: str | None = None
    topic: str | None = None
    queue: str | None = None
    schedule: str | None = None
    caller: str = "127.0.0.1"
    body: bytes = b""
    created: int = 0
    #: Dead letters: the last response's status, and the DLQ id.
    status: int = 0
    dlq_id: str = ""


def now_ms() -> int:
    return int(time.time() * 1000)


def from_other_caller(gateway: Gateway) -> httpx.Client:
    """A client of `gateway` whose requests come from 127.0.0.2 (so `callerIp` differs)."""
    return httpx.Client(
        base_url=gateway.url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        transport=httpx.HTTPTransport(local_address=OTHER_CALLER),
    )


@pytest.fixture
def other_caller(gateway_for_population: Gateway) -> Iterator[httpx.Client]:
    with from_other_caller(gateway_for_population) as client:
        yield client


class Publisher:
    """Publishes and records what it sent."""

    def __init__(self, gateway: Gateway, other: httpx.Client, **defaults: str) -> None:
        self.gateway, self.other, self.defaults = gateway, other, defaults
        self.sent: list[Sent] = []

    def _record(self, response: httpx.Response, url: str, body: bytes, **attrs: Any) -> None:
        assert response.status_code in (200, 201), response.text
        answers = response.json()
        for answer in answers if isinstance(answers, list) else [answers]:
            self.sent.append(Sent(answer["messageId"], answer.get("url", url), body=body,
                                  **attrs))  # fmt: skip

    def publish(self, url: str, *, label: str = "", flow: str = "", caller: str = "") -> None:
        headers = dict(self.defaults)
        if label:
            headers["Upstash-Label"] = label
        if flow:
            headers |= {"Upstash-Flow-Control-Key": flow, "Upstash-Flow-Control-Value": "rate=100"}
        body = b"body %d" % len(self.sent)
        client = self.other if caller else self.gateway.client
        response = client.post(f"/v2/publish/{url}", content=body, headers=headers)
        labels = tuple(label.split(",")) if label else ()
        self._record(response, url, body, labels=labels, flow=flow or None,
                     caller=caller or "127.0.0.1")  # fmt: skip

    def group(self, name: str, urls: list[str]) -> None:
        endpoints = {"endpoints": [{"url": url} for url in urls]}
        assert self.gateway.client.post(f"/v2/topics/{name}/endpoints", json=endpoints).is_success
        body = b"body %d" % len(self.sent)
        response = self.gateway.client.post(f"/v2/publish/{name}", content=body,
                                            headers=self.defaults)  # fmt: skip
        self._record(response, "", body, topic=name)

    def enqueue(self, queue: str, url: str) -> None:
        body = b"body %d" % len(self.sent)
        headers = {k: v for k, v in self.defaults.items() if k != "Upstash-Delay"}
        response = self.gateway.client.post(f"/v2/enqueue/{queue}/{url}", content=body,
                                            headers=headers)  # fmt: skip
        self._record(response, url, body, queue=queue)

    def after_a_tick(self) -> None:
        """Wait until the clock has passed every createdAt so far (fromDate/toDate cases)."""
        latest = max(self.created(s.id) for s in self.sent)
        wait_until(lambda: now_ms() > latest + 1, what="the clock to pass the last publish")

    def created(self, message_id: str) -> int:
        return int(self.gateway.client.get(f"/v2/messages/{message_id}").json()["createdAt"])


# -- DELETE /v2/messages ---------------------------------------------------------------------


def module_gateway(redis_base_url: str, folder: Path, **settings: object) -> Iterator[Gateway]:
    """One gateway for the module, on a database of its own: each case's fixture leaves it
    empty again (cancels or deletes what is left), so cases do not see each other's messages
    and a clean-up that missed one fails the next case's counts."""
    gateway = InProcessGateway(fresh_database(redis_base_url), folder / "gateway.log", **settings)
    yield gateway.start()
    gateway.close()


@pytest.fixture(scope="module")
def gateway_for_population(redis_base_url: str, tmp_path_factory) -> Iterator[Gateway]:
    """API only: nothing is delivered, so every message stays pending until cancelled."""
    yield from module_gateway(redis_base_url, tmp_path_factory.mktemp("pending"), roles="api")


@pytest.fixture
def pending(gateway_for_population: Gateway, other_caller: httpx.Client) -> Iterator[list[Sent]]:
    """Pending messages differing in every filtered field; two of them created later."""
    out = Publisher(gateway_for_population, other_caller, **{"Upstash-Delay": "1h"})
    yield _populate(out)
    assert gateway_for_population.client.delete("/v2/messages").is_success  # the clean-up


def _populate(out: Publisher) -> list[Sent]:
    out.publish(A, label="a")
    out.publish(A, label="b", flow="k1")
    out.publish(B, label="a,b")
    out.publish(C, flow="k2")
    out.publish(B, caller=OTHER_CALLER)
    out.group("g1", [A, C])
    out.group("g2", [B])
    out.enqueue("q1", A)
    out.enqueue("q2", B)
    out.after_a_tick()
    out.publish(A, label="late")
    out.publish(C, label="late", flow="k1")
    for sent in out.sent:
        sent.created = out.created(sent.id)
    return out.sent


def present(gateway: Gateway, collection: str, ids: list[str]) -> set[str]:
    """Those of `ids` that `GET {collection}/{id}` still finds (200; 404 once gone)."""
    found = set()
    for one in ids:
        status = gateway.client.get(f"{collection}/{one}").status_code
        assert status in (200, 404)
        if status == 200:
            found.add(one)
    return found


def alive(gateway: Gateway, sent: list[Sent]) -> set[str]:
    """The ids of `sent` still pending."""
    return present(gateway, "/v2/messages", [s.id for s in sent])


def labelled(*labels: str) -> Callable[[Sent], bool]:
    return lambda s: bool(set(labels) & set(s.labels))


Case = Callable[[list[Sent]], tuple[dict[str, Any], Callable[[Sent], bool]]]


def _early_late(sent: list[Sent]) -> tuple[int, int]:
    late = [s.created for s in sent if "late" in s.labels]
    early = [s.created for s in sent if "late" not in s.labels]
    assert max(early) < min(late)
    return max(early), min(late)


MESSAGE_CASES: dict[str, Case] = {
    "url": lambda _: ({"url": A}, lambda s: s.url == A),
    "url, two values": lambda _: ({"url": [A, C]}, lambda s: s.url in (A, C)),
    "host": lambda _: ({"host": "127.0.0.2:9"}, lambda s: urlsplit(s.url).netloc == "127.0.0.2:9"),
    "path": lambda _: ({"path": "/b"}, lambda s: urlsplit(s.url).path == "/b"),
    "label": lambda _: ({"label": "a"}, lambda s: "a" in s.labels),
    "label, comma list": lambda _: ({"label": "b,late"}, labelled("b", "late")),
    "flowControlKey": lambda _: ({"flowControlKey": "k1"}, lambda s: s.flow == "k1"),
    "topicName": lambda _: ({"topicName": "g1"}, lambda s: s.topic == "g1"),
    "queueName": lambda _: ({"queueName": "q2"}, lambda s: s.queue == "q2"),
    "callerIp": lambda _: ({"callerIp": OTHER_CALLER}, lambda s: s.caller == OTHER_CALLER),
    "callerIP (deprecated)": lambda _: ({"callerIP": OTHER_CALLER},
                                        lambda s: s.caller == OTHER_CALLER),
    "fromDate": lambda sent: ({"fromDate": _early_late(sent)[1]}, lambda s: "late" in s.labels),
    "toDate": lambda sent: ({"toDate": _early_late(sent)[0]}, lambda s: "late" not in s.labels),
    "messageIds": lambda sent: ({"messageIds": [sent[0].id, sent[3].id]},
                                lambda s: s.id in (sent[0].id, sent[3].id)),
    "label AND url": lambda _: ({"label": "a", "url": B}, lambda s: "a" in s.labels and s.url == B),
    "messageIds AND label": lambda sent: ({"messageIds": [sent[0].id, sent[1].id], "label": "a"},
                                          lambda s: s.id == sent[0].id),
    "flowControlKey AND fromDate": lambda sent: (
        {"flowControlKey": "k1", "fromDate": _early_late(sent)[1]},
        lambda s: s.flow == "k1" and "late" in s.labels),
}  # fmt: skip


#: Also sent as a JSON body (the old documented form; the Python SDK's `{"messageIds"}`).
IN_BODY = ("messageIds", "flowControlKey", "label AND url", "fromDate", "callerIP (deprecated)")


@pytest.mark.parametrize(
    ("case", "form"),
    [(case, "query") for case in MESSAGE_CASES] + [(case, "json body") for case in IN_BODY],
)
def test_bulk_cancel_touches_exactly_the_matching_messages(
    gateway_for_population: Gateway, pending: list[Sent], case: str, form: str
) -> None:
    gateway = gateway_for_population
    params, matching = MESSAGE_CASES[case](pending)
    everything = {s.id for s in pending}
    expected = {s.id for s in pending if matching(s)}
    assert expected and expected != everything  # non-matching messages are present
    assert alive(gateway, pending) == everything

    if form == "query":
        response = gateway.client.delete("/v2/messages", params=params)
    else:
        response = gateway.client.request("DELETE", "/v2/messages", json=params)
    assert response.status_code == 200, response.text
    assert response.json() == {"cancelled": len(expected)}
    assert alive(gateway, pending) == everything - expected


def test_count_caps_a_filtered_cancel_within_the_matches(
    gateway_for_population: Gateway, pending: list[Sent]
) -> None:
    gateway = gateway_for_population
    labelled = {s.id for s in pending if "a" in s.labels}
    assert len(labelled) == 2
    response = gateway.client.delete("/v2/messages", params={"label": "a", "count": 1})
    assert response.json() == {"cancelled": 1}
    gone = {s.id for s in pending} - alive(gateway, pending)
    assert len(gone) == 1 and gone <= labelled


def test_python_sdk_cancel_many_of_nothing_cancels_nothing(
    gateway_for_population: Gateway, pending: list[Sent]
) -> None:
    """`{"messageIds": []}` (the Python SDK's `cancel_many([])`) is none, not all."""
    gateway = gateway_for_population
    response = gateway.client.request("DELETE", "/v2/messages", json={"messageIds": []})
    assert response.json() == {"cancelled": 0}
    assert alive(gateway, pending) == {s.id for s in pending}


def test_cancel_by_schedule_id(make_gateway: Callable[..., Gateway]) -> None:
    """Messages a schedule produced (a fast cron minute), beside another schedule's and a
    plain publish; the schedules are deleted and their gateway stopped before the cancel,
    so the set of messages is fixed."""
    fast = make_gateway(cron_minute=0.2, schedule_poll=0.05, schedule_lease=1.0)
    headers = {"Upstash-Cron": "* * * * *", "Upstash-Delay": "1h"}
    for schedule_id in ("s1", "s2"):
        answer = fast.client.post(
            f"/v2/schedules/{A}",
            content=b"tick",
            headers={**headers, "Upstash-Schedule-Id": schedule_id},
        )
        assert answer.status_code == 200, answer.text
    plain = fast.publish(A, b"plain", **{"Upstash-Delay": "1h"}).json()["messageId"]

    wait_until(lambda: produced(fast, "s1") and produced(fast, "s2"), what="both to tick")
    for schedule_id in ("s1", "s2"):
        assert fast.client.delete(f"/v2/schedules/{schedule_id}").status_code == 200
    fast.close()

    api = make_gateway(roles="api")
    sent = [Sent(plain, A)] + [Sent(message_id, A, schedule=schedule_id)
                               for schedule_id in ("s1", "s2")
                               for message_id in produced(api, schedule_id)]  # fmt: skip
    everything = {s.id for s in sent}
    assert alive(api, sent) == everything
    expected = {s.id for s in sent if s.schedule == "s1"}
    response = api.client.delete("/v2/messages", params={"scheduleId": "s1"})
    assert response.json() == {"cancelled": len(expected)}
    assert alive(api, sent) == everything - expected


def produced(gateway: Gateway, schedule_id: str) -> list[str]:
    """The messages a schedule produced (its CREATED log rows)."""
    params = {"scheduleId": schedule_id, "state": "CREATED"}
    return [row["messageId"] for row in gateway.client.get("/v2/events", params=params)
            .json()["events"]]  # fmt: skip


# -- unknown and malformed filters -----------------------------------------------------------


BAD: list[tuple[str, str, dict[str, Any], Any, str]] = [
    # the case: an unknown key must not turn into "cancel 100 of anything"
    ("DELETE", "/v2/messages", {"flowControlKeys": "k", "count": 100}, None, "flowControlKeys"),
    ("DELETE", "/v2/messages", {"cursor": "x"}, None, "cursor"),
    ("DELETE", "/v2/messages", {"label": ""}, None, "label"),
    ("DELETE", "/v2/messages", {"messageIds": ""}, None, "messageIds"),
    ("DELETE", "/v2/messages", {"fromDate": "yesterday"}, None, "fromDate"),
    ("DELETE", "/v2/messages", {"count": 501}, None, "count"),
    ("DELETE", "/v2/messages", {}, {"messageIds": "msg_x", "labels": ["a"]}, "labels"),
    ("DELETE", "/v2/messages", {}, {"messageIds": None}, "messageIds"),
    ("DELETE", "/v2/messages", {"label": "a"}, {"label": "b"}, "label"),
    ("DELETE", "/v2/messages", {}, ["msg_x"], "body"),
    ("DELETE", "/v2/dlq", {"host": "a"}, None, "host"),
    ("DELETE", "/v2/dlq", {"flowcontrolkey": "k"}, None, "flowcontrolkey"),
    ("DELETE", "/v2/dlq", {"responseStatus": "5xx"}, None, "responseStatus"),
    ("DELETE", "/v2/dlq", {"cursor": "nope"}, None, "cursor"),
    ("DELETE", "/v2/dlq", {}, {"dlqIds": [{"id": 1}]}, "dlqIds"),
    ("POST", "/v2/dlq/retry", {"path": "/a"}, None, "path"),
    ("POST", "/v2/dlq/retry", {"label": ","}, None, "label"),
    ("POST", "/v2/dlq/retry", {"count": 0}, None, "count"),
    ("GET", "/v2/dlq", {"order": "latestFirst"}, None, "order"),
    ("GET", "/v2/logs", {"dlqIds": "dlq_x"}, None, "dlqIds"),
    ("GET", "/v2/events", {"state": "DONE"}, None, "state"),
]


def test_an_unknown_or_malformed_filter_is_refused_and_touches_nothing(
    gateway_for_population: Gateway, pending: list[Sent]
) -> None:
    gateway = gateway_for_population
    redis_client = redis.Redis.from_url(gateway.redis_url)
    before = snapshot(redis_client)
    for method, path, params, body, named in BAD:
        response = gateway.client.request(method, path, params=params, json=body)
        case = f"{method} {path} {params} {body}"
        assert response.status_code == 400, (case, response.text)
        assert named in response.json()["error"], (case, response.text)
        assert snapshot(redis_client) == before, case
    assert alive(gateway, pending) == {s.id for s in pending}


# -- the DLQ: list, bulk delete, bulk retry --------------------------------------------------


@pytest.fixture(scope="module")
def dlq_gateway(redis_base_url: str, tmp_path_factory) -> Iterator[Gateway]:
    yield from module_gateway(redis_base_url, tmp_path_factory.mktemp("dead"))


@pytest.fixture
def dead(
    dlq_gateway: Gateway, receiver: Receiver
) -> Iterator[tuple[Gateway, list[Sent], dict[str, str]]]:
    """Dead letters differing in every filtered field (retries 0; two later ones). Their
    endpoints fail once per message, then answer 200, so a retried one is delivered."""
    gateway = dlq_gateway
    failing = {500: receiver.new_path(*[Answer(500)] * 5),
               404: receiver.new_path(*[Answer(404)] * 3)}  # fmt: skip
    u5, u4 = receiver.url(failing[500]), receiver.url(failing[404])
    with from_other_caller(gateway) as other:
        out = Publisher(gateway, other, **{"Upstash-Retries": "0"})
        out.publish(u5, label="a")
        out.publish(u5, label="b", flow="k1")
        out.publish(u4, label="a")
        out.publish(u4, caller=OTHER_CALLER)
        out.group("dg1", [u5])
        out.enqueue("dq1", u4)
        early = len(out.sent)

        def letters() -> list[dict[str, Any]]:
            return list(gateway.client.get("/v2/dlq").json()["messages"])

        wait_until(lambda: len(letters()) == early, what=f"{early} dead letters")
        latest = max(m["createdAt"] for m in letters())
        wait_until(lambda: now_ms() > latest + 1, what="the clock to pass the last publish")
        out.publish(u5, label="late", flow="k1")
        out.publish(u5, label="late")
        wait_until(lambda: len(letters()) == len(out.sent), what="every dead letter")
    by_message = {m["messageId"]: m for m in letters()}
    for sent in out.sent:
        entry = by_message[sent.id]
        sent.created, sent.status, sent.dlq_id = entry["createdAt"], entry["responseStatus"], \
            entry["dlqId"]  # fmt: skip
    yield gateway, out.sent, {u5: failing[500], u4: failing[404]}
    assert gateway.client.delete("/v2/dlq").is_success  # the clean-up (and the group, whose
    assert gateway.client.delete("/v2/topics/dg1").is_success  # endpoint is this case's URL)


def in_dlq(gateway: Gateway, sent: list[Sent]) -> set[str]:
    """The dead letters of `sent` still there (by DLQ id)."""
    return present(gateway, "/v2/dlq", [s.dlq_id for s in sent])


DLQ_CASES: dict[str, Case] = {
    "url": lambda sent: ({"url": sent[2].url}, lambda s: s.url == sent[2].url),
    "topicName": lambda _: ({"topicName": "dg1"}, lambda s: s.topic == "dg1"),
    "queueName": lambda _: ({"queueName": "dq1"}, lambda s: s.queue == "dq1"),
    "label": lambda _: ({"label": "a"}, lambda s: "a" in s.labels),
    "label, two values": lambda _: ({"label": ["b", "late"]},
                                    labelled("b", "late")),
    "flowControlKey": lambda _: ({"flowControlKey": "k1"}, lambda s: s.flow == "k1"),
    "callerIp": lambda _: ({"callerIp": OTHER_CALLER}, lambda s: s.caller == OTHER_CALLER),
    "responseStatus": lambda _: ({"responseStatus": 404}, lambda s: s.status == 404),
    "messageId": lambda sent: ({"messageId": sent[1].id}, lambda s: s.id == sent[1].id),
    "dlqIds": lambda sent: ({"dlqIds": [sent[0].dlq_id, sent[4].dlq_id]},
                            lambda s: s.dlq_id in (sent[0].dlq_id, sent[4].dlq_id)),
    "fromDate": lambda sent: ({"fromDate": _early_late(sent)[1]}, lambda s: "late" in s.labels),
    "toDate": lambda sent: ({"toDate": _early_late(sent)[0]}, lambda s: "late" not in s.labels),
    "label AND responseStatus": lambda _: ({"label": "a", "responseStatus": 500},
                                           lambda s: "a" in s.labels and s.status == 500),
    "dlqIds AND flowControlKey": lambda sent: (
        {"dlqIds": [sent[0].dlq_id, sent[1].dlq_id], "flowControlKey": "k1"},
        lambda s: s.id == sent[1].id),
}  # fmt: skip


@pytest.mark.parametrize("case", list(DLQ_CASES))
def test_dlq_list_and_bulk_delete_touch_exactly_the_matching_dead_letters(
    dead: tuple[Gateway, list[Sent], dict[str, str]], case: str
) -> None:
    gateway, sent, _ = dead
    params, matching = DLQ_CASES[case](sent)
    everything = {s.dlq_id for s in sent}
    expected = {s.dlq_id for s in sent if matching(s)}
    assert expected and expected != everything
    assert in_dlq(gateway, sent) == everything

    listed = gateway.client.get("/v2/dlq", params=params).json()["messages"]
    assert {m["dlqId"] for m in listed} == expected
    response = gateway.client.delete("/v2/dlq", params=params)
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] == len(expected)
    assert in_dlq(gateway, sent) == everything - expected


@pytest.mark.parametrize("case", list(DLQ_CASES))
def test_dlq_bulk_retry_touches_exactly_the_matching_dead_letters(
    dead: tuple[Gateway, list[Sent], dict[str, str]], receiver: Receiver, case: str
) -> None:
    gateway, sent, paths = dead
    params, matching = DLQ_CASES[case](sent)
    everything = {s.dlq_id for s in sent}
    expected = [s for s in sent if matching(s)]
    assert expected and len(expected) < len(sent)
    failed = {url: len(receiver.received(path)) for url, path in paths.items()}

    response = gateway.client.post("/v2/dlq/retry", params=params)
    assert response.status_code == 201, response.text
    new_ids = {r["messageId"] for r in response.json()["responses"]}
    assert len(new_ids) == len(expected)
    assert in_dlq(gateway, sent) == everything - {s.dlq_id for s in expected}
    # exactly the matching messages are delivered again, each once, under their new ids
    for url, path in paths.items():
        wanted = sorted(s.body for s in expected if s.url == url)
        got = receiver.wait_for(path, failed[url] + len(wanted))[failed[url] :]
        assert sorted(d.body for d in got) == wanted
        assert {d.header("Upstash-Message-Id") for d in got} <= new_ids


def test_python_sdk_delete_many_of_nothing_deletes_nothing(
    dead: tuple[Gateway, list[Sent], dict[str, str]],
) -> None:
    gateway, sent, _ = dead
    response = gateway.client.request("DELETE", "/v2/dlq", json={"dlqIds": []})
    assert response.json() == {"deleted": 0}
    assert in_dlq(gateway, sent) == {s.dlq_id for s in sent}
