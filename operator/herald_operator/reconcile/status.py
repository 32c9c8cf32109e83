"""Status of Topics and Subscriptions from the outcome of a sync (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from herald_core.routing_sync import SubscriptionSynced, TopicSynced
from herald_operator.conditions import Want, merge_conditions

Status = dict[str, Any]


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


def topic_status(
    *,
    generation: int,
    previous: Iterable[Mapping[str, Any]],
    synced: TopicSynced | None,
    error: tuple[str, str] | None,
    address: str,
    now: str,
) -> Status:
    status: Status = {
        "observedGeneration": generation,
        "address": address,
        "conditions": merge_conditions(previous, topic_wants(synced, error), generation, now),
    }
    if synced is not None:
        status["subscriptions"] = synced.subscriptions
    return status


def subscription_wants(synced: SubscriptionSynced | None, error: tuple[str, str] | None,
                       topic: str) -> list[Want]:  # fmt: skip
    if error is not None:
        return [Want("Ready", False, *error)]
    assert synced is not None
    if not synced.topic_found:
        missing = f'Topic "{topic}" does not exist in this namespace (yet)'
        return [Want("Ready", False, "TopicNotFound", missing),
                Want("TopicFound", False, "TopicNotFound", missing)]  # fmt: skip
    return [Want("Ready", True, "Routed", f"deliveries go to {synced.url}"),
            Want("TopicFound", True, "TopicFound", f'routed from Topic "{topic}"')]  # fmt: skip


def subscription_status(
    *,
    generation: int,
    previous: Iterable[Mapping[str, Any]],
    synced: SubscriptionSynced | None,
    error: tuple[str, str] | None,
    topic: str,
    counts: Mapping[str, int],
    now: str,
) -> Status:
    wants = subscription_wants(synced, error, topic)
    status: Status = {
        "observedGeneration": generation,
        "conditions": merge_conditions(previous, wants, generation, now),
        "delivered": counts.get("delivered", 0),
        "failed": counts.get("failed", 0),
        "backlog": counts.get("backlog", 0),
    }
    if synced is not None:
        status["endpoint"] = synced.url
    return status
