"""URL groups, pure: names and namespaces, request bodies, upsert/remove rules."""

from __future__ import annotations

from typing import Any

import pytest

from herald_core.errors import Conflict, InvalidField, NotFound
from herald_core.routing import (
    RoutingTable,
    SubscriptionRoute,
    TopicRoute,
    decode_topic,
    encode_topic,
    endpoint_name,
)
from herald_core.url_groups import (
    EndpointRef,
    display_name,
    managed_elsewhere,
    parse_default_headers,
    parse_endpoints,
    parse_group_name,
    unnamed_key,
    with_endpoints,
    with_headers,
    without_endpoints,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("orders", ("default", "orders")), ("shop/orders", ("shop", "orders")),
     ("a.b-c_D9", ("default", "a.b-c_D9"))],
)  # fmt: skip
def test_group_names_map_onto_namespaces(raw: str, expected: tuple[str, str]) -> None:
    assert parse_group_name(raw, "default") == expected


@pytest.mark.parametrize(
    "raw", ["", "a b", "a/b/c", "Shop/orders", "shop/", "..", "x" * 201, "naïve", "a:b"]
)
def test_bad_group_names_are_refused(raw: str) -> None:
    with pytest.raises(InvalidField, match="url group name"):
        parse_group_name(raw, "default")


def test_names_are_shown_relative_to_the_caller() -> None:
    assert display_name("shop", "orders", "shop") == "orders"
    assert display_name("shop", "orders", "default") == "shop/orders"


def test_endpoint_bodies() -> None:
    body = {"endpoints": [{"url": "https://a.example/h", "name": "a"}, {"url": "http://b/h"}]}
    assert parse_endpoints(body, upsert=True) == [
        EndpointRef("https://a.example/h", "a"), EndpointRef("http://b/h", None)]  # fmt: skip
    assert parse_endpoints({"endpoints": [{"name": "a"}]}, upsert=False) == [EndpointRef(None, "a")]


@pytest.mark.parametrize(
    ("body", "upsert", "field"),
    [
        ({}, True, "endpoints"),
        ({"endpoints": []}, True, "endpoints"),
        ([{"url": "http://a/h"}], True, "endpoints"),
        ({"endpoints": ["http://a/h"]}, True, "endpoints[0]"),
        ({"endpoints": [{"name": "a"}]}, True, "endpoints[0].url"),
        ({"endpoints": [{"url": "ftp://a/h"}]}, True, "endpoints[0].url"),
        ({"endpoints": [{"url": "http://a/h"}, {"url": "a/h"}]}, True, "endpoints[1].url"),
        ({"endpoints": [{"url": "http:// a/h"}]}, True, "endpoints[0].url"),
        ({"endpoints": [{"url": "http://a/h", "name": "a b"}]}, True, "endpoints[0].name"),
        ({"endpoints": [{}]}, False, "endpoints[0]"),
    ],
)
def test_bad_endpoint_bodies_name_the_field(body: Any, upsert: bool, field: str) -> None:
    with pytest.raises(InvalidField) as info:
        parse_endpoints(body, upsert=upsert)
    assert info.value.field == field


def _urls(table: RoutingTable | None) -> list[tuple[str | None, str]]:
    assert table is not None
    return sorted(((endpoint_name(s), s.url) for s in table.subscriptions), key=lambda e: e[1])


def test_upsert_by_name_and_by_url() -> None:
    first = with_endpoints("default", "g", [EndpointRef("http://a/h", None),
                                            EndpointRef("http://b/h", "b")])(None)  # fmt: skip
    assert first.topic.managed == "api" and first.topic.id == "default/g"
    assert (_urls(first)) == [(None, "http://a/h"), ("b", "http://b/h")]
    again = with_endpoints("default", "g", [
        EndpointRef("http://a/h", None),  # already there: no duplicate
        EndpointRef("http://b2/h", "b"),  # named: its URL changes
    ])(first)  # fmt: skip
    assert (_urls(again)) == [(None, "http://a/h"), ("b", "http://b2/h")]
    named = with_endpoints("default", "g", [EndpointRef("http://a/h", "a")])(again)
    assert (_urls(named)) == [("a", "http://a/h"), ("b", "http://b2/h")]  # a gained a name


def test_remove_matches_every_given_field_and_the_last_one_deletes() -> None:
    table = with_endpoints("default", "g", [
        EndpointRef("http://a/h", "a"), EndpointRef("http://b/h", None),
        EndpointRef("http://c/h", "c")])(None)  # fmt: skip
    fewer = without_endpoints("g", [EndpointRef("http://b/h", None),
                                    EndpointRef("http://other/h", "a")])(table)  # fmt: skip
    assert (_urls(fewer)) == [("a", "http://a/h"), ("c", "http://c/h")]
    assert (
        without_endpoints("g", [EndpointRef(None, "a"), EndpointRef("http://c/h")])(fewer) is None
    )
    with pytest.raises(NotFound, match='url group "g" not found'):
        without_endpoints("g", [EndpointRef(None, "a")])(None)


def test_unnamed_endpoints_have_a_private_key() -> None:
    key = unnamed_key("http://a/h")
    assert key != unnamed_key("http://b/h")
    assert endpoint_name(SubscriptionRoute(key, "http://a/h")) is None
    with pytest.raises(InvalidField):
        parse_endpoints({"endpoints": [{"url": "http://a/h", "name": key}]}, upsert=True)


def test_default_headers() -> None:
    body = {"headers": {"upstash-retries": "3", "Upstash-Header-Forward": ["true"],
                        "UPSTASH-FORWARD-X-TEAM": ["a", "b"]}}  # fmt: skip
    assert parse_default_headers(body) == {
        "Upstash-Retries": "3",
        "Upstash-Header-Forward": "true",
        "Upstash-Forward-X-Team": "a,b",
    }
    for bad, field in (({"headers": {"X-Team": "a"}}, "headers.X-Team"),
                       ({"headers": {"Upstash-Retries": 3}}, "headers.Upstash-Retries"),
                       ({"headers": ["Upstash-Retries"]}, "headers")):  # fmt: skip
        with pytest.raises(InvalidField) as info:
            parse_default_headers(bad)
        assert info.value.field == field
    table = with_endpoints("default", "g", [EndpointRef("http://a/h")])(None)
    stored = with_headers("g", {"Upstash-Retries": "3"})(table).topic
    assert decode_topic(encode_topic(stored)).headers == {"Upstash-Retries": "3"}
    assert b"headers" not in encode_topic(TopicRoute("shop", "orders"))  # CRD tables: unchanged


def test_conflict_names_the_kubernetes_object() -> None:
    error = managed_elsewhere(TopicRoute("shop", "orders"))
    assert isinstance(error, Conflict) and error.status_code == 409
    assert "Topic shop/orders" in str(error) and "kubectl" in str(error)
