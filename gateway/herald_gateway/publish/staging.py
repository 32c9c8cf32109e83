"""Pure: a publish request and the endpoints it resolved to → the messages to store.

One step for every way in (publish, enqueue, batch, topic fan-out, a schedule's tick): each
`Target` (a request and the URL its message goes to) becomes a `Staged` message — its
stored form and its deduplication key — which `Store.enqueue_all` stores in one submission
(placing each in its shard and giving it its id, herald_core.store).
A DLQ retry is the one message not built from a request: `redelivery` applies its
overrides to the dead letter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from typing import NamedTuple

from herald_core.models import Message
from herald_core.signing import body_hash
from herald_core.store import NewMessage
from herald_gateway.publish.destinations import Endpoint
from herald_gateway.publish.header_values import flow_fields
from herald_gateway.publish.publishing import Overrides, PublishRequest

#: A request and the endpoint one of its messages goes to (its URL, or a subscriber's).
Target = tuple[PublishRequest, Endpoint]


class Staged(NamedTuple):
    """A message ready for `Store.enqueue_all` (its id is the store's to give)."""

    new: NewMessage
    #: '' when the message has none.
    dedup_key: str


def stage(
    targets: Iterable[Target],
    now_ms: int,
    caller_ip: str | None,
    *,
    dedup: str | None = None,
    schedule_id: str | None = None,
) -> list[Staged]:
    """One message per target, created at `now_ms`. `dedup` replaces each request's own
    deduplication key (a schedule's tick)."""
    out = []
    for request, endpoint in targets:
        key = dedup_key(request, endpoint) if dedup is None else dedup
        message = build_message(request, endpoint, "", now_ms, caller_ip, schedule_id)
        out.append(Staged(NewMessage(message, request.body, request.not_before), key))
    return out


def build_message(
    request: PublishRequest,
    endpoint: Endpoint,
    message_id: str,
    now_ms: int,
    caller_ip: str | None,
    schedule_id: str | None = None,
) -> Message:
    """The stored message for a validated publish to `endpoint`."""
    return Message(
        id=message_id,
        url=endpoint.url,
        method=request.method,
        headers=request.headers,
        max_retries=request.max_retries,
        timeout=request.timeout,
        created_at=now_ms,
        not_before=request.not_before,
        retry_delay=request.retry_delay,
        caller_ip=caller_ip,
        body_hash=body_hash(request.body),
        labels=request.labels,
        callback=request.callback,
        failure_callback=request.failure_callback,
        redact=request.redact,
        dedup_id=request.dedup_id,
        topic_name=endpoint.topic_name,
        endpoint_name=endpoint.endpoint_name,
        queue_name=request.queue,
        schedule_id=schedule_id,
        **flow_fields(request.flow),
    )


def dedup_key(request: PublishRequest, endpoint: Endpoint) -> str:
    """The deduplication key of a publish, per destination ('' when it has none).

    Content-based deduplication hashes the destination, body, content type and forwarded
    headers; an explicit id is scoped to the destination.
    """
    digest = hashlib.sha256(endpoint.url.encode())
    if request.dedup_id is not None:
        digest.update(b"\0id\0" + request.dedup_id.encode())
    elif request.content_dedup:
        digest.update(b"\0content\0" + request.body)
        for name, value in sorted(request.headers.items()):
            digest.update(f"\0{name}\0{value}".encode())
    else:
        return ""
    return digest.hexdigest()


def redelivery(original: Message, overrides: Overrides, message_id: str, now_ms: int) -> Message:
    """A dead letter sent again: a new message with the original's configuration, where
    the retry's headers override it (herald_gateway.publish.publishing.parse_overrides)."""
    delivery = overrides.delivery
    return replace(
        original,
        id=message_id,
        created_at=now_ms,
        not_before=overrides.not_before,
        headers={**original.headers, **overrides.headers},
        max_retries=original.max_retries if delivery.retries is None else delivery.retries,
        retry_delay=original.retry_delay if delivery.retry_delay is None else delivery.retry_delay,
        timeout=original.timeout if delivery.timeout is None else delivery.timeout,
        method=delivery.method or original.method,
        dedup_id=None,
    )
