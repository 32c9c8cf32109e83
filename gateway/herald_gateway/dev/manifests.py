"""`herald dev --manifests DIR`: the Topic/Subscription YAML of a folder applied through the
same sync functions the operator uses (herald_core.routing_sync), and re-applied whenever a
file changes. Objects whose file disappeared are removed as the operator's finalizers would.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from herald_core.clock import SYSTEM_CLOCK
from herald_core.errors import HeraldError
from herald_core.keys import Keys
from herald_core.redis_client import connect
from herald_core.routing_store import RoutingStore
from herald_core.routing_sync import (
    delete_subscription,
    delete_topic,
    sync_subscription,
    sync_topic,
)
from herald_core.settings import Settings

logger = logging.getLogger(__name__)
Objects = dict[tuple[str, str], dict[str, Any]]


def load_manifests(folder: Path, default_namespace: str) -> tuple[Objects, Objects]:
    """(topics, subscriptions) of every *.yaml / *.yml in `folder`, keyed (namespace, name)."""
    topics: Objects = {}
    subs: Objects = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or not str(doc.get("apiVersion", "")).startswith(
                "herald.dev/"
            ):
                continue
            meta = doc.get("metadata") or {}
            key = (meta.get("namespace") or default_namespace, str(meta["name"]))
            target = topics if doc.get("kind") == "Topic" else subs
            target[key] = dict(doc.get("spec") or {})
    return topics, subs


async def apply_manifests(
    store: RoutingStore, topics: Objects, subs: Objects, previous: tuple[Objects, Objects]
) -> None:
    """Make the routing tables say what `topics` and `subs` say; drop what went away."""
    now = SYSTEM_CLOCK.now_ms()
    old_topics, old_subs = previous
    for (ns, name), spec in old_subs.items():
        if (ns, name) not in subs:
            await delete_subscription(store, ns, name, spec)
    for ns, name in old_topics.keys() - topics.keys():
        await delete_topic(store, ns, name)
    for (ns, name), spec in topics.items():
        mine = {n: s for (sns, n), s in subs.items() if sns == ns and s.get("topic") == name}
        await sync_topic(store, ns, name, spec, mine, now)
    for (ns, name), spec in subs.items():
        topic = topics.get((ns, str(spec.get("topic"))))
        await sync_subscription(store, ns, name, spec, topic, now)


def _fingerprint(folder: Path) -> Mapping[str, tuple[float, int]]:
    files = [*folder.glob("*.yaml"), *folder.glob("*.yml")]
    return {str(p): (p.stat().st_mtime, p.stat().st_size) for p in files}


async def follow(
    folder: Path, settings: Settings, *, interval: float = 1.0, extra: Objects | None = None
) -> None:
    """Apply `folder` now and again after every change, until cancelled; `extra`
    Subscriptions (herald dev's sample) are applied beside the folder's."""
    redis = connect(settings)
    store = RoutingStore(redis, Keys(settings.key_prefix, settings.shards))
    seen: Mapping[str, tuple[float, int]] = {}
    previous: tuple[Objects, Objects] = ({}, {})
    try:
        while True:
            current = _fingerprint(folder)
            if current != seen:
                try:
                    topics, subs = load_manifests(folder, settings.default_namespace)
                    subs.update(extra or {})
                    await apply_manifests(store, topics, subs, previous)
                    previous, seen = (topics, subs), current
                    logger.info("applied %d topic(s), %d subscription(s) from %s",
                                len(topics), len(subs), folder)  # fmt: skip
                except (HeraldError, ValueError, KeyError, yaml.YAMLError) as exc:
                    logger.warning("manifests in %s not applied: %s", folder, exc)
                    seen = current
            await asyncio.sleep(interval)
    finally:
        await redis.aclose()


def follow_in_thread(
    folder: Path, settings: Settings, extra: Objects | None = None
) -> threading.Thread:
    """`follow` on a daemon thread of its own (the gateway owns the main thread)."""
    thread = threading.Thread(
        target=lambda: asyncio.run(follow(folder, settings, extra=extra)),
        name="herald-manifests",
        daemon=True,
    )
    thread.start()
    return thread
