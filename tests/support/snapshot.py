"""What is in a Redis database, key by key: tests compare snapshots to prove a refused
request stored nothing."""

from __future__ import annotations

import redis


def snapshot(client: redis.Redis) -> dict[bytes, bytes]:
    """Every key with its DUMP (value and type)."""
    return {key: client.dump(key) or b"" for key in client.scan_iter()}
