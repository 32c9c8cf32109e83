"""Every Redis key Herald uses, built in one place.

Layout (prefix `herald` by default; `{s}` is the shard's hash tag, so all keys a Lua script
touches live in one Redis Cluster slot):

    herald:{s}:due          ZSET  message id -> due time (ms): waiting, delayed and retrying tasks
    herald:{s}:lease        ZSET  message id -> lease expiry (ms): tasks a worker is delivering
    herald:{s}:m:<id>       HASH  m: metadata JSON, b: body bytes, r: retries done, t: timeout ms
    herald:keys             HASH  current, next, seed: signing keys after API rotations

A message id names its shard (`herald_core.ids.shard_of`), so lookups need no index.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ShardKeys:
    """The keys of one shard."""

    due: str
    lease: str
    message_prefix: str

    def message(self, message_id: str) -> str:
        return self.message_prefix + message_id


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one key prefix and shard count."""

    prefix: str
    shards: int

    def shard(self, shard: int) -> ShardKeys:
        tag = f"{self.prefix}:{{{shard}}}"
        return ShardKeys(due=f"{tag}:due", lease=f"{tag}:lease", message_prefix=f"{tag}:m:")

    def all_shards(self) -> list[ShardKeys]:
        return [self.shard(s) for s in range(self.shards)]

    @property
    def signing_keys(self) -> str:
        return f"{self.prefix}:keys"
