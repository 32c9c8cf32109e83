"""The filters of the list and bulk routes (herald_gateway.api.filters): every filter QStash's
OpenAPI document gives a route is accepted there and matches what it names; anything else
is refused naming it, so a bulk action can never select more than its filters say."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, strategies as st

import tests.support.fuzzing  # noqa: F401 - loads the hypothesis profile
from herald_core.errors import InvalidField
from herald_core.models import Message
from herald_gateway.api.filters import DLQ, LOGS, MESSAGES, Route, parse
from herald_gateway.api.views import flow_fields, message_view

#: The query parameters each route documents in QStash's OpenAPI document (upstash/docs
#: qstash/openapi.yaml), plus those the official SDKs send there (JS `dlq.listMessages`
#: sends `dlqIds` and `flowControlKey`; JS `logs` sends `messageIds`, `host`, `path`,
#: `callerIp`, `flowControlKey`).
DOCUMENTED = {
    "MESSAGES": ["messageIds", "topicName", "queueName", "url", "host", "path", "label",
                 "flowControlKey", "fromDate", "toDate", "scheduleId", "callerIp", "callerIP",
                 "count"],
    "DLQ": ["dlqIds", "cursor", "messageId", "url", "topicName", "scheduleId", "queueName",
            "fromDate", "toDate", "responseStatus", "callerIp", "label", "flowControlKey",
            "count"],
    "LOGS": ["cursor", "messageId", "messageIds", "state", "url", "topicName", "scheduleId",
             "queueName", "fromDate", "toDate", "count", "label", "host", "path", "callerIp",
             "flowControlKey"],
}  # fmt: skip
ROUTES = {"MESSAGES": MESSAGES, "DLQ": DLQ, "LOGS": LOGS}
VALID = {"fromDate": "5", "toDate": "10", "count": "3", "cursor": "c", "state": "ERROR",
         "responseStatus": "500"}  # fmt: skip


def view(**fields: Any) -> dict[str, Any]:
    """A view as message_view / log_view / dlq_view build it."""
    base = {"messageId": "msg_1", "url": "http://billing.svc:8080/hooks/orders", "createdAt": 7,
            "time": 7, "state": "ERROR", "dlqId": "dlq_1"}  # fmt: skip
    return {**base, **fields}


@pytest.mark.parametrize(("route", "name"),
                         [(r, n) for r, names in DOCUMENTED.items() for n in names])  # fmt: skip
def test_every_documented_filter_is_taken(route: str, name: str) -> None:
    parse(ROUTES[route], [(name, VALID.get(name, "x"))])


@pytest.mark.parametrize(
    ("route", "name"),
    [(MESSAGES, "flowControlKeyy"), (MESSAGES, "cursor"), (MESSAGES, "messageId"),
     (MESSAGES, "dlqIds"), (MESSAGES, "responseStatus"), (MESSAGES, "state"),
     (DLQ, "host"), (DLQ, "path"), (DLQ, "messageIds"), (DLQ, "state"), (LOGS, "dlqIds"),
     (LOGS, "responseStatus"), (LOGS, "order"), (LOGS, "trimBody"), (DLQ, "api"),
     (MESSAGES, "topic"), (MESSAGES, "Label"), (MESSAGES, "")],
)  # fmt: skip
def test_an_unknown_filter_is_refused_by_name(route: Route, name: str) -> None:
    with pytest.raises(InvalidField) as refused:
        parse(route, [(name, "k")])
    assert refused.value.field == name and "not a filter" in refused.value.problem


@pytest.mark.parametrize(
    ("route", "pairs", "field"),
    [(MESSAGES, [("label", "")], "label"), (MESSAGES, [("label", " , ")], "label"),
     (MESSAGES, [("flowControlKey", "")], "flowControlKey"),
     (MESSAGES, [("messageIds", "")], "messageIds"), (DLQ, [("dlqIds", ",")], "dlqIds"),
     (MESSAGES, [("fromDate", "yesterday")], "fromDate"), (MESSAGES, [("toDate", "-1")], "toDate"),
     (MESSAGES, [("fromDate", "1"), ("fromDate", "2")], "fromDate"),
     (MESSAGES, [("fromDate", "")], "fromDate"), (MESSAGES, [("count", "0")], "count"),
     (MESSAGES, [("count", "501")], "count"), (DLQ, [("count", "101")], "count"),
     (LOGS, [("count", "1001")], "count"), (MESSAGES, [("count", "²")], "count"),
     (DLQ, [("responseStatus", "5xx")], "responseStatus"),
     (DLQ, [("responseStatus", "999")], "responseStatus"),
     (LOGS, [("state", "NOPE")], "state"), (LOGS, [("cursor", "a"), ("cursor", "b")], "cursor")],
)  # fmt: skip
def test_a_malformed_filter_is_refused_by_name(
    route: Route, pairs: list[tuple[str, str]], field: str
) -> None:
    with pytest.raises(InvalidField) as refused:
        parse(route, pairs)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("body", "field"),
    [({"label": {"a": 1}}, "label"), ({"messageIds": None}, "messageIds"),
     ({"messageIds": [1.5]}, "messageIds"), ({"messageIds": [True]}, "messageIds"),
     ({"label": []}, "label"), ({"flowControlKey": "k", "nope": 1}, "nope"),
     ({"count": "lots"}, "count")],
)  # fmt: skip
def test_a_malformed_body_filter_is_refused_by_name(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        parse(MESSAGES, [], body)
    assert refused.value.field == field


def test_a_filter_in_both_the_query_and_the_body_is_refused() -> None:
    with pytest.raises(InvalidField, match="both"):
        parse(MESSAGES, [("label", "a")], {"label": "b"})
    with pytest.raises(InvalidField, match="both"):
        parse(MESSAGES, [("callerIp", "1.2.3.4")], {"callerIP": "1.2.3.4"})


#: Per filter: a view it must keep and one it must not (all else equal).
CASES: list[tuple[Route, str, str, dict[str, Any], dict[str, Any]]] = [
    (MESSAGES, "messageIds", "msg_1,msg_2", view(), view(messageId="msg_3")),
    (MESSAGES, "url", "http://a/1", view(url="http://a/1"), view(url="http://a/2")),
    (MESSAGES, "host", "a:81", view(url="http://a:81/x"), view(url="http://a:82/x")),
    (MESSAGES, "path", "/x", view(url="http://a/x"), view(url="http://a/x/y")),
    (MESSAGES, "topicName", "orders", view(topicName="orders"), view(topicName="audit")),
    (MESSAGES, "topicName", "orders", view(topicName="orders"), view()),
    (MESSAGES, "queueName", "q", view(queueName="q"), view()),
    (MESSAGES, "scheduleId", "scd_1", view(scheduleId="scd_1"), view(scheduleId="scd_2")),
    (MESSAGES, "label", "a", view(labels=["b", "a"]), view(labels=["b"])),
    (MESSAGES, "label", "a", view(labels=["a"]), view()),
    (MESSAGES, "flowControlKey", "k", view(flowControlKey="k"), view(flowControlKey="j")),
    (MESSAGES, "flowControlKey", "k", view(flowControlKey="k"), view()),
    (MESSAGES, "callerIp", "10.0.0.1", view(callerIP="10.0.0.1"), view(callerIP="10.0.0.2")),
    (MESSAGES, "callerIP", "10.0.0.1", view(callerIP="10.0.0.1"), view()),
    (MESSAGES, "endpointName", "billing", view(endpointName="billing"), view()),
    (MESSAGES, "fromDate", "7", view(createdAt=7), view(createdAt=6)),
    (MESSAGES, "toDate", "7", view(createdAt=7), view(createdAt=8)),
    (LOGS, "fromDate", "7", view(time=7, createdAt=1), view(time=6, createdAt=9)),
    (LOGS, "state", "IN_PROGRESS", view(state="RETRY"), view(state="DELIVERED")),
    (LOGS, "state", "cancelled", view(state="CANCELED"), view(state="CANCEL_REQUESTED")),
    (LOGS, "messageId", "msg_1", view(), view(messageId="msg_2")),
    (DLQ, "dlqIds", "dlq_1", view(), view(dlqId="dlq_2")),
    (DLQ, "responseStatus", "500,502", view(responseStatus=502), view(responseStatus=503)),
    (DLQ, "responseStatus", "0500", view(responseStatus=500), view()),
]


@pytest.mark.parametrize(("route", "name", "value", "kept", "dropped"), CASES)
def test_each_filter_keeps_exactly_what_it_names(
    route: Route, name: str, value: str, kept: dict[str, Any], dropped: dict[str, Any]
) -> None:
    filters = parse(route, [(name, value)])
    assert filters.matches(kept) and not filters.matches(dropped)
    assert not filters.only()  # a filter always narrows: never the "no filter = all" case


def test_values_of_one_filter_or_and_filters_and() -> None:
    repeated = parse(MESSAGES, [("label", "a"), ("label", "b"), ("flowControlKey", "k")])
    commas = parse(MESSAGES, [("label", "a, b"), ("flowControlKey", "k")])
    body = parse(MESSAGES, [], {"label": ["a", "b"], "flowControlKey": "k"})
    for filters in (repeated, commas, body):
        assert filters.matches(view(labels=["b"], flowControlKey="k"))
        assert not filters.matches(view(labels=["b"], flowControlKey="j"))
        assert not filters.matches(view(labels=["c"], flowControlKey="k"))
    ids_and_label = parse(MESSAGES, [("messageIds", "msg_1"), ("label", "a")])
    assert ids_and_label.matches(view(labels=["a"]))
    assert not ids_and_label.matches(view(labels=["b"]))  # ids narrow; they are not a bypass


def test_no_filter_selects_everything_and_says_so() -> None:
    for route in (MESSAGES, LOGS, DLQ):
        filters = parse(route, [("qstash_token", "t"), ("count", "1")])
        assert filters.only() and filters.count == 1 and filters.matches(view())
    assert parse(MESSAGES, [("messageIds", "msg_1")]).only("messageIds")
    assert not parse(MESSAGES, [("messageIds", "msg_1"), ("toDate", "9")]).only("messageIds")


def test_an_empty_id_list_in_a_body_selects_nothing() -> None:
    """The Python SDK's `cancel_many([])` / `delete_many([])`: none, never all."""
    for route, name in ((MESSAGES, "messageIds"), (DLQ, "dlqIds")):
        filters = parse(route, [], {name: []})
        assert filters.get(name) == () and not filters.only()
        assert not filters.matches(view())


