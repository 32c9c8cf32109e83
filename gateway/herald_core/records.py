"""What the store's read side returns: typed records with decoded fields.

The repositories (herald_core.messages, herald_core.event_log, herald_core.dead_letters)
build these from Redis through herald_core.fields; the API maps them to QStash's JSON
(herald_gateway.api.views). Nothing here names a shard, a key or a stored field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from herald_core.models import Message

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message waiting, delayed, retrying or in flight: its metadata and body."""

    message: Message
    body: bytes


@dataclass(frozen=True, slots=True)
class Attempt:
    """What was kept of a delivery attempt: its error and/or the endpoint's response."""

    #: None when the attempt recorded no error (or an empty one).
    error: str | None = None
    #: The response's status; None when no response came (a connection error).
    status: int | None = None
    headers: Mapping[str, list[str]] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One state change of a message (a row of `GET /v2/logs`)."""

    #: When it happened (Unix ms).
    time: int
    state: str
    message: Message
    #: Retries done when the row was written.
    retried: int
    #: The body, on the CREATED row of a body small enough to log; else None.
    body: bytes | None
    #: The next delivery (Unix ms) on a RETRY row; else None.
    next_delivery: int | None
    #: The attempt behind an ERROR, RETRY, DELIVERED or FAILED row (empty on others).
    attempt: Attempt


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that failed for good, kept for `/v2/dlq` until retried or expired."""

    dlq_id: str
    message: Message
    body: bytes
    #: Its last attempt.
    attempt: Attempt
    #: The workflow run it is a step of (herald_core.workflow_failures), or None.
    run_id: str | None = None
    #: Retries done before it failed for good.
    retried: int = 0


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """A page of a newest-first listing, and the cursor of the next one (None: no more).

    The cursor is opaque text: a client passes it back as it got it."""

    rows: list[T]
    cursor: str | None
