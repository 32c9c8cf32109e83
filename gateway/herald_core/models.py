"""The stored message and the delivery task handed to workers.

A message is stored as its metadata (JSON, `Message.to_json`) beside its raw body bytes;
bodies are never base64-encoded or parsed. Metadata keeps original values: redaction is
applied only when the API shows a message (`herald_gateway.api.views`).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Redaction:
    """What the API must never show (`Upstash-Redact-Fields`)."""

    body: bool = False
    all_headers: bool = False
    #: Lower-case names of redacted headers.
    headers: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Redaction:
        return cls(d["body"], d["all_headers"], tuple(d["headers"]))


@dataclass(frozen=True, slots=True)
class Callback:
    """Where and how to report an outcome (`Upstash-Callback` / `-Failure-Callback`): the
    callback message's own configuration, from the `Upstash-Callback-<Publish-Header>`
    headers (None / empty: as the source message, or the defaults)."""

    url: str
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    retries: int | None = None
    retry_delay: str | None = None
    delay: float = 0.0
    #: None: the source message's labels.
    labels: tuple[str, ...] | None = None
    redact: Redaction | None = None
    #: Flow control of the callback message (None = none), as on `Message`.
    flow_key: str | None = None
    flow_parallelism: int = 0
    flow_rate: int = 0
    flow_period: float = 1.0
    #: The callback message's own callbacks (`Upstash-Callback-Failure-Callback`, ...).
    callback: Callback | None = None
    failure_callback: Callback | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Callback:
        d = dict(d)
        if d.get("labels") is not None:
            d["labels"] = tuple(d["labels"])
        if d.get("redact"):
            d["redact"] = Redaction.from_dict(d["redact"])
        for name in ("callback", "failure_callback"):
            if d.get(name):
                d[name] = cls.from_dict(d[name])
        return cls(**d)


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
    labels: tuple[str, ...] = ()
    callback: Callback | None = None
    failure_callback: Callback | None = None
    redact: Redaction | None = None
    dedup_id: str | None = None
    topic_name: str | None = None
    endpoint_name: str | None = None
    queue_name: str | None = None
    schedule_id: str | None = None
    #: This message reports another's outcome (its own callbacks, if any, were configured
    #: by `Upstash-Callback-Callback...` headers).
    callback_of: str | None = None
    #: Flow control: messages sharing a key share these limits across all gateways
    #: (0 = no limit); the key decides the message's shard.
    flow_key: str | None = None
    flow_parallelism: int = 0
    flow_rate: int = 0
    flow_period: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """Compact JSON: fields still at their empty defaults are left out (every stored
        copy — the message, each log row, a dead letter — is smaller for it)."""
        out = {}
        for name, required in _FIELDS:
            value = getattr(self, name)
            if required or value not in _EMPTY:
                out[name] = value
        return orjson.dumps(out)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Message:
        d = orjson.loads(raw)
        d["labels"] = tuple(d.get("labels") or ())
        for name in ("callback", "failure_callback"):
            if d.get(name):
                d[name] = Callback.from_dict(d[name])
        if d.get("redact"):
            d["redact"] = Redaction.from_dict(d["redact"])
        return cls(**d)


_FIELDS = tuple((f.name, f.default is MISSING and f.default_factory is MISSING)
                for f in fields(Message))  # fmt: skip
_EMPTY: tuple[Any, ...] = (None, (), {})

_NO_FLOW = ""


def flow_spec(message: Message) -> str:
    """What the scripts keep of a message's flow control: "key\\tpar\\trate\\tperiod ms"."""
    if message.flow_key is None:
        return _NO_FLOW
    period_ms = int(message.flow_period * 1000)
    return f"{message.flow_key}\t{message.flow_parallelism}\t{message.flow_rate}\t{period_ms}"


@dataclass(frozen=True, slots=True)
class Task:
    """A claimed message: what a worker delivers under its lease."""

    shard: int
    message: Message
    body: bytes
    #: Retries already done (0 on the first attempt) — the `Upstash-Retried` header.
    retried: int
    #: Unix ms the claim's lease runs out at, as the store set it (0: unknown). A renewal
    #: takes effect only while the lease still ends there (`Store.renew`).
    lease_until: int = 0
