"""Publishing to a topic: one message per subscription, each with its own id and retries
(DESIGN §4, reference §2.1 and §4.4).

The route calls `publish_topic` for every destination that is not a URL. The topic's table
comes from the gateway's routing cache (no Redis round trip when cached); each
subscription's message takes its delivery settings by precedence: the publisher's
`Upstash-*` headers, then the Subscription, then the Topic, then the global defaults.
All messages are submitted together, so the store's group commit writes them in one
script call per shard; the answer comes once every one of them is in Redis.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from herald_core.errors import NotFound
from herald_core.ids import new_message_id
from herald_core.models import Redaction
from herald_core.routing import (
    Delivery,
    FlowControl,
    RoutingTable,
    SubscriptionRoute,
    endpoint_name,
    split_destination,
    subscription_flow_key,
    topic_id,
)
from herald_core.settings import Settings
from herald_core.store import NewMessage, Store
from herald_gateway.accepting import Notify
from herald_gateway.publishing import (
    FlowLimits,
    PublishSpec,
    build_message,
    choose_shard,
    dedup_key,
    parse_publish,
    split_query,
)
from herald_gateway.routes._common import json_response, read_body
from herald_gateway.state import State
from herald_gateway.tenancy import authenticate, require_namespace

_EXPLICIT = ("upstash-retries", "upstash-retry-delay", "upstash-timeout", "upstash-method")


async def publish_topic(
    request: Request, st: State, destination: str, queue: str | None = None
) -> Response:
    """A publish (or, with `queue`, an enqueue) to every subscription of a topic."""
    settings = st["settings"]
    caller = await authenticate(request, st)
    namespace, name = split_destination(destination, caller.namespace)
    require_namespace(caller, namespace)
    table = await st["routing"].lookup(topic_id(namespace, name))
    if table is None:
        raise NotFound(f'topic "{namespace}/{name}" not found')
    body = await read_body(request, settings.max_body_bytes)
    config, _token, _own = split_query(request.scope["query_string"].decode("latin-1"))
    worker = st["worker"]
    answers = await fan_out(
        st["store"], settings, table, config, list(request.headers.items()), body,
        int(time.time() * 1000), request.client.host if request.client else None,
        worker.notify if worker is not None else None, queue=queue,
        on_ignored=st["metrics"].record_unknown_headers,
    )  # fmt: skip
    st["metrics"].publishes.inc(len(answers))
    return json_response(answers)


async def fan_out(
    store: Store,
    settings: Settings,
    table: RoutingTable,
    config: list[tuple[str, str]],
    headers: list[tuple[str, str]],
    body: bytes,
    now_ms: int,
    caller_ip: str | None,
    notify: Notify | None,
    *,
    schedule_id: str | None = None,
    queue: str | None = None,
    on_ignored: Callable[[Sequence[str]], None] | None = None,
) -> list[dict[str, object]]:
    """Store one message per subscription of `table`, all in one submission; returns the
    answer items `[{"messageId", "url", "deduplicated"?}]`. With `queue`, the messages wait
    in that queue (its parallelism governs them, not the subscriptions' flow control)."""
    if not table.subscriptions:
        return []
    given = {k.lower() for k, _ in headers} | {k for k, _ in config}
    headers = [*_group_defaults(table, given), *headers]
    spec = parse_publish(table.subscriptions[0].url, urlencode(config), headers, settings, now_ms,
                         queue)  # fmt: skip
    if on_ignored is not None:
        on_ignored(spec.ignored)
    explicit = _explicit(spec, given | {k.lower() for k in table.topic.headers})
    items = []
    answers: list[dict[str, object]] = []
    for sub in table.subscriptions:
        shard, new, key = _message(table, sub, spec, explicit, body, settings, now_ms, caller_ip,
                                   store.pick_shard())  # fmt: skip
        if schedule_id is not None:
            new = NewMessage(dataclasses.replace(new.message, schedule_id=schedule_id),
                             new.body, new.due_ms)  # fmt: skip
        items.append((shard, new, key))
        answers.append({"messageId": new.message.id, "url": sub.url})
    # one submission: every subscription's message is written, or none is
    existing = await store.enqueue_all(items)
    for answer, earlier in zip(answers, existing, strict=True):
        if earlier is not None:
            answer["messageId"], answer["deduplicated"] = earlier, True
    if notify is not None:
        for shard, new, _key in items:
            notify(shard, new.due_ms)
    return answers


def _group_defaults(table: RoutingTable, given: set[str]) -> list[tuple[str, str]]:
    """A URL group's default headers (`PATCH /v2/topics`) the publisher did not set."""
    return [(k, v) for k, v in table.topic.headers.items() if k.lower() not in given]


def _explicit(spec: PublishSpec, names: set[str]) -> Delivery:
    """The delivery settings set by the publish (header, query key or group default)."""
    given = {k for k in _EXPLICIT if k in names}
    return Delivery(
        retries=spec.max_retries if "upstash-retries" in given else None,
        retry_delay=spec.retry_delay if "upstash-retry-delay" in given else None,
        timeout=spec.timeout if "upstash-timeout" in given else None,
        method=spec.method if "upstash-method" in given else None,
    )


def _with_secret_headers(redact: Redaction | None, sub: SubscriptionRoute) -> Redaction | None:
    if not sub.secret_headers:
        return redact
    base = redact or Redaction()
    names = {*base.headers, *(name.lower() for name in sub.secret_headers)}
    return dataclasses.replace(base, headers=tuple(sorted(names)))


def _message(
    table: RoutingTable,
    sub: SubscriptionRoute,
    spec: PublishSpec,
    explicit: Delivery,
    body: bytes,
    settings: Settings,
    now_ms: int,
    caller_ip: str | None,
    shard: int,
) -> tuple[int, NewMessage, str]:
    defaults = Delivery(settings.default_retries, None, settings.attempt_timeout, "POST")
    delivery = explicit.over(sub.delivery).over(defaults)
    headers = {**spec.headers, **sub.delivery_headers(), "Upstash-Topic-Name": table.topic.name}
    limits = sub.flow_control or FlowControl()
    sub_spec = dataclasses.replace(
        spec,
        # the subscription's own key: its limits, its pause and its counters (a publisher's
        # Upstash-Flow-Control-Key does not apply to topic deliveries); none in a queue
        flow=None
        if spec.queue is not None
        else FlowLimits(
            subscription_flow_key(table.topic.id, sub.name),
            limits.parallelism or 0,
            limits.rate or 0,
            limits.period,
        ),
        url=sub.url,
        # credentials from Secrets are stored with the message (deliveries and retries need
        # them) but every API view shows them redacted (herald_gateway.views)
        redact=_with_secret_headers(spec.redact, sub),
        method=delivery.method or "POST",
        headers=headers,
        max_retries=min(delivery.retries or 0, settings.max_retries),
        retry_delay=delivery.retry_delay,
        timeout=min(delivery.timeout or settings.attempt_timeout, settings.max_timeout),
    )
    key = dedup_key(sub_spec, body)
    shard = choose_shard(sub_spec, key, settings.shards, shard)
    message = build_message(sub_spec, new_message_id(shard, settings.shards), body, now_ms,
                            caller_ip)  # fmt: skip
    message = dataclasses.replace(
        message, topic_name=table.topic.name, endpoint_name=endpoint_name(sub)
    )
    return shard, NewMessage(message, body, sub_spec.not_before), key
