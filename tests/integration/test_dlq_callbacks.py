"""Dead letters, their retry, callbacks and deduplication — through the SDK, raw HTTP and
real receivers."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from qstash import QStash, Receiver as SignatureReceiver

from tests.support.gateway import CURRENT_KEY, NEXT_KEY, Gateway, wait_until
from tests.support.receiver import Answer, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def dead_letters(sdk: QStash, **filters: str):
    return sdk.dlq.list(filter=filters).messages  # type: ignore[arg-type]


def test_404_with_no_retries_lands_in_the_dlq(gateway: Gateway, sdk: QStash, receiver) -> None:
    path = receiver.new_path(Answer(404, headers={"X-Why": "gone"}, body=b"404 Not Found"))
    message_id = sdk.message.publish(
        url=receiver.url(path), body="lost", method="GET", retries=0, retry_delay="7000 * retried",
        headers={"X-Trace": "t1"}, label="orders",
    ).message_id  # type: ignore[union-attr]  # fmt: skip
    [entry] = wait_until(lambda: dead_letters(sdk, message_id=message_id), what="DLQ entry")
    assert entry.response_status == 404 and entry.response_body == "404 Not Found"
    assert entry.response_headers == {**(entry.response_headers or {}), "X-Why": ["gone"]}
    assert entry.retry_delay_expression == "7000 * retried" and entry.label == "orders"
    assert entry.body == "lost" and entry.method == "GET" and entry.max_retries == 0
    assert (entry.headers or {})["X-Trace"] == ["t1"]
    metrics = gateway.metrics()
    assert "herald_dlq_size 1.0" in metrics and "herald_backlog_oldest_age_seconds 0.0" in metrics
    again = sdk.dlq.get(entry.dlq_id)
    assert again.message_id == message_id and again.dlq_id == entry.dlq_id
    assert dead_letters(sdk, label="orders")
    assert not dead_letters(sdk, label="other")

    sdk.dlq.delete(entry.dlq_id)
    assert gateway.client.delete(f"/v2/dlq/{entry.dlq_id}").status_code == 404
    assert gateway.client.get(f"/v2/dlq/{entry.dlq_id}").status_code == 404


def _fail_into_dlq(gateway: Gateway, receiver: Receiver, n: int, body: bytes = b"x") -> list[str]:
    path = receiver.new_path(*[Answer(500, body=b"nope")] * n)
    ids = [
        gateway.publish(receiver.url(path), body, **{"Upstash-Retries": "0"}).json()["messageId"]
        for _ in range(n)
    ]
    wait_until(
        lambda: len(gateway.client.get("/v2/dlq", params={"url": receiver.url(path)})
                    .json()["messages"]) == n,
        what=f"{n} dead letters",
    )  # fmt: skip
    return ids


def test_dlq_pagination_bulk_delete_both_forms(gateway: Gateway, sdk: QStash, receiver) -> None:
    _fail_into_dlq(gateway, receiver, 7)
    pages, cursor = [], None
    while True:
        params = {"count": 3, **({"cursor": cursor} if cursor else {})}
        page = gateway.client.get("/v2/dlq", params=params).json()
        pages.append([m["dlqId"] for m in page["messages"]])
        cursor = page.get("cursor")
        if not cursor:
            break
    dlq_ids = [i for page in pages for i in page]
    assert len(dlq_ids) == 7 == len(set(dlq_ids)) and max(map(len, pages)) == 3
    assert sdk.dlq.delete_many(dlq_ids[:2]) == 2
    response = gateway.client.delete("/v2/dlq", params={"dlqIds": dlq_ids[2:4]})
    assert response.json() == {"deleted": 2}
    assert gateway.client.delete("/v2/dlq/", params={"count": 100}).json()["deleted"] == 3
    assert gateway.client.get("/v2/dlq").json()["messages"] == []


def test_dlq_retry_single_and_bulk_with_override_headers(gateway: Gateway, receiver) -> None:
    path = receiver.new_path(Answer(500), Answer(500), Answer(500))  # then 200s
    first = [gateway.publish(receiver.url(path), b"again %d" % i, **{"Upstash-Retries": "0"})
             .json()["messageId"] for i in range(3)]  # fmt: skip
    entries = wait_until(
        lambda: len(m := gateway.client.get("/v2/dlq").json()["messages"]) == 3 and m,
        what="3 dead letters",
    )
    one = entries[0]["dlqId"]
    response = gateway.client.post(f"/v2/dlq/retry/{one}", headers={"Upstash-Retries": "0"})
    assert response.status_code == 201
    retried_id = response.json()["messageId"]
    assert retried_id not in first
    rest = [e["dlqId"] for e in entries[1:]]
    bulk = gateway.client.post("/v2/dlq/retry", params={"dlqIds": rest})
    assert bulk.status_code == 201 and len(bulk.json()["responses"]) == 2
    deliveries = receiver.wait_for(path, 6)[3:]
    assert sorted(d.body for d in deliveries) == [b"again 0", b"again 1", b"again 2"]
    assert retried_id in {d.header("Upstash-Message-Id") for d in deliveries}
    assert gateway.client.get("/v2/dlq").json()["messages"] == []
    assert gateway.client.post(f"/v2/dlq/retry/{one}").status_code == 404


def _payloads(receiver: Receiver, path: str, count: int) -> list[dict[str, Any]]:
    out = []
    for request in receiver.wait_for(path, count):
        SignatureReceiver(CURRENT_KEY, NEXT_KEY).verify(
            signature=request.header("Upstash-Signature") or "",
            body=request.body.decode(),
            url=receiver.url(path),
        )
        out.append(orjson.loads(request.body))
    return out


def test_callbacks_report_every_attempt_and_failure_once(
    gateway: Gateway, sdk: QStash, receiver
) -> None:
    path = receiver.new_path(Answer(500, body=b"first"), Answer(502, body=b"second"))
    callback, failure = receiver.new_path(), receiver.new_path()
    message_id = sdk.message.publish(
        url=receiver.url(path), body="payload", retries=1, retry_delay="0",
        callback=receiver.url(callback), failure_callback=receiver.url(failure),
        # the SDK sends a bare name as Upstash-Callback-X-Cb, which QStash's docs read as a
        # (unknown) config header of the callback; the documented way forwards it
        headers={"X-Src": "1"}, callback_headers={"Upstash-Callback-Forward-X-Cb": "yes"},
    ).message_id  # type: ignore[union-attr]  # fmt: skip
    reports = _payloads(receiver, callback, 2)
    assert sorted(r["retried"] for r in reports) == [0, 1]
    assert {r["status"] for r in reports} == {500, 502}
    assert {base64.b64decode(r["body"]) for r in reports} == {b"first", b"second"}
    assert all(r["sourceMessageId"] == message_id and r["maxRetries"] == 1 for r in reports)
    assert receiver.received(callback)[0].header("X-Cb") == "yes"

    [final] = _payloads(receiver, failure, 1)
    assert final["status"] == 502 and final["retried"] == 1 and final["dlqId"].startswith("dlq_")
    assert base64.b64decode(final["sourceBody"]) == b"payload"
    assert final["sourceHeader"]["X-Src"] == ["1"] and final["url"] == receiver.url(path)
    assert final["method"] == "POST" and final["createdAt"] <= final["notBefore"] + 1
    assert sdk.dlq.get(final["dlqId"]).message_id == message_id
    never = receiver.new_path()
    gateway.publish(receiver.url(never), b"probe")
    receiver.wait_for(never, 1)
    assert len(receiver.received(failure)) == 1  # exactly once


def test_callback_on_success_carries_the_response(gateway: Gateway, receiver) -> None:
    path = receiver.new_path(Answer(201, headers={"X-Res": "r"}, body=b'{"ok":true}'))
    callback = receiver.new_path()
    gateway.publish(receiver.url(path), b"in", **{"Upstash-Callback": receiver.url(callback),
                                                 "Upstash-Callback-Method": "PUT"})  # fmt: skip
    [report] = _payloads(receiver, callback, 1)
    assert report["status"] == 201 and base64.b64decode(report["body"]) == b'{"ok":true}'
    assert report["header"]["X-Res"] == ["r"] and "dlqId" not in report
    assert receiver.received(callback)[0].method == "PUT"


def test_deduplication_by_id_and_by_content(gateway: Gateway, sdk: QStash, receiver) -> None:
    path = receiver.new_path()
    headers = {"Upstash-Deduplication-Id": "order-42", "Upstash-Delay": "300ms"}
    first = gateway.publish(receiver.url(path), b"a", **headers)
    second = gateway.publish(receiver.url(path), b"b", **headers)
    assert first.status_code == 200 and second.status_code == 202
    assert second.json() == {"messageId": first.json()["messageId"], "deduplicated": True}
    other = gateway.publish(receiver.url(path) + "?other", b"a", **headers)  # per destination
    assert other.status_code == 200

    content = [sdk.message.publish(url=receiver.url(path), body=body,
                                   content_based_deduplication=True)
               for body in ("same", "same", "different")]  # fmt: skip
    assert [c.deduplicated for c in content] == [False, True, False]  # type: ignore[union-attr]
    receiver.wait_for(path, 4)
    probe = receiver.new_path()
    gateway.publish(receiver.url(probe), b"p", **{"Upstash-Delay": "500ms"})
    receiver.wait_for(probe, 1)  # anything deduplicated would have arrived by now
    bodies = sorted(r.body for r in receiver.received(path))
    assert bodies == [b"a", b"a", b"different", b"same"]  # "a" once per destination
