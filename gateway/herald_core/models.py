"""The stored message and the delivery task handed to workers.

A message is stored as its metadata (JSON, `Message.to_json`) beside its raw body bytes;
bodies are never base64-encoded or parsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Message:
    """Everything needed to deliver one message to one URL, as accepted at publish."""

    id: str
    url: str
    method: str
    #: Headers sent to the destination (forwarded ones, prefix removed, plus Content-Type).
    headers: dict[str, str]
    #: Retries allowed after the first attempt.
    max_retries: int
    #: Per-attempt timeout in seconds.
    timeout: float
    #: Unix ms of acceptance and of the earliest first delivery.
    created_at: int
    not_before: int
    #: `Upstash-Retry-Delay` source text, or None for the default backoff.
    retry_delay: str | None = None
    caller_ip: str | None = None
    #: base64url SHA-256 of the body, computed once for every signature.
    body_hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "url": self.url,
                "method": self.method,
                "headers": self.headers,
                "maxRetries": self.max_retries,
                "timeout": self.timeout,
                "createdAt": self.created_at,
                "notBefore": self.not_before,
                "retryDelay": self.retry_delay,
                "callerIp": self.caller_ip,
                "bodyHash": self.body_hash,
                "extra": self.extra,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Message:
        d = orjson.loads(raw)
        return cls(
            id=d["id"],
            url=d["url"],
            method=d["method"],
            headers=d["headers"],
            max_retries=d["maxRetries"],
            timeout=d["timeout"],
            created_at=d["createdAt"],
            not_before=d["notBefore"],
            retry_delay=d.get("retryDelay"),
            caller_ip=d.get("callerIp"),
            body_hash=d.get("bodyHash", ""),
            extra=d.get("extra") or {},
        )


@dataclass(frozen=True, slots=True)
class Task:
    """A claimed message: what a worker delivers under its lease."""

    shard: int
    message: Message
    body: bytes
    #: Retries already done (0 on the first attempt) — the `Upstash-Retried` header.
    retried: int
