"""Routing tables, pure: `Topic`/`Subscription` specs → the entries stored in Redis, and the
precedence rules the gateway applies when it fans a publish out (DESIGN §3, §6).

Shared by the operator, `herald dev --manifests` and the gateway, so all three agree on one
translation. Precedence of delivery settings: publish header > Subscription > Topic >
global default; flow control and `paused` belong to the Subscription alone (a paused Topic
pauses all its subscriptions). No I/O here; `herald_core.routing_store` reads and writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from herald_core.durations import parse_duration
from herald_core.errors import InvalidField
from herald_core.expressions import compile_expression
from herald_core.specs import (
    DeliverySpec,
    EndpointSpec,
    FlowControlSpec,
    SubscriptionSpec,
    TopicSpec,
)

#: Who owns a table: the operator (a `Topic` object) or the QStash URL-group API.
Managed = Literal["crd", "api"]
#: Prefix of the entry name of a URL-group endpoint added without a name (no valid name
#: starts with it): the rest is a hash of its URL (herald_core.url_groups).
UNNAMED = "~"
#: Due time (ms) of a paused subscription's messages: far in the future, until resumed.
#: Longest flow-control period QStash allows (one week).
MAX_PERIOD = 7 * 86400.0
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,253}$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Delivery:
    """Delivery settings; None means "not set here, ask the next level"."""

    retries: int | None = None
    retry_delay: str | None = None
    timeout: float | None = None
    method: str | None = None

    def over(self, base: Delivery) -> Delivery:
        """These settings, with `base` filling every field not set here."""
        return Delivery(
            retries=base.retries if self.retries is None else self.retries,
            retry_delay=base.retry_delay if self.retry_delay is None else self.retry_delay,
            timeout=base.timeout if self.timeout is None else self.timeout,
            method=base.method if self.method is None else self.method,
        )


@dataclass(frozen=True, slots=True)
class FlowControl:
    parallelism: int | None = None
    rate: int | None = None
    #: Seconds the rate applies to.
    period: float = 1.0


@dataclass(frozen=True, slots=True)
class TopicRoute:
    """A table's own entry: the topic's defaults and who manages it."""

    namespace: str
    name: str
    delivery: Delivery = Delivery()
    paused: bool = False
    managed: Managed = "crd"
    created_at: int = 0
    updated_at: int = 0
    #: API-managed URL groups: `Upstash-*` headers applied to every publish to the group
    #: (the publisher's own headers win), set with `PATCH /v2/topics/{name}`.
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return topic_id(self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class SubscriptionRoute:
    """One subscription (or URL-group endpoint): where and how to deliver."""

    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    #: Effective: the Subscription's settings over the Topic's.
    delivery: Delivery = Delivery()
    flow_control: FlowControl | None = None
    paused: bool = False
    #: Headers whose values come from Secrets (herald_core.credentials), resolved by the
    #: operator: sent like `headers` (and win over them), redacted in every API view.
    secret_headers: dict[str, str] = field(default_factory=dict, repr=False)

    def delivery_headers(self) -> dict[str, str]:
        """Every header a delivery to this subscription carries from its route."""
        return {**self.headers, **self.secret_headers} if self.secret_headers else self.headers


@dataclass(frozen=True, slots=True)
class RoutingTable:
    topic: TopicRoute
    subscriptions: tuple[SubscriptionRoute, ...] = ()

    def is_paused(self, sub: SubscriptionRoute) -> bool:
        return self.topic.paused or sub.paused


def topic_id(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def split_destination(destination: str, caller_namespace: str) -> tuple[str, str]:
    """`name` (in the caller's namespace) or `namespace/name` → (namespace, name)."""
    namespace, _, name = destination.rpartition("/")
    namespace = namespace or caller_namespace
    if not _NAMESPACE.match(namespace) or not _NAME.match(name):
        raise InvalidField("destination", f"{destination!r} is not a topic name or namespace/name")
    return namespace, name


# -- specs → entries --------------------------------------------------------------------------


def desired_delivery(spec: DeliverySpec, where: str) -> Delivery:
    timeout = None
    if spec.timeout is not None:
        timeout = parse_duration(spec.timeout, field=f"{where}.timeout")
        if timeout <= 0:
            raise InvalidField(f"{where}.timeout", "must be more than 0s")
    retry_delay = None
    if spec.retry_delay is not None:
        retry_delay = compile_expression(spec.retry_delay, field=f"{where}.retryDelay").source
    return Delivery(spec.retries, retry_delay, timeout, spec.method)


def desired_topic_route(namespace: str, name: str, spec: TopicSpec, now_ms: int) -> TopicRoute:
    """The table entry of a `Topic`; raises InvalidField for a spec the CRD let through."""
    delivery = desired_delivery(spec.delivery, "spec.delivery")
    return TopicRoute(namespace, name, delivery, spec.paused, "crd", now_ms, now_ms)


def resolve_endpoint(namespace: str, endpoint: EndpointSpec) -> str:
    """The URL deliveries go to: `url` as given, or a Service's cluster DNS name."""
    if (endpoint.url is None) == (endpoint.service is None):
        raise InvalidField("spec.endpoint", "exactly one of url and service must be set")
    if endpoint.url is not None:
        if not re.match(r"^https?://[^/?#\s]+([/?#]\S*)?$", endpoint.url, re.IGNORECASE):
            raise InvalidField("spec.endpoint.url", "must be an http:// or https:// URL")
        return endpoint.url
    assert endpoint.service is not None
    svc = endpoint.service
    path = svc.path if svc.path.startswith("/") else "/" + svc.path
    return f"http://{svc.name}.{namespace}.svc:{svc.port}{path}"


def desired_flow_control(spec: FlowControlSpec | None) -> FlowControl | None:
    if spec is None or (spec.parallelism is None and spec.rate is None):
        return None
    period = 1.0
    if spec.period is not None:
        period = parse_duration(spec.period, field="spec.flowControl.period")
        if not 0 < period <= MAX_PERIOD:
            raise InvalidField("spec.flowControl.period", "must be more than 0s and at most 7d")
    return FlowControl(spec.parallelism, spec.rate, period)


def desired_subscription_route(
    namespace: str,
    name: str,
    spec: SubscriptionSpec,
    topic: TopicSpec,
    secret_headers: dict[str, str] | None = None,
) -> SubscriptionRoute:
    """A `Subscription`'s entry in its topic's table, with the topic's defaults resolved
    and `secret_headers` (herald_core.credentials, resolved by the operator) attached."""
    own = desired_delivery(spec.delivery, "spec.delivery")
    inherited = desired_delivery(topic.delivery, "topic spec.delivery")
    return SubscriptionRoute(
        name=name,
        url=resolve_endpoint(namespace, spec.endpoint),
        headers=dict(spec.headers),
        delivery=own.over(inherited),
        flow_control=desired_flow_control(spec.flow_control),
        paused=spec.paused,
        secret_headers=dict(secret_headers or {}),
    )


def endpoint_name(sub: SubscriptionRoute) -> str | None:
    """The name an API client gave an endpoint; None for an unnamed URL-group endpoint."""
    return None if sub.name.startswith(UNNAMED) else sub.name


def route_id(topic: TopicRoute, sub: SubscriptionRoute) -> str:
    """`<ns>/<topic>/<subscription>`: kept on each message, to find a paused one's messages."""
    return f"{topic.id}/{sub.name}"


def subscription_flow_key(topic_id: str, name: str) -> str:
    """Every message of a subscription carries this flow-control key: its limits, its pause
    and its delivered/failed/backlog counters live under it (lua/include/slots.lua)."""
    return f"sub:{topic_id}/{name}"


# -- JSON as stored in Redis ------------------------------------------------------------------


def _delivery_json(d: Delivery) -> dict[str, Any]:
    return {"retries": d.retries, "retryDelay": d.retry_delay, "timeout": d.timeout,
            "method": d.method}  # fmt: skip


def _delivery(d: dict[str, Any] | None) -> Delivery:
    d = d or {}
    return Delivery(d.get("retries"), d.get("retryDelay"), d.get("timeout"), d.get("method"))


def encode_topic(route: TopicRoute) -> bytes:
    entry: dict[str, Any] = {
        "namespace": route.namespace,
        "name": route.name,
        "delivery": _delivery_json(route.delivery),
        "paused": route.paused,
        "managed": route.managed,
        "createdAt": route.created_at,
        "updatedAt": route.updated_at,
    }
    if route.headers:
        entry["headers"] = route.headers
    return orjson.dumps(entry)


def decode_topic(raw: bytes | str) -> TopicRoute:
    d = orjson.loads(raw)
    return TopicRoute(d["namespace"], d["name"], _delivery(d.get("delivery")),
                      bool(d.get("paused")), d.get("managed", "crd"),
                      d.get("createdAt", 0), d.get("updatedAt", 0),
                      d.get("headers") or {})  # fmt: skip


def encode_subscription(route: SubscriptionRoute) -> bytes:
    fc = route.flow_control
    entry: dict[str, Any] = {
        "name": route.name, "url": route.url, "headers": route.headers,
        "delivery": _delivery_json(route.delivery), "paused": route.paused,
        "flowControl": None if fc is None else {"parallelism": fc.parallelism,
                                                "rate": fc.rate, "period": fc.period}}  # fmt: skip
    if route.secret_headers:  # absent otherwise: entries without credentials stay as they were
        entry["secretHeaders"] = route.secret_headers
    return orjson.dumps(entry)


def decode_subscription(raw: bytes | str) -> SubscriptionRoute:
    d = orjson.loads(raw)
    fc = d.get("flowControl")
    flow = None if not fc else FlowControl(fc.get("parallelism"), fc.get("rate"), fc["period"])
    return SubscriptionRoute(d["name"], d["url"], d.get("headers") or {},
                             _delivery(d.get("delivery")), flow, bool(d.get("paused")),
                             d.get("secretHeaders") or {})  # fmt: skip
