"""The message that reports another's outcome to a callback URL (reference §3.2), pure:
configured by the source's `Upstash-Callback-<Publish-Header>` headers (herald_core.models
`Callback`), else as its source. Built by the delivery worker for each attempt
(herald_gateway.delivery.callbacks) and by the workflow DLQ when a failure callback is run
again (herald_core.workflow_failures)."""

from __future__ import annotations

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
