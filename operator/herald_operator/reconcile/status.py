"""Status of Topics and Subscriptions from the outcome of a sync (pure).

The sync handlers own the Ready, TopicFound, EndpointResolved and SecretsResolved
conditions; Degraded and the delivery counters belong to the health timers
(herald_operator.health), which refresh them at a bounded rate. Every URL shown is
redacted (herald_core.credentials.redact_url).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import Any

from herald_core.credentials import redact_url
from herald_core.routing_sync import SubscriptionSynced, TopicSynced
from herald_core.specs import EndpointSpec
from herald_operator.conditions import Want, merge_conditions, summary
from herald_operator.reconcile.health import DEGRADED

Status = dict[str, Any]
TOPIC_SYNC_OWNS = ("Ready",)
SUBSCRIPTION_SYNC_OWNS = ("Ready", "TopicFound", "EndpointResolved", "SecretsResolved")
#: Service ports, None for a Service that does not exist, UNREADABLE when it could not be read.
UNREADABLE = frozenset({-1})


def topic_address(public_url: str, namespace: str, name: str) -> str:
    return f"{public_url.rstrip('/')}/v2/publish/{namespace}/{name}"


def topic_wants(synced: TopicSynced | None, error: tuple[str, str] | None) -> list[Want]:
    if error is not None:
        return [Want("Ready", False, *error)]
    assert synced is not None
    message = f"routing table holds {synced.subscriptions} subscription(s)"
    if synced.refused:
        message += "; not routed: " + ", ".join(sorted(synced.refused))
    return [Want("Ready", True, "RoutesSynced", message)]


def _measuring(previous: Iterable[Mapping[str, Any]]) -> list[Want]:
    """Degraded is Unknown until the health timer has measured it (API conventions)."""
    if any(c.get("type") == DEGRADED for c in previous):
        return []
    return [Want(DEGRADED, None, "Measuring", "delivery health not measured yet")]


def topic_status(
    *,
    generation: int,
    previous: Iterable[Mapping[str, Any]],
    synced: TopicSynced | None,
    error: tuple[str, str] | None,
    address: str,
    now: str,
) -> Status:
    previous = list(previous)
    wants = topic_wants(synced, error) + _measuring(previous)
    conditions = merge_conditions(previous, wants, generation, now, TOPIC_SYNC_OWNS)
    status: Status = {"observedGeneration": generation, "address": address,
                      "conditions": conditions, **summary(conditions)}  # fmt: skip
    if synced is not None:
        status["subscriptions"] = synced.subscriptions
    return status


def endpoint_want(namespace: str, endpoint: EndpointSpec, ports: Set[int] | None) -> Want:
    """EndpointResolved: a URL always is; a Service is when it exists with that port
    (`ports`: the Service's ports, None when it does not exist, UNREADABLE)."""
    svc = endpoint.service
    if svc is None:
        return Want("EndpointResolved", True, "URL", "the endpoint is a URL")
    where = f'Service "{namespace}/{svc.name}"'
    if ports is None:
        return Want("EndpointResolved", False, "ServiceNotFound", f"{where} does not exist")
    if ports == UNREADABLE:
        return Want("EndpointResolved", None, "ServiceUnreadable", f"{where} could not be read")
    if svc.port not in ports:
        return Want("EndpointResolved", False, "PortNotFound",
                    f"{where} has no port {svc.port}")  # fmt: skip
    return Want("EndpointResolved", True, "ServiceFound", f"{where} has port {svc.port}")


def subscription_wants(
    synced: SubscriptionSynced | None,
    error: tuple[str, str] | None,
    topic: str,
    endpoint: Want | None = None,
    secrets: Want | None = None,
) -> list[Want]:
    extra = [w for w in (endpoint, secrets) if w is not None]
    if error is not None:
        return [Want("Ready", False, *error), *extra]
    if secrets is not None and not secrets.ok:
        return [Want("Ready", False, secrets.reason, "not routed: " + secrets.message), *extra]
    assert synced is not None
    if not synced.topic_found:
        missing = f'Topic "{topic}" does not exist in this namespace (yet)'
        return [Want("Ready", False, "TopicNotFound", missing),
                Want("TopicFound", False, "TopicNotFound", missing), *extra]  # fmt: skip
    found = Want("TopicFound", True, "TopicFound", f'routed from Topic "{topic}"')
    url = redact_url(synced.url)
    if endpoint is not None and endpoint.ok is False:
        ready = Want("Ready", False, endpoint.reason, f"routed to {url}, but {endpoint.message}")
        return [ready, found, *extra]
    return [Want("Ready", True, "Routed", f"deliveries go to {url}"), found, *extra]


def subscription_status(
    *,
    generation: int,
    previous: Iterable[Mapping[str, Any]],
    synced: SubscriptionSynced | None,
    error: tuple[str, str] | None,
    topic: str,
    now: str,
    endpoint: Want | None = None,
    secrets: Want | None = None,
) -> Status:
    previous = list(previous)
    wants = subscription_wants(synced, error, topic, endpoint, secrets) + _measuring(previous)
    conditions = merge_conditions(previous, wants, generation, now, SUBSCRIPTION_SYNC_OWNS)
    status: Status = {"observedGeneration": generation, "conditions": conditions,
                      **summary(conditions)}  # fmt: skip
    if synced is not None:
        status["endpoint"] = redact_url(synced.url)
    return status
