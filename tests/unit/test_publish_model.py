"""The publish model shared by every way in: a request's destination (URL or topic), URL-group
defaults, the delivery settings a publish sets itself, per-subscriber targets, staged
messages and DLQ-retry overrides."""

from __future__ import annotations

import pytest

from herald_core.errors import InvalidField, NotFound
from herald_core.models import Message
from herald_core.routing import (
    Delivery,
    FlowControl,
    RoutingTable,
    SubscriptionRoute,
    TopicRoute,
)
from herald_core.settings import Settings
from herald_gateway.publish.destinations import Endpoint, TopicRef, read_destination
from herald_gateway.publish.fanout import targets
from herald_gateway.publish.publishing import parse_overrides, parse_publish
from herald_gateway.publish.staging import redelivery, stage

SETTINGS = Settings(default_retries=3, max_retries=20, default_timeout=30, max_delay=86400)
NOW = 1_700_000_000_000
URL = "https://a.b/c"


def parse(headers=None, query="", dest: str | TopicRef = URL, body=b"", **kw):
    return parse_publish(dest, query, (headers or {}).items(), body, SETTINGS, NOW, **kw)


def table(*subs: SubscriptionRoute, headers=None) -> RoutingTable:
    return RoutingTable(TopicRoute("ops", "jobs", headers=headers or {}), subs)


def test_read_destination_tells_urls_from_topics() -> None:
    assert read_destination("https://x/y") == "https://x/y"
    assert read_destination("shop%2Forders") == TopicRef("shop/orders")
    with pytest.raises(InvalidField, match="destination url"):
        read_destination("a b")


def test_a_url_request_carries_its_endpoint_body_and_no_explicit_settings() -> None:
    request = parse(query="x=1", body=b"hi")
    assert request.destination == Endpoint("https://a.b/c?x=1")
    assert request.body == b"hi" and request.explicit == Delivery()


def test_a_topic_request_keeps_the_topic_and_drops_the_destination_query() -> None:
    request = parse({"upstash-retries": "2"}, query="x=1&upstash-method=put", dest=TopicRef("j"))
    assert request.destination == TopicRef("j")
    assert request.explicit == Delivery(retries=2, method="PUT")
    assert request.max_retries == 2 and request.method == "PUT"


def test_group_defaults_yield_to_the_query_and_the_headers() -> None:
    defaults = {"Upstash-Retries": "1", "Upstash-Timeout": "5s", "Upstash-Method": "PUT",
                "Upstash-Forward-X-Team": "ops"}  # fmt: skip
    request = parse({"upstash-retries": "7"}, query="upstash-timeout=9s", dest=TopicRef("j"),
                    defaults=defaults)  # fmt: skip
    assert (request.max_retries, request.timeout, request.method) == (7, 9, "PUT")
    assert request.headers == {"X-Team": "ops"}
    assert request.explicit == Delivery(retries=7, timeout=9, method="PUT")


@pytest.mark.parametrize(
    ("defaults", "field"),
    [
        ({"Upstash-Retries": "many"}, "Upstash-Retries"),
        ({"Upstash-Delay": "forever"}, "Upstash-Delay"),
        ({"Upstash-Callback-Retries": "1"}, "Upstash-Callback"),
        ({"Upstash-Forward-": "x"}, "Upstash-Forward-"),
    ],
)
def test_bad_group_defaults_name_their_header(defaults: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidField) as info:
        parse(dest=TopicRef("j"), defaults=defaults)
    assert info.value.field == field


def test_a_queued_topic_request_refuses_a_delay_given_as_a_default() -> None:
    with pytest.raises(InvalidField) as info:
        parse(dest=TopicRef("j"), queue="q", defaults={"Upstash-Delay": "1m"})
    assert info.value.field == "Upstash-Delay"


def test_a_url_request_has_one_target() -> None:
    request = parse()
    assert targets(request, None, SETTINGS) == [(request, Endpoint(URL))]


def test_a_topic_without_its_table_is_not_found() -> None:
    with pytest.raises(NotFound, match="jobs"):
        targets(parse(dest=TopicRef("ops/jobs")), None, SETTINGS)


