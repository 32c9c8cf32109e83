"""Herald's JSON against QStash's OpenAPI schemas, field by field with types (issue 12 part 2),
and the flow-control fields the official Python SDK reads from messages, logs and dead
letters. The schemas below are the OpenAPI document's (upstash/docs qstash/openapi.yaml):
every field Herald answers that the schema names must have the schema's JSON type, and
every field this test's message has a value for must be there."""

from __future__ import annotations

from typing import Any

import pytest
from qstash import QStash

from tests.support.gateway import Gateway, wait_until
from tests.support.receiver import Answer, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]

S, N, B, OBJ, ARR = str, int, bool, dict, list
MESSAGE = {"messageId": S, "url": S, "topicName": S, "endpointName": S, "method": S,
           "header": OBJ, "body": S, "bodyBase64": S, "maxRetries": N, "notBefore": N,
           "createdAt": N, "callback": S, "failureCallback": S, "queueName": S,
           "scheduleId": S, "callerIP": S, "label": S, "labels": ARR, "flowControlKey": S,
           "rate": N, "period": N, "parallelism": N}  # fmt: skip
DLQ_MESSAGE = {**MESSAGE, "responseStatus": N, "responseHeader": OBJ, "responseBody": S,
               "responseBodyBase64": S}  # fmt: skip
LOG_ENTRY = {"time": N, "messageId": S, "header": OBJ, "body": S, "state": S, "error": S,
             "nextDeliveryTime": N, "url": S, "topicName": S, "endpointName": S,
             "scheduleId": S, "queueName": S, "responseStatus": N, "responseBody": S,
             "responseHeaders": OBJ, "timeout": N, "method": S, "callback": S,
             "callbackHeaders": OBJ, "failureCallback": S, "failureCallbackHeaders": OBJ,
             "maxRetries": N, "retryDelayExpression": S, "label": S, "labels": ARR}  # fmt: skip
SCHEDULE = {"scheduleId": S, "cron": S, "destination": S, "createdAt": N, "method": S,
            "header": OBJ, "body": S, "retries": N, "delay": N, "callback": S,
            "failureCallback": S, "callerIp": S, "isPaused": B, "flowControlKey": S,
            "parallelism": N, "rate": N, "period": N, "retryDelayExpression": S, "label": S,
            "labels": ARR, "lastScheduleTime": N, "nextScheduleTime": N,
            "lastScheduleStates": OBJ}  # fmt: skip
QUEUE = {"name": S, "createdAt": N, "updatedAt": N, "parallelism": N, "paused": B, "lag": N}
URL_GROUP = {"name": S, "createdAt": N, "updatedAt": N, "endpoints": ARR}
FLOW_CONTROL_KEY = {"flowControlKey": S, "waitListSize": N, "parallelismMax": N,
                    "parallelismCount": N, "rateMax": N, "rateCount": N, "ratePeriod": N,
                    "ratePeriodStart": N, "isPinnedParallelism": B, "isPinnedRate": B,
                    "isPaused": B}  # fmt: skip


def conforms(view: dict[str, Any], schema: dict[str, type], *, present: set[str]) -> None:
    """Every schema field in `view` has the schema's type; every field of `present` is there."""
    assert present <= set(view), f"missing: {present - set(view)}"
    for name, kind in schema.items():
        if name in view:
            value = view[name]
            assert isinstance(value, kind) and not (kind is N and isinstance(value, bool)), (
                f"{name}: {value!r} is not {kind.__name__}"
            )


FLOW = {"Upstash-Flow-Control-Key": "views", "Upstash-Flow-Control-Value": "parallelism=2, "
        "rate=4, period=2s"}  # fmt: skip


