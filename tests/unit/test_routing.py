"""Pure translation of Topic/Subscription specs into routing entries, and precedence."""

from __future__ import annotations

from typing import Any

import pytest

from herald_core.errors import InvalidField
from herald_core.routing import (
    Delivery,
    FlowControl,
    decode_subscription,
    decode_topic,
    desired_subscription_route,
    desired_topic_route,
    encode_subscription,
    encode_topic,
    split_destination,
)
from herald_core.specs import parse_subscription_spec, parse_topic_spec

TOPIC = parse_topic_spec(
    {
        "delivery": {
            "retries": 5,
            "retryDelay": "pow(2, retried) * 1000",
            "timeout": "30s",
            "method": "PUT",
        },
        "paused": False,
    }
)


def test_topic_route_parses_durations_and_expressions() -> None:
    route = desired_topic_route("shop", "orders", TOPIC, 1000)
    assert route.id == "shop/orders"
    assert route.delivery == Delivery(5, "pow(2, retried) * 1000", 30.0, "PUT")
    assert route.managed == "crd"
    assert decode_topic(encode_topic(route)) == route


def test_subscription_overrides_the_topic_field_by_field() -> None:
    spec = parse_subscription_spec(
        {"topic": "orders", "endpoint": {"url": "http://billing:8080/h"},
         "delivery": {"retries": 1, "timeout": "10s"}, "headers": {"X-Team": "billing"},
         "flowControl": {"parallelism": 4, "rate": 100, "period": "1m"}, "paused": True}
    )  # fmt: skip
    route = desired_subscription_route("shop", "billing", spec, TOPIC)
    assert route.url == "http://billing:8080/h"
    assert route.delivery == Delivery(1, "pow(2, retried) * 1000", 10.0, "PUT")
    assert route.flow_control == FlowControl(4, 100, 60.0)
    assert route.paused and route.headers == {"X-Team": "billing"}
    assert decode_subscription(encode_subscription(route)) == route


def test_service_endpoints_resolve_to_cluster_dns() -> None:
    spec = parse_subscription_spec(
        {
            "topic": "orders",
            "endpoint": {"service": {"name": "shipping", "port": 8080, "path": "/hooks/orders"}},
        }
    )
    route = desired_subscription_route("shop", "shipping", spec, parse_topic_spec({}))
    assert route.url == "http://shipping.shop.svc:8080/hooks/orders"
    assert route.delivery == Delivery()
    assert route.flow_control is None


def test_publish_headers_win_then_subscription_then_topic_then_global() -> None:
    globals_ = Delivery(3, None, 30.0, "POST")
    entry = Delivery(retries=1).over(Delivery(retries=5, timeout=20.0))
    header = Delivery(timeout=2.0)
    assert header.over(entry).over(globals_) == Delivery(1, None, 2.0, "POST")


@pytest.mark.parametrize(
    ("spec", "field"),
    [({"delivery": {"timeout": "soon"}}, "spec.delivery.timeout"),
     ({"delivery": {"retryDelay": "import os"}}, "spec.delivery.retryDelay"),
     ({"delivery": {"retries": -1}}, "spec.delivery.retries")],
)  # fmt: skip
def test_invalid_topic_specs_name_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as err:
        desired_topic_route("shop", "orders", parse_topic_spec(spec), 0)
    assert err.value.field == field


def test_both_endpoint_kinds_is_refused() -> None:
    spec = parse_subscription_spec(
        {"topic": "t", "endpoint": {"url": "http://a/", "service": {"name": "a", "port": 1}}}
    )
    with pytest.raises(InvalidField, match="exactly one"):
        desired_subscription_route("shop", "a", spec, TOPIC)


def test_destinations() -> None:
    assert split_destination("orders", "shop") == ("shop", "orders")
    assert split_destination("other/orders", "shop") == ("other", "orders")
    with pytest.raises(InvalidField):
        split_destination("Bad_NS/orders", "shop")
