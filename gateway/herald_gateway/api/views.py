"""The JSON shapes the API answers with (reference §2.4, §2.8, §2.9), built from the store's
typed records (herald_core.records). Pure: redaction happens here, so stored data keeps the
originals that deliveries and DLQ retries need, while no API response ever shows a redacted
value.
"""

from __future__ import annotations

import base64
import hashlib
import math
from typing import Any

from herald_core.models import Callback, Message, Redaction
from herald_core.records import Attempt, DeadLetter, LogEntry

#: Log states as the Python SDK's enum spells them (CANCELED with one L).
STATES = ("CREATED", "ACTIVE", "RETRY", "ERROR", "DELIVERED", "FAILED", "CANCEL_REQUESTED",
          "CANCELED")  # fmt: skip


def redacted(value: bytes) -> str:
    return "REDACTED:" + hashlib.sha256(value).hexdigest()


def header_view(headers: dict[str, str], redact: Redaction | None) -> dict[str, list[str]]:
    """`{Name: [value]}` with redacted values replaced."""

    def hidden(name: str) -> bool:
        return redact is not None and (redact.all_headers or name.lower() in redact.headers)

    return {
        name: [redacted(value.encode()) if hidden(name) else value]
        for name, value in headers.items()
    }


def body_fields(body: bytes, redact: Redaction | None, key: str = "body") -> dict[str, str]:
    """`body` as text, `bodyBase64` when it is not UTF-8, or the redaction marker."""
    if redact is not None and redact.body:
        return {key: redacted(body)}
    try:
        return {key: body.decode()}
    except UnicodeDecodeError:
        return {key + "Base64": base64.b64encode(body).decode()}


def _callback_fields(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, callback in (("callback", message.callback),
                           ("failureCallback", message.failure_callback)):  # fmt: skip
        if isinstance(callback, Callback):
            out[name] = callback.url
            out[name + "Header"] = header_view(callback.headers, message.redact)
    return out


def flow_fields(message: Message) -> dict[str, Any]:
    """The OpenAPI `Message` schema's flow control: `flowControlKey` and `period` (whole
    seconds, rounded up) whenever a key is set, `parallelism` and `rate` when limited."""
    if message.flow_key is None:
        return {}
    out: dict[str, Any] = {"flowControlKey": message.flow_key,
                           "period": max(1, math.ceil(message.flow_period))}  # fmt: skip
    if message.flow_parallelism:
        out["parallelism"] = message.flow_parallelism
    if message.flow_rate:
        out["rate"] = message.flow_rate
    return out


def message_view(message: Message, body: bytes | None = None) -> dict[str, Any]:
    """The QStash `Message` object (every key the SDKs index directly is present)."""
    view: dict[str, Any] = {
        "messageId": message.id,
        "url": message.url,
        "method": message.method,
        "header": header_view(message.headers, message.redact),
        "maxRetries": message.max_retries,
        "notBefore": message.not_before,
        "createdAt": message.created_at,
        "timeout": int(message.timeout),
    }
    if body is not None:
        view.update(body_fields(body, message.redact))
    optional = {
        "retryDelayExpression": message.retry_delay,
        "callerIP": message.caller_ip,
        "topicName": message.topic_name,
        "endpointName": message.endpoint_name,
        "queueName": message.queue_name,
        "scheduleId": message.schedule_id,
        "deduplicationId": message.dedup_id,
    }
    view.update({k: v for k, v in optional.items() if v is not None})
    if message.labels:
        view["labels"] = list(message.labels)
        view["label"] = message.labels[0]
    view.update(flow_fields(message))
    view.update(_callback_fields(message))
    return view


def log_view(entry: LogEntry) -> dict[str, Any]:
    """One log row (reference §2.9), with both spellings the SDKs and docs use."""
    message = entry.message
    row: dict[str, Any] = {
        "time": entry.time,
        "messageId": message.id,
        "state": entry.state,
        "url": message.url,
        "method": message.method,
        "header": header_view(message.headers, message.redact),
        "maxRetries": message.max_retries,
        "timeout": int(message.timeout * 1000),
        "createdAt": message.created_at,
        "retried": entry.retried,
    }
    if entry.body is not None:  # the CREATED row of a small enough body: base64, as QStash logs it
        row["body"] = (redacted(entry.body) if message.redact and message.redact.body
                       else base64.b64encode(entry.body).decode())  # fmt: skip
    if entry.next_delivery is not None:
        row["nextDeliveryTime"] = entry.next_delivery
    if message.retry_delay is not None:
        row["retryDelayExpr"] = row["retryDelayExpression"] = message.retry_delay
    for key, value in (("topicName", message.topic_name), ("endpointName", message.endpoint_name),
                       ("queueName", message.queue_name), ("scheduleId", message.schedule_id),
                       ("callerIP", message.caller_ip)):  # fmt: skip
        if value is not None:
            row[key] = value
    if message.labels:
        row["labels"], row["label"] = list(message.labels), message.labels[0]
    row.update(flow_fields(message))
    row.update(_attempt_fields(entry.attempt))
    for name, value in _callback_fields(message).items():
        row[name.replace("Header", "Headers")] = value
    return row


def _attempt_fields(attempt: Attempt) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if attempt.error:
        out["error"] = attempt.error
    if attempt.status is not None:
        out["responseStatus"] = attempt.status
        out["responseHeader"] = out["responseHeaders"] = attempt.headers
        out["responseBody"] = base64.b64encode(attempt.body).decode()  # as the docs say
    return out


def dlq_view(dead: DeadLetter) -> dict[str, Any]:
    """A dead letter: the message, its last response and the DLQ id."""
    attempt = dead.attempt
    view = message_view(dead.message, dead.body)
    view["dlqId"] = dead.dlq_id
    view["responseStatus"] = attempt.status or 0
    view["responseHeader"] = attempt.headers
    view.update(body_fields(attempt.body, None, "responseBody"))
    if attempt.error:
        view["error"] = attempt.error
    return view
