"""kopf wiring, thin: each handler parses what kopf hands it, calls herald_core.routing_sync
(the Redis side) and herald_operator.reconcile (the status), and patches the status.

Level-based: one `*_sync` runs on create, update and resume, and again from a timer every
`HERALD_OPERATOR_RESYNC_INTERVAL` seconds, each object's at its own random phase (heals a
flushed or failed-over Redis, and turns a Subscription created before its Topic Ready). A
sync that finds Redis and the status as they should be writes nothing to either. Delivery
counters and Degraded are the health timers' (herald_operator.health); Secrets and Services
a Subscription names are re-read by `subscription_references` (herald_operator.references).
A Redis failure is a `kopf.TemporaryError` retried with capped backoff
(herald_operator.pacing). Deletes try once and never wait on Redis (herald_operator.sweeps
finishes what they could not).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Mapping
from typing import Any, cast

import kopf

from herald_core.clock import SYSTEM_CLOCK
from herald_core.errors import InvalidField, StoreError
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
from herald_core.specs import parse_subscription_spec
from herald_operator import health
from herald_operator.conditions import (
    Want,
    changed,
    event_type,
    merge_conditions,
    now_iso,
    patch_status,
)
from herald_operator.pacing import every, outage, retry_delay, shared, topic_lock
from herald_operator.reconcile.health import DEGRADED
from herald_operator.reconcile.status import (
    SUBSCRIPTION_SYNC_OWNS,
    TOPIC_SYNC_OWNS,
    endpoint_want,
    subscription_status,
    topic_address,
    topic_status,
)
from herald_operator.references import (
    References,
    ReferenceUnreadable,
    resolve_topic_credentials,
    secret_headers_of,
)
from herald_operator.sweeps import cancel_background, retry_in_background, sweep_tables

# Registers the namespace-token index and event handlers along with these.
from herald_operator.tokens import reconcile_tokens, watch_token_secrets_only

GROUP, VERSION = "herald.dev", "v1alpha1"
_RETRY_DELAY = 5.0
#: Seconds a Subscription waits for its existing Topic's table before reporting TopicNotFound.
_TABLE_WAITS = 30
logger = logging.getLogger(__name__)


def _store(memo: kopf.Memo) -> RoutingStore:
    return memo["routing"]  # type: ignore[no-any-return]


def _herald(memo: kopf.Memo) -> Settings:
    return memo["herald"]  # type: ignore[no-any-return]


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    herald = memo.get("herald") or Settings()
    memo["herald"] = herald
    # Our own annotation and finalizer names, not kopf's (STYLE §3.5).
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # Watches end server-side and are renewed, so a dropped connection is noticed
    # (kopf docs "Configuration: API timeouts"; nolar/kopf#232, #585).
    settings.watching.server_timeout = herald.operator_watch_timeout
    settings.watching.client_timeout = herald.operator_watch_timeout + 30
    settings.watching.connect_timeout = 30
    settings.networking.request_timeout = 60
    settings.execution.max_workers = 20
    # Events for warnings and errors only: at INFO, kopf posts "Handler ... succeeded." for
    # every create, update and resume (10,000 Events on each restart of 10,000 objects).
    # Condition transitions are posted explicitly (`_report`).
    settings.posting.level = logging.WARNING
    # Events say they come from Herald (`kubectl describe`: From herald-operator), not kopf.
    settings.posting.reporting_component = "herald-operator"
    settings.posting.reporting_instance = socket.gethostname()
    settings.posting.event_name_prefix = "herald-"
    watch_token_secrets_only(settings)
    redis = connect(herald)
    memo["routing"] = RoutingStore(redis, Keys(herald.key_prefix, herald.shards))
    shared(memo)  # before kopf copies the memo for each object
    interval = herald.operator_resync_interval
    every((GROUP, VERSION, "topics"), interval, topic_resync)
    every((GROUP, VERSION, "subscriptions"), interval, subscription_resync)
    health.register(herald, memo)
    recheck = herald.operator_reference_recheck
    memo["references"] = References(ttl=recheck, secrets=herald.subscription_secrets)
    every((GROUP, VERSION, "subscriptions"), recheck, subscription_references,
          when=_has_references)  # fmt: skip


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    await cancel_background(memo)
    await _store(memo).redis.aclose()
    memo["references"].close()


# -- indexes: what each handler needs to know about the other kind --------------------------


# An object being deleted maps to {}, not None: kopf keeps an object's previous entries
# when its index function returns None, so a deleted Subscription would stay indexed (and a
# Topic sync would write its entry back) until the object is gone.


@kopf.index(GROUP, VERSION, "topics")
def topic_specs(name: str, namespace: str, spec: Any, meta: Any, **_: Any) -> Any:
    if meta.get("deletionTimestamp"):
        return {}
    return {(namespace, name): dict(spec)}


@kopf.index(GROUP, VERSION, "subscriptions")
def subscriptions_by_topic(name: str, namespace: str, spec: Any, meta: Any, **_: Any) -> Any:
    if meta.get("deletionTimestamp") or not spec.get("topic"):
        return {}
    return {(namespace, spec["topic"]): (name, dict(spec))}


def _store_error(exc: StoreError, *, body: Any, status: Any, meta: Any, patch: kopf.Patch,
                 memo: kopf.Memo, retry: int) -> kopf.TemporaryError:  # fmt: skip
    """Ready=False/RedisUnavailable (other conditions kept; written once, not per retry),
    one Warning Event per outage, and a retry after a capped, jittered backoff."""
    # A fixed message: the error's wording varies from retry to retry (refused, reset,
    # timed out), and each variant would be one more status write. It goes to the Event.
    ready = Want("Ready", False, "RedisUnavailable", "Redis is unavailable; retrying with backoff")
    previous = list(status.get("conditions", []))
    conditions = merge_conditions(previous, [ready], meta.get("generation", 0), now_iso(),
                                  owned=("Ready",))  # fmt: skip
    patch_status(patch, status, {"conditions": conditions}, owned=("Ready",))
    outage(memo).failed(body, exc)
    delay = retry_delay(retry, _herald(memo).operator_retry_max)
    return kopf.TemporaryError(f"Redis unavailable, retrying in {delay:.1f}s: {exc}", delay=delay)


def _delete_later(memo: kopf.Memo, body: Any, what: str, exc: StoreError,
                  call: Any) -> None:  # fmt: skip
    """A delete that could not reach Redis: release the object now, retry in the background."""
    logger.warning("%s: Redis unavailable, retrying in the background: %s", what, exc)
    outage(memo).failed(body, exc)
    retry_in_background(memo, what, call, _herald(memo).operator_retry_max)


def _report(body: Any, status: Mapping[str, Any], previous: list[Any]) -> None:
    for cond in changed(previous, status["conditions"]):
        kopf.event(body, type=event_type(cond), reason=cond["reason"], message=cond["message"])


# -- Topic ----------------------------------------------------------------------------------


@kopf.on.resume(GROUP, VERSION, "topics")
@kopf.on.create(GROUP, VERSION, "topics")
@kopf.on.update(GROUP, VERSION, "topics")
async def topic_sync(name: str, namespace: str, spec: Any, status: Any, meta: Any, body: Any,
                     patch: kopf.Patch, memo: kopf.Memo, retry: int,
                     topic_specs: kopf.Index[Any, Any],
                     subscriptions_by_topic: kopf.Index[Any, Any], **_: Any) -> None:  # fmt: skip
    if meta.get("deletionTimestamp"):
        return
    synced, error = None, None
    try:
        async with topic_lock(memo, namespace, name):
            # Read under the lock: the index already holds every Subscription whose own
            # write went first, and none whose removal did.
            if (namespace, name) not in topic_specs:
                return  # deleted meanwhile (a timer's stale body)
            subs = {n: s for n, s in subscriptions_by_topic.get((namespace, name), [])}
            subs, creds, unresolved = await resolve_topic_credentials(_refs(memo), namespace,
                                                                      subs)  # fmt: skip
            synced = await sync_topic(_store(memo), namespace, name, spec, subs, _now_ms(),
                                      creds)  # fmt: skip
        if unresolved:  # their Secrets are missing: not routed, as they report themselves
            synced = dataclasses.replace(synced, refused={**synced.refused, **unresolved})
        outage(memo).succeeded(body)
    except ReferenceUnreadable as exc:
        raise kopf.TemporaryError(str(exc), delay=_RETRY_DELAY) from exc
    except InvalidField as exc:
        error = ("InvalidSpec", str(exc))
    except StoreError as exc:
        raise _store_error(exc, body=body, status=status, meta=meta, patch=patch, memo=memo,
                           retry=retry) from exc  # fmt: skip
    previous = list(status.get("conditions", []))
    address = topic_address(_herald(memo).public_url, namespace, name)
    new = topic_status(generation=meta.get("generation", 0), previous=previous, synced=synced,
                       error=error, address=address, now=now_iso())  # fmt: skip
    patch_status(patch, status, new, TOPIC_SYNC_OWNS, if_absent=(DEGRADED,))
    _report(body, new, previous)


async def topic_resync(**kwargs: Any) -> None:
    await cast(Any, topic_sync)(**kwargs)
    await reconcile_tokens(kwargs["memo"], kwargs.get("token_secrets"))  # heals a flushed Redis
    await sweep_tables(kwargs["memo"], kwargs["topic_specs"])


@kopf.on.delete(GROUP, VERSION, "topics")
async def topic_delete(name: str, namespace: str, body: Any, memo: kopf.Memo,
                       **_: Any) -> None:  # fmt: skip
    async def drop() -> None:
        async with topic_lock(memo, namespace, name):
            await delete_topic(_store(memo), namespace, name)

    try:
        await drop()
    except StoreError as exc:
        _delete_later(memo, body, f"table of Topic {namespace}/{name}", exc, drop)


# -- Subscription ---------------------------------------------------------------------------


@kopf.on.resume(GROUP, VERSION, "subscriptions")
@kopf.on.create(GROUP, VERSION, "subscriptions")
@kopf.on.update(GROUP, VERSION, "subscriptions")
async def subscription_sync(name: str, namespace: str, spec: Any, status: Any, meta: Any,
                            body: Any, patch: kopf.Patch, memo: kopf.Memo, retry: int,
                            topic_specs: kopf.Index[Any, Any],
                            subscriptions_by_topic: kopf.Index[Any, Any], old: Any = None,
                            fresh: bool = False, **_: Any) -> None:  # fmt: skip
    if meta.get("deletionTimestamp"):
        return  # a timer racing the finalizer must not write the entry back
    topic = str(spec.get("topic", ""))
    found = list(topic_specs.get((namespace, topic), []))
    store = _store(memo)
    synced, error, endpoint, secrets = None, None, None, None
    # Moved to another Topic (`old`: the spec last handled, also across operator restarts):
    # the old Topic's table must stop routing here now, not at its next resync.
    moved_from = dict((old or {}).get("spec") or {})
    try:
        if moved_from.get("topic") and moved_from["topic"] != topic:
            async with topic_lock(memo, namespace, moved_from["topic"]):
                await delete_subscription(store, namespace, name, moved_from)
        endpoint, secrets, creds = await _references(memo, namespace, spec, fresh)
        async with topic_lock(memo, namespace, topic):
            # Under the lock: a Subscription whose removal ran meanwhile (a timer's stale
            # body) is gone from the index, and must not be written back.
            live = {n for n, _ in subscriptions_by_topic.get((namespace, topic), [])}
            if topic and name not in live:
                return
            found = list(topic_specs.get((namespace, topic), []))
            if creds is None:  # a Secret is missing: not routed until it is there
                await delete_subscription(store, namespace, name, spec)
            else:
                synced = await sync_subscription(store, namespace, name, spec,
                                                 found[0] if found else None, _now_ms(),
                                                 creds)  # fmt: skip
        outage(memo).succeeded(body)
    except ReferenceUnreadable as exc:
        raise kopf.TemporaryError(str(exc), delay=_RETRY_DELAY) from exc
    except InvalidField as exc:
        error = ("InvalidSpec", str(exc))
    except StoreError as exc:
        raise _store_error(exc, body=body, status=status, meta=meta, patch=patch, memo=memo,
                           retry=retry) from exc  # fmt: skip
    if found and synced is not None and not synced.topic_found and retry < _TABLE_WAITS:
        # The Topic exists but has no table yet (its handler had not run: a start with both
        # kinds present, a Topic created a moment before): look again soon rather than
        # report TopicNotFound until the next resync.
        raise kopf.TemporaryError("the Topic's routing table is not written yet", delay=1)
    previous = list(status.get("conditions", []))
    new = subscription_status(generation=meta.get("generation", 0), previous=previous,
                              synced=synced, error=error, topic=topic, now=now_iso(),
                              endpoint=endpoint, secrets=secrets)  # fmt: skip
    patch_status(patch, status, new, SUBSCRIPTION_SYNC_OWNS, if_absent=(DEGRADED,))
    _report(body, new, previous)


def _refs(memo: kopf.Memo) -> References:
    return memo["references"]  # type: ignore[no-any-return]


async def _references(memo: kopf.Memo, namespace: str, spec: Any,
                      fresh: bool) -> tuple[Want, Want | None, dict[str, str] | None]:  # fmt: skip
    """EndpointResolved, SecretsResolved and the Secret headers (None: unresolved)."""
    parsed = parse_subscription_spec(spec)
    ports = None
    if parsed.endpoint.service is not None:
        ports = await _refs(memo).service_ports(namespace, parsed.endpoint.service.name,
                                                fresh=fresh)  # fmt: skip
    endpoint = endpoint_want(namespace, parsed.endpoint, ports)
    creds, secrets = await secret_headers_of(_refs(memo), namespace, parsed, fresh=fresh)
    return endpoint, secrets, creds


def _has_references(spec: Any, **_: Any) -> bool:
    spec = spec or {}
    return bool(spec.get("secretRef") or spec.get("headersFrom")
                or (spec.get("endpoint") or {}).get("service"))  # fmt: skip


async def subscription_references(**kwargs: Any) -> None:
    """Re-read the Secrets and Service a Subscription names (rotation, a Service created
    later): the entry in Redis is rewritten only if it changed (PUT_ENTRY compares)."""
    await cast(Any, subscription_sync)(**kwargs, fresh=True)


async def subscription_resync(**kwargs: Any) -> None:
    await cast(Any, subscription_sync)(**kwargs)
    await reconcile_tokens(kwargs["memo"], kwargs.get("token_secrets"))


@kopf.on.delete(GROUP, VERSION, "subscriptions")
async def subscription_delete(name: str, namespace: str, spec: Any, body: Any,
                              memo: kopf.Memo, **_: Any) -> None:  # fmt: skip
    async def drop() -> None:
        async with topic_lock(memo, namespace, str(spec.get("topic", ""))):
            await delete_subscription(_store(memo), namespace, name, spec)

    try:
        await drop()
    except StoreError as exc:
        _delete_later(memo, body, f"entry of Subscription {namespace}/{name}", exc, drop)


def _now_ms() -> int:
    return SYSTEM_CLOCK.now_ms()
