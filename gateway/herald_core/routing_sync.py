"""Apply `Topic`/`Subscription` specs to the routing tables: the one implementation that the
operator's kopf handlers and `herald dev --manifests` both call (DESIGN §1).

Every function is idempotent and level-based: it makes Redis hold what the spec says,
whatever was there before, so the same call serves create, update, resume and the periodic
re-assert. Writes are per entry and compare first: a re-assert of what Redis holds already
writes nothing (no version bump, so gateways reload nothing; no flow-control resume, so no
waitlist is moved). A spec the CRD let through but Herald cannot use raises `InvalidField`;
Redis failures raise `StoreError` (the caller retries, never reports success).

`sync_topic` removes the entries of subscriptions it is not given: callers must pass every
live subscription of the topic, read after any concurrent write of one of them has finished
(the operator serialises the writes of one topic, herald_operator.handlers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from herald_core.routing import (
    SubscriptionRoute,
    TopicRoute,
    decode_topic,
    desired_subscription_route,
    desired_topic_route,
    resolve_endpoint,
    subscription_flow_key,
    topic_id,
)
from herald_core.routing_store import EntryWrite, RoutingStore
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
    """Make the topic's table hold its defaults and exactly these subscriptions' entries
    (with their `secret_headers`, by subscription name, as the operator resolved them)."""
    topic_spec = parse_topic_spec(spec)
    route = _keep_times(await store.raw_topic(topic_id(namespace, name)),
                        desired_topic_route(namespace, name, topic_spec, now_ms))  # fmt: skip
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
    result = await store.sync_table(route, entries)
    # Pause state follows the entries that changed (all of them when the topic's did):
    # re-asserting an unchanged table must not resume, i.e. move a waitlist.
    touched = entries if result.topic_changed else [e for e in entries if e.name in result.written]
    await store.set_paused(
        {subscription_flow_key(route.id, e.name): topic_spec.paused or e.paused for e in touched},
        now_ms,
    )
    return TopicSynced(len(entries), refused)


def _keep_times(stored: bytes | None, route: TopicRoute) -> TopicRoute:
    """The route with the stored one's creation time, and its update time too when nothing
    else differs (so an unchanged topic encodes to the very bytes Redis holds)."""
    if stored is None:
        return route
    old = decode_topic(stored)
    if old.managed != route.managed:
        return route  # a Topic taking over an API URL group of the same name: a new topic
    route = dataclasses.replace(route, created_at=old.created_at)
    if dataclasses.replace(old, updated_at=route.updated_at) == route:
        return dataclasses.replace(route, updated_at=old.updated_at)
    return route


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
    if written is EntryWrite.WRITTEN:  # unchanged: its pause state is as it was set then
        paused = topic.paused or entry.paused
        await store.set_paused({subscription_flow_key(tid, name): paused}, now_ms)
    return SubscriptionSynced(entry.url, written is not EntryWrite.NO_TABLE)


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
