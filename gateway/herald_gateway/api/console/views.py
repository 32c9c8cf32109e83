"""What the console's topics page shows of a routing table, pure: endpoints with
credentials redacted, header names but never values (a value may come from a Secret),
effective delivery policy, flow control, pause, counters and a health word."""

from __future__ import annotations

from typing import Any

from herald_core.activity import Activity, Failing
from herald_core.credentials import redact_url
from herald_core.delivery_stats import DeliveryStats
from herald_core.routing import Delivery, FlowControl, RoutingTable, SubscriptionRoute


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    out = {"retries": delivery.retries, "retryDelay": delivery.retry_delay,
           "timeout": delivery.timeout, "method": delivery.method}  # fmt: skip
    return {k: v for k, v in out.items() if v is not None}


def flow_view(flow: FlowControl | None) -> dict[str, Any] | None:
    if flow is None:
        return None
    return {"parallelism": flow.parallelism, "rate": flow.rate, "period": flow.period}


def health(paused: bool, stats: DeliveryStats) -> str:
    """paused, failing (the last attempt that ended failed), idle or healthy."""
    if paused:
        return "paused"
    if stats.last_error_ms > stats.last_delivered_ms:
        return "failing"
    return "healthy" if stats.last_delivered_ms else "idle"


def subscription_view(
    table: RoutingTable, sub: SubscriptionRoute, stats: DeliveryStats
) -> dict[str, Any]:
    paused = table.is_paused(sub)
    return {
        "name": sub.name,
        "url": redact_url(sub.url),
        "headers": sorted(sub.headers),
        "secretHeaders": sorted(sub.secret_headers),
        "delivery": delivery_view(sub.delivery),
        "flowControl": flow_view(sub.flow_control),
        "paused": paused,
        "delivered": stats.delivered,
        "failed": stats.failed,
        "backlog": stats.backlog,
        "failedAttempts": stats.failed_attempts,
        "lastError": stats.last_error,
        "lastErrorAt": stats.last_error_ms or None,
        "lastDeliveredAt": stats.last_delivered_ms or None,
        "health": health(paused, stats),
    }


def topic_view(table: RoutingTable, stats: list[DeliveryStats]) -> dict[str, Any]:
    topic = table.topic
    return {
        "id": topic.id,
        "namespace": topic.namespace,
        "name": topic.name,
        "managedBy": "api" if topic.managed == "api" else "kubernetes",
        "paused": topic.paused,
        "delivery": delivery_view(topic.delivery),
        "subscriptions": [subscription_view(table, sub, s)
                          for sub, s in zip(table.subscriptions, stats, strict=True)],
    }  # fmt: skip


def activity_view(activity: Activity) -> dict[str, Any]:
    return {"startMs": activity.start_ms, "bucketMs": activity.bucket_ms,
            "series": activity.series}  # fmt: skip


def failing_view(failing: Failing) -> dict[str, Any]:
    return {"destination": failing.destination, "errors": failing.errors,
            "deadLettered": failing.dead_lettered, "lastError": failing.last_error,
            "lastAt": failing.last_ms or None}  # fmt: skip
