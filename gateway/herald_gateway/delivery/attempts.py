"""One delivery attempt, pure: the request a destination receives and what its answer means.

`request_headers` builds the delivered headers (reference §4.3); `classify` turns a reply or
failure into an `Outcome`; `next_step` decides acknowledge, retry (and when) or give up.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass

import orjson

from herald_core.backoff import retry_delay
from herald_core.durations import parse_retry_after
from herald_core.models import Task
from herald_core.signing import sign
from herald_gateway.delivery.sender import Failure, Reply

_RETRY_AFTER = ("retry-after", "x-ratelimit-reset", "x-ratelimit-reset-requests",
                "x-ratelimit-reset-tokens")  # fmt: skip


class Result(enum.StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    result: Result
    status: int | None = None
    error: str | None = None
    #: The destination asked for this many seconds before the next try.
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """What to do with the task: settle it for good, or try again at `due_ms`."""

    final: bool
    due_ms: int = 0


def request_headers(task: Task, signing_key: str, now: int, region: str = "") -> dict[str, str]:
    message = task.message
    headers = dict(message.headers)
    headers["User-Agent"] = "Upstash-QStash"
    if region:
        headers["Upstash-Region"] = region
    headers["Upstash-Message-Id"] = message.id
    headers["Upstash-Retried"] = str(task.retried)
    if message.caller_ip:
        headers["Upstash-Caller-Ip"] = message.caller_ip
    if message.schedule_id:
        headers["Upstash-Schedule-Id"] = message.schedule_id
    headers["Upstash-Signature"] = sign(
        signing_key, url=message.url, body_digest=message.body_hash, now=now
    )
    return headers


def classify(answer: Reply | Failure, now: float) -> Outcome:
    """Success is 2xx; 489 with `Upstash-NonRetryable-Error: true` and a target the egress
    policy refuses fail for good."""
    if isinstance(answer, Failure):  # not retryable: the egress policy refused the target
        return Outcome(Result.RETRY if answer.retryable else Result.FAILED, error=answer.error)
    status = answer.status
    if 200 <= status < 300:
        return Outcome(Result.DELIVERED, status=status)
    headers = {k.lower(): v for k, v in answer.headers.items()}
    if status == 489 and headers.get("upstash-nonretryable-error", "").lower() == "true":
        return Outcome(Result.FAILED, status=status, error="non-retryable error (489)")
    retry_after = None
    for name in _RETRY_AFTER:
        if name in headers:
            retry_after = parse_retry_after(headers[name], now)
            if retry_after is not None:
                break
    return Outcome(Result.RETRY, status=status, error=f"HTTP {status}", retry_after=retry_after)


def event(answer: Reply | Failure, outcome: Outcome) -> bytes:
    """What the log rows and the DLQ keep of an attempt (response body base64)."""
    if isinstance(answer, Failure):
        return orjson.dumps({"error": answer.error})
    if outcome.result is Result.DELIVERED:  # the hot path: the status is what matters
        return b'{"status":%d}' % answer.status
    return orjson.dumps(
        {
            "status": answer.status,
            "headers": {name: [value] for name, value in answer.headers.items()},
            "body": base64.b64encode(answer.body).decode(),
            "error": outcome.error,
        }
    )


def next_step(task: Task, outcome: Outcome, now_ms: int) -> Step:
    if outcome.result is not Result.RETRY or task.retried >= task.message.max_retries:
        return Step(final=True)
    delay = retry_delay(task.retried, task.message.retry_delay, outcome.retry_after)
    return Step(final=False, due_ms=now_ms + int(delay * 1000))