def test_body_numbers_are_read_like_query_strings() -> None:
    filters = parse(DLQ, [], {"responseStatus": [500], "fromDate": 5, "count": 2})
    assert filters.matches(view(responseStatus=500, createdAt=5)) and filters.count == 2


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8,
)  # fmt: skip
_KEYS = st.sampled_from(sorted({n for names in DOCUMENTED.values() for n in names} | {"x"}))


@given(st.sampled_from([MESSAGES, DLQ, LOGS]), st.dictionaries(_KEYS, _JSON, max_size=4))
def test_hostile_bodies_raise_only_invalid_field(route: Route, body: dict[str, Any]) -> None:
    try:
        parse(route, [], body).matches(view())
    except InvalidField:
        pass


def _message(**fields: Any) -> Message:
    return Message(id="msg_1", url="http://a/", method="POST", headers={}, max_retries=3,
                   timeout=30.0, created_at=1, not_before=1, **fields)  # fmt: skip


def test_views_carry_the_openapi_flow_control_fields() -> None:
    assert flow_fields(_message()) == {}
    assert flow_fields(_message(flow_key="k", flow_parallelism=2)) == {
        "flowControlKey": "k", "parallelism": 2, "period": 1}  # fmt: skip
    assert flow_fields(_message(flow_key="k", flow_rate=4, flow_period=2.0)) == {
        "flowControlKey": "k", "rate": 4, "period": 2}  # fmt: skip
    assert flow_fields(_message(flow_key="k", flow_rate=4, flow_period=0.5))["period"] == 1
    shown = message_view(_message(flow_key="k", flow_parallelism=3, flow_rate=9, flow_period=60))
    assert {k: shown[k] for k in ("flowControlKey", "parallelism", "rate", "period")} == {
        "flowControlKey": "k", "parallelism": 3, "rate": 9, "period": 60}  # fmt: skip
