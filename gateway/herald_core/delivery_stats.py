"""What the delivery scripts count per subscription (the flow-control state hash `fc:<key>`,
herald_core/lua/include/slots.lua), read back for the operator's status and Degraded condition.

The gateway writes these in the scripts that claim and settle deliveries (no extra round
trip); this module only reads them, several subscriptions in one pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from herald_core.ids import shard_for_key
from herald_core.keys import Keys
from herald_core.redis_client import RedisClient
from herald_core.routing import subscription_flow_key
from herald_core.store import guarded

_FIELDS = ("delivered", "failed", "n", "e", "le", "lt", "cf", "ld")


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """Counters of one subscription since its flow-control state was created."""

    #: Messages delivered, and failed for good (retries exhausted or not retryable).
    delivered: int = 0
    failed: int = 0
    #: Messages accepted and not yet delivered, failed or cancelled.
    backlog: int = 0
    #: Attempts that failed (each retry counts), the last one's error and when (ms).
    failed_attempts: int = 0
    last_error: str = ""
    last_error_ms: int = 0
    #: When (ms) an attempt was claimed with none ending since: a hung endpoint; 0 = none.
    claimed_since_ms: int = 0
    #: When (ms) the last delivery succeeded.
    last_delivered_ms: int = 0


def _int(raw: Any) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


def parse_stats(raw: Sequence[Any]) -> DeliveryStats:
    """HMGET of `_FIELDS` → DeliveryStats."""
    values = dict(zip(_FIELDS, raw, strict=True))
    error = values["le"]
    return DeliveryStats(
        delivered=_int(values["delivered"]),
        failed=_int(values["failed"]),
        backlog=max(0, _int(values["n"])),
        failed_attempts=_int(values["e"]),
        last_error=error.decode(errors="replace") if isinstance(error, bytes) else error or "",
        last_error_ms=_int(values["lt"]),
        claimed_since_ms=_int(values["cf"]),
        last_delivered_ms=_int(values["ld"]),
    )


async def read_stats(
    redis: RedisClient, keys: Keys, subscriptions: Sequence[tuple[str, str]]
) -> list[DeliveryStats]:
    """The stats of each (topic id, subscription name), in order, in one round trip."""

    async def run() -> list[Any]:
        pipe = redis.pipeline(transaction=False)
        for topic_id, name in subscriptions:
            key = subscription_flow_key(topic_id, name)
            pipe.hmget(keys.shard(shard_for_key(key, keys.shards)).flow_prefix + key, _FIELDS)
        replies: list[Any] = await pipe.execute()
        return replies

    if not subscriptions:
        return []
    return [parse_stats(reply) for reply in await guarded(redis, run)]
