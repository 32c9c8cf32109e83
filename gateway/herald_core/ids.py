"""Message ids: `msg_` + 26 random base62 characters, the last of which names the shard."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_BODY_LENGTH = 25
# token_urlsafe draws from base64url; map its two symbols onto letters (a slight bias that
# costs nothing: ids need to be unique, not uniform) — one call instead of 25 choices.
_ALNUM = str.maketrans("-_", "xz")


def new_message_id(shard: int, shards: int) -> str:
    """A fresh id whose `shard_of` is `shard` (about 150 random bits)."""
    body = secrets.token_urlsafe(19)[:_BODY_LENGTH].translate(_ALNUM)
    spread = (len(ALPHABET) - 1 - shard) // shards  # how many alphabet slots map to `shard`
    last = ALPHABET[shard + shards * secrets.randbelow(spread + 1)]
    return f"msg_{body}{last}"


def shard_of(message_id: str, shards: int) -> int | None:
    """The shard a message id belongs to, or None if it is not a Herald id."""
    if not message_id.startswith("msg_") or len(message_id) != 4 + _BODY_LENGTH + 1:
        return None
    index = _INDEX.get(message_id[-1])
    return None if index is None else index % shards
