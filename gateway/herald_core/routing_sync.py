"""Apply `Topic`/`Subscription` specs to the routing tables: the one implementation that the
operator's kopf handlers and `herald dev --manifests` both call (DESIGN §1).

Every function is idempotent and level-based: it writes what the spec says, whatever was
there before, so the same call serves create, update, resume and the periodic re-assert.
A spec the CRD let through but Herald cannot use raises `InvalidField`; Redis failures raise
`StoreError` (the caller retries, never reports success).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from herald_core.routing import (
    SubscriptionRoute,
    desired_subscription_route,
    desired_topic_route,
    resolve_endpoint,
    subscription_flow_key,
    topic_id,
)
from herald_core.routing_store import RoutingStore
from herald_core.specs import parse_subscription_spec, parse_topic_spec


@dataclass(frozen=True, slots=True)
class TopicSynced:
    subscriptions: int
    #: Subscriptions whose spec could not be routed (name → reason); not in the table.
    refused: dict[str, str]


@dataclass(frozen=True, slots=True)
class SubscriptionSynced:
    url: str
    topic_found: bool


async def sync_topic(
    store: RoutingStore,
    namespace: str,
    name: str,
    spec: Mapping[str, Any],
    subscriptions: Mapping[str, Mapping[str, Any]],
    now_ms: int,
    secret_headers: Mapping[str, dict[str, str]] | None = None,
) -> TopicSynced:
    """Write the topic's whole table: its defaults and every subscription's entry (with
    its `secret_headers`, by subscription name, as the operator resolved them)."""
    topic_spec = parse_topic_spec(spec)
    route = desired_topic_route(namespace, name, topic_spec, now_ms)
    entries: list[SubscriptionRoute] = []
    refused: dict[str, str] = {}
    for sub_name, sub_spec in sorted(subscriptions.items()):
        try:
            parsed = parse_subscription_spec(sub_spec)
            creds = (secret_headers or {}).get(sub_name)
            entries.append(
                desired_subscription_route(namespace, sub_name, parsed, topic_spec, creds)
            )
        except ValueError as exc:  # InvalidField: that subscription reports it itself
            refused[sub_name] = str(exc)
    await store.put_table(route, entries)
    await store.set_paused(
        {subscription_flow_key(route.id, e.name): topic_spec.paused or e.paused for e in entries},
        now_ms,
    )
    return TopicSynced(len(entries), refused)


async def sync_subscription(
    store: RoutingStore,
    namespace: str,
    name: str,
    spec: Mapping[str, Any],
    topic_spec: Mapping[str, Any] | None,
    now_ms: int,
    secret_headers: dict[str, str] | None = None,
) -> SubscriptionSynced:
    """Write the subscription's entry if its topic exists; else make sure there is none."""
    parsed = parse_subscription_spec(spec)
    tid = topic_id(namespace, parsed.topic)
    if topic_spec is None:
        await store.drop_subscription(tid, name)
        return SubscriptionSynced(resolve_endpoint(namespace, parsed.endpoint), False)
    topic = parse_topic_spec(topic_spec)
    entry = desired_subscription_route(namespace, name, parsed, topic, secret_headers)
    written = await store.put_subscription(tid, entry)
    if written:
        paused = topic.paused or entry.paused
        await store.set_paused({subscription_flow_key(tid, name): paused}, now_ms)
    return SubscriptionSynced(entry.url, written)


async def delete_topic(store: RoutingStore, namespace: str, name: str) -> None:
    """Remove the topic's table (its subscriptions' entries go with it); a URL group of the
    API that took the name while the Topic had no table is left alone."""
    await store.drop_table(topic_id(namespace, name), owner="crd")


async def delete_subscription(
    store: RoutingStore, namespace: str, name: str, spec: Mapping[str, Any]
) -> None:
    """Remove exactly this subscription's entry."""
    topic = str(dict(spec).get("topic", ""))
    if topic:
        await store.drop_subscription(topic_id(namespace, topic), name)