def test_each_subscriber_gets_its_own_request_by_precedence() -> None:
    a = SubscriptionRoute("a", "https://a/", {"X-Sub": "a"}, Delivery(retries=9, timeout=4))
    b = SubscriptionRoute(
        "b", "https://b/", delivery=Delivery(method="PUT"),
        flow_control=FlowControl(parallelism=2), secret_headers={"X-Key": "s"},
    )  # fmt: skip
    request = parse({"upstash-retries": "1", "upstash-forward-x-pub": "p"}, dest=TopicRef("jobs"))
    (for_a, to_a), (for_b, _to_b) = targets(request, table(a, b), SETTINGS)
    assert to_a == Endpoint("https://a/", "jobs", "a") and for_a.destination == to_a
    # the publisher's retries win; the subscription's timeout over the global default
    assert (for_a.max_retries, for_a.timeout, for_a.method) == (1, 4, "POST")
    assert for_a.headers == {"X-Pub": "p", "X-Sub": "a", "Upstash-Topic-Name": "jobs"}
    assert for_a.flow is not None and for_a.flow.key == "sub:ops/jobs/a"
    assert (for_b.method, for_b.timeout) == ("PUT", SETTINGS.attempt_timeout)
    assert for_b.flow is not None and for_b.flow.parallelism == 2
    assert for_b.redact is not None and for_b.redact.headers == ("x-key",)
    assert for_b.headers["X-Key"] == "s"


def test_subscribers_in_a_queue_have_no_flow_key() -> None:
    request = parse(dest=TopicRef("jobs"), queue="q")
    [(own, _endpoint)] = targets(request, table(SubscriptionRoute("a", "https://a/")), SETTINGS)
    assert own.flow is None and own.queue == "q"


def test_staged_messages_dedup_per_endpoint_and_carry_the_schedule() -> None:
    subs = (SubscriptionRoute("a", "https://a/"), SubscriptionRoute("b", "https://b/"))
    request = parse({"upstash-deduplication-id": "d1"}, dest=TopicRef("jobs"), body=b"x")
    staged = stage(targets(request, table(*subs), SETTINGS), NOW, "10.0.0.1", schedule_id="s1")
    first, second = staged
    assert first.dedup_key and first.dedup_key != second.dedup_key
    assert [s.new.message.url for s in staged] == ["https://a/", "https://b/"]
    assert {s.new.message.schedule_id for s in staged} == {"s1"}
    assert first.new.message.topic_name == "jobs" and first.new.body == b"x"
    assert {s.new.message.id for s in staged} == {""}  # the store gives ids as it places them
    [one] = stage(targets(parse(), None, SETTINGS), NOW, None, dedup="tick")
    assert one.dedup_key == "tick" and one.new.message.topic_name is None


def test_dlq_overrides_change_only_what_they_name() -> None:
    original = Message(id="msg_1", url=URL, method="PUT", headers={"X-A": "1"}, max_retries=5,
                       timeout=10, created_at=1, not_before=1, retry_delay="1000")  # fmt: skip
    overrides = parse_overrides(
        [("Upstash-Retries", "0"), ("Upstash-Forward-X-B", "2"), ("X-Other", "no")], SETTINGS, NOW
    )
    again = redelivery(original, overrides, "msg_2", NOW)
    assert (again.id, again.created_at, again.not_before) == ("msg_2", NOW, NOW)
    kept = (again.max_retries, again.method, again.timeout, again.retry_delay)
    assert kept == (0, "PUT", 10, "1000")
    assert again.headers == {"X-A": "1", "X-B": "2"}


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ([("Upstash-Method", "FETCH")], "Upstash-Method"),
        ([("Upstash-Delay", "soon")], "Upstash-Delay"),
        ([("Upstash-Forward-X", "a\nb")], "Upstash-Forward-X"),
    ],
)
def test_dlq_override_errors_name_their_header(headers: list[tuple[str, str]], field: str) -> None:
    with pytest.raises(InvalidField) as info:
        parse_overrides(headers, SETTINGS, NOW)
    assert info.value.field == field
