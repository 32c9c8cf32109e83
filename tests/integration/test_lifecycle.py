"""The message lifecycle API through the official SDK and raw HTTP: messages, cancel,
logs, dead letters and their retry, against a real gateway, Redis and receivers."""

from __future__ import annotations

import hashlib

import pytest
from qstash import QStash
from qstash.log import LogState

from tests.support.gateway import Gateway, wait_until
from tests.support.receiver import Answer, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def states_of(sdk: QStash, message_id: str) -> list[str]:
    return [log.state.value for log in sdk.log.list(filter={"message_id": message_id}).logs]


def sha(value: bytes) -> str:
    return "REDACTED:" + hashlib.sha256(value).hexdigest()


def never_delivered(gateway: Gateway, receiver: Receiver, path: str, after: str) -> None:
    """Prove `path` got nothing: a probe due later than it has been delivered first."""
    probe = receiver.new_path()
    gateway.publish(receiver.url(probe), b"probe", **{"Upstash-Delay": after})
    receiver.wait_for(probe, 1)
    assert receiver.received(path) == []


def test_get_message_shows_every_field_and_redacts(gateway: Gateway, sdk: QStash, receiver):
    path = receiver.new_path()
    response = gateway.publish(
        receiver.url(path),
        b"secret body",
        **{
            "Content-Type": "text/plain",
            "Upstash-Delay": "2s",
            "Upstash-Retries": "2",
            "Upstash-Retry-Delay": "15000",
            "Upstash-Forward-Authorization": "Bearer hidden",
            "Upstash-Forward-X-Plain": "visible",
            "Upstash-Label": "billing,eu",
            "Upstash-Redact-Fields": "body,header[Authorization]",
            "Upstash-Callback": receiver.url("/cb-unused"),
        },
    )
    message_id = response.json()["messageId"]
    message = sdk.message.get(message_id)
    assert message.message_id == message_id and message.url == receiver.url(path)
    assert message.max_retries == 2 and message.retry_delay_expression == "15000"
    assert message.body == sha(b"secret body")
    headers = message.headers or {}
    assert headers["Authorization"] == [sha(b"Bearer hidden")]
    assert headers["X-Plain"] == ["visible"] and message.label == "billing"
    assert message.not_before - message.created_at >= 2000
    assert message.callback == receiver.url("/cb-unused")
    raw = gateway.client.get(f"/v2/messages/{message_id}").json()
    assert raw["labels"] == ["billing", "eu"] and raw["callerIP"] == "127.0.0.1"
    assert "secret body" not in str(raw) and "hidden" not in str(raw)
    logs = gateway.client.get("/v2/logs", params={"messageId": message_id}).json()
    assert "hidden" not in str(logs) and logs["logs"] == logs["events"]

    sdk.message.cancel(message_id)
    never_delivered(gateway, receiver, path, after="2500ms")
    assert states_of(sdk, message_id) == ["CANCELED", "CANCEL_REQUESTED", "CREATED"]
    assert gateway.client.get(f"/v2/messages/{message_id}").status_code == 404
    assert gateway.client.delete(f"/v2/messages/{message_id}").status_code == 404


def test_redacted_values_arrive_intact(gateway: Gateway, sdk: QStash, receiver) -> None:
    path = receiver.new_path()
    sdk.message.publish(
        url=receiver.url(path), body="the original", headers={"Authorization": "Bearer real"},
        redact={"body": True, "header": True},
    )  # fmt: skip
    [delivery] = receiver.wait_for(path, 1)
    assert delivery.body == b"the original"
    assert delivery.header("Authorization") == "Bearer real"


def test_cancel_many_all_and_query_forms(gateway: Gateway, sdk: QStash, receiver) -> None:
    path = receiver.new_path(*[Answer(404)] * 50)

    def publish(**headers: str) -> str:
        headers = {"Upstash-Retries": "3", "Upstash-Retry-Delay": "60000", **headers}
        return str(gateway.publish(receiver.url(path), b"x", **headers).json()["messageId"])

    a, b = publish(), publish()  # active or retrying: still cancellable
    assert sdk.message.cancel_many([a, b]) == 2
    c, d = publish(**{"Upstash-Delay": "1h"}), publish(**{"Upstash-Delay": "1h"})
    response = gateway.client.delete("/v2/messages", params={"messageIds": [c]})
    assert response.json() == {"cancelled": 1}
    labelled = [publish(**{"Upstash-Delay": "1h", "Upstash-Label": "batch-7"}) for _ in range(3)]
    response = gateway.client.delete("/v2/messages/", params={"label": "batch-7", "count": 2})
    assert response.json() == {"cancelled": 2}
    assert sdk.message.cancel_all() == 2  # d and the last labelled one
    for message_id in (a, b, c, d, *labelled):
        assert gateway.client.get(f"/v2/messages/{message_id}").status_code == 404


