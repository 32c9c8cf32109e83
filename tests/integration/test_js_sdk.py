"""The official JavaScript SDK (`@upstash/qstash` from npm, run with node) against a real
`herald gateway` and real receivers: publishJSON, URL groups, batchJSON, logs, the DLQ and
the SDK's `Receiver` on Herald's signatures.

The SDK is pinned in tests/js/package-lock.json and installed with `npm ci` into
tests/js/node_modules the first time this module runs (again only when the lockfile changes;
offline afterwards). node and npm must be on PATH: without them these tests fail, they do
not skip. Each tests/js/*.mjs script takes one JSON argument and prints one JSON line.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway import CURRENT_KEY, NEXT_KEY, Gateway, wait_until
from tests.support.js import Js, install_sdk
from tests.support.receiver import Answer, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def test_publish_json_delivers_body_and_headers(js: Js, receiver: Receiver) -> None:
    path = receiver.new_path()
    url = receiver.url(path)
    answer = js("publish.mjs", {
        "url": f"{url}?from=js", "body": {"order": 42, "items": ["a", "b"]},
        "headers": {"X-Team": "billing"}, "retries": 2, "label": "orders",
    })  # fmt: skip
    assert set(answer) == {"messageId"} and answer["messageId"].startswith("msg_")
    [delivery] = receiver.wait_for(path, 1)
    assert delivery.method == "POST" and delivery.query == "from=js"
    assert json.loads(delivery.body) == {"order": 42, "items": ["a", "b"]}
    assert delivery.header("Content-Type") == "application/json"
    assert delivery.header("X-Team") == "billing"
    assert delivery.header("Upstash-Message-Id") == answer["messageId"]
    assert delivery.header("Upstash-Retried") == "0"
    # the SDK's telemetry and settings headers are Herald's, not the destination's
    stray = ("upstash-telemetry-", "upstash-forward-", "upstash-method", "upstash-retries")
    assert not [name for name in delivery.headers if name.startswith(stray)]
    assert "upstash-label" not in delivery.headers
    assert js.verify(delivery, f"{url}?from=js") == {"valid": True}


def test_receiver_accepts_herald_signatures_and_rejects_tampering(
    js: Js, gateway: Gateway, receiver: Receiver
) -> None:
    path = receiver.new_path()
    url = receiver.url(path)
    js("publish.mjs", {"url": url, "body": {"amount": 10}})
    [delivery] = receiver.wait_for(path, 1)
    assert js.verify(delivery, url) == {"valid": True}

    tampered = js.verify(delivery, url, body='{"amount":1000}')
    assert tampered["valid"] is False and "body hash does not match" in tampered["reason"]
    elsewhere = js.verify(delivery, receiver.url("/hook/other"))
    assert elsewhere["valid"] is False and "invalid subject" in elsewhere["reason"]
    wrong = "sig_wrong_0123456789abcdefghijklmnop"
    unknown = js.verify(delivery, url, QSTASH_CURRENT_SIGNING_KEY=wrong,
                        QSTASH_NEXT_SIGNING_KEY=wrong)  # fmt: skip
    assert unknown["valid"] is False and "signature" in unknown["reason"]

    # after a rotation Herald signs with the old `next`: receivers still holding the old
    # pair accept it through their next key, and so do those given the new pair
    rotated = gateway.client.post("/v2/keys/rotate").json()
    assert rotated["current"] == NEXT_KEY
    js("publish.mjs", {"url": url, "body": {"amount": 11}})
    [_, after] = receiver.wait_for(path, 2)
    assert js.verify(after, url) == {"valid": True}
    new_pair = {"QSTASH_CURRENT_SIGNING_KEY": rotated["current"],
                "QSTASH_NEXT_SIGNING_KEY": rotated["next"]}  # fmt: skip
    assert js.verify(after, url, **new_pair) == {"valid": True}
    stale = js.verify(after, url, QSTASH_NEXT_SIGNING_KEY=CURRENT_KEY)
    assert stale["valid"] is False


def test_url_group_publish_reaches_every_endpoint(js: Js, receiver: Receiver) -> None:
    paths = [receiver.new_path(), receiver.new_path()]
    urls = [receiver.url(p) for p in paths]
    endpoints = [{"url": urls[0], "name": "first"}, {"url": urls[1]}]
    assert js("url_groups.mjs", {"op": "add", "name": "js-orders", "endpoints": endpoints}) is None
    group = js("url_groups.mjs", {"op": "get", "name": "js-orders"})
    assert group["name"] == "js-orders"
    assert sorted(e["url"] for e in group["endpoints"]) == sorted(urls)
    assert {e.get("name") for e in group["endpoints"]} == {"first", None}
    listed = js("url_groups.mjs", {"op": "list"})
    assert [g["name"] for g in listed] == ["js-orders"]

    answers = js("publish.mjs", {"urlGroup": "js-orders", "body": {"order": 7}})
    assert sorted(a["url"] for a in answers) == sorted(urls)
    by_url = {a["url"]: a["messageId"] for a in answers}
    assert len(set(by_url.values())) == 2
    for path, url in zip(paths, urls, strict=True):
        [delivery] = receiver.wait_for(path, 1)
        assert json.loads(delivery.body) == {"order": 7}
        assert delivery.header("Upstash-Topic-Name") == "js-orders"
        assert delivery.header("Upstash-Message-Id") == by_url[url]
        assert js.verify(delivery, url) == {"valid": True}

    js("url_groups.mjs", {"op": "remove", "name": "js-orders", "endpoints": [{"name": "first"}]})
    group = js("url_groups.mjs", {"op": "get", "name": "js-orders"})
    assert [e["url"] for e in group["endpoints"]] == [urls[1]]
    js("url_groups.mjs", {"op": "delete", "name": "js-orders"})
    missing = js.error("url_groups.mjs", {"op": "get", "name": "js-orders"})
    assert missing["status"] == 404
    assert js("url_groups.mjs", {"op": "list"}) == []


def test_batch_json_delivers_url_and_group_items(js: Js, receiver: Receiver) -> None:
    first, second, member = receiver.new_path(), receiver.new_path(), receiver.new_path()
    js("url_groups.mjs", {"op": "add", "name": "js-batch",
                          "endpoints": [{"url": receiver.url(member)}]})  # fmt: skip
    answers = js("batch.mjs", [
        {"url": receiver.url(first), "body": {"n": 1}, "headers": {"X-One": "1"}},
        {"urlGroup": "js-batch", "body": {"n": 2}},
        {"url": receiver.url(second), "body": {"n": 3}, "method": "PUT", "retries": 0},
    ])  # fmt: skip
    assert len(answers) == 3 and isinstance(answers[1], list)
    [one] = receiver.wait_for(first, 1)
    [two] = receiver.wait_for(member, 1)
    [three] = receiver.wait_for(second, 1)
    assert json.loads(one.body) == {"n": 1} and one.header("X-One") == "1"
    assert json.loads(two.body) == {"n": 2} and two.header("Upstash-Topic-Name") == "js-batch"
    assert json.loads(three.body) == {"n": 3} and three.method == "PUT"
    for delivery in (one, two, three):
        assert delivery.header("Content-Type") == "application/json"
    assert answers[0]["messageId"] == one.header("Upstash-Message-Id")
    assert answers[1] == [{"messageId": two.header("Upstash-Message-Id"),
                           "url": receiver.url(member)}]  # fmt: skip
    assert answers[2]["messageId"] == three.header("Upstash-Message-Id")


def test_logs_and_events_show_a_delivery(js: Js, receiver: Receiver) -> None:
    path = receiver.new_path()
    url = receiver.url(path)
    message_id = js("publish.mjs", {"url": url, "body": {"log": "me"}, "label": "js"})["messageId"]
    receiver.wait_for(path, 1)

    def delivered() -> Any:
        answer = js("logs.mjs", {"messageIds": [message_id]})
        states = [row["state"] for row in answer["logs"]["logs"]]
        return answer if "DELIVERED" in states else None

    answer = wait_until(delivered, what="DELIVERED log row")
    rows = answer["logs"]["logs"]
    assert answer["logs"]["events"] == rows  # the SDK answers under both names
    assert answer["events"]["logs"] == rows  # client.events() is client.logs()
    assert {row["messageId"] for row in rows} == {message_id}
    assert {row["url"] for row in rows} == {url}
    states = [row["state"] for row in rows]
    assert states[0] == "DELIVERED" and states[-1] == "CREATED"  # newest first
    assert all(isinstance(row["time"], int) for row in rows)
    [created] = [row for row in rows if row["state"] == "CREATED"]
    assert base64.b64decode(created["body"]) == b'{"log":"me"}'  # log bodies are base64
    assert created["labels"] == ["js"]

    by_filter = js("logs.mjs", {"filter": {"url": url, "state": "DELIVERED"}})["logs"]["logs"]
    assert [(row["messageId"], row["state"]) for row in by_filter] == [(message_id, "DELIVERED")]
    assert js("logs.mjs", {"filter": {"label": "other"}})["logs"]["logs"] == []


def test_dlq_lists_and_deletes_a_dead_letter(js: Js, receiver: Receiver) -> None:
    path = receiver.new_path(Answer(500, headers={"X-Why": "down"}, body=b"boom"))
    url = receiver.url(path)
    message_id = js("publish.mjs", {"url": url, "body": {"lost": True}, "retries": 0,
                                    "headers": {"X-Trace": "t1"}})["messageId"]  # fmt: skip

    def listed() -> Any:
        return js("dlq.mjs", {"op": "list", "filter": {"url": url}})["messages"]

    [entry] = wait_until(listed, what="DLQ entry")
    assert entry["messageId"] == message_id and entry["url"] == url
    assert entry["responseStatus"] == 500 and entry["responseBody"] == "boom"
    assert entry["responseHeader"]["X-Why"] == ["down"]
    assert json.loads(entry["body"]) == {"lost": True} and entry["maxRetries"] == 0
    assert entry["header"]["X-Trace"] == ["t1"]
    by_id = js("dlq.mjs", {"op": "list", "dlqIds": [entry["dlqId"]]})["messages"]
    assert [m["messageId"] for m in by_id] == [message_id]
    assert js("dlq.mjs", {"op": "list", "filter": {"url": receiver.url("/none")}}) == {
        "messages": []
    }

    js("dlq.mjs", {"op": "delete", "request": entry["dlqId"]})
    assert js("dlq.mjs", {"op": "list", "filter": {"url": url}})["messages"] == []


def test_bulk_calls_touch_only_what_their_filters_name(
    js: Js, gateway: Gateway, receiver: Receiver
) -> None:
    """`messages.cancel({filter})` (the SDK adds `count=100`), `dlq.listMessages({dlqIds})`,
    `dlq.retry({filter})` and `dlq.delete({filter})`: each touches the matching messages only,
    with others (other key, other label, other status) present."""
    later = {"Upstash-Delay": "1h"}

    def publish(key: str, label: str) -> str:
        headers = {
            **later,
            "Upstash-Flow-Control-Key": key,
            "Upstash-Flow-Control-Value": "parallelism=1",
            "Upstash-Label": label,
        }
        return str(gateway.publish("http://127.0.0.1:9/x", b"x", **headers).json()["messageId"])

    pending = {(key, label): publish(key, label) for key in ("js-k1", "js-k2")
               for label in ("x", "y")}  # fmt: skip
    answer = js(
        "messages.mjs",
        {"op": "cancel", "request": {"filter": {"flowControlKey": "js-k1", "label": "x"}}},
    )
    assert answer == {"cancelled": 1}
    status = {k: gateway.client.get(f"/v2/messages/{i}").status_code for k, i in pending.items()}
    assert status == {("js-k1", "x"): 404, ("js-k1", "y"): 200, ("js-k2", "x"): 200,
                      ("js-k2", "y"): 200}  # fmt: skip
    refused = js.error("messages.mjs", {"op": "cancel", "request": {"filter": {"nope": "1"}}})
    assert refused["status"] == 400 and "nope" in refused["message"]

    path = receiver.new_path(Answer(500), Answer(500), Answer(404))  # then 200s
    url = receiver.url(path)
    for label in ("a", "b", "c"):
        js("publish.mjs", {"url": url, "body": {"label": label}, "retries": 0, "label": label})
    entries = wait_until(
        lambda: len(m := js("dlq.mjs", {"op": "list", "filter": {"url": url}})["messages"]) == 3
        and m, what="3 dead letters")  # fmt: skip
    by_label = {e["labels"][0]: e for e in entries}
    ids = [by_label["a"]["dlqId"], by_label["c"]["dlqId"]]
    listed = js("dlq.mjs", {"op": "list", "dlqIds": ids})["messages"]
    assert sorted(m["dlqId"] for m in listed) == sorted(ids)

    retried = js("dlq.mjs", {"op": "retry", "request": {"filter": {"label": "a", "url": url}}})
    assert len(retried["responses"]) == 1 and "cursor" not in retried
    [delivery] = receiver.wait_for(path, 4)[3:]
    assert json.loads(delivery.body) == {"label": "a"}
    assert delivery.header("Upstash-Message-Id") == retried["responses"][0]["messageId"]
    status_of_b = by_label["b"]["responseStatus"]
    deleted = js("dlq.mjs", {"op": "delete", "request": {
        "filter": {"responseStatus": status_of_b, "label": "b"}}})  # fmt: skip
    assert deleted["deleted"] == 1
    left = js("dlq.mjs", {"op": "list", "filter": {"url": url}})["messages"]
    assert [m["labels"] for m in left] == [["c"]]


def test_missing_node_fails_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="`node` is not on PATH"):
        install_sdk()
