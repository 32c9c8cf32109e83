"""kopf timers for delivery health: every `HERALD_OPERATOR_HEALTH_INTERVAL` seconds each
Subscription's counters are read from Redis (herald_core.delivery_stats) and judged
(herald_operator.reconcile.health); each Topic rolls up its Subscriptions' verdicts.

Status is patched only with what changed (counters, Degraded, the printer-column summary),
so the counters reach etcd at most once per interval, and not at all while idle; the rates
belong to the gateway's Prometheus metrics. A Degraded transition is posted as an Event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from herald_core.clock import SYSTEM_CLOCK
from herald_core.delivery_stats import read_stats
from herald_core.errors import StoreError
from herald_core.keys import Keys
from herald_core.routing import topic_id
from herald_core.routing_store import RoutingStore
from herald_core.settings import Settings
from herald_operator.conditions import (
    changed,
    event_type,
    merge_conditions,
    now_iso,
    patch_status,
    summary,
)
from herald_operator.pacing import every
from herald_operator.reconcile.health import DEGRADED, HealthMonitor, Thresholds, topic_health

GROUP, VERSION = "herald.dev", "v1alpha1"


def register(herald: Settings, memo: kopf.Memo) -> None:
    """Build the monitor and register the timers (their interval is a setting)."""
    memo["health"] = HealthMonitor(Thresholds(
        failure_ratio=herald.operator_degraded_failure_ratio,
        min_attempts=herald.operator_degraded_min_attempts,
        window=herald.operator_degraded_window,
        stall=herald.operator_degraded_stall,
    ))  # fmt: skip
    memo["keys"] = Keys(herald.key_prefix, herald.shards)
    interval = herald.operator_health_interval
    # The first reading at a random point of the first interval, as the resyncs do: a start
    # with 10,000 objects does not read 10,000 counters and patch 10,000 statuses at once,
    # racing the resume handlers' own status writes (kopf keeps a timer's patch refused by
    # such a race until the timer's next run, a whole interval later).
    every((GROUP, VERSION, "subscriptions"), interval, subscription_health)
    every((GROUP, VERSION, "topics"), interval, topic_health_timer)


def _post(body: Any, previous: list[Any], conditions: list[Any]) -> None:
    for cond in changed(previous, conditions):
        kopf.event(body, type=event_type(cond), reason=cond["reason"], message=cond["message"])


def _apply(body: Any, status: Mapping[str, Any], patch: kopf.Patch, new: dict[str, Any]) -> None:
    previous = list(status.get("conditions", []))
    patch_status(patch, status, new, owned=(DEGRADED,))
    _post(body, previous, [c for c in new["conditions"] if c["type"] == DEGRADED])


async def subscription_health(name: str, namespace: str, spec: Any, status: Any, meta: Any,
                              body: Any, patch: kopf.Patch, memo: kopf.Memo,
                              topic_specs: kopf.Index[Any, Any], **_: Any) -> None:  # fmt: skip
    if meta.get("deletionTimestamp"):
        memo["health"].forget((namespace, name))
        return
    topic = str(spec.get("topic", ""))
    store: RoutingStore = memo["routing"]
    try:
        [stats] = await read_stats(store.redis, memo["keys"], [(topic_id(namespace, topic), name)])
    except StoreError:
        return  # the sync handlers report Redis; counters are refreshed next time
    topic_paused = any(bool(s.get("paused")) for s in topic_specs.get((namespace, topic), []))
    paused = bool(spec.get("paused")) or topic_paused
    want = memo["health"].observe((namespace, name), stats, SYSTEM_CLOCK.now_ms(), paused)
    previous = list(status.get("conditions", []))
    conditions = merge_conditions(previous, [want], meta.get("generation", 0), now_iso(),
                                  owned=(DEGRADED,))  # fmt: skip
    new = {"conditions": conditions, **summary(conditions), "delivered": stats.delivered,
           "failed": stats.failed, "backlog": stats.backlog}  # fmt: skip
    _apply(body, status, patch, new)


async def topic_health_timer(name: str, namespace: str, status: Any, meta: Any, body: Any,
                             patch: kopf.Patch, memo: kopf.Memo,
                             subscriptions_by_topic: kopf.Index[Any, Any],
                             **_: Any) -> None:  # fmt: skip
    if meta.get("deletionTimestamp"):
        return
    monitor: HealthMonitor = memo["health"]
    subs = {sub: monitor.latest((namespace, sub))
            for sub, _spec in subscriptions_by_topic.get((namespace, name), [])}  # fmt: skip
    want, degraded = topic_health(subs)
    previous = list(status.get("conditions", []))
    conditions = merge_conditions(previous, [want], meta.get("generation", 0), now_iso(),
                                  owned=(DEGRADED,))  # fmt: skip
    new = {"conditions": conditions, **summary(conditions), "degradedSubscriptions": degraded}
    _apply(body, status, patch, new)