def test_log_rows_of_a_retried_then_failed_message(gateway: Gateway, sdk: QStash, receiver):
    path = receiver.new_path(Answer(500, body=b"boom"), Answer(503, body=b"still down"))
    message_id = gateway.publish(
        receiver.url(path), b"x", **{"Upstash-Retries": "1", "Upstash-Retry-Delay": "50"}
    ).json()["messageId"]
    wait_until(lambda: "FAILED" in states_of(sdk, message_id), what="FAILED row")
    assert states_of(sdk, message_id) == [
        "FAILED", "ERROR", "ACTIVE", "RETRY", "ERROR", "ACTIVE", "CREATED",
    ]  # fmt: skip
    logs = sdk.log.list(filter={"message_id": message_id}).logs
    failed, error = logs[0], logs[1]
    assert error.response_status == 503 and error.error == "HTTP 503"
    retry = logs[3]
    assert retry.next_delivery_time is not None and retry.retry_delay_expression == "50"
    assert logs[-1].body_base64 == "eA=="  # base64 of b"x"
    assert [log.time for log in logs] == sorted((log.time for log in logs), reverse=True)
    in_progress = gateway.client.get(
        "/v2/events", params={"messageId": message_id, "state": "IN_PROGRESS"}
    ).json()["events"]
    assert {row["state"] for row in in_progress} == {"ACTIVE", "RETRY", "ERROR"}
    assert failed.state is LogState.FAILED


def test_exactly_one_delivered_row(gateway: Gateway, sdk: QStash, receiver) -> None:
    path = receiver.new_path()
    message_id = sdk.message.publish_json(url=receiver.url(path), body={"a": 1}).message_id  # type: ignore[union-attr]
    receiver.wait_for(path, 1)
    wait_until(lambda: "DELIVERED" in states_of(sdk, message_id), what="DELIVERED row")
    delivered = sdk.log.list(filter={"message_id": message_id, "state": LogState.DELIVERED})
    assert len(delivered.logs) == 1


def test_log_pagination_and_filters_over_hundreds_of_rows(gateway: Gateway, receiver) -> None:
    path = receiver.new_path()
    ids = set()
    for i in range(120):
        label = "even" if i % 2 == 0 else "odd"
        response = gateway.publish(receiver.url(path), b"%d" % i, **{"Upstash-Label": label})
        ids.add(response.json()["messageId"])
    receiver.wait_for(path, 120)
    wait_until(
        lambda: len(gateway.client.get("/v2/logs", params={"state": "DELIVERED", "count": 1000})
                    .json()["logs"]) == 120,
        what="all DELIVERED rows",
    )  # fmt: skip
    seen: list[tuple[int, str, str]] = []
    cursor = None
    while True:
        params = {"count": 47, **({"cursor": cursor} if cursor else {})}
        page = gateway.client.get("/v2/logs", params=params).json()
        seen += [(row["time"], row["messageId"], row["state"]) for row in page["logs"]]
        cursor = page.get("cursor")
        if not cursor:
            break
    assert len(seen) == 360 and len(set(seen)) == 360  # CREATED, ACTIVE, DELIVERED each
    assert {message_id for _, message_id, _ in seen} == ids
    assert [t for t, _, _ in seen] == sorted((t for t, _, _ in seen), reverse=True)
    even = gateway.client.get("/v2/events", params={"label": "even", "state": "CREATED",
                                                    "count": 1000}).json()["events"]  # fmt: skip
    assert len(even) == 60 and {row["label"] for row in even} == {"even"}
    newest = seen[0][0]
    recent = gateway.client.get("/v2/logs", params={"fromDate": newest, "count": 1000}).json()
    assert recent["logs"] and all(row["time"] >= newest for row in recent["logs"])
    bad = gateway.client.get("/v2/logs", params={"count": "many"})
    assert bad.status_code == 400 and "count" in bad.json()["error"]
    assert gateway.client.get("/v2/logs", params={"state": "LOST"}).status_code == 400
