"""The message that reports another's outcome to a callback URL (reference §3.2), and its
JSON body, pure:
configured by the source's `Upstash-Callback-<Publish-Header>` headers (herald_core.models
`Callback`), else as its source. Built by the delivery worker for each attempt
(herald_gateway.delivery.callbacks) and by the workflow DLQ when a failure callback is run
again (herald_core.workflow_failures)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from herald_core.models import Callback, Message
from herald_core.signing import body_hash
from herald_core.store import NewMessage


def callback_message(
    source: Message, callback: Callback, content: bytes, now_ms: int
) -> NewMessage:
    """A new message reporting on `source` with the JSON body `content`; it has no id yet
    (the store gives it one, placing it with its source: herald_core.store `Store.pending`,
    or anywhere: `Store.enqueue`)."""
    message = Message(
        id="",
        url=callback.url,
        method=callback.method,
        headers={**callback.headers, "Content-Type": "application/json"},
        max_retries=source.max_retries if callback.retries is None else callback.retries,
        timeout=source.timeout if callback.timeout is None else callback.timeout,
        created_at=now_ms,
        not_before=now_ms + int(callback.delay * 1000),
        retry_delay=callback.retry_delay,
        caller_ip=source.caller_ip,
        body_hash=body_hash(content),
        labels=source.labels if callback.labels is None else callback.labels,
        callback=callback.callback,
        failure_callback=callback.failure_callback,
        redact=callback.redact,
        callback_of=source.id,
        flow_key=callback.flow_key,
        flow_parallelism=callback.flow_parallelism,
        flow_rate=callback.flow_rate,
        flow_period=callback.flow_period,
    )
    return NewMessage(message, content, message.not_before)


def callback_body(
    source: Message,
    source_body: bytes,
    retried: int,
    *,
    status: int,
    headers: Mapping[str, list[str]],
    body: bytes,
    error: str | None,
    dlq_id: str | None = None,
    workflow: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body reporting an attempt of `source` (after `retried` retries): the response's
    status, headers and body (0, none and empty when none came), its error; `dlq_id` when
    it dead-lettered `source`, `workflow` the fields a workflow run's failure callback adds
    (herald_core.workflow_failures `workflow_fields`)."""
    out: dict[str, Any] = {
        "status": status,
        "header": dict(headers),
        "body": base64.b64encode(body).decode(),
        "retried": retried,
        "maxRetries": source.max_retries,
        "sourceMessageId": source.id,
        "url": source.url,
        "method": source.method,
        "sourceHeader": {name: [value] for name, value in source.headers.items()},
        "sourceBody": base64.b64encode(source_body).decode(),
        "notBefore": source.not_before,
        "createdAt": source.created_at,
    }
    if error is not None:
        out["error"] = error
    optional = {"dlqId": dlq_id, "topicName": source.topic_name, "scheduleId": source.schedule_id,
                "endpointName": source.endpoint_name, "callerIP": source.caller_ip}  # fmt: skip
    out.update({k: v for k, v in optional.items() if v is not None})
    out.update(workflow or {})
    return out
