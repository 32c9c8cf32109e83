"""Message ids: `msg_` + 26 random base62 characters, the last of which names the shard."""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterable

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_BODY_LENGTH = 25
# Ids must be unique, not secret (every API call that takes one needs a token), so a
# Mersenne Twister seeded from the OS draws them: no system call per publish.
_random = random.Random(os.urandom(32))


def _base62(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return "".join(chars)


def new_message_id(shard: int, shards: int) -> str:
    """A fresh id whose `shard_of` is `shard` (148 random bits)."""
    body = _base62(_random.getrandbits(148), _BODY_LENGTH)
    spread = (len(ALPHABET) - 1 - shard) // shards  # how many alphabet slots map to `shard`
    last = ALPHABET[shard + shards * _random.randrange(spread + 1)]
    return f"msg_{body}{last}"


def dlq_id_of(message_id: str) -> str:
    """A dead letter's id: the message id's body (so it names the same shard)."""
    return "dlq_" + message_id[4:]


def shard_of(message_id: str, shards: int) -> int | None:
    """The shard a message or dead-letter id belongs to, or None if it is not Herald's."""
    if message_id[:4] not in ("msg_", "dlq_") or len(message_id) != 4 + _BODY_LENGTH + 1:
        return None
    index = _INDEX.get(message_id[-1])
    return None if index is None else index % shards


def shard_for_key(key: str, shards: int) -> int:
    """The shard of everything sharing a key (a flow-control key, a deduplication key)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % shards


def queue_shard(name: str, shards: int) -> int:
    """The shard holding a queue and every message in it."""
    return shard_for_key("queue/" + name, shards)


def shard_of_kind(item_id: str, prefix: str, shards: int) -> int | None:
    """`shard_of` for ids of one kind (`msg_` or `dlq_`): None for any other id."""
    return shard_of(item_id, shards) if item_id.startswith(prefix) else None


def by_shard(item_ids: Iterable[str], prefix: str, shards: int) -> dict[int, list[str]]:
    """Ids of one kind grouped by shard, in order of first appearance; others left out."""
    out: dict[int, list[str]] = {}
    for item_id in item_ids:
        shard = shard_of_kind(item_id, prefix, shards)
        if shard is not None:
            out.setdefault(shard, []).append(item_id)
    return out