def test_every_view_has_the_openapi_types(gateway: Gateway, receiver: Receiver) -> None:
    client = gateway.client
    member = receiver.new_path(Answer(500, body=b"down"))
    client.post("/v2/topics/views/endpoints",
                json={"endpoints": [{"url": receiver.url(member), "name": "first"}]})  # fmt: skip
    common = {"Upstash-Label": "one,two", "Upstash-Callback": receiver.url("/hook/cb"),
              "Upstash-Failure-Callback": receiver.url("/hook/fcb"), "Upstash-Retries": "0",
              "Upstash-Retry-Delay": "1000", "Upstash-Forward-X-Team": "a", **FLOW}  # fmt: skip
    [answer] = client.post("/v2/publish/views", content=b"hello", headers=common).json()
    conforms(answer, {"messageId": S, "url": S, "deduplicated": B}, present={"messageId", "url"})
    pending = client.post(f"/v2/publish/{receiver.url(member)}", content=b"later",
                          headers={**common, "Upstash-Delay": "1h"}).json()  # fmt: skip
    conforms(pending, {"messageId": S, "deduplicated": B}, present={"messageId"})

    message = client.get(f"/v2/messages/{pending['messageId']}").json()
    conforms(message, MESSAGE, present=set(MESSAGE) - {"bodyBase64", "queueName", "scheduleId",
                                                       "topicName", "endpointName"})  # fmt: skip

    def dead() -> Any:
        return client.get("/v2/dlq", params={"messageId": answer["messageId"]}).json()["messages"]

    [letter] = wait_until(dead, what="the dead letter")
    # a URL-group delivery runs under its subscription's own flow-control key (no limits set)
    assert letter["flowControlKey"] != FLOW["Upstash-Flow-Control-Key"]
    conforms(
        letter,
        DLQ_MESSAGE,
        present=set(DLQ_MESSAGE)
        - {"bodyBase64", "queueName", "scheduleId", "responseBodyBase64", "rate", "parallelism"},
    )
    logs = client.get("/v2/logs", params={"messageId": answer["messageId"]}).json()
    assert logs["logs"] == logs["events"]
    by_state = {row["state"]: row for row in logs["logs"]}
    for row in logs["logs"]:
        conforms(
            row,
            LOG_ENTRY,
            present={
                "time",
                "messageId",
                "state",
                "url",
                "header",
                "method",
                "timeout",
                "maxRetries",
                "labels",
                "topicName",
                "endpointName",
                "callback",
                "failureCallback",
                "retryDelayExpression",
            },
        )
    conforms(by_state["ERROR"], LOG_ENTRY, present={"error", "responseStatus", "responseBody",
                                                    "responseHeaders"})  # fmt: skip
    assert "body" in by_state["CREATED"]

    created = client.post(f"/v2/schedules/{receiver.url(member)}", content=b"tick",
                          headers={**common, "Upstash-Cron": "0 4 * * *",
                                   "Upstash-Delay": "30s"}).json()  # fmt: skip
    schedule = client.get(f"/v2/schedules/{created['scheduleId']}").json()
    conforms(schedule, SCHEDULE, present=set(SCHEDULE) - {"lastScheduleTime",
                                                          "lastScheduleStates"})  # fmt: skip
    client.post("/v2/queues", json={"queueName": "views", "parallelism": 2})
    conforms(client.get("/v2/queues/views").json(), QUEUE, present=set(QUEUE))
    group = client.get("/v2/topics/views").json()
    conforms(group, URL_GROUP, present=set(URL_GROUP))
    assert group["endpoints"] == [{"url": receiver.url(member), "name": "first"}]
    conforms(client.get("/v2/flowControl/views").json(), FLOW_CONTROL_KEY,
             present=set(FLOW_CONTROL_KEY))  # fmt: skip
    error = client.delete("/v2/messages", params={"nope": "1"})
    assert error.status_code == 400
    conforms(error.json(), {"error": S}, present={"error"})


def test_python_sdk_reads_flow_control_everywhere(sdk: QStash, receiver: Receiver) -> None:
    """Issue 12: `message.get(...).flow_control` was always None."""
    url = receiver.url(receiver.new_path(Answer(500)))
    both = sdk.message.publish(url=url, body="x", delay="1h", retries=0, flow_control={
        "key": "sdk-key", "parallelism": 2, "rate": 4, "period": 2})  # fmt: skip
    only_parallelism = sdk.message.publish(
        url=url, body="y", delay="1h", flow_control={"key": "sdk-key", "parallelism": 3}
    )
    control = sdk.message.get(both.message_id).flow_control  # type: ignore[union-attr]
    assert control is not None
    assert (control.key, control.parallelism, control.rate, control.period) == (
        "sdk-key", 2, 4, 2)  # fmt: skip
    control = sdk.message.get(only_parallelism.message_id).flow_control  # type: ignore[union-attr]
    assert control is not None
    assert (control.parallelism, control.rate, control.period) == (3, None, 1)

    failed = sdk.message.publish(url=url, body="z", retries=0,
                                 flow_control={"key": "sdk-key", "rate": 5})  # fmt: skip
    message_id = failed.message_id  # type: ignore[union-attr]
    [letter] = wait_until(lambda: sdk.dlq.list(filter={"message_id": message_id}).messages,
                          what="the dead letter")  # fmt: skip
    assert letter.flow_control is not None
    assert (letter.flow_control.key, letter.flow_control.rate) == ("sdk-key", 5)
    logs = sdk.log.list(filter={"message_id": message_id}).logs
    assert logs and all(row.flow_control is not None for row in logs)
    assert {row.flow_control.key for row in logs if row.flow_control} == {"sdk-key"}
