"""Callbacks and failure callbacks (reference §3.2), pure: the messages an attempt creates.

A callback is an ordinary signed message to the callback URL whose JSON body reports the
attempt, configured by the publish's `Upstash-Callback-<Publish-Header>` headers (its own
labels, flow control and callbacks too: herald_gateway.publish.callback_headers). `Upstash-Callback`
reports every attempt; `Upstash-Failure-Callback` reports once, when the message is
dead-lettered. Both are stored by the same script that records the attempt, so they exist
exactly when the outcome does.
"""

from __future__ import annotations

from typing import Any

import orjson

from herald_core.callback_messages import callback_body, callback_message
from herald_core.models import Task
from herald_core.store import NewMessage
from herald_gateway.delivery.sender import Failure, Reply


def payload(
    task: Task,
    answer: Reply | Failure,
    dlq_id: str | None = None,
    workflow: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The callback body of one attempt (herald_core.callback_messages `callback_body`)."""
    reply = answer if isinstance(answer, Reply) else Reply(0, {}, b"")
    return callback_body(task.message, task.body, task.retried, status=reply.status,
                         headers={name: [value] for name, value in reply.headers.items()},
                         body=reply.body,
                         error=answer.error if isinstance(answer, Failure) else None,
                         dlq_id=dlq_id, workflow=workflow)  # fmt: skip


def callbacks_for(
    task: Task,
    answer: Reply | Failure,
    now_ms: int,
    dlq_id: str | None,
    workflow: dict[str, Any] | None = None,
) -> tuple[NewMessage, ...]:
    """The callbacks one attempt creates: `dlq_id` is set when it dead-letters the message
    (`workflow`: the workflow fields of its failure callback)."""
    source = task.message
    out = []
    if source.callback is not None:
        content = orjson.dumps(payload(task, answer))
        out.append(callback_message(source, source.callback, content, now_ms))
    if dlq_id is not None and source.failure_callback is not None:
        content = orjson.dumps(payload(task, answer, dlq_id, workflow))
        out.append(callback_message(source, source.failure_callback, content, now_ms))
    return tuple(out)
